/**
 * The reference evaluator: the semantics of NetworkPolicy v1 and the admin tiers, written straight from the rules and
 * evaluated per flow with no compilation, no classes and no caching. It exists to be obviously correct; the compiled
 * engine is tested against it on random clusters.
 */
import type { NetworkPolicyPeer, NetworkPolicyPort, Protocol } from '../api/types.js';
import type { Cluster, Endpoint, TierPeer, TierPolicy, TierPort, TierRule } from '../model/types.js';
import { ipBlockRanges, parseCIDR, parseIP, rangeContains, type Address } from '../api/ip.js';
import { matchesSelector } from './selector.js';
import { effectivePolicyTypes, tierOrder } from './semantics.js';

/** One end of a flow: an endpoint, or an address outside every pod. */
export type RefEnd = { readonly endpoint: Endpoint } | { readonly address: Address };

type Direction = 'ingress' | 'egress';

function addressesOf(end: RefEnd): Address[] {
  if ('address' in end) return [end.address];
  return end.endpoint.ips.map((ip) => parseIP(ip)).filter((a): a is Address => a !== undefined);
}

function namespaceLabels(cluster: Cluster, ns: string): Readonly<Record<string, string>> {
  return cluster.namespaces.get(ns)?.labels ?? { 'kubernetes.io/metadata.name': ns };
}

/** Does the destination serve `port` under the container port name `name` (and protocol, when given)? */
function namedPortMatches(dst: RefEnd, name: string, protocol: Protocol | undefined, flowProtocol: Protocol, port: number): boolean {
  if (!('endpoint' in dst)) return false;
  return dst.endpoint.ports.some(
    (p) => p.name === name && p.port === port && p.protocol === flowProtocol && (protocol === undefined || p.protocol === protocol),
  );
}

function npPortMatches(ports: readonly NetworkPolicyPort[] | undefined, dst: RefEnd, protocol: Protocol, port: number): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    const proto = p.protocol ?? 'TCP';
    if (proto !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'number') return p.endPort === undefined ? p.port === port : port >= p.port && port <= p.endPort;
    return namedPortMatches(dst, p.port, proto, protocol, port);
  });
}

function npPeerMatches(cluster: Cluster, policyNs: string, peers: readonly NetworkPolicyPeer[] | undefined, other: RefEnd): boolean {
  if (!peers || peers.length === 0) return true;
  return peers.some((peer) => {
    if (peer.domainNames) return domainAnswerMatches(cluster, peer.domainNames, other) === true;
    if (peer.ipBlock) {
      const ranges = ipBlockRanges(peer.ipBlock.cidr, peer.ipBlock.except ?? []);
      return addressesOf(other).some((a) => ranges.some((r) => rangeContains(r, a)));
    }
    if (!('endpoint' in other)) return false;
    const ep = other.endpoint;
    const nsOk = peer.namespaceSelector
      ? matchesSelector(peer.namespaceSelector, namespaceLabels(cluster, ep.namespace))
      : ep.namespace === policyNs;
    const podOk = peer.podSelector ? matchesSelector(peer.podSelector, ep.labels) : true;
    return nsOk && podOk;
  });
}

function tierSelects(cluster: Cluster, sel: TierPolicy['subject'], ep: Endpoint): boolean {
  return (
    matchesSelector(sel.namespaceSelector, namespaceLabels(cluster, ep.namespace)) &&
    (sel.podSelector === undefined || matchesSelector(sel.podSelector, ep.labels))
  );
}

function tierPeerMatches(cluster: Cluster, peer: TierPeer, other: RefEnd): boolean {
  switch (peer.kind) {
    case 'pods':
      return 'endpoint' in other && tierSelects(cluster, peer.selector, other.endpoint);
    case 'networks':
      return addressesOf(other).some((a) =>
        peer.cidrs.some((c) => {
          const r = parseCIDR(c);
          return r !== undefined && rangeContains(r, a);
        }),
      );
    case 'nodes': {
      if (!('address' in other)) return false;
      const a = other.address;
      return cluster.nodes.some(
        (n) =>
          matchesSelector(peer.nodeSelector, n.labels) &&
          n.addresses.some((text) => {
            const na = parseIP(text);
            return na !== undefined && na.family === a.family && na.value === a.value;
          }),
      );
    }
    case 'unsupported':
      return peer.domainNames !== undefined && domainAnswerMatches(cluster, peer.domainNames, other) === true;
  }
}

/** Label by label: `*.` stands for one or more whole labels in front of the rest; case and a final dot do not count. */
function nameFits(pattern: string, name: string): boolean {
  const labels = (s: string): string[] => s.toLowerCase().replace(/\.$/, '').split('.');
  const p = labels(pattern);
  const n = labels(name);
  if (p[0] !== '*') return p.length === n.length && p.every((l, i) => l === n[i]);
  const rest = p.slice(1);
  return n.length > rest.length && rest.every((l, i) => l === n[n.length - rest.length + i]);
}

/**
 * A domainNames peer against the user's DNS answers: true when `other` has an address answered for a name the peer
 * matches, false when some name is answered but not with it, undefined when no name of the peer has an answer.
 */
function domainAnswerMatches(cluster: Cluster, patterns: readonly string[], other: RefEnd): boolean | undefined {
  let answered = false;
  for (const [name, ips] of cluster.dns ?? []) {
    if (!patterns.some((p) => nameFits(p, name))) continue;
    answered = true;
    for (const text of ips) {
      const a = parseIP(text);
      if (a && addressesOf(other).some((o) => o.family === a.family && o.value === a.value)) return true;
    }
  }
  return answered ? false : undefined;
}

/** A peer the reference cannot evaluate: rule-level fail closed (upstream kinds, names without an answer). */
function unevaluable(cluster: Cluster, policy: TierPolicy, peer: TierPeer): boolean {
  if (peer.kind !== 'unsupported') return false;
  if (!peer.domainNames) return true;
  // AWS's kinds read an unanswered domainNames peer as matching nothing, leaving the rule's other peers in force.
  const names = peer.domainNames;
  return policy.group === undefined && ![...(cluster.dns?.keys() ?? [])].some((n) => names.some((p) => nameFits(p, n)));
}

function tierPortMatches(ports: readonly TierPort[] | undefined, dst: RefEnd, protocol: Protocol, port: number): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) =>
    p.kind === 'range' ? p.protocol === protocol && port >= p.from && port <= p.to : namedPortMatches(dst, p.name, undefined, protocol, port),
  );
}

/** The action of the first rule of a tier that matches, or undefined when none does. */
function tierDecision(
  cluster: Cluster,
  tier: 'Admin' | 'Baseline',
  subject: Endpoint,
  other: RefEnd,
  dst: RefEnd,
  dir: Direction,
  protocol: Protocol,
  port: number,
): TierRule['action'] | undefined {
  const policies = cluster.tierPolicies.filter((p) => p.tier === tier && tierSelects(cluster, p.subject, subject)).sort(tierOrder);
  for (const policy of policies) {
    for (const rule of policy[dir]) {
      if (!tierPortMatches(rule.ports, dst, protocol, port)) continue;
      const unsupported = rule.peers.some((p) => unevaluable(cluster, policy, p));
      // An unknown peer fails closed: an Allow rule matches nothing, a Deny or Pass rule denies everything.
      if (unsupported) {
        if (rule.action === 'Allow') continue;
        return 'Deny';
      }
      if (rule.peers.some((p) => tierPeerMatches(cluster, p, other))) return rule.action;
    }
  }
  return undefined;
}

function directionAllowed(cluster: Cluster, subject: Endpoint, other: RefEnd, dst: RefEnd, dir: Direction, protocol: Protocol, port: number): boolean {
  const admin = tierDecision(cluster, 'Admin', subject, other, dst, dir, protocol, port);
  if (admin === 'Allow') return true;
  if (admin === 'Deny') return false;
  const type = dir === 'ingress' ? 'Ingress' : 'Egress';
  const isolating = cluster.policies.filter(
    ({ policy }) =>
      policy.metadata.namespace === subject.namespace &&
      matchesSelector(policy.spec.podSelector, subject.labels) &&
      effectivePolicyTypes(policy.spec).includes(type),
  );
  if (isolating.length > 0) {
    return isolating.some(({ policy }) => {
      const ns = policy.metadata.namespace ?? 'default';
      const rules = dir === 'ingress' ? (policy.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })) : (policy.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
      return rules.some((r) => npPeerMatches(cluster, ns, r.peers, other) && npPortMatches(r.ports, dst, protocol, port));
    });
  }
  const baseline = tierDecision(cluster, 'Baseline', subject, other, dst, dir, protocol, port);
  return baseline !== 'Deny';
}

/** Is a connection from `src` to `dst` on (protocol, port) allowed? Both directions must allow it. */
export function referenceAllowed(cluster: Cluster, src: RefEnd, dst: RefEnd, protocol: Protocol, port: number): boolean {
  if ('endpoint' in src && 'endpoint' in dst && src.endpoint === dst.endpoint) return true;
  const egress = 'endpoint' in src ? directionAllowed(cluster, src.endpoint, dst, dst, 'egress', protocol, port) : true;
  const ingress = 'endpoint' in dst ? directionAllowed(cluster, dst.endpoint, src, dst, 'ingress', protocol, port) : true;
  return egress && ingress;
}
