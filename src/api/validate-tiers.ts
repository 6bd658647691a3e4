/**
 * Admin-tier policies — AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1), ClusterNetworkPolicy (v1alpha2) —
 * checked as their CRDs' schemas and CEL rules check them (see tier-types.ts for the versions), plus what Palisade needs
 * to evaluate them: label selectors with valid keys and operators, and TCP/UDP/SCTP protocols.
 */
import { PROTOCOLS } from './types.js';
import { BANP_NAME, TIER_LIMITS, type TierKind } from './tier-types.js';
import {
  checkKnownFields,
  duplicate,
  forbidden,
  invalid,
  readInteger,
  readList,
  readObject,
  readString,
  readStringList,
  required,
  setFields,
  tooFew,
  tooLong,
  tooMany,
  warning,
  type FieldError,
  type JsonObject,
  type Path,
} from './validate-fields.js';
import { validateCIDR } from './validate-ip.js';
import { checkEnum, validateLabelSelector, validateObjectMeta } from './validate-meta.js';
import { isDNS1123Subdomain, isValidPortName } from './validate-names.js';

/** What differs between the three kinds. */
interface TierSchema {
  readonly specFields: readonly string[];
  readonly actions: readonly string[];
  /** The action that `domainNames` peers are documented for. */
  readonly allowAction: string;
  readonly maxRules: number;
  readonly maxPeers: number;
  readonly maxPorts: number;
  /** `ports` (v1alpha1) or `protocols` (v1alpha2). */
  readonly portsField: 'ports' | 'protocols';
  readonly egressPeerFields: readonly string[];
  /** The CEL rule forbidding named ports with peers that have none: the peers it names, and its message. */
  readonly namedPortPeers: readonly string[];
  readonly namedPortMessage: string;
  /** v1alpha2 made `pods.namespaceSelector` optional (absent: every namespace); v1alpha1 requires it. */
  readonly namespaceSelectorOptional: boolean;
}

const V1ALPHA1_RULE_LIMITS = {
  maxRules: TIER_LIMITS.v1alpha1MaxRules,
  maxPeers: TIER_LIMITS.v1alpha1MaxPeers,
  maxPorts: TIER_LIMITS.v1alpha1MaxPorts,
  portsField: 'ports',
  allowAction: 'Allow',
} as const;

const SCHEMAS: Readonly<Record<TierKind, TierSchema>> = {
  AdminNetworkPolicy: {
    ...V1ALPHA1_RULE_LIMITS,
    specFields: ['priority', 'subject', 'ingress', 'egress'],
    actions: ['Allow', 'Deny', 'Pass'],
    egressPeerFields: ['namespaces', 'pods', 'nodes', 'networks', 'domainNames'],
    namedPortPeers: ['networks', 'nodes', 'domainNames'],
    namedPortMessage:
      'networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames',
    namespaceSelectorOptional: false,
  },
  BaselineAdminNetworkPolicy: {
    ...V1ALPHA1_RULE_LIMITS,
    specFields: ['subject', 'ingress', 'egress'],
    actions: ['Allow', 'Deny'],
    egressPeerFields: ['namespaces', 'pods', 'nodes', 'networks'],
    namedPortPeers: ['networks', 'nodes'],
    namedPortMessage: 'networks/nodes peer cannot be set with namedPorts since there are no namedPorts for networks/nodes',
    namespaceSelectorOptional: false,
  },
  ClusterNetworkPolicy: {
    specFields: ['tier', 'priority', 'subject', 'ingress', 'egress'],
    actions: ['Accept', 'Deny', 'Pass'],
    allowAction: 'Accept',
    maxRules: TIER_LIMITS.v1alpha2MaxRules,
    maxPeers: TIER_LIMITS.v1alpha2MaxPeers,
    maxPorts: TIER_LIMITS.v1alpha2MaxProtocols,
    portsField: 'protocols',
    egressPeerFields: ['namespaces', 'pods', 'nodes', 'networks', 'domainNames'],
    namedPortPeers: ['networks', 'nodes', 'domainNames'],
    namedPortMessage:
      'networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames',
    namespaceSelectorOptional: true,
  },
};

const INGRESS_PEER_FIELDS = ['namespaces', 'pods'] as const;

/** The CRDs' DomainName pattern (with its `A-z` ranges corrected to `A-Z`). */
const DOMAIN_NAME_RE = /^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$/;

/** Validates one AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy object. */
export function validateTierPolicy(obj: JsonObject, kind: TierKind): FieldError[] {
  const schema = SCHEMAS[kind];
  const out: FieldError[] = [];
  checkKnownFields(obj, ['apiVersion', 'kind', 'metadata', 'spec', 'status'], [], out);
  out.push(...validateObjectMeta(obj.metadata, { nameFormat: isDNS1123Subdomain, namespaced: false, strict: true }));
  if (kind === 'BaselineAdminNetworkPolicy') {
    const name = readObject(obj.metadata, ['metadata'], [])?.name;
    if (typeof name === 'string' && name !== BANP_NAME) {
      out.push(
        invalid(['metadata', 'name'], name, `Only one baseline admin network policy with metadata.name="${BANP_NAME}" can be created in the cluster`),
      );
    }
  }
  const spec = readObject(obj.spec, ['spec'], out);
  if (!spec) {
    if (obj.spec === undefined || obj.spec === null) out.push(required(['spec']));
    return out;
  }
  checkKnownFields(spec, schema.specFields, ['spec'], out);
  if (schema.specFields.includes('tier')) {
    const tier = readString(spec.tier, ['spec', 'tier'], out);
    if (tier === undefined) {
      if (spec.tier === undefined || spec.tier === null) out.push(required(['spec', 'tier']));
    } else checkEnum(tier, ['Admin', 'Baseline'], ['spec', 'tier'], out);
  }
  if (schema.specFields.includes('priority')) {
    const priority = readInteger(spec.priority, ['spec', 'priority'], out);
    if (priority === undefined) {
      if (spec.priority === undefined || spec.priority === null) out.push(required(['spec', 'priority']));
    } else checkRange(priority, TIER_LIMITS.minPriority, TIER_LIMITS.maxPriority, ['spec', 'priority'], out);
  }
  validateSubject(spec.subject, ['spec', 'subject'], schema, out);
  for (const direction of ['ingress', 'egress'] as const) {
    const rules = readList(spec[direction], ['spec', direction], out);
    if (!rules) continue;
    if (rules.length > schema.maxRules) out.push(tooMany(['spec', direction], rules.length, schema.maxRules));
    rules.forEach((rule, i) => validateRule(rule, direction, schema, ['spec', direction, i], out));
  }
  return out;
}

function checkRange(value: number, min: number, max: number, path: Path, out: FieldError[]): void {
  if (value < min) out.push(invalid(path, value, `should be greater than or equal to ${min}`));
  if (value > max) out.push(invalid(path, value, `should be less than or equal to ${max}`));
}

/**
 * The CRDs' MinProperties=1/MaxProperties=1 unions: exactly one of `fields` set. Returns the one set, if exactly one
 * is; fields outside `fields` are reported as unknown.
 */
function exactlyOne(obj: JsonObject, fields: readonly string[], path: Path, out: FieldError[]): string | undefined {
  checkKnownFields(obj, fields, path, out);
  const set = setFields(obj, fields);
  if (set.length === 1) return set[0];
  if (set.length === 0) out.push(required(path, `exactly one of ${fields.join(', ')} must be set`));
  else out.push(forbidden(path, `only one of ${fields.join(', ')} may be set (found ${set.join(', ')})`));
  return undefined;
}

function validateSubject(value: unknown, path: Path, schema: TierSchema, out: FieldError[]): void {
  const subject = readObject(value, path, out);
  if (!subject) {
    if (value === undefined || value === null) out.push(required(path));
    return;
  }
  const which = exactlyOne(subject, ['namespaces', 'pods'], path, out);
  if (which === 'namespaces') out.push(...validateLabelSelector(subject.namespaces, [...path, 'namespaces']));
  if (which === 'pods') validateNamespacedPod(subject.pods, [...path, 'pods'], schema, out);
}

function validateNamespacedPod(value: unknown, path: Path, schema: TierSchema, out: FieldError[]): void {
  const pods = readObject(value, path, out);
  if (!pods) return;
  checkKnownFields(pods, ['namespaceSelector', 'podSelector'], path, out);
  for (const field of ['namespaceSelector', 'podSelector'] as const) {
    const optional = field === 'namespaceSelector' && schema.namespaceSelectorOptional;
    if (pods[field] === undefined || pods[field] === null) {
      if (!optional) out.push(required([...path, field]));
    } else out.push(...validateLabelSelector(pods[field], [...path, field]));
  }
}

function validateRule(
  value: unknown,
  direction: 'ingress' | 'egress',
  schema: TierSchema,
  path: Path,
  out: FieldError[],
): void {
  const rule = readObject(value, path, out);
  if (!rule) return;
  const peersField = direction === 'ingress' ? 'from' : 'to';
  checkKnownFields(rule, ['name', 'action', peersField, schema.portsField], path, out);
  const name = readString(rule.name, [...path, 'name'], out);
  if (name !== undefined && Buffer.byteLength(name) > TIER_LIMITS.maxRuleName) {
    out.push(tooLong([...path, 'name'], TIER_LIMITS.maxRuleName));
  }
  const action = readString(rule.action, [...path, 'action'], out);
  if (action === undefined) {
    if (rule.action === undefined || rule.action === null) out.push(required([...path, 'action']));
  } else checkEnum(action, schema.actions, [...path, 'action'], out);

  const peerFields = direction === 'ingress' ? INGRESS_PEER_FIELDS : schema.egressPeerFields;
  const peers = readList(rule[peersField], [...path, peersField], out);
  const peerKinds: string[] = [];
  if (!peers) {
    if (rule[peersField] === undefined || rule[peersField] === null) out.push(required([...path, peersField]));
  } else {
    if (peers.length === 0) out.push(tooFew([...path, peersField], 1));
    if (peers.length > schema.maxPeers) out.push(tooMany([...path, peersField], peers.length, schema.maxPeers));
    peers.forEach((peer, i) => {
      const kind = validatePeer(peer, peerFields, [...path, peersField, i], schema, out);
      if (kind) peerKinds.push(kind);
      if (kind === 'domainNames' && action !== undefined && action !== schema.allowAction) {
        out.push(warning([...path, peersField, i, 'domainNames'], `domainNames peers are only supported in ${schema.allowAction} rules`));
      }
    });
  }

  const ports = readList(rule[schema.portsField], [...path, schema.portsField], out);
  let namedPort = false;
  if (ports) {
    if (ports.length === 0) out.push(tooFew([...path, schema.portsField], 1));
    if (ports.length > schema.maxPorts) out.push(tooMany([...path, schema.portsField], ports.length, schema.maxPorts));
    ports.forEach((port, i) => {
      const p = [...path, schema.portsField, i];
      const kind = schema.portsField === 'ports' ? validateANPPort(port, p, out) : validateCNPProtocol(port, p, out);
      if (kind === 'namedPort' || kind === 'destinationNamedPort') namedPort = true;
    });
  }
  // The CRDs' CEL rule on egress rules: nodes, networks and domain names have no named ports.
  if (direction === 'egress' && namedPort && peerKinds.some((k) => schema.namedPortPeers.includes(k))) {
    out.push(invalid(path, rule, schema.namedPortMessage));
  }
}

/** Validates one peer; returns which kind of peer it is when exactly one is set. */
function validatePeer(value: unknown, fields: readonly string[], path: Path, schema: TierSchema, out: FieldError[]): string | undefined {
  const peer = readObject(value, path, out);
  if (!peer) {
    if (value === null) out.push(required(path, `exactly one of ${fields.join(', ')} must be set`));
    return undefined;
  }
  const which = exactlyOne(peer, fields, path, out);
  const p = [...path, which ?? ''];
  switch (which) {
    case 'namespaces':
    case 'nodes':
      out.push(...validateLabelSelector(peer[which], p));
      break;
    case 'pods':
      validateNamespacedPod(peer.pods, p, schema, out);
      break;
    case 'networks':
      validateSet(peer.networks, TIER_LIMITS.maxNetworks, p, out, (text, itemPath) => {
        if (Buffer.byteLength(text) > TIER_LIMITS.maxCIDRLength) out.push(tooLong(itemPath, TIER_LIMITS.maxCIDRLength));
        else out.push(...validateCIDR(text, itemPath, 'cel'));
      });
      break;
    case 'domainNames':
      validateSet(peer.domainNames, TIER_LIMITS.maxDomainNames, p, out, (text, itemPath) => {
        if (!DOMAIN_NAME_RE.test(text)) {
          out.push(invalid(itemPath, text, `should match '${DOMAIN_NAME_RE.source}'`));
        }
      });
      break;
  }
  return which;
}

/** A `listType=set` of strings with MinItems=1 and a MaxItems. */
function validateSet(
  value: unknown,
  max: number,
  path: Path,
  out: FieldError[],
  each: (text: string, path: Path) => void,
): void {
  const items = readStringList(value, path, out);
  if (!items) return;
  const count = Array.isArray(value) ? value.length : 0;
  if (count === 0) out.push(tooFew(path, 1));
  if (count > max) out.push(tooMany(path, count, max));
  const seen = new Set<string>();
  for (const [i, text] of items) {
    if (seen.has(text)) out.push(duplicate([...path, i], text));
    seen.add(text);
    each(text, [...path, i]);
  }
}

function validateProtocol(value: unknown, path: Path, out: FieldError[]): void {
  const protocol = readString(value, path, out);
  // The CRD types the field as a plain string; Palisade evaluates only these three.
  if (protocol !== undefined) checkEnum(protocol, PROTOCOLS, path, out);
}

function validatePortNumber(value: unknown, path: Path, out: FieldError[]): number | undefined {
  const n = readInteger(value, path, out);
  if (n === undefined) {
    if (value === undefined || value === null) out.push(required(path));
    return undefined;
  }
  checkRange(n, 1, 65535, path, out);
  return n;
}

/**
 * `start` and `end` are ports; only v1alpha2 (ClusterNetworkPolicy) has the CEL rule `self.start < self.end`. A
 * v1alpha1 range whose start is above its end is accepted by its CRD and matches no port: a warning.
 */
function validateRange(range: JsonObject, extraFields: readonly string[], path: Path, out: FieldError[], startBeforeEnd: boolean): void {
  checkKnownFields(range, [...extraFields, 'start', 'end'], path, out);
  const start = validatePortNumber(range.start, [...path, 'start'], out);
  const end = validatePortNumber(range.end, [...path, 'end'], out);
  if (start === undefined || end === undefined) return;
  if (startBeforeEnd && start >= end) out.push(invalid(path, `${start}-${end}`, 'Start port must be less than End port'));
  else if (!startBeforeEnd && start > end) out.push(warning(path, `start ${start} is above end ${end}: the range matches no port`));
}

/** v1alpha1 AdminNetworkPolicyPort: exactly one of portNumber, namedPort, portRange. Returns which. */
function validateANPPort(value: unknown, path: Path, out: FieldError[]): string | undefined {
  const port = readObject(value, path, out);
  if (!port) return undefined;
  const which = exactlyOne(port, ['portNumber', 'namedPort', 'portRange'], path, out);
  const p = [...path, which ?? ''];
  if (which === 'portNumber') {
    const number = readObject(port.portNumber, p, out);
    if (number) {
      checkKnownFields(number, ['protocol', 'port'], p, out);
      validateProtocol(number.protocol, [...p, 'protocol'], out);
      validatePortNumber(number.port, [...p, 'port'], out);
    }
  } else if (which === 'portRange') {
    const range = readObject(port.portRange, p, out);
    if (range) {
      validateProtocol(range.protocol, [...p, 'protocol'], out);
      validateRange(range, ['protocol'], p, out, false);
    }
  } else if (which === 'namedPort') {
    validateNamedPort(port.namedPort, p, out);
  }
  return which;
}

/** A named port the CRD accepts but no container port can have never matches: a warning. */
function validateNamedPort(value: unknown, path: Path, out: FieldError[]): void {
  const name = readString(value, path, out);
  if (name === undefined) return;
  const msgs = isValidPortName(name);
  if (msgs.length > 0) out.push(warning(path, `can never match a container port name: ${msgs.join('; ')}`));
}

/** v1alpha2 ClusterNetworkPolicyProtocol: exactly one of tcp, udp, sctp, destinationNamedPort. Returns which. */
function validateCNPProtocol(value: unknown, path: Path, out: FieldError[]): string | undefined {
  const protocol = readObject(value, path, out);
  if (!protocol) return undefined;
  const which = exactlyOne(protocol, ['tcp', 'udp', 'sctp', 'destinationNamedPort'], path, out);
  const p = [...path, which ?? ''];
  if (which === 'destinationNamedPort') {
    validateNamedPort(protocol.destinationNamedPort, p, out);
  } else if (which !== undefined) {
    const match = readObject(protocol[which], p, out);
    if (!match) return which;
    checkKnownFields(match, ['destinationPort'], p, out);
    const portPath = [...p, 'destinationPort'];
    const port = readObject(match.destinationPort, portPath, out);
    if (!port) {
      if (match.destinationPort === undefined || match.destinationPort === null) out.push(required(portPath));
      return which;
    }
    const kind = exactlyOne(port, ['number', 'range'], portPath, out);
    if (kind === 'number') validatePortNumber(port.number, [...portPath, 'number'], out);
    if (kind === 'range') {
      const range = readObject(port.range, [...portPath, 'range'], out);
      if (range) validateRange(range, [], [...portPath, 'range'], out, true);
    }
  }
  return which;
}
