/**
 * Admin-tier policies of both API versions normalised into one model: AdminNetworkPolicy → Admin tier,
 * BaselineAdminNetworkPolicy → Baseline tier (priority 0), ClusterNetworkPolicy → its `spec.tier`; `Accept` is `Allow`.
 */
import type { PathSegment, SourcePos } from '../api/diagnostics.js';
import type { FieldError } from '../api/validate.js';
import { PROTOCOLS } from '../api/types.js';
import type { LabelSelector, Protocol } from '../api/types.js';
import { POLICY_API_GROUP, TIER_KINDS } from '../api/tier-types.js';
import type { TierKind, TierObject } from '../api/tier-types.js';
import type { TierAction, TierName, TierPeer, TierPodSelector, TierPolicy, TierPort, TierRule } from './types.js';

/** The highest port number: a protocol match without a port covers 1..this. */
const MAX_PORT = 65535;

/** The peer fields each direction knows; any other field makes the peer `unsupported` (it fails closed). */
const INGRESS_PEER_FIELDS = new Set(['namespaces', 'pods']);
const EGRESS_PEER_FIELDS = new Set(['namespaces', 'pods', 'nodes', 'networks']);

/** True for a tier kind of the `policy.networking.k8s.io` group, whatever the version. */
export function isTierKind(apiVersion: string, kind: string): kind is TierKind {
  return apiVersion.startsWith(`${POLICY_API_GROUP}/`) && (TIER_KINDS as readonly string[]).includes(kind);
}

/**
 * True when `value` has the shape a tier object needs to be normalised: a tier kind of the version that defines it
 * (v1alpha1 for AdminNetworkPolicy/BaselineAdminNetworkPolicy, v1alpha2 for ClusterNetworkPolicy), with a `spec`
 * mapping. The fields below `spec` are checked by {@link normalizeTierPolicy} as it reads them.
 */
export function isTierObject(value: unknown): value is TierObject {
  if (!isRecord(value) || !isRecord(value.spec)) return false;
  const { apiVersion, kind } = value;
  if (kind === 'AdminNetworkPolicy' || kind === 'BaselineAdminNetworkPolicy') {
    return apiVersion === `${POLICY_API_GROUP}/v1alpha1`;
  }
  return kind === 'ClusterNetworkPolicy' && apiVersion === `${POLICY_API_GROUP}/v1alpha2`;
}

/**
 * Normalises one admin-tier object into a {@link TierPolicy}.
 *
 * - subject `namespaces` → `{ namespaceSelector }`; `pods` → `{ namespaceSelector, podSelector }`;
 * - peers: `namespaces` → a pods peer without podSelector, `pods` → a pods peer, `networks` → CIDRs, `nodes` → a node
 *   selector; an egress `domainNames` → `unsupported` keeping its names (matched through DNS answers, `Cluster.dns`;
 *   unanswered, the rule fails closed); any other field, or not exactly one field, → `unsupported` (fails closed);
 * - ports: v1alpha1 `portNumber`/`portRange`/`namedPort` and v1alpha2 `protocols` (`tcp`/`udp`/`sctp` with a
 *   `destinationPort` number or range, or `destinationNamedPort`); a single number is a range from = to.
 *
 * @returns the policy, unless an error made it unusable (unknown action, tier, missing subject or priority); `problems`
 *   holds errors and warnings with the field path, in the form validation uses.
 */
export function normalizeTierPolicy(obj: TierObject, source?: SourcePos): { policy?: TierPolicy; problems: FieldError[] } {
  const problems: FieldError[] = [];
  const error = (path: readonly PathSegment[], message: string): void => {
    problems.push({ path, message, severity: 'error' });
  };
  const v2 = obj.kind === 'ClusterNetworkPolicy';
  const spec: unknown = obj.spec;
  if (!isRecord(spec)) {
    error(['spec'], 'Required value');
    return { problems };
  }

  const name = isRecord(obj.metadata) && typeof obj.metadata.name === 'string' ? obj.metadata.name : undefined;
  if (name === undefined) error(['metadata', 'name'], 'Required value');

  let tier: TierName = 'Admin';
  let priority = 0;
  if (obj.kind === 'BaselineAdminNetworkPolicy') {
    tier = 'Baseline';
  } else {
    if (v2) {
      if (spec.tier === 'Admin' || spec.tier === 'Baseline') tier = spec.tier;
      else error(['spec', 'tier'], `Unsupported value: ${JSON.stringify(spec.tier)}: supported values: "Admin", "Baseline"`);
    }
    if (typeof spec.priority === 'number' && Number.isInteger(spec.priority)) priority = spec.priority;
    else error(['spec', 'priority'], 'Required value: an integer');
  }

  const subject = subjectOf(spec.subject, error);
  const actions: Readonly<Record<string, TierAction>> =
    obj.kind === 'AdminNetworkPolicy'
      ? { Allow: 'Allow', Deny: 'Deny', Pass: 'Pass' }
      : obj.kind === 'BaselineAdminNetworkPolicy'
        ? { Allow: 'Allow', Deny: 'Deny' }
        : { Accept: 'Allow', Deny: 'Deny', Pass: 'Pass' };

  const rules = (direction: 'ingress' | 'egress'): TierRule[] => {
    const list = spec[direction];
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) {
      error(['spec', direction], 'must be a list');
      return [];
    }
    const out: TierRule[] = [];
    list.forEach((raw: unknown, i: number) => {
      const at: PathSegment[] = ['spec', direction, i];
      if (!isRecord(raw)) {
        error(at, 'must be a mapping');
        return;
      }
      const action = typeof raw.action === 'string' && Object.hasOwn(actions, raw.action) ? actions[raw.action] : undefined;
      if (action === undefined) {
        const allowed = Object.keys(actions).map((a) => JSON.stringify(a)).join(', ');
        error([...at, 'action'], `Unsupported value: ${JSON.stringify(raw.action)}: supported values: ${allowed}`);
        return;
      }
      const peerField = direction === 'ingress' ? 'from' : 'to';
      const rawPeers = Array.isArray(raw[peerField]) ? (raw[peerField] as readonly unknown[]) : [];
      if (rawPeers.length === 0) error([...at, peerField], 'Required value: at least one peer');
      const known = direction === 'ingress' ? INGRESS_PEER_FIELDS : EGRESS_PEER_FIELDS;
      const peers = rawPeers.map((p, j) => {
        const peer = peerOf(p, known);
        if (peer.kind === 'unsupported') {
          const effect = action === 'Allow' ? 'it matches no traffic' : 'it matches all traffic';
          const unless = peer.domainNames ? ' unless a DNS answer (why --resolve NAME=IP) gives one of its names addresses' : '';
          problems.push({
            path: [...at, peerField, j],
            message: `peer not evaluated by Palisade (${peer.what}): it fails closed${unless}, so for ${action} ${effect}`,
            severity: 'warning',
          });
        }
        return peer;
      });
      const ports = v2
        ? protocolsOf(raw.protocols, [...at, 'protocols'], problems)
        : portsOf(raw.ports, [...at, 'ports'], problems);
      const rule: TierRule = {
        ...(typeof raw.name === 'string' && raw.name !== '' ? { name: raw.name } : {}),
        action,
        peers,
        ...(ports !== undefined ? { ports } : {}),
      };
      out.push(rule);
    });
    return out;
  };
  const ingress = rules('ingress');
  const egress = rules('egress');

  if (problems.some((p) => p.severity !== 'warning') || subject === undefined || name === undefined) return { problems };
  const policy: TierPolicy = {
    tier,
    name,
    priority,
    kind: obj.kind,
    subject,
    ingress,
    egress,
    ...(source ? { source } : {}),
  };
  return { policy, problems };
}

function subjectOf(
  raw: unknown,
  error: (path: readonly PathSegment[], message: string) => void,
): TierPodSelector | undefined {
  if (!isRecord(raw)) {
    error(['spec', 'subject'], 'Required value');
    return undefined;
  }
  const fields = setFields(raw);
  if (fields.length !== 1) {
    error(['spec', 'subject'], `exactly one of "namespaces", "pods" must be set, found ${describeFields(fields)}`);
    return undefined;
  }
  const pods = podsSelector(raw.pods);
  if (fields[0] === 'namespaces' && isLabelSelector(raw.namespaces)) return { namespaceSelector: raw.namespaces };
  if (fields[0] === 'pods' && pods) return pods;
  error(['spec', 'subject', fields[0]], 'not a valid selector');
  return undefined;
}

function podsSelector(raw: unknown): TierPodSelector | undefined {
  if (!isRecord(raw)) return undefined;
  const ns = raw.namespaceSelector ?? {};
  const pod = raw.podSelector ?? {};
  if (!isLabelSelector(ns) || !isLabelSelector(pod)) return undefined;
  return { namespaceSelector: ns, podSelector: pod };
}

function peerOf(raw: unknown, known: ReadonlySet<string>): TierPeer {
  if (!isRecord(raw)) return { kind: 'unsupported', what: 'a peer that is not a mapping' };
  const fields = setFields(raw);
  if (fields.length !== 1) return { kind: 'unsupported', what: `a peer with ${describeFields(fields)}` };
  const field = fields[0];
  const value = raw[field];
  // An egress domainNames peer stays unsupported (it fails closed) but keeps its names: DNS answers (`--resolve`) match it.
  if (field === 'domainNames' && known === EGRESS_PEER_FIELDS && Array.isArray(value) && value.every((d): d is string => typeof d === 'string')) {
    return { kind: 'unsupported', what: 'domainNames', domainNames: value };
  }
  if (!known.has(field)) return { kind: 'unsupported', what: field };
  switch (field) {
    case 'namespaces':
      if (isLabelSelector(value)) return { kind: 'pods', selector: { namespaceSelector: value } };
      break;
    case 'pods': {
      const pods = podsSelector(value);
      if (pods) return { kind: 'pods', selector: pods };
      break;
    }
    case 'nodes':
      if (isLabelSelector(value)) return { kind: 'nodes', nodeSelector: value };
      break;
    case 'networks':
      if (Array.isArray(value) && value.every((c): c is string => typeof c === 'string')) {
        return { kind: 'networks', cidrs: value };
      }
      break;
  }
  return { kind: 'unsupported', what: `${field} (not understood)` };
}

/** v1alpha1 `ports` (`AdminNetworkPolicyPort[]`). Absent → undefined (every port). Entries that cannot be read are dropped with a warning. */
function portsOf(raw: unknown, at: readonly PathSegment[], problems: FieldError[]): TierPort[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) {
    problems.push({ path: at, message: 'must be a list', severity: 'error' });
    return undefined;
  }
  const out: TierPort[] = [];
  raw.forEach((entry: unknown, i: number) => {
    const here = [...at, i];
    const port = isRecord(entry) ? v1alpha1Port(entry) : undefined;
    if (port) out.push(port);
    else problems.push({ path: here, message: 'port not understood; it matches nothing', severity: 'warning' });
  });
  return out;
}

function v1alpha1Port(entry: Readonly<Record<string, unknown>>): TierPort | undefined {
  const fields = setFields(entry);
  if (fields.length !== 1) return undefined;
  const { portNumber, portRange, namedPort } = entry;
  if (typeof namedPort === 'string') return { kind: 'named', name: namedPort };
  if (isRecord(portNumber)) {
    const protocol = protocolOf(portNumber.protocol);
    const port = portNumber.port;
    if (protocol && isPort(port)) return { kind: 'range', protocol, from: port, to: port };
  }
  if (isRecord(portRange)) {
    const protocol = protocolOf(portRange.protocol);
    const { start, end } = portRange;
    if (protocol && isPort(start) && isPort(end)) return { kind: 'range', protocol, from: start, to: end };
  }
  return undefined;
}

/** v1alpha2 `protocols` (`ClusterNetworkPolicyProtocol[]`). Absent → undefined (every protocol and port). */
function protocolsOf(raw: unknown, at: readonly PathSegment[], problems: FieldError[]): TierPort[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) {
    problems.push({ path: at, message: 'must be a list', severity: 'error' });
    return undefined;
  }
  const out: TierPort[] = [];
  raw.forEach((entry: unknown, i: number) => {
    const port = isRecord(entry) ? v1alpha2Protocol(entry) : undefined;
    if (port) out.push(port);
    else problems.push({ path: [...at, i], message: 'protocol match not understood; it matches nothing', severity: 'warning' });
  });
  return out;
}

function v1alpha2Protocol(entry: Readonly<Record<string, unknown>>): TierPort | undefined {
  const fields = setFields(entry);
  if (fields.length !== 1) return undefined;
  if (typeof entry.destinationNamedPort === 'string') return { kind: 'named', name: entry.destinationNamedPort };
  const byField: readonly [string, Protocol][] = [
    ['tcp', 'TCP'],
    ['udp', 'UDP'],
    ['sctp', 'SCTP'],
  ];
  for (const [field, protocol] of byField) {
    const match = entry[field];
    if (!isRecord(match)) continue;
    const dest = match.destinationPort;
    if (dest === undefined || dest === null) return { kind: 'range', protocol, from: 1, to: MAX_PORT };
    if (!isRecord(dest)) return undefined;
    if (isPort(dest.number) && dest.range === undefined) return { kind: 'range', protocol, from: dest.number, to: dest.number };
    const range = dest.range;
    if (dest.number === undefined && isRecord(range) && isPort(range.start) && isPort(range.end)) {
      return { kind: 'range', protocol, from: range.start, to: range.end };
    }
    return undefined;
  }
  return undefined;
}

function protocolOf(raw: unknown): Protocol | undefined {
  if (raw === undefined || raw === null) return 'TCP';
  return PROTOCOLS.find((p) => p === raw);
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_PORT;
}

/** A label selector: a mapping with only `matchLabels` and/or `matchExpressions`. */
function isLabelSelector(v: unknown): v is LabelSelector {
  if (!isRecord(v)) return false;
  return Object.keys(v).every((k) => k === 'matchLabels' || k === 'matchExpressions');
}

/** The fields of a mapping that are set (present and not null). */
function setFields(v: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(v).filter((k) => v[k] !== undefined && v[k] !== null);
}

function describeFields(fields: readonly string[]): string {
  return fields.length === 0 ? 'no field set' : fields.map((f) => JSON.stringify(f)).join(' and ');
}

function isRecord(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
