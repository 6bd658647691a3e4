/**
 * The reference evaluator: the semantics of NetworkPolicy v1 and the admin tiers, written straight from the rules and
 * evaluated per flow with no compilation, no classes and no caching. It exists to be obviously correct; the compiled
 * engine is tested against it on random clusters.
 */
import type { NetworkPolicyPeer, NetworkPolicyPort, Protocol } from '../api/types.js';
import type { Cluster, Endpoint, TierPeer, TierPolicy, TierPort, TierRule } from '../model/types.js';
import type { Address } from '../api/ip.js';
import type { LabelSelector } from '../api/types.js';
import { effectivePolicyTypes, tierOrder } from './semantics.js';

// ---------------------------------------------------------------- its own selectors and addresses
// Written apart from the engine's (selector.ts, api/ip.ts) so that a bug there cannot hide here as well.

/** metav1.LabelSelector: every matchLabels pair and every expression must hold; empty matches everything. */
function matchesSelector(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(labels, k);
  const pairs = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => has(k) && labels[k] === v);
  return (
    pairs &&
    (sel.matchExpressions ?? []).every((e) => {
      const values = e.values ?? [];
      if (e.operator === 'In') return has(e.key) && values.includes(labels[e.key]);
      if (e.operator === 'NotIn') return !has(e.key) || !values.includes(labels[e.key]);
      if (e.operator === 'Exists') return has(e.key);
      return !has(e.key);
    })
  );
}

/** An IPv4 dotted quad or an IPv6 address (with `::`, or an IPv4 tail) as family and value; undefined otherwise. */
function parseIP(text: string): Address | undefined {
  const v4 = (t: string): bigint | undefined => {
    const parts = t.split('.');
    if (parts.length !== 4 || parts.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) return undefined;
    return parts.reduce((acc, x) => acc * 256n + BigInt(Number(x)), 0n);
  };
  if (!text.includes(':')) {
    const v = v4(text);
    return v === undefined ? undefined : { family: 4, value: v };
  }
  let groups: string[] = [];
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const side = (h: string) => (h === '' ? [] : h.split(':'));
  const expand = (list: string[]): string[] | undefined => {
    const last = list[list.length - 1];
    if (last !== undefined && last.includes('.')) {
      const v = v4(last);
      if (v === undefined) return undefined;
      return [...list.slice(0, -1), (v >> 16n).toString(16), (v & 0xffffn).toString(16)];
    }
    return list;
  };
  const head = expand(side(halves[0]));
  const tail = halves.length === 2 ? expand(side(halves[1])) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 2) groups = [...head, ...Array.from({ length: 8 - head.length - tail.length }, () => '0'), ...tail];
  else groups = head;
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  // An IPv4-mapped IPv6 address is the IPv4 address, as Go's parser reads it.
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

/** Is `a` inside `addr/len` (host bits ignored)? */
function inCidr(cidr: string, a: Address): boolean {
  const [addr, lenText] = cidr.split('/');
  const base = parseIP(addr);
  if (!base || base.family !== a.family || lenText === undefined) return false;
  const shift = BigInt((a.family === 4 ? 32 : 128) - Number(lenText));
  return base.value >> shift === a.value >> shift;
}

function inIpBlock(block: { cidr: string; except?: readonly string[] }, a: Address): boolean {
  return inCidr(block.cidr, a) && !(block.except ?? []).some((x) => inCidr(x, a));
}

// ---------------------------------------------------------------- the semantics

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
      const block = peer.ipBlock;
      return addressesOf(other).some((a) => inIpBlock(block, a));
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
      return addressesOf(other).some((a) => peer.cidrs.some((c) => inCidr(c, a)));
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

/** Traffic from the node a pod runs on (its host IP, its Node's addresses) to the pod is always allowed. */
function fromOwnNode(cluster: Cluster, src: RefEnd, pod: Endpoint): boolean {
  if (!('address' in src)) return false;
  const own = [...(pod.hostIP ? [pod.hostIP] : []), ...cluster.nodes.filter((n) => n.name === pod.nodeName).flatMap((n) => n.addresses)];
  return own.some((text) => {
    const a = parseIP(text);
    return a !== undefined && a.family === src.address.family && a.value === src.address.value;
  });
}

/** The address families an end can send or receive in; undefined = any (an endpoint without an IP yet). */
function familiesOf(end: RefEnd): (4 | 6)[] | undefined {
  const list = addressesOf(end);
  if (list.length === 0) return 'address' in end ? [] : undefined;
  return [...new Set(list.map((a) => a.family))];
}

/** The end as packets of one family see it: an endpoint keeps its addresses of that family only. */
function inFamily(end: RefEnd, family: 4 | 6 | undefined): RefEnd {
  if (family === undefined || !('endpoint' in end)) return end;
  return { endpoint: { ...end.endpoint, ips: end.endpoint.ips.filter((ip) => parseIP(ip)?.family === family) } };
}

/**
 * Is a connection from `src` to `dst` on (protocol, port) allowed? Both directions must allow it. In a cluster with
 * dual-stack pods, for packets of one address family: a pair is allowed when some family both ends have allows it.
 */
export function referenceAllowed(cluster: Cluster, src: RefEnd, dst: RefEnd, protocol: Protocol, port: number): boolean {
  if ('endpoint' in src && 'endpoint' in dst && src.endpoint === dst.endpoint) return true;
  if (!isDualStack(cluster)) return allowedIn(cluster, src, dst, protocol, port);
  const a = familiesOf(src);
  const b = familiesOf(dst);
  const common = a === undefined ? b : b === undefined ? a : a.filter((f) => b.includes(f));
  if (common === undefined) return allowedIn(cluster, src, dst, protocol, port);
  return common.some((f) => allowedIn(cluster, inFamily(src, f), inFamily(dst, f), protocol, port));
}

/** Whether some endpoint has addresses of both families: asked once per cluster object, not once per question. */
function isDualStack(cluster: Cluster): boolean {
  let dual = dualStack.get(cluster);
  if (dual === undefined) dualStack.set(cluster, (dual = cluster.endpoints.some((e) => new Set(e.ips.map((ip) => parseIP(ip)?.family)).size === 2)));
  return dual;
}
const dualStack = new WeakMap<Cluster, boolean>();

function allowedIn(cluster: Cluster, src: RefEnd, dst: RefEnd, protocol: Protocol, port: number): boolean {
  const egress = 'endpoint' in src ? directionAllowed(cluster, src.endpoint, dst, dst, 'egress', protocol, port) : true;
  const ingress = 'endpoint' in dst ? fromOwnNode(cluster, src, dst.endpoint) || directionAllowed(cluster, dst.endpoint, src, dst, 'ingress', protocol, port) : true;
  return egress && ingress;
}
