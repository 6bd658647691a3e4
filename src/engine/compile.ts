/**
 * Compilation: every distinct selector and address block becomes an atom, computed once over the cluster through label
 * indexes; endpoints with the same atoms (and the same named ports where names are referenced) form one class, and the
 * external address space is cut into ranges that every block treats alike. Verdicts are then computed per class.
 */
import type { LabelSelector, NetworkPolicyPort, Protocol } from '../api/types.js';
import type { Cluster, Endpoint, EndpointPort, PolicyObject, TierPeer, TierPolicy, TierPort } from '../model/types.js';
import { familyMax, formatIP, ipBlockRanges, parseCIDR, parseIP, type AddressRange, type Family } from '../api/ip.js';
import { EVERYTHING, NOTHING, only, range, unionAll, ALL_PORTS } from './ports.js';
import { domainMatches } from '../api/aws-types.js';
import { isEmptySelector, matchesSelector, selectorKey } from './selector.js';
import { effectivePolicyTypes, tierOrder } from './semantics.js';
import type { ExternalRange, PortsByProtocol } from './types.js';

export type Direction = 'ingress' | 'egress';

/** Ports of a rule: fixed ranges, plus container port names resolved against the destination. */
export interface RulePorts {
  readonly fixed: PortsByProtocol;
  /** Named ports; `protocol` undefined = the named container port's own protocol (tier policies). */
  readonly named: readonly { readonly name: string; readonly protocol?: Protocol }[];
}

export interface CompiledRule {
  readonly index: number;
  readonly name?: string;
  readonly action: 'Allow' | 'Deny' | 'Pass';
  /** Atoms any of which matches the peer; null = every peer. */
  readonly peers: readonly number[] | null;
  /** For tier rules: the index in the source rule's peers of each of `peers` (unevaluable peers are left out). */
  readonly peerSources?: readonly number[];
  /** True when the rule can match nothing (an Allow rule with an unknown peer). */
  readonly never: boolean;
  readonly ports: RulePorts;
}

export interface CompiledNetworkPolicy {
  readonly source: PolicyObject;
  readonly namespace: string;
  readonly name: string;
  readonly subject: number;
  readonly isolates: Readonly<Record<Direction, boolean>>;
  readonly rules: Readonly<Record<Direction, readonly CompiledRule[]>>;
}

export interface CompiledTierPolicy {
  readonly source: TierPolicy;
  readonly subject: number;
  readonly rules: Readonly<Record<Direction, readonly CompiledRule[]>>;
}

/** A set of endpoints or external ranges that no policy can tell apart. */
export interface PeerClass {
  readonly id: number;
  readonly external: boolean;
  /** Endpoint indexes (pod classes) or external range indexes (external classes). */
  readonly members: number[];
  readonly atoms: Uint32Array;
  /** Container ports of the members, for named-port resolution (identical across members where it matters). */
  readonly ports: readonly EndpointPort[];
  readonly networkPolicies: Readonly<Record<Direction, readonly CompiledNetworkPolicy[]>>;
  readonly admin: readonly CompiledTierPolicy[];
  readonly baseline: readonly CompiledTierPolicy[];
}

/** Which endpoints and external ranges an atom holds. */
export interface Atom {
  readonly key: string;
  readonly endpoints: readonly number[];
  /** For address atoms: the ranges it covers. */
  readonly ranges?: readonly AddressRange[];
}

export interface Compiled {
  readonly cluster: Cluster;
  readonly atoms: readonly Atom[];
  readonly networkPolicies: readonly CompiledNetworkPolicy[];
  readonly tierPolicies: readonly CompiledTierPolicy[];
  readonly externals: readonly ExternalRange[];
  readonly externalRanges: readonly AddressRange[];
  /** IPv6 ranges are always compiled (so any address resolves) but shown only when an IPv6 block appears. */
  readonly ipv6Shown: boolean;
  readonly classes: readonly PeerClass[];
  /** Class of each endpoint, by endpoint index. */
  readonly endpointClass: Int32Array;
  /** Class of each external range, by range index. */
  readonly externalClass: Int32Array;
  /** Classes holding each atom. */
  readonly atomClasses: readonly (readonly number[])[];
}

class LabelIndex {
  readonly byNamespace = new Map<string, number[]>();
  readonly byLabel = new Map<string, Map<string, number[]>>();

  constructor(readonly endpoints: readonly Endpoint[]) {
    endpoints.forEach((ep, i) => {
      push(this.byNamespace, ep.namespace, i);
      for (const [k, v] of Object.entries(ep.labels)) {
        let values = this.byLabel.get(k);
        if (!values) this.byLabel.set(k, (values = new Map()));
        push(values, v, i);
      }
    });
  }

  /** Endpoints that may match `sel` (a superset), or undefined when the selector narrows nothing. */
  candidates(sel: LabelSelector): readonly number[] | undefined {
    let best: readonly number[] | undefined;
    const consider = (list: readonly number[]) => {
      if (!best || list.length < best.length) best = list;
    };
    for (const [k, v] of Object.entries(sel.matchLabels ?? {})) consider(this.byLabel.get(k)?.get(v) ?? []);
    for (const e of sel.matchExpressions ?? []) {
      const values = this.byLabel.get(e.key);
      if (e.operator === 'In') consider((e.values ?? []).flatMap((v) => values?.get(v) ?? []));
      else if (e.operator === 'Exists') consider(values ? [...values.values()].flat() : []);
    }
    return best;
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** Pod-set scope: one namespace, or the namespaces a selector matches. */
type NamespaceScope = { readonly namespace: string } | { readonly selector: LabelSelector };

class AtomTable {
  readonly atoms: Atom[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly index: LabelIndex;
  /** Sorted (family, value, endpoint) of every endpoint IP, for address atoms. */
  private readonly ips: { family: Family; value: bigint; endpoint: number }[];

  constructor(readonly cluster: Cluster) {
    this.index = new LabelIndex(cluster.endpoints);
    this.ips = [];
    cluster.endpoints.forEach((ep, i) => {
      for (const text of ep.ips) {
        const a = parseIP(text);
        if (a) this.ips.push({ family: a.family, value: a.value, endpoint: i });
      }
    });
    this.ips.sort((a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  }

  private intern(key: string, make: () => Omit<Atom, 'key'>): number {
    const existing = this.byKey.get(key);
    if (existing !== undefined) return existing;
    const id = this.atoms.length;
    this.atoms.push({ key, ...make() });
    this.byKey.set(key, id);
    return id;
  }

  private namespacesOf(scope: NamespaceScope): string[] {
    if ('namespace' in scope) return [scope.namespace];
    return [...this.cluster.namespaces.values()].filter((ns) => matchesSelector(scope.selector, ns.labels)).map((ns) => ns.name);
  }

  /** Pods of the scope's namespaces matching `podSelector` (absent = all). */
  pods(scope: NamespaceScope, podSelector: LabelSelector | undefined): number {
    const scopeKey = 'namespace' in scope ? `ns=${scope.namespace}` : `nssel=${selectorKey(scope.selector)}`;
    const key = `pods|${scopeKey}|${podSelector ? selectorKey(podSelector) : '*'}`;
    return this.intern(key, () => {
      const namespaces = new Set(this.namespacesOf(scope));
      const eps = this.cluster.endpoints;
      const byPods = podSelector && !isEmptySelector(podSelector) ? this.index.candidates(podSelector) : undefined;
      let inScope = 0;
      for (const ns of namespaces) inScope += this.index.byNamespace.get(ns)?.length ?? 0;
      let candidates: readonly number[];
      if (byPods && byPods.length < inScope) candidates = byPods;
      else candidates = [...namespaces].flatMap((ns) => this.index.byNamespace.get(ns) ?? []);
      const out = candidates.filter(
        (i) => namespaces.has(eps[i].namespace) && (podSelector === undefined || matchesSelector(podSelector, eps[i].labels)),
      );
      return { endpoints: [...new Set(out)].sort((a, b) => a - b) };
    });
  }

  /** Endpoints whose IP lies in one of the ranges, and the ranges themselves for the external space. */
  addresses(ranges: readonly AddressRange[]): number {
    const key = `addr|${ranges.map((r) => `${r.family}:${r.first}-${r.last}`).join(',')}`;
    return this.intern(key, () => {
      const hits = new Set<number>();
      for (const r of ranges) {
        let lo = lowerBound(this.ips, r.family, r.first);
        while (lo < this.ips.length && this.ips[lo].family === r.family && this.ips[lo].value <= r.last) {
          hits.add(this.ips[lo].endpoint);
          lo++;
        }
      }
      return { endpoints: [...hits].sort((a, b) => a - b), ranges };
    });
  }
}

function lowerBound(ips: readonly { family: Family; value: bigint }[], family: Family, value: bigint): number {
  let lo = 0;
  let hi = ips.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const m = ips[mid];
    if (m.family < family || (m.family === family && m.value < value)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function npPorts(ports: readonly NetworkPolicyPort[] | undefined): RulePorts {
  if (!ports || ports.length === 0) return { fixed: EVERYTHING, named: [] };
  let fixed = NOTHING;
  const named: { name: string; protocol: Protocol }[] = [];
  for (const p of ports) {
    const protocol = p.protocol ?? 'TCP';
    if (p.port === undefined) fixed = unionAll(fixed, only(protocol, ALL_PORTS));
    else if (typeof p.port === 'number') fixed = unionAll(fixed, only(protocol, range(p.port, p.endPort ?? p.port)));
    else named.push({ name: p.port, protocol });
  }
  return { fixed, named };
}

function tierPorts(ports: readonly TierPort[] | undefined): RulePorts {
  if (!ports || ports.length === 0) return { fixed: EVERYTHING, named: [] };
  let fixed = NOTHING;
  const named: { name: string }[] = [];
  for (const p of ports) {
    if (p.kind === 'range') fixed = unionAll(fixed, only(p.protocol, range(p.from, p.to)));
    else named.push({ name: p.name });
  }
  return { fixed, named };
}

function nodeRanges(cluster: Cluster, sel: LabelSelector): AddressRange[] {
  const out: AddressRange[] = [];
  for (const n of cluster.nodes) {
    if (!matchesSelector(sel, n.labels)) continue;
    for (const text of n.addresses) {
      const a = parseIP(text);
      if (a) out.push({ family: a.family, first: a.value, last: a.value });
    }
  }
  return out;
}

/**
 * The addresses `Cluster.dns` gives the names a domainNames peer matches (exact or `*.` wildcard, as AWS's and the
 * network-policy-api types define them); undefined when none of its names has an answer.
 */
function domainRanges(cluster: Cluster, patterns: readonly string[]): AddressRange[] | undefined {
  if (!cluster.dns) return undefined;
  let answered = false;
  const out: AddressRange[] = [];
  for (const [name, ips] of cluster.dns) {
    if (!patterns.some((p) => domainMatches(p, name))) continue;
    answered = true;
    for (const text of ips) {
      const a = parseIP(text);
      if (a) out.push({ family: a.family, first: a.value, last: a.value });
    }
  }
  return answered ? out : undefined;
}

function compileTierPeer(atoms: AtomTable, cluster: Cluster, peer: TierPeer, aws: boolean): number | 'unsupported' {
  switch (peer.kind) {
    case 'pods':
      return atoms.pods({ selector: peer.selector.namespaceSelector }, peer.selector.podSelector);
    case 'networks':
      return atoms.addresses(peer.cidrs.map((c) => parseCIDR(c)).filter((r): r is AddressRange => r !== undefined));
    case 'nodes':
      return atoms.addresses(nodeRanges(cluster, peer.nodeSelector));
    case 'unsupported': {
      if (!peer.domainNames) return 'unsupported';
      const resolved = domainRanges(cluster, peer.domainNames);
      if (resolved) return atoms.addresses(resolved);
      // AWS's agent skips a domainName entry it cannot enforce and keeps the rule's other entries: for AWS's kinds an
      // unanswered name matches nothing by itself (the CEL rule allows domainNames in Accept rules only).
      return aws ? atoms.addresses([]) : 'unsupported';
    }
  }
}

function compileTierPolicy(atoms: AtomTable, cluster: Cluster, policy: TierPolicy): CompiledTierPolicy {
  const subject = atoms.pods({ selector: policy.subject.namespaceSelector }, policy.subject.podSelector);
  const rules = (dir: Direction): CompiledRule[] =>
    policy[dir].map((rule, index) => {
      const compiled = rule.peers.map((p) => compileTierPeer(atoms, cluster, p, policy.group !== undefined));
      const unsupported = compiled.includes('unsupported');
      const ports = tierPorts(rule.ports);
      // An unknown peer fails closed, as the API asks: Allow matches nothing, Deny and Pass deny every peer.
      if (unsupported && rule.action !== 'Allow') return { index, name: rule.name, action: 'Deny', peers: null, never: false, ports };
      const kept = compiled.flatMap((c, k) => (c === 'unsupported' ? [] : [k]));
      return { index, name: rule.name, action: rule.action, peers: kept.map((k) => compiled[k] as number), peerSources: kept, never: unsupported, ports };
    });
  return { source: policy, subject, rules: { ingress: rules('ingress'), egress: rules('egress') } };
}

function compileNetworkPolicy(atoms: AtomTable, cluster: Cluster, source: PolicyObject): CompiledNetworkPolicy {
  const { policy } = source;
  const namespace = policy.metadata.namespace ?? 'default';
  const types = effectivePolicyTypes(policy.spec);
  const peersOf = (peers: readonly import('../api/types.js').NetworkPolicyPeer[] | undefined): number[] | null => {
    if (!peers || peers.length === 0) return null;
    return peers.map((peer) => {
      // An ApplicationNetworkPolicy's domainNames peer: the addresses answered for its names, else nothing (fail closed).
      if (peer.domainNames) return atoms.addresses(domainRanges(cluster, peer.domainNames) ?? []);
      if (peer.ipBlock) return atoms.addresses(ipBlockRanges(peer.ipBlock.cidr, peer.ipBlock.except ?? []));
      const scope = peer.namespaceSelector ? { selector: peer.namespaceSelector } : { namespace };
      return atoms.pods(scope, peer.podSelector);
    });
  };
  return {
    source,
    namespace,
    name: policy.metadata.name ?? '',
    subject: atoms.pods({ namespace }, policy.spec.podSelector),
    isolates: { ingress: types.includes('Ingress'), egress: types.includes('Egress') },
    rules: {
      ingress: (policy.spec.ingress ?? []).map((r, index) => ({ index, action: 'Allow', peers: peersOf(r.from), never: false, ports: npPorts(r.ports) })),
      egress: (policy.spec.egress ?? []).map((r, index) => ({ index, action: 'Allow', peers: peersOf(r.to), never: false, ports: npPorts(r.ports) })),
    },
  };
}

/**
 * Cuts each family's address space at every atom boundary; says whether any IPv6 block appears. Pod IPs are no
 * external addresses: a piece made only of pod IPs (a /32 ipBlock equal to a pod's IP) is no range, and the pieces
 * on either side of it join again when every atom treats them alike, so pod IPs never split an external range.
 * @param podIPs every endpoint IP, sorted by family then value
 */
function externalRanges(atoms: readonly Atom[], podIPs: readonly { family: Family; value: bigint }[]): { ranges: AddressRange[]; v6: boolean } {
  const cuts: Record<Family, Set<bigint>> = { 4: new Set([0n]), 6: new Set([0n]) };
  let v6 = false;
  for (const atom of atoms) {
    for (const r of atom.ranges ?? []) {
      if (r.family === 6) v6 = true;
      cuts[r.family].add(r.first);
      if (r.last < familyMax(r.family)) cuts[r.family].add(r.last + 1n);
    }
  }
  const pieces: AddressRange[] = [];
  for (const family of [4, 6] as const) {
    const points = [...cuts[family]].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    points.forEach((first, i) => {
      const last = i + 1 < points.length ? points[i + 1] - 1n : familyMax(family);
      pieces.push({ family, first, last });
    });
  }
  if (podIPs.length === 0) return { ranges: pieces, v6 };
  // Which atoms cover each piece (each atom range covers a contiguous run of pieces).
  const signature: string[] = pieces.map(() => '');
  atoms.forEach((atom, id) => {
    for (const r of atom.ranges ?? []) {
      for (let i = rangeLowerBound(pieces, r.family, r.first); i < pieces.length && pieces[i].family === r.family && pieces[i].last <= r.last; i++) signature[i] += `${id},`;
    }
  });
  const out: AddressRange[] = [];
  let lastSignature = '';
  let joinable = false;
  pieces.forEach((piece, i) => {
    const pods = lowerBound(podIPs, piece.family, piece.last + 1n) - lowerBound(podIPs, piece.family, piece.first);
    if (BigInt(pods) === piece.last - piece.first + 1n) return; // only pod IPs: the pods are the endpoints
    const prev = out[out.length - 1];
    if (joinable && prev && prev.family === piece.family && lastSignature === signature[i]) {
      out[out.length - 1] = { family: piece.family, first: prev.first, last: piece.last };
    } else out.push(piece);
    lastSignature = signature[i];
    joinable = true;
  });
  return { ranges: out, v6 };
}

/** Every endpoint IP as an address, sorted by family then value, each once. */
function endpointAddresses(cluster: Cluster): { family: Family; value: bigint }[] {
  const seen = new Set<string>();
  const out: { family: Family; value: bigint }[] = [];
  for (const ep of cluster.endpoints) {
    for (const text of ep.ips) {
      const a = parseIP(text);
      if (!a || seen.has(`${a.family}:${a.value}`)) continue;
      seen.add(`${a.family}:${a.value}`);
      out.push({ family: a.family, value: a.value });
    }
  }
  return out.sort((a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

/** Compiles a cluster: atoms, classes, external ranges. */
export function compileCluster(cluster: Cluster): Compiled {
  const table = new AtomTable(cluster);
  const networkPolicies = cluster.policies.map((p) => compileNetworkPolicy(table, cluster, p));
  const tierPolicies = [...cluster.tierPolicies].sort(tierOrder).map((p) => compileTierPolicy(table, cluster, p));
  // Each pod's own node reaches it (ingress), whatever the policies say: every node address is a range of its own.
  for (const text of ownNodeAddressTexts(cluster)) {
    const a = parseIP(text);
    if (a) table.addresses([{ family: a.family, first: a.value, last: a.value }]);
  }
  const atoms = table.atoms;
  const nAtoms = atoms.length;
  const words = Math.max(1, Math.ceil(nAtoms / 32));

  // Named ports matter only where some rule names them.
  const referencedNames = new Set<string>();
  for (const p of networkPolicies) for (const d of ['ingress', 'egress'] as const) for (const r of p.rules[d]) for (const n of r.ports.named) referencedNames.add(n.name);
  for (const p of tierPolicies) for (const d of ['ingress', 'egress'] as const) for (const r of p.rules[d]) for (const n of r.ports.named) referencedNames.add(n.name);

  // Atom membership per endpoint.
  const endpointAtoms: number[][] = cluster.endpoints.map(() => []);
  atoms.forEach((atom, id) => {
    for (const e of atom.endpoints) endpointAtoms[e].push(id);
  });

  // External ranges and their atoms.
  const { ranges, v6 } = externalRanges(atoms, endpointAddresses(cluster));
  const rangeAtoms: number[][] = ranges.map(() => []);
  atoms.forEach((atom, id) => {
    for (const r of atom.ranges ?? []) {
      // Ranges are sorted by family then first; each atom range covers a contiguous run of them.
      let i = rangeLowerBound(ranges, r.family, r.first);
      while (i < ranges.length && ranges[i].family === r.family && ranges[i].last <= r.last) {
        rangeAtoms[i].push(id);
        i++;
      }
    }
  });

  const classes: PeerClass[] = [];
  const classByKey = new Map<string, number>();
  const atomClasses: number[][] = atoms.map(() => []);
  const npBySubject = new Map<number, CompiledNetworkPolicy[]>();
  networkPolicies.forEach((p) => push(npBySubject, p.subject, p));
  const tierBySubject = new Map<number, CompiledTierPolicy[]>();
  tierPolicies.forEach((p) => push(tierBySubject, p.subject, p));

  const newClass = (external: boolean, atomList: number[], ports: readonly EndpointPort[]): PeerClass => {
    const bits = new Uint32Array(words);
    for (const a of atomList) bits[a >>> 5] |= 1 << (a & 31);
    const nps: CompiledNetworkPolicy[] = [];
    const tiers: CompiledTierPolicy[] = [];
    if (!external) {
      for (const a of atomList) {
        nps.push(...(npBySubject.get(a) ?? []));
        tiers.push(...(tierBySubject.get(a) ?? []));
      }
    }
    const ordered = tiers.sort((x, y) => tierOrder(x.source, y.source));
    const cls: PeerClass = {
      id: classes.length,
      external,
      members: [],
      atoms: bits,
      ports,
      networkPolicies: { ingress: nps.filter((p) => p.isolates.ingress), egress: nps.filter((p) => p.isolates.egress) },
      admin: ordered.filter((p) => p.source.tier === 'Admin'),
      baseline: ordered.filter((p) => p.source.tier === 'Baseline'),
    };
    classes.push(cls);
    for (const a of atomList) atomClasses[a].push(cls.id);
    return cls;
  };

  const endpointClass = new Int32Array(cluster.endpoints.length);
  cluster.endpoints.forEach((ep, i) => {
    const named = ep.ports.filter((p) => p.name !== undefined && referencedNames.has(p.name));
    const key = `p|${endpointAtoms[i].join(',')}|${named.map((p) => `${p.name}/${p.protocol}/${p.port}`).sort().join(',')}`;
    let id = classByKey.get(key);
    if (id === undefined) {
      id = newClass(false, endpointAtoms[i], named).id;
      classByKey.set(key, id);
    }
    classes[id].members.push(i);
    endpointClass[i] = id;
  });
  const externalClass = new Int32Array(ranges.length);
  ranges.forEach((_, i) => {
    const key = `x|${rangeAtoms[i].join(',')}`;
    let id = classByKey.get(key);
    if (id === undefined) {
      id = newClass(true, rangeAtoms[i], []).id;
      classByKey.set(key, id);
    }
    classes[id].members.push(i);
    externalClass[i] = id;
  });

  const externals: ExternalRange[] = ranges.map((r) => {
    const first = formatIP(r.family, r.first);
    const last = formatIP(r.family, r.last);
    return { id: `${first}-${last}`, family: r.family, first, last };
  });
  return { cluster, atoms, networkPolicies, tierPolicies, externals, externalRanges: ranges, ipv6Shown: v6, classes, endpointClass, externalClass, atomClasses };
}

function rangeLowerBound(ranges: readonly AddressRange[], family: Family, value: bigint): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const m = ranges[mid];
    if (m.family < family || (m.family === family && m.last < value)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Every address that is some pod's own node: node addresses of the pods' nodes, and the pods' host IPs. */
function ownNodeAddressTexts(cluster: Cluster): Set<string> {
  const out = new Set<string>();
  const used = new Set(cluster.endpoints.map((e) => e.nodeName).filter((n): n is string => n !== undefined));
  for (const n of cluster.nodes) if (used.has(n.name)) for (const a of n.addresses) out.add(a);
  for (const e of cluster.endpoints) if (e.hostIP) out.add(e.hostIP);
  return out;
}

/**
 * The addresses of an endpoint's own node, as `family:value` keys: its node's addresses and its host IP. Traffic from
 * them to the endpoint is always allowed (NetworkPolicy: "traffic to and from the node where a Pod is running is
 * always allowed", for the kubelet's health checks).
 */
export function ownNodeAddresses(cluster: Cluster, ep: Endpoint): Set<string> {
  const out = new Set<string>();
  const add = (text: string) => {
    const a = parseIP(text);
    if (a) out.add(`${a.family}:${a.value}`);
  };
  if (ep.hostIP) add(ep.hostIP);
  if (ep.nodeName) for (const n of cluster.nodes) if (n.name === ep.nodeName) n.addresses.forEach(add);
  return out;
}

export function hasAtom(cls: PeerClass, atom: number): boolean {
  return (cls.atoms[atom >>> 5] & (1 << (atom & 31))) !== 0;
}
