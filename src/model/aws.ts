/**
 * AWS's own policy kinds normalised into the model, so the engine evaluates them in its one tier pipeline:
 *
 * - `networking.k8s.aws/v1alpha1` ClusterNetworkPolicy → a {@link TierPolicy} of its `spec.tier` with
 *   `group: "networking.k8s.aws"` (Accept is Allow); `domainNames` peers stay names (matched through `Cluster.dns`).
 * - `networking.k8s.aws/v1alpha1` ApplicationNetworkPolicy → a {@link PolicyObject} of the NetworkPolicy tier with
 *   `kind: "ApplicationNetworkPolicy"`: AWS's controller resolves it into PolicyEndpoints exactly as it resolves a
 *   NetworkPolicy (`pkg/resolvers/applicationnetworkpolicy_resolver.go`), so both isolate a pod alike and their rules
 *   add up.
 *
 * Values the CRDs accept but nothing can evaluate (a CIDR that is not one, a protocol other than TCP/UDP/SCTP, a port
 * outside 1–65535, an empty peer) match nothing here; validation warns about each.
 */
import type { SourcePos } from '../api/diagnostics.js';
import { parseCIDR } from '../api/ip.js';
import { PROTOCOLS } from '../api/types.js';
import type { LabelSelector, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, PolicyType, Protocol } from '../api/types.js';
import type { FieldError } from '../api/validate.js';
import { AWS_API_GROUP, domainMatches } from '../api/aws-types.js';
import type { JsonObject } from '../api/load.js';
import type { Cluster, PolicyObject, TierAction, TierPeer, TierPodSelector, TierPolicy, TierPort, TierRule } from './types.js';
import { formatAddress, parseAddress } from '../api/validate-ip.js';

function canonicalIP(text: string): string | undefined {
  const a = parseAddress(text.trim());
  return a && formatAddress(a.family, a.bits);
}

const ACTIONS: Readonly<Record<string, TierAction>> = { Accept: 'Allow', Deny: 'Deny', Pass: 'Pass' };

/** A peer that matches nothing, in the NetworkPolicy model: a domainNames peer with no names. */
const NO_PEER: NetworkPolicyPeer = { domainNames: [] };

/**
 * Normalises an AWS ClusterNetworkPolicy (validated) into a {@link TierPolicy}.
 * @returns the policy, or nothing with the problems that made it unusable.
 */
export function normalizeAwsClusterNetworkPolicy(obj: JsonObject, source?: SourcePos): { policy?: TierPolicy; problems: FieldError[] } {
  const problems: FieldError[] = [];
  const spec = record(obj.spec);
  const name = typeof record(obj.metadata)?.name === 'string' ? String(record(obj.metadata)?.name) : undefined;
  if (!spec || name === undefined) {
    if (!spec) problems.push({ path: ['spec'], message: 'no spec: the policy has no effect', severity: 'warning' });
    return { problems };
  }
  const tier = spec.tier === 'Baseline' ? 'Baseline' : 'Admin';
  const priority = typeof spec.priority === 'number' ? spec.priority : 0;
  const subject = subjectOf(record(spec.subject));
  if (!subject) {
    problems.push({ path: ['spec', 'subject'], message: 'exactly one of "namespaces", "pods" must be set', severity: 'error' });
    return { problems };
  }
  const rules = (direction: 'ingress' | 'egress'): TierRule[] =>
    list(spec[direction]).map((raw, i): TierRule => {
      const rule = record(raw) ?? {};
      const action = ACTIONS[String(rule.action)] ?? 'Deny';
      const peers = list(rule[direction === 'ingress' ? 'from' : 'to']).map((p) => peerOf(record(p)));
      const ports = rule.ports === undefined || rule.ports === null ? undefined : portsOf(list(rule.ports));
      const named = typeof rule.name === 'string' && rule.name !== '' ? { name: rule.name } : {};
      // A ports list that names no usable port matches no traffic: the rule keeps its place but matches no peer.
      if (ports !== undefined && ports.length === 0) {
        problems.push({ path: ['spec', direction, i, 'ports'], message: 'no usable port: the rule matches no traffic', severity: 'warning' });
        return { ...named, action, peers: [] };
      }
      return { ...named, action, peers, ...(ports ? { ports } : {}) };
    });
  const policy: TierPolicy = {
    tier,
    name,
    priority,
    kind: 'ClusterNetworkPolicy',
    group: AWS_API_GROUP,
    subject,
    ingress: rules('ingress'),
    egress: rules('egress'),
    ...(source ? { source } : {}),
  };
  return { policy, problems };
}

function subjectOf(subject: JsonObject | undefined): TierPodSelector | undefined {
  if (!subject) return undefined;
  const ns = selector(subject.namespaces);
  if (ns) return { namespaceSelector: ns };
  const pods = record(subject.pods);
  const nsSel = selector(pods?.namespaceSelector);
  const podSel = selector(pods?.podSelector);
  return nsSel && podSel ? { namespaceSelector: nsSel, podSelector: podSel } : undefined;
}

function peerOf(peer: JsonObject | undefined): TierPeer {
  const ns = selector(peer?.namespaces);
  if (ns) return { kind: 'pods', selector: { namespaceSelector: ns } };
  const pods = record(peer?.pods);
  if (pods) {
    const nsSel = selector(pods.namespaceSelector) ?? {};
    const podSel = selector(pods.podSelector) ?? {};
    return { kind: 'pods', selector: { namespaceSelector: nsSel, podSelector: podSel } };
  }
  if (Array.isArray(peer?.networks)) {
    return { kind: 'networks', cidrs: peer.networks.filter((c): c is string => typeof c === 'string' && parseCIDR(c) !== undefined) };
  }
  if (Array.isArray(peer?.domainNames)) {
    const names = peer.domainNames.filter((d): d is string => typeof d === 'string');
    return { kind: 'unsupported', what: 'domainNames', domainNames: names };
  }
  return { kind: 'networks', cidrs: [] };
}

/** Every field of an entry applies (AWS's controller converts each one that is set). */
function portsOf(entries: readonly unknown[]): TierPort[] {
  const out: TierPort[] = [];
  for (const raw of entries) {
    const entry = record(raw);
    const number = record(entry?.portNumber);
    const range = record(entry?.portRange);
    if (number) {
      const protocol = protocolOf(number.protocol);
      if (protocol && isPort(number.port)) out.push({ kind: 'range', protocol, from: number.port, to: number.port });
    }
    if (range) {
      const protocol = protocolOf(range.protocol);
      if (protocol && isPort(range.start) && isPort(range.end) && range.start < range.end) {
        out.push({ kind: 'range', protocol, from: range.start, to: range.end });
      }
    }
    if (typeof entry?.namedPort === 'string') out.push({ kind: 'named', name: entry.namedPort });
  }
  return out;
}

/**
 * Normalises an AWS ApplicationNetworkPolicy (validated) into the NetworkPolicy model of `namespace`.
 * @returns the policy object, or nothing when it has no spec (the CRD accepts that; it has no effect).
 */
export function normalizeApplicationNetworkPolicy(obj: JsonObject, namespace: string, source?: SourcePos): PolicyObject | undefined {
  const spec = record(obj.spec);
  const metadata = record(obj.metadata) ?? {};
  if (!spec) return undefined;
  const types = list(spec.policyTypes).filter((t): t is PolicyType => t === 'Ingress' || t === 'Egress');
  const rules = (direction: 'ingress' | 'egress') =>
    list(spec[direction]).map((raw) => {
      const rule = record(raw) ?? {};
      const field = direction === 'ingress' ? 'from' : 'to';
      const rawPorts = rule.ports === undefined || rule.ports === null ? undefined : list(rule.ports);
      const ports = rawPorts?.map((p) => anpPort(record(p))).filter((p): p is NetworkPolicyPort => p !== undefined);
      const rawPeers = rule[field] === undefined || rule[field] === null ? undefined : list(rule[field]);
      let peers = rawPeers?.map((p) => anpPeer(record(p)));
      // Ports written but none usable: the rule matches no traffic.
      if (rawPorts && rawPorts.length > 0 && ports?.length === 0) peers = [NO_PEER];
      return {
        ...(ports && ports.length > 0 ? { ports } : {}),
        ...(peers && peers.length > 0 ? { [field]: peers } : {}),
      };
    });
  const policy: NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { ...(metadata as NetworkPolicy['metadata']), namespace },
    spec: {
      podSelector: selector(spec.podSelector) ?? {},
      ...(types.length > 0 ? { policyTypes: [...new Set(types)] } : {}),
      ...(spec.ingress !== undefined && spec.ingress !== null ? { ingress: rules('ingress') } : {}),
      ...(spec.egress !== undefined && spec.egress !== null ? { egress: rules('egress') } : {}),
    },
  };
  return { policy, kind: 'ApplicationNetworkPolicy', group: AWS_API_GROUP, ...(source ? { source } : {}) };
}

function anpPeer(peer: JsonObject | undefined): NetworkPolicyPeer {
  if (!peer) return NO_PEER;
  if (Array.isArray(peer.domainNames)) return { domainNames: peer.domainNames.filter((d): d is string => typeof d === 'string') };
  const block = record(peer.ipBlock);
  if (block) {
    const cidr = typeof block.cidr === 'string' ? block.cidr : '';
    if (parseCIDR(cidr) === undefined) return NO_PEER;
    const except = list(block.except).filter((e): e is string => typeof e === 'string' && parseCIDR(e) !== undefined);
    return { ipBlock: { cidr, ...(except.length > 0 ? { except } : {}) } };
  }
  const podSelector = selector(peer.podSelector);
  const namespaceSelector = selector(peer.namespaceSelector);
  if (!podSelector && !namespaceSelector) return NO_PEER;
  return { ...(podSelector ? { podSelector } : {}), ...(namespaceSelector ? { namespaceSelector } : {}) };
}

function anpPort(port: JsonObject | undefined): NetworkPolicyPort | undefined {
  if (!port) return undefined;
  const protocol = protocolOf(port.protocol);
  if (!protocol) return undefined;
  const p = port.port;
  if (p === undefined || p === null) return { protocol };
  if (typeof p === 'string') return { protocol, port: p };
  if (!isPort(p)) return undefined;
  const end = port.endPort;
  if (typeof end === 'number' && (end < p || end > 65535)) return undefined;
  return { protocol, port: p, ...(typeof end === 'number' ? { endPort: end } : {}) };
}

// ---------------------------------------------------------------- narrowing

function record(v: unknown): JsonObject | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

function list(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

function selector(v: unknown): LabelSelector | undefined {
  const r = record(v);
  if (!r) return undefined;
  return Object.keys(r).every((k) => k === 'matchLabels' || k === 'matchExpressions') ? (r as LabelSelector) : undefined;
}

function protocolOf(raw: unknown): Protocol | undefined {
  if (raw === undefined || raw === null) return 'TCP';
  return PROTOCOLS.find((p) => p === raw);
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/**
 * The cluster with DNS answers added (`--resolve NAME=IP`, repeatable): each name (lower case, trailing dot dropped)
 * maps to its addresses, and a domainNames peer then matches the addresses of the names it matches.
 * @param answers name and IP address pairs; the IPs must be valid (see `parseDnsAnswer`).
 * @example withDnsAnswers(cluster, [['api.example.com', '203.0.113.7']])
 */
export function withDnsAnswers(cluster: Cluster, answers: readonly (readonly [string, string])[]): Cluster {
  if (answers.length === 0) return cluster;
  const dns = new Map<string, string[]>();
  for (const [name, ips] of cluster.dns ?? []) dns.set(name, [...ips]);
  for (const [name, ip] of answers) {
    const key = name.toLowerCase().replace(/\.$/, '');
    const list = dns.get(key) ?? [];
    if (!list.includes(ip)) list.push(ip);
    dns.set(key, list);
  }
  return { ...cluster, dns };
}

/**
 * Reads one `NAME=IP` answer: a domain name (no wildcard) and an IPv4 or IPv6 address, canonicalised.
 * @returns the pair, or a message saying what is wrong.
 */
export function parseDnsAnswer(text: string): readonly [string, string] | string {
  const eq = text.indexOf('=');
  if (eq <= 0) return `expected NAME=IP, got "${text}"`;
  const name = text.slice(0, eq).trim();
  const ip = canonicalIP(text.slice(eq + 1));
  if (name.startsWith('*') || !/^[A-Za-z0-9_]([-A-Za-z0-9_.]*[A-Za-z0-9_.])?$/.test(name)) return `"${name}" is not a domain name (wildcards are patterns, not answers)`;
  if (!ip) return `"${text.slice(eq + 1)}" is not an IP address`;
  return [name, ip];
}

/** A domainNames peer of some policy, and whether any of its names has a DNS answer in the cluster. */
export interface DomainPeerRef {
  /** e.g. `ClusterNetworkPolicy (networking.k8s.aws) egress-policy egress rule 1 peer 0`. */
  readonly where: string;
  readonly names: readonly string[];
  readonly answered: boolean;
}

/** Every domainNames peer in the cluster's policies, in policy order, each with whether `Cluster.dns` answers it. */
export function domainPeers(cluster: Cluster): DomainPeerRef[] {
  const out: DomainPeerRef[] = [];
  const answered = (names: readonly string[]): boolean =>
    [...(cluster.dns?.keys() ?? [])].some((n) => names.some((p) => domainMatches(p, n)));
  for (const p of cluster.tierPolicies) {
    const label = p.group ? `${p.kind} (${p.group})` : p.kind;
    p.egress.forEach((r, i) =>
      r.peers.forEach((peer, j) => {
        if (peer.kind === 'unsupported' && peer.domainNames) {
          out.push({ where: `${label} ${p.name} egress rule ${i} peer ${j}`, names: peer.domainNames, answered: answered(peer.domainNames) });
        }
      }),
    );
  }
  for (const o of cluster.policies) {
    const label = o.group ? `${o.kind ?? 'NetworkPolicy'} (${o.group})` : 'NetworkPolicy';
    (o.policy.spec.egress ?? []).forEach((r, i) =>
      (r.to ?? []).forEach((peer, j) => {
        if (peer.domainNames) {
          out.push({ where: `${label} ${o.policy.metadata.namespace ?? ''}/${o.policy.metadata.name ?? ''} egress rule ${i} peer ${j}`, names: peer.domainNames, answered: answered(peer.domainNames) });
        }
      }),
    );
  }
  return out;
}
