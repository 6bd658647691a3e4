/**
 * NetworkPolicies resolved into PolicyEndpoints (and admin-tier policies into ClusterPolicyEndpoints) the way the AWS
 * network policy controller resolves them (`pkg/resolvers/endpoints.go`, `pkg/policyendpoints/manager.go` of
 * aws/amazon-network-policy-controller-k8s), so the AWS node agent and Palisade's agent read the same objects.
 *
 * The pods a policy selects and the pods a peer matches come from the engine's compiled atoms; this module only turns
 * them into addresses and ports:
 * - a pod peer is its pod IPs written bare (`10.0.1.5`, not `10.0.1.5/32`), as the AWS controller writes them; a
 *   dual-stack pod gives one entry per family (the AWS controller writes `status.podIP` only, which is all there is
 *   in the single-family clusters it supports);
 * - an ipBlock is copied with its `except`; a rule without peers is `0.0.0.0/0` and `::/0` with the rule's ports;
 * - ingress named ports resolve against the selected pods (a rule whose ports all fail to resolve is dropped); egress
 *   named ports resolve per destination pod (a pod that has none of them is left out); a CIDR (or a rule without
 *   peers) cannot carry a name, so on egress it keeps only its numeric ports, and each pod it covers that has the
 *   named port gets its own entry with the resolved number (the AWS controller drops those; the spec allows them);
 * - egress to pods also lists the ClusterIPs of the Services the peer names (the AWS agent sees traffic before DNAT);
 * - entries with the same cidr and except merge, their ports unioned (a merge with an all-ports entry is all ports).
 */
import type { EndpointInfo, PodEndpoint, PolicyEndpoint, PolicyEndpointPort, TrafficDirection } from '../api/policyendpoint.js';
import type { IntOrString, LabelSelector, NetworkPolicyPeer, NetworkPolicyPort, OwnerReference, Protocol } from '../api/types.js';
import type { CompiledRule, CompiledTierPolicy } from '../engine/compile.js';
import type { Engine } from '../engine/engine.js';
import { parseIP } from '../api/ip.js';
import { effectivePolicyTypes } from '../engine/semantics.js';
import type { Endpoint, ServiceInfo, TierPeer, TierPolicy, TierPort } from '../model/types.js';
import { chunkName, DEFAULT_CHUNK_SIZE, packChunks, type Chunk, type Keyed } from './chunk.js';
import { atomHosts, namespacesMatching, podsOfAtom, podsOfService, primaryIP, servicesForPeer } from './queries.js';
import type { ClusterEndpointInfo, ClusterPolicyEndpoint, ClusterRuleAction } from '../api/policyendpoint.js';

/** A port as PolicyEndpoints carry it, protocol always written. */
export interface Port {
  readonly protocol: Protocol;
  readonly port?: number;
  readonly endPort?: number;
}

export type Direction = 'ingress' | 'egress';

/** One rule of a policy, resolved: its entries before merging, or why it resolved to nothing. */
export interface ResolvedRule {
  readonly direction: Direction;
  readonly index: number;
  readonly name?: string;
  readonly action?: ClusterRuleAction;
  readonly entries: readonly EndpointInfo[];
  /** Set when the rule was dropped as a whole (e.g. none of its named ports resolved). */
  readonly dropped?: string;
}

/** A NetworkPolicy resolved, before chunking. */
export interface ResolvedPolicy {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly podSelector: LabelSelector;
  readonly podIsolation: readonly TrafficDirection[];
  readonly pods: readonly PodEndpoint[];
  readonly rules: readonly ResolvedRule[];
  /** Merged and sorted, as written. */
  readonly ingress: readonly EndpointInfo[];
  readonly egress: readonly EndpointInfo[];
}

/** Options of {@link resolvePolicyEndpoints}. */
export interface ResolveOptions {
  /** At most this many entries per list per object. @default 200 (the AWS controller's default) */
  readonly chunkSize?: number;
  /**
   * The objects that exist now. Entries that are still wanted stay in the object that holds them, so a change rewrites
   * only the objects it touches. @default none: a fresh, deterministic layout
   */
  readonly previous?: readonly PolicyEndpoint[];
}

// ---------------------------------------------------------------- ports

function protocolOf(p: { readonly protocol?: Protocol }): Protocol {
  return p.protocol ?? 'TCP';
}

/** A port a CIDR can carry: numeric or absent; a named port cannot be resolved without a pod. */
function cidrPort(p: NetworkPolicyPort): Port | undefined {
  if (typeof p.port === 'string') return undefined;
  if (p.port === undefined) return { protocol: protocolOf(p) };
  return p.endPort !== undefined ? { protocol: protocolOf(p), port: p.port, endPort: p.endPort } : { protocol: protocolOf(p), port: p.port };
}

/** The container port a policy port names on a pod: a number is itself; a name must be a port of that protocol. */
function containerPort(pod: Endpoint, port: IntOrString, protocol: Protocol): { port: number; name?: string } | undefined {
  if (typeof port === 'number') {
    const cp = pod.ports.find((c) => c.port === port && c.protocol === protocol);
    return { port, ...(cp?.name ? { name: cp.name } : {}) };
  }
  const cp = pod.ports.find((c) => c.name === port && c.protocol === protocol);
  return cp ? { port: cp.port, name: port } : undefined;
}

/** A rule's ports on one pod; the ports the pod cannot resolve are left out. */
function podPorts(pod: Endpoint, ports: readonly NetworkPolicyPort[]): Port[] {
  const out: Port[] = [];
  for (const p of ports) {
    const protocol = protocolOf(p);
    if (p.port === undefined) {
      out.push({ protocol });
      continue;
    }
    const cp = containerPort(pod, p.port, protocol);
    if (cp) out.push(p.endPort !== undefined ? { protocol, port: cp.port, endPort: p.endPort } : { protocol, port: cp.port });
  }
  return out;
}

function portKey(p: Port): string {
  return `${p.protocol}/${p.port ?? ''}/${p.endPort ?? ''}`;
}

function sortPorts(ports: readonly Port[]): Port[] {
  const byKey = new Map(ports.map((p) => [portKey(p), p]));
  return [...byKey.values()].sort(
    (a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0) || (a.port ?? 0) - (b.port ?? 0) || (a.endPort ?? 0) - (b.endPort ?? 0),
  );
}

/** Ingress ports resolved once per rule; named ones against the selected pods. */
function ingressPorts(ports: readonly NetworkPolicyPort[], selected: readonly Endpoint[]): Port[] {
  if (!ports.some((p) => typeof p.port === 'string')) return ports.map(cidrPort).filter((p): p is Port => p !== undefined);
  return sortPorts(selected.flatMap((pod) => podPorts(pod, ports)));
}

function isNumericPortAllowed(port: number, protocol: Protocol, ports: readonly NetworkPolicyPort[]): boolean {
  return ports.some((p) => {
    if (protocolOf(p) !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port !== 'number') return false;
    return port >= p.port && port <= (p.endPort ?? p.port);
  });
}

function targetOf(sp: ServiceInfo['ports'][number]): IntOrString {
  // The apiserver defaults targetPort to port.
  return sp.targetPort ?? sp.port;
}

/** The Service port whose traffic reaches the policy port, as the AWS controller finds it. */
function servicePort(cluster: Engine['cluster'], svc: ServiceInfo, port: IntOrString, protocol: Protocol): number | undefined {
  const direct = svc.ports.find((sp) => sp.protocol === protocol && typeof targetOf(sp) === typeof port && String(targetOf(sp)) === String(port));
  if (direct) return direct.port;
  for (const pod of podsOfService(cluster, svc)) {
    const cp = containerPort(pod, port, protocol);
    if (!cp) continue;
    const sp = svc.ports.find((s) => {
      if (s.protocol !== protocol) return false;
      const t = targetOf(s);
      return typeof t === 'string' ? t === cp.name : t === cp.port;
    });
    if (sp) return sp.port;
  }
  return undefined;
}

/** True when the Service port's named targetPort reaches, on some pod, a container port the policy does not allow. */
function bypassesPorts(cluster: Engine['cluster'], svc: ServiceInfo, listen: number, protocol: Protocol, ports: readonly NetworkPolicyPort[]): boolean {
  const sp = svc.ports.find((s) => s.port === listen && s.protocol === protocol && typeof targetOf(s) === 'string');
  if (!sp) return false;
  const name = targetOf(sp) as string;
  return podsOfService(cluster, svc).some((pod) => {
    const cp = pod.ports.find((c) => c.name === name && c.protocol === protocol);
    return cp !== undefined && !isNumericPortAllowed(cp.port, protocol, ports);
  });
}

/** The ClusterIP entries of the Services an egress pod peer names, in the peer's namespaces. */
function serviceEntries(engine: Engine, namespaces: readonly string[], podSelector: LabelSelector | undefined, ports: readonly NetworkPolicyPort[]): EndpointInfo[] {
  const cluster = engine.cluster;
  const out: EndpointInfo[] = [];
  for (const ns of namespaces) {
    for (const svc of servicesForPeer(cluster, ns, podSelector)) {
      const list: Port[] = [];
      for (const p of ports) {
        const protocol = protocolOf(p);
        if (p.port === undefined) {
          list.push(p.endPort !== undefined ? { protocol, endPort: p.endPort } : { protocol });
          continue;
        }
        const listen = servicePort(cluster, svc, p.port, protocol);
        if (listen === undefined) continue;
        if (typeof p.port === 'number' && bypassesPorts(cluster, svc, listen, protocol, ports)) continue;
        list.push(p.endPort !== undefined ? { protocol, port: listen, endPort: p.endPort } : { protocol, port: listen });
      }
      if (ports.length > 0 && list.length === 0) continue;
      out.push(entry(svc.clusterIPs[0], undefined, list));
    }
  }
  return out;
}

// ---------------------------------------------------------------- entries

function entry(cidr: string, except: readonly string[] | undefined, ports: readonly Port[]): EndpointInfo {
  return {
    cidr,
    ...(except && except.length > 0 ? { except: [...except] } : {}),
    ...(ports.length > 0 ? { ports: ports.map((p) => ({ ...p })) } : {}),
  };
}

function allAddresses(ports: readonly Port[]): EndpointInfo[] {
  return [entry('0.0.0.0/0', undefined, ports), entry('::/0', undefined, ports)];
}

function entryKey(e: { readonly cidr?: string; readonly except?: readonly string[] }): string {
  return `${e.cidr ?? ''}|${[...(e.except ?? [])].sort().join(',')}`;
}

/** What addresses sort by, parsed once per address: family and value, then prefix length; then the text. */
interface CidrOrder {
  readonly family: number;
  readonly value: bigint;
  readonly len: number;
  readonly text: string;
}

function cidrOrder(text: string): CidrOrder {
  const [addr, len] = text.split('/');
  const ip = parseIP(addr);
  // What does not parse goes last, by text.
  return ip ? { family: ip.family, value: ip.value, len: Number(len ?? 129), text } : { family: 99, value: 0n, len: 0, text };
}

function compareOrder(a: CidrOrder, b: CidrOrder): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  if (a.len !== b.len) return a.len - b.len;
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
}

/** Sorts by address (see {@link compareOrder}), then by `tie`; each address is parsed once, not per comparison. */
function sortByCidr<T>(xs: readonly T[], cidr: (x: T) => string, tie: (x: T) => string = () => ''): T[] {
  return xs
    .map((x) => ({ x, o: cidrOrder(cidr(x)), t: tie(x) }))
    .sort((a, b) => compareOrder(a.o, b.o) || (a.t < b.t ? -1 : a.t > b.t ? 1 : 0))
    .map(({ x }) => x);
}

/** Merges entries with the same cidr and except; ports are unioned, and an all-ports entry makes the merge all ports. */
export function mergeEntries(entries: readonly EndpointInfo[]): EndpointInfo[] {
  const merged = new Map<string, { cidr: string; except?: readonly string[]; ports: Port[] | 'all' }>();
  for (const e of entries) {
    const key = entryKey(e);
    const ports: Port[] | 'all' = e.ports && e.ports.length > 0 ? e.ports.map((p) => ({ ...p, protocol: protocolOf(p) })) : 'all';
    const m = merged.get(key);
    if (!m) merged.set(key, { cidr: e.cidr, ...(e.except ? { except: e.except } : {}), ports });
    else if (m.ports !== 'all') m.ports = ports === 'all' ? 'all' : [...m.ports, ...ports];
  }
  const out = [...merged.values()].map((m) => entry(m.cidr, m.except ? sortByCidr(m.except, (c) => c) : undefined, m.ports === 'all' ? [] : sortPorts(m.ports)));
  return sortByCidr(out, (e) => e.cidr, entryKey);
}

// ---------------------------------------------------------------- NetworkPolicy

function podEndpoint(ep: Endpoint): PodEndpoint {
  return { hostIP: ep.hostIP ?? '', podIP: primaryIP(ep), name: ep.name, namespace: ep.namespace };
}

function peerNamespaces(engine: Engine, policyNamespace: string, peer: NetworkPolicyPeer): string[] {
  return peer.namespaceSelector ? namespacesMatching(engine.cluster, peer.namespaceSelector) : [policyNamespace];
}

function resolveIngressRule(engine: Engine, rule: CompiledRule, from: readonly NetworkPolicyPeer[] | undefined, ports: readonly NetworkPolicyPort[], selected: readonly Endpoint[]): ResolvedRule {
  const resolved = ingressPorts(ports, selected);
  const base = { direction: 'ingress' as const, index: rule.index };
  if (ports.length > 0 && resolved.length === 0) return { ...base, entries: [], dropped: 'none of its named ports is a container port of a selected pod' };
  if (rule.peers === null) return { ...base, entries: allAddresses(resolved) };
  const entries: EndpointInfo[] = [];
  (from ?? []).forEach((peer, k) => {
    if (peer.ipBlock) entries.push(entry(peer.ipBlock.cidr, peer.ipBlock.except, resolved));
    else for (const pod of podsOfAtom(engine, rule.peers![k])) for (const ip of pod.ips) entries.push(entry(ip, undefined, resolved));
  });
  return { ...base, entries };
}

/**
 * Entries for the named ports of an egress rule towards pods a CIDR-like peer covers: a CIDR cannot carry a name, but
 * each covered pod that has the named container port can, as its own IP with the resolved number. (The AWS controller
 * drops these; the engine, and upstream's conformance, allow them.)
 */
function namedPortPodEntries(pods: readonly Endpoint[], ports: readonly NetworkPolicyPort[]): EndpointInfo[] {
  const named = ports.filter((p) => typeof p.port === 'string');
  if (named.length === 0) return [];
  const out: EndpointInfo[] = [];
  for (const pod of pods) {
    const list = podPorts(pod, named);
    if (list.length > 0) for (const ip of pod.ips) out.push(entry(ip, undefined, list));
  }
  return out;
}

function resolveEgressRule(engine: Engine, namespace: string, rule: CompiledRule, to: readonly NetworkPolicyPeer[] | undefined, ports: readonly NetworkPolicyPort[]): ResolvedRule {
  const base = { direction: 'egress' as const, index: rule.index };
  const cidrPorts = ports.map(cidrPort).filter((p): p is Port => p !== undefined);
  const cidrUnresolvable = ports.length > 0 && cidrPorts.length === 0;
  if (rule.peers === null) {
    const pods = engine.cluster.endpoints.filter((ep) => ep.kind === 'Pod' && ep.ips.length > 0);
    const entries = [...(cidrUnresolvable ? [] : allAddresses(cidrPorts)), ...namedPortPodEntries(pods, ports)];
    return entries.length === 0 ? { ...base, entries, dropped: 'no destination has any of its named ports' } : { ...base, entries };
  }
  const entries: EndpointInfo[] = [];
  (to ?? []).forEach((peer, k) => {
    // An ApplicationNetworkPolicy's domainNames peer: no address the controller can write (AWS writes a domainName
    // entry, which its open-source agent skips).
    if (peer.domainNames) return;
    if (peer.ipBlock) {
      if (!cidrUnresolvable) entries.push(entry(peer.ipBlock.cidr, peer.ipBlock.except, cidrPorts));
      entries.push(...namedPortPodEntries(podsOfAtom(engine, rule.peers![k]), ports));
      return;
    }
    for (const pod of podsOfAtom(engine, rule.peers![k])) {
      const list = podPorts(pod, ports);
      if (ports.length > 0 && list.length === 0) continue;
      for (const ip of pod.ips) entries.push(entry(ip, undefined, list));
    }
    entries.push(...serviceEntries(engine, peerNamespaces(engine, namespace, peer), peer.podSelector, ports));
  });
  return { ...base, entries };
}

/**
 * Resolves `cluster.policies[index]`: the pods it selects, its isolation, and each rule's peers as addresses.
 * @example resolveNetworkPolicy(compile(cluster), 0).ingress // [{ cidr: '10.0.1.5', ports: [{ protocol: 'TCP', port: 80 }] }]
 */
export function resolveNetworkPolicy(engine: Engine, index: number): ResolvedPolicy {
  const compiled = engine.compiled.networkPolicies[index];
  if (!compiled) throw new RangeError(`no NetworkPolicy at index ${index}`);
  const policy = compiled.source.policy;
  const selected = podsOfAtom(engine, compiled.subject);
  const rules: ResolvedRule[] = [
    ...compiled.rules.ingress.map((r) => {
      const src = policy.spec.ingress?.[r.index];
      return resolveIngressRule(engine, r, src?.from, src?.ports ?? [], selected);
    }),
    ...compiled.rules.egress.map((r) => {
      const src = policy.spec.egress?.[r.index];
      return resolveEgressRule(engine, compiled.namespace, r, src?.to, src?.ports ?? []);
    }),
  ];
  return {
    namespace: compiled.namespace,
    name: compiled.name,
    ...(policy.metadata.uid ? { uid: policy.metadata.uid } : {}),
    podSelector: policy.spec.podSelector,
    podIsolation: [...effectivePolicyTypes(policy.spec)],
    pods: selected.map(podEndpoint),
    rules,
    ingress: mergeEntries(rules.filter((r) => r.direction === 'ingress').flatMap((r) => r.entries)),
    egress: mergeEntries(rules.filter((r) => r.direction === 'egress').flatMap((r) => r.entries)),
  };
}

type PeLists = 'podSelectorEndpoints' | 'ingress' | 'egress';
const PE_LISTS: readonly PeLists[] = ['podSelectorEndpoints', 'ingress', 'egress'];

function ownerReference(apiVersion: string, kind: string, name: string, uid: string | undefined): OwnerReference {
  // uid is required by the API; offline (manifests without uids) it is unknown and left out.
  const ref = { apiVersion, kind, name, ...(uid ? { uid } : {}), controller: true, blockOwnerDeletion: true };
  return ref as OwnerReference;
}

function podKey(p: PodEndpoint): string {
  return `${p.namespace}/${p.name}`;
}

/** Chunks a resolved policy into PolicyEndpoints (see chunk.ts for the naming and layout). */
export function policyEndpointsFor(resolved: ResolvedPolicy, opts: ResolveOptions = {}): PolicyEndpoint[] {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const mine = (opts.previous ?? []).filter((pe) => pe.spec.policyRef.namespace === resolved.namespace && pe.spec.policyRef.name === resolved.name);
  type V = PodEndpoint | EndpointInfo;
  const previous: Chunk<PeLists, V>[] = mine.map((pe) => ({
    name: pe.metadata.name ?? '',
    lists: {
      podSelectorEndpoints: (pe.spec.podSelectorEndpoints ?? []).map((p) => ({ key: podKey(p), value: p })),
      ingress: (pe.spec.ingress ?? []).map((e) => ({ key: entryKey(e), value: e })),
      egress: (pe.spec.egress ?? []).map((e) => ({ key: entryKey(e), value: e })),
    },
  }));
  const lists: Record<PeLists, Keyed<V>[]> = {
    podSelectorEndpoints: resolved.pods.map((p) => ({ key: podKey(p), value: p })),
    ingress: resolved.ingress.map((e) => ({ key: entryKey(e), value: e })),
    egress: resolved.egress.map((e) => ({ key: entryKey(e), value: e })),
  };
  const chunks = packChunks(PE_LISTS, lists, previous, chunkSize, (slot) => chunkName(resolved.name, `PolicyEndpoint/${resolved.namespace}/${resolved.name}/${slot}`));
  const owner = ownerReference('networking.k8s.io/v1', 'NetworkPolicy', resolved.name, resolved.uid);
  return chunks.map((c) => {
    const pods = c.lists.podSelectorEndpoints.map((e) => e.value as PodEndpoint);
    const ingress = c.lists.ingress.map((e) => e.value as EndpointInfo);
    const egress = c.lists.egress.map((e) => e.value as EndpointInfo);
    return {
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'PolicyEndpoint',
      metadata: { name: c.name, namespace: resolved.namespace, ownerReferences: [owner] },
      spec: {
        podSelector: resolved.podSelector,
        policyRef: { name: resolved.name, namespace: resolved.namespace },
        podIsolation: resolved.podIsolation,
        ...(pods.length > 0 ? { podSelectorEndpoints: pods } : {}),
        ...(ingress.length > 0 ? { ingress } : {}),
        ...(egress.length > 0 ? { egress } : {}),
      },
    };
  });
}

/**
 * Resolves every NetworkPolicy of the engine's cluster into PolicyEndpoints, as the AWS network policy controller
 * would write them: per policy, at least one object, at most `chunkSize` entries per list per object.
 * @example
 * const pes = resolvePolicyEndpoints(compile(readCluster(['manifests/']).cluster));
 */
export function resolvePolicyEndpoints(engine: Engine, opts: ResolveOptions = {}): PolicyEndpoint[] {
  return engine.compiled.networkPolicies.flatMap((_, i) => policyEndpointsFor(resolveNetworkPolicy(engine, i), opts));
}

// ---------------------------------------------------------------- admin tiers

/** An admin-tier policy resolved, before chunking. */
export interface ResolvedTierPolicy {
  readonly source: TierPolicy;
  readonly pods: readonly PodEndpoint[];
  readonly rules: readonly ResolvedRule[];
  /** In rule order (the first entry that matches decides); identical cidr+action entries merged. */
  readonly ingress: readonly ClusterEndpointInfo[];
  readonly egress: readonly ClusterEndpointInfo[];
}

/** Options of {@link resolveClusterPolicyEndpoints}. */
export interface ClusterResolveOptions {
  /** @default 200 */
  readonly chunkSize?: number;
  /** The objects that exist now. Unused for placement: first match decides, so entries are laid out in rule order. */
  readonly previous?: readonly ClusterPolicyEndpoint[];
  /** The uid of a tier policy, for the owner reference. @default unknown (left out) */
  readonly uidOf?: (kind: string, name: string) => string | undefined;
}

const ACTIONS: Readonly<Record<CompiledRule['action'], ClusterRuleAction>> = { Allow: 'Accept', Deny: 'Deny', Pass: 'Pass' };

function tierFixedPort(p: TierPort & { kind: 'range' }): Port {
  if (p.from === 1 && p.to === 65535) return { protocol: p.protocol };
  return p.from === p.to ? { protocol: p.protocol, port: p.from } : { protocol: p.protocol, port: p.from, endPort: p.to };
}

/** Named tier ports take the named container port's own protocol (the engine's reading of an unprotocolled name). */
function tierPodPorts(pod: Endpoint, ports: readonly TierPort[]): Port[] {
  const out: Port[] = [];
  for (const p of ports) {
    if (p.kind === 'range') out.push(tierFixedPort(p));
    else for (const cp of pod.ports.filter((c) => c.name === p.name)) out.push({ protocol: cp.protocol, port: cp.port });
  }
  return sortPorts(out);
}

/** Tier ports in NetworkPolicy form, for the Service port lookup (names default to TCP, as the AWS controller does). */
function asPolicyPorts(ports: readonly TierPort[]): NetworkPolicyPort[] {
  return ports.map((p) =>
    p.kind === 'named' ? { protocol: 'TCP', port: p.name } : p.from === 1 && p.to === 65535 ? { protocol: p.protocol } : p.from === p.to ? { protocol: p.protocol, port: p.from } : { protocol: p.protocol, port: p.from, endPort: p.to },
  );
}

function resolveTierRule(engine: Engine, compiled: CompiledTierPolicy, dir: Direction, rule: CompiledRule, selected: readonly Endpoint[]): ResolvedRule {
  const src = compiled.source[dir][rule.index];
  const action = ACTIONS[rule.action];
  const base = { direction: dir, index: rule.index, ...(rule.name ? { name: rule.name } : {}), action };
  const ports = src?.ports ?? [];
  const fixed = ports.filter((p): p is TierPort & { kind: 'range' } => p.kind === 'range').map(tierFixedPort);
  const cidrUnresolvable = ports.length > 0 && fixed.length === 0;
  let shared = fixed;
  if (dir === 'ingress' && ports.some((p) => p.kind === 'named')) {
    shared = sortPorts(selected.flatMap((pod) => tierPodPorts(pod, ports)));
    if (shared.length === 0) return { ...base, entries: [], dropped: 'none of its named ports is a container port of a subject pod' };
  }
  const cidrs = (list: readonly string[]): EndpointInfo[] => (cidrUnresolvable && dir === 'egress' ? [] : list.map((c) => entry(c, undefined, dir === 'ingress' ? shared : fixed)));
  if (rule.peers === null) return { ...base, entries: cidrs(['0.0.0.0/0', '::/0']) };
  const supported = (src?.peers ?? []).filter((p): p is Exclude<TierPeer, { kind: 'unsupported' }> => p.kind !== 'unsupported');
  const entries: EndpointInfo[] = [];
  supported.forEach((peer, k) => {
    const atom = rule.peers![k];
    switch (peer.kind) {
      case 'networks':
        entries.push(...cidrs(peer.cidrs));
        break;
      case 'nodes':
        entries.push(...cidrs(atomHosts(engine, atom)));
        break;
      case 'pods':
        for (const pod of podsOfAtom(engine, atom)) {
          const list = dir === 'ingress' ? shared : tierPodPorts(pod, ports);
          if (dir === 'egress' && ports.length > 0 && list.length === 0) continue;
          for (const ip of pod.ips) entries.push(entry(ip, undefined, list));
        }
        if (dir === 'egress') {
          entries.push(...serviceEntries(engine, namespacesMatching(engine.cluster, peer.selector.namespaceSelector), peer.selector.podSelector, asPolicyPorts(ports)));
        }
        break;
    }
  });
  // Rule order decides; within a rule, address order reads best.
  return { ...base, entries: sortByCidr(entries, (e) => e.cidr) };
}

/**
 * Entries in rule order, where the first match decides: identical cidrs merge only within one rule (ports unioned,
 * all-ports wins). Merging across rules could move a later rule's Accept in front of an earlier Deny that overlaps it.
 */
function mergeClusterEntries(rules: readonly ResolvedRule[]): ClusterEndpointInfo[] {
  return rules.flatMap((r) => mergeRuleEntries(r));
}

function mergeRuleEntries(r: ResolvedRule): ClusterEndpointInfo[] {
  const rules = [r];
  const merged = new Map<string, { cidr: string; action: ClusterRuleAction; ports: Port[] | 'all' }>();
  for (const r of rules) {
    for (const e of r.entries) {
      const action = r.action ?? 'Accept';
      const key = `${e.cidr}|${action}`;
      const ports: Port[] | 'all' = e.ports && e.ports.length > 0 ? e.ports.map((p) => ({ ...p, protocol: protocolOf(p) })) : 'all';
      const m = merged.get(key);
      if (!m) merged.set(key, { cidr: e.cidr, action, ports });
      else if (m.ports !== 'all') m.ports = ports === 'all' ? 'all' : [...m.ports, ...ports];
    }
  }
  return [...merged.values()].map((m) => ({
    cidr: m.cidr,
    ...(m.ports !== 'all' && m.ports.length > 0 ? { ports: sortPorts(m.ports) } : {}),
    action: m.action,
  }));
}

/** Resolves `engine.compiled.tierPolicies[index]` (tier order: ascending priority). */
export function resolveTierPolicy(engine: Engine, index: number): ResolvedTierPolicy {
  const compiled = engine.compiled.tierPolicies[index];
  if (!compiled) throw new RangeError(`no tier policy at index ${index}`);
  const selected = podsOfAtom(engine, compiled.subject);
  const rules = [
    ...compiled.rules.ingress.map((r) => resolveTierRule(engine, compiled, 'ingress', r, selected)),
    ...compiled.rules.egress.map((r) => resolveTierRule(engine, compiled, 'egress', r, selected)),
  ];
  return {
    source: compiled.source,
    pods: selected.map(podEndpoint),
    rules,
    ingress: mergeClusterEntries(rules.filter((r) => r.direction === 'ingress')),
    egress: mergeClusterEntries(rules.filter((r) => r.direction === 'egress')),
  };
}

const TIER_API_VERSIONS: Readonly<Record<string, string>> = {
  AdminNetworkPolicy: 'policy.networking.k8s.io/v1alpha1',
  BaselineAdminNetworkPolicy: 'policy.networking.k8s.io/v1alpha1',
  ClusterNetworkPolicy: 'policy.networking.k8s.io/v1alpha2',
};

/** Chunks a resolved tier policy into ClusterPolicyEndpoints. */
export function clusterPolicyEndpointsFor(resolved: ResolvedTierPolicy, opts: ClusterResolveOptions = {}): ClusterPolicyEndpoint[] {
  const { source } = resolved;
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const clusterKey = (e: ClusterEndpointInfo) => `${e.cidr ?? ''}|${e.domainName ?? ''}|${e.action}`;
  type V = PodEndpoint | ClusterEndpointInfo;
  // First match decides, so entries keep rule order across chunks: they are laid out afresh by slot, never kept in the
  // object that held them (which would append new entries after old ones), and names end in the slot number so that
  // name order is rule order for the agent.
  const previous: Chunk<PeLists, V>[] = [];
  const lists: Record<PeLists, Keyed<V>[]> = {
    podSelectorEndpoints: resolved.pods.map((p) => ({ key: podKey(p), value: p })),
    // The position is part of the key: one cidr and action may appear in several rules.
    ingress: resolved.ingress.map((e, i) => ({ key: `${i}|${clusterKey(e)}`, value: e })),
    egress: resolved.egress.map((e, i) => ({ key: `${i}|${clusterKey(e)}`, value: e })),
  };
  const chunks = packChunks(PE_LISTS, lists, previous, chunkSize, (slot) => `${chunkName(source.name, `ClusterPolicyEndpoint/${source.kind}/${source.name}`)}-${String(slot).padStart(3, '0')}`);
  // AWS's own ClusterNetworkPolicy (networking.k8s.aws/v1alpha1) owns its ClusterPolicyEndpoints, as AWS's controller writes them.
  const ownerVersion = source.group ? `${source.group}/v1alpha1` : TIER_API_VERSIONS[source.kind] ?? 'policy.networking.k8s.io/v1alpha1';
  const owner = ownerReference(ownerVersion, source.kind, source.name, opts.uidOf?.(source.kind, source.name));
  return chunks.map((c) => {
    const pods = c.lists.podSelectorEndpoints.map((e) => e.value as PodEndpoint);
    const ingress = c.lists.ingress.map((e) => e.value as ClusterEndpointInfo);
    const egress = c.lists.egress.map((e) => e.value as ClusterEndpointInfo);
    return {
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'ClusterPolicyEndpoint',
      metadata: { name: c.name, ownerReferences: [owner] },
      spec: {
        policyRef: { name: source.name },
        tier: source.tier,
        priority: source.priority,
        ...(pods.length > 0 ? { podSelectorEndpoints: pods } : {}),
        ...(ingress.length > 0 ? { ingress } : {}),
        ...(egress.length > 0 ? { egress } : {}),
      },
    };
  });
}

/**
 * Resolves every admin-tier policy (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy) into
 * ClusterPolicyEndpoints, the cluster-scoped objects the AWS controller writes for its ClusterNetworkPolicy.
 */
export function resolveClusterPolicyEndpoints(engine: Engine, opts: ClusterResolveOptions = {}): ClusterPolicyEndpoint[] {
  return engine.compiled.tierPolicies.flatMap((_, i) => clusterPolicyEndpointsFor(resolveTierPolicy(engine, i), opts));
}
