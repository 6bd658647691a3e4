/**
 * NetworkPolicies resolved into PolicyEndpoints (and admin-tier policies into ClusterPolicyEndpoints) the way the AWS
 * network policy controller resolves them (`pkg/resolvers/endpoints.go`, `pkg/policyendpoints/manager.go` of
 * aws/amazon-network-policy-controller-k8s), so the AWS node agent and Palisade's agent read the same objects.
 *
 * What each rule allows or denies, for which pods, on which ports, is the engine's plan (src/engine/plan.ts); this
 * module only writes it in the AWS objects' shape:
 * - a pod peer is its pod IPs written bare (`10.0.1.5`, not `10.0.1.5/32`), as the AWS controller writes them; a
 *   dual-stack pod gives one entry per family (the AWS controller writes `status.podIP` only, which is all there is
 *   in the single-family clusters it supports);
 * - an ipBlock is copied with its `except`; a rule without peers is `0.0.0.0/0` and `::/0` with the rule's ports;
 * - ingress named ports resolve per subject pod: when they resolve differently on different subjects, the policy is
 *   written as one set of objects per group of subjects (labelled {@link SUBJECT_GROUP_LABEL}), so no pod gets
 *   another's port (the AWS controller writes the union for every pod); egress named ports resolve per destination
 *   pod; a CIDR cannot carry a name, so on egress each pod it covers that has the named port gets its own entry with
 *   the resolved number (the AWS controller drops those; the spec allows them);
 * - a rule with a peer the engine cannot evaluate fails closed: an Allow/Accept rule has no entries at all, a Deny or
 *   Pass rule covers every address on its ports;
 * - egress to pods also lists the ClusterIPs of the Services the peer names (the AWS agent sees traffic before DNAT);
 * - entries with the same cidr and except merge, their ports unioned (a merge with an all-ports entry is all ports).
 */
import { AWS_V1ALPHA1 } from '../api/aws-types.js';
import { SUBJECT_GROUP_LABEL, type EndpointInfo, type PodEndpoint, type PolicyEndpoint, type PolicyEndpointPort, type TrafficDirection } from '../api/policyendpoint.js';
import type { IntOrString, LabelSelector, NetworkPolicyPeer, NetworkPolicyPort, OwnerReference, Protocol } from '../api/types.js';
import type { CompiledRule } from '../engine/compile.js';
import type { Engine } from '../engine/engine.js';
import { parseIP } from '../api/ip.js';
import { effectivePolicyTypes } from '../engine/semantics.js';
import { planNetworkPolicy, planTierPolicy, type PlanRule } from '../engine/plan.js';
import { NOTHING, isEverything, only, range, unionAll } from '../engine/ports.js';
import type { PortsByProtocol } from '../engine/types.js';
import { PROTOCOLS } from '../api/types.js';
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

/** One group of a NetworkPolicy's subject pods (all of them, unless ingress named ports split them), resolved. */
export interface ResolvedGroup {
  /** Set when the policy has more than one group: the value of {@link SUBJECT_GROUP_LABEL} on its objects. */
  readonly key?: string;
  readonly pods: readonly PodEndpoint[];
  readonly rules: readonly ResolvedRule[];
  /** Merged and sorted, as written. */
  readonly ingress: readonly EndpointInfo[];
  readonly egress: readonly EndpointInfo[];
}

/** A NetworkPolicy resolved, before chunking. */
export interface ResolvedPolicy {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  /** Set for AWS's ApplicationNetworkPolicy (networking.k8s.aws/v1alpha1), which owns its PolicyEndpoints. */
  readonly kind?: 'ApplicationNetworkPolicy';
  readonly podSelector: LabelSelector;
  readonly podIsolation: readonly TrafficDirection[];
  readonly groups: readonly ResolvedGroup[];
  /** Every selected pod (all groups). */
  readonly pods: readonly PodEndpoint[];
  /** Every group's rules. */
  readonly rules: readonly ResolvedRule[];
  /** Every group's entries, merged (for reports; the objects carry each group's own). */
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

/** The plan's ports as PolicyEndpoint ports: every port of every protocol is no list at all. */
export function portsOf(ports: PortsByProtocol): Port[] {
  if (isEverything(ports)) return [];
  const out: Port[] = [];
  for (const protocol of PROTOCOLS) {
    for (const r of ports[protocol]) {
      if (r.from === 1 && r.to === 65535) out.push({ protocol });
      else out.push(r.from === r.to ? { protocol, port: r.from } : { protocol, port: r.from, endPort: r.to });
    }
  }
  return out;
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

function portKey(p: Port): string {
  return `${p.protocol}/${p.port ?? ''}/${p.endPort ?? ''}`;
}

/** Ports in canonical form: per protocol ascending, overlapping and adjacent ranges merged (what they cover is kept). */
function sortPorts(ports: readonly Port[]): Port[] {
  let covered: PortsByProtocol = NOTHING;
  for (const p of ports) covered = unionAll(covered, only(p.protocol, p.port === undefined ? range(1, 65535) : range(p.port, p.endPort ?? p.port)));
  return portsOf(covered);
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

/**
 * The ClusterIP entries of the Services an egress pod peer names, in the peer's namespaces. The AWS agent sees a
 * connection to a Service before DNAT, so its ClusterIP must be allowed on the Service port that leads to an allowed
 * pod port. This is the one addition to the engine's plan: a Service address is the engine's pod after translation.
 */
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

/** The plan's rule as PolicyEndpoint entries. */
function ruleOf(r: PlanRule, extra: readonly EndpointInfo[] = []): ResolvedRule {
  const entries = [...r.entries.map((e) => entry(e.cidr, e.except, portsOf(e.ports))), ...extra];
  return {
    direction: r.direction,
    index: r.index,
    ...(r.name ? { name: r.name } : {}),
    entries,
    ...(r.dropped && extra.length === 0 ? { dropped: r.dropped } : {}),
  };
}

/**
 * Resolves `cluster.policies[index]`: the pods it selects, its isolation, and each rule's peers as addresses, from the
 * engine's plan (plus the ClusterIPs of Services that egress pod peers name).
 * @example resolveNetworkPolicy(compile(cluster), 0).ingress // [{ cidr: '10.0.1.5', ports: [{ protocol: 'TCP', port: 80 }] }]
 */
export function resolveNetworkPolicy(engine: Engine, index: number): ResolvedPolicy {
  const compiled = engine.compiled.networkPolicies[index];
  if (!compiled) throw new RangeError(`no NetworkPolicy at index ${index}`);
  const policy = compiled.source.policy;
  const plan = planNetworkPolicy(engine, index);
  const services = (r: PlanRule): EndpointInfo[] => {
    if (r.direction !== 'egress' || r.failsClosed) return [];
    const src = policy.spec.egress?.[r.index];
    // A domainNames peer (ApplicationNetworkPolicy) names no pod, so no Service either.
    return (src?.to ?? []).filter((peer) => !peer.ipBlock && !peer.domainNames).flatMap((peer) => serviceEntries(engine, peerNamespaces(engine, compiled.namespace, peer), peer.podSelector, src?.ports ?? []));
  };
  const groups: ResolvedGroup[] = plan.groups.map((g, k) => {
    const rules = g.rules.map((r) => ruleOf(r, services(r)));
    return {
      ...(plan.groups.length > 1 ? { key: `g${k}` } : {}),
      pods: g.pods.map(podEndpoint),
      rules,
      ingress: mergeEntries(rules.filter((r) => r.direction === 'ingress').flatMap((r) => r.entries)),
      egress: mergeEntries(rules.filter((r) => r.direction === 'egress').flatMap((r) => r.entries)),
    };
  });
  return {
    namespace: compiled.namespace,
    name: compiled.name,
    ...(policy.metadata.uid ? { uid: policy.metadata.uid } : {}),
    ...(compiled.source.kind === 'ApplicationNetworkPolicy' ? { kind: 'ApplicationNetworkPolicy' as const } : {}),
    podSelector: policy.spec.podSelector,
    podIsolation: [...effectivePolicyTypes(policy.spec)],
    groups,
    pods: groups.flatMap((g) => g.pods),
    rules: groups.flatMap((g) => g.rules),
    ingress: mergeEntries(groups.flatMap((g) => g.ingress)),
    egress: mergeEntries(groups.flatMap((g) => g.egress)),
  };
}

type PeLists = 'podSelectorEndpoints' | 'ingress' | 'egress';
const PE_LISTS: readonly PeLists[] = ['podSelectorEndpoints', 'ingress', 'egress'];
const CPE_RULE_LISTS = ['ingress', 'egress'] as const;
const CPE_POD_LISTS = ['podSelectorEndpoints'] as const;


function ownerReference(apiVersion: string, kind: string, name: string, uid: string | undefined): OwnerReference {
  // uid is required by the API; offline (manifests without uids) it is unknown and left out.
  const ref = { apiVersion, kind, name, ...(uid ? { uid } : {}), controller: true, blockOwnerDeletion: true };
  return ref as OwnerReference;
}

function podKey(p: PodEndpoint): string {
  return `${p.namespace}/${p.name}`;
}

function groupOf(o: { readonly metadata: { readonly labels?: Readonly<Record<string, string>> } }): string | undefined {
  return o.metadata.labels?.[SUBJECT_GROUP_LABEL];
}

/** Chunks a resolved policy into PolicyEndpoints (see chunk.ts for the naming and layout), one set per subject group. */
export function policyEndpointsFor(resolved: ResolvedPolicy, opts: ResolveOptions = {}): PolicyEndpoint[] {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  // AWS's ApplicationNetworkPolicy owns its PolicyEndpoints (as AWS's controller writes them); its objects' names
  // are of a scope of their own, so a NetworkPolicy of the same name and namespace keeps its own.
  const anp = resolved.kind === 'ApplicationNetworkPolicy';
  const ownerKind = anp ? 'ApplicationNetworkPolicy' : 'NetworkPolicy';
  const owner = ownerReference(anp ? AWS_V1ALPHA1 : 'networking.k8s.io/v1', ownerKind, resolved.name, resolved.uid);
  return resolved.groups.flatMap((group) => {
    const mine = (opts.previous ?? []).filter(
      (pe) => pe.spec.policyRef.namespace === resolved.namespace && pe.spec.policyRef.name === resolved.name && groupOf(pe) === group.key && (pe.metadata.ownerReferences?.[0]?.kind ?? 'NetworkPolicy') === ownerKind,
    );
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
      podSelectorEndpoints: group.pods.map((p) => ({ key: podKey(p), value: p })),
      ingress: group.ingress.map((e) => ({ key: entryKey(e), value: e })),
      egress: group.egress.map((e) => ({ key: entryKey(e), value: e })),
    };
    const scope = `PolicyEndpoint/${anp ? 'ApplicationNetworkPolicy/' : ''}${resolved.namespace}/${resolved.name}${group.key ? `/${group.key}` : ''}`;
    const chunks = packChunks(PE_LISTS, lists, previous, chunkSize, (slot) => chunkName(resolved.name, `${scope}/${slot}`));
    return chunks.map((c): PolicyEndpoint => {
      const pods = c.lists.podSelectorEndpoints.map((e) => e.value as PodEndpoint);
      const ingress = c.lists.ingress.map((e) => e.value as EndpointInfo);
      const egress = c.lists.egress.map((e) => e.value as EndpointInfo);
      return {
        apiVersion: 'networking.k8s.aws/v1alpha1',
        kind: 'PolicyEndpoint',
        metadata: { name: c.name, namespace: resolved.namespace, ...(group.key ? { labels: { [SUBJECT_GROUP_LABEL]: group.key } } : {}), ownerReferences: [owner] },
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

/** One group of an admin-tier policy's subjects, resolved. */
export interface ResolvedTierGroup {
  readonly key?: string;
  readonly pods: readonly PodEndpoint[];
  readonly rules: readonly ResolvedRule[];
  /** In rule order (the first entry that matches decides); identical cidr+action entries merged within a rule. */
  readonly ingress: readonly ClusterEndpointInfo[];
  readonly egress: readonly ClusterEndpointInfo[];
}

/** An admin-tier policy resolved, before chunking. */
export interface ResolvedTierPolicy {
  readonly source: TierPolicy;
  readonly groups: readonly ResolvedTierGroup[];
  /** Every subject pod (all groups). */
  readonly pods: readonly PodEndpoint[];
  /** Every group's rules. */
  readonly rules: readonly ResolvedRule[];
}

/** Options of {@link resolveClusterPolicyEndpoints}. */
export interface ClusterResolveOptions {
  /** @default 200 */
  readonly chunkSize?: number;
  /**
   * The objects that exist now: each selected pod stays in the object that holds it. Rule entries are laid out afresh
   * in rule order (first match decides).
   */
  readonly previous?: readonly ClusterPolicyEndpoint[];
  /** The uid of a tier policy, for the owner reference. @default unknown (left out) */
  readonly uidOf?: (kind: string, name: string, group?: string) => string | undefined;
}

const ACTIONS: Readonly<Record<CompiledRule['action'], ClusterRuleAction>> = { Allow: 'Accept', Deny: 'Deny', Pass: 'Pass' };

/** Tier ports in NetworkPolicy form, for the Service port lookup (names default to TCP, as the AWS controller does). */
function asPolicyPorts(ports: readonly TierPort[]): NetworkPolicyPort[] {
  return ports.map((p) =>
    p.kind === 'named' ? { protocol: 'TCP', port: p.name } : p.from === 1 && p.to === 65535 ? { protocol: p.protocol } : p.from === p.to ? { protocol: p.protocol, port: p.from } : { protocol: p.protocol, port: p.from, endPort: p.to },
  );
}

/**
 * Entries of one rule merged where cidr and action are equal (ports unioned, all-ports wins). Rules are never merged
 * with each other: first match decides, and merging could move a later rule's Accept in front of an earlier Deny.
 */
function mergeRuleEntries(r: ResolvedRule): ClusterEndpointInfo[] {
  const merged = new Map<string, { cidr: string; action: ClusterRuleAction; ports: Port[] | 'all' }>();
  for (const e of r.entries) {
    const action = r.action ?? 'Accept';
    const key = `${e.cidr}|${action}`;
    const ports: Port[] | 'all' = e.ports && e.ports.length > 0 ? e.ports.map((p) => ({ ...p, protocol: protocolOf(p) })) : 'all';
    const m = merged.get(key);
    if (!m) merged.set(key, { cidr: e.cidr, action, ports });
    else if (m.ports !== 'all') m.ports = ports === 'all' ? 'all' : [...m.ports, ...ports];
  }
  // Within a rule, address order reads best.
  const out = [...merged.values()].map((m) => ({
    cidr: m.cidr,
    ...(m.ports !== 'all' && m.ports.length > 0 ? { ports: sortPorts(m.ports) } : {}),
    action: m.action,
  }));
  return sortByCidr(out, (e) => e.cidr);
}

/** Resolves `engine.compiled.tierPolicies[index]` (tier order: ascending priority) from the engine's plan. */
export function resolveTierPolicy(engine: Engine, index: number): ResolvedTierPolicy {
  const compiled = engine.compiled.tierPolicies[index];
  if (!compiled) throw new RangeError(`no tier policy at index ${index}`);
  const plan = planTierPolicy(engine, index);
  const services = (r: PlanRule): EndpointInfo[] => {
    if (r.direction !== 'egress' || r.failsClosed) return [];
    const src = compiled.source.egress[r.index];
    // A Deny or Pass rule with an unevaluable peer covers every address already (its compiled peers are null); a
    // domainNames peer the engine reads (AWS's kinds, or answered names) leaves the rule's pod peers as they are.
    const rule = compiled.rules.egress.find((x) => x.index === r.index);
    if (!src || !rule || rule.peers === null) return [];
    return src.peers.flatMap((peer) =>
      peer.kind === 'pods' ? serviceEntries(engine, namespacesMatching(engine.cluster, peer.selector.namespaceSelector), peer.selector.podSelector, asPolicyPorts(src.ports ?? [])) : [],
    );
  };
  const groups: ResolvedTierGroup[] = plan.groups.map((g, k) => {
    const rules = g.rules.map((r) => ({ ...ruleOf(r, services(r)), action: ACTIONS[r.action] }));
    const cluster = (dir: Direction) => rules.filter((r) => r.direction === dir).flatMap(mergeRuleEntries);
    return { ...(plan.groups.length > 1 ? { key: `g${k}` } : {}), pods: g.pods.map(podEndpoint), rules, ingress: cluster('ingress'), egress: cluster('egress') };
  });
  return { source: compiled.source, groups, pods: groups.flatMap((g) => g.pods), rules: groups.flatMap((g) => g.rules) };
}

const TIER_API_VERSIONS: Readonly<Record<string, string>> = {
  AdminNetworkPolicy: 'policy.networking.k8s.io/v1alpha1',
  BaselineAdminNetworkPolicy: 'policy.networking.k8s.io/v1alpha1',
  ClusterNetworkPolicy: 'policy.networking.k8s.io/v1alpha2',
};

/** Chunks a resolved tier policy into ClusterPolicyEndpoints, one set per subject group. */
export function clusterPolicyEndpointsFor(resolved: ResolvedTierPolicy, opts: ClusterResolveOptions = {}): ClusterPolicyEndpoint[] {
  const { source } = resolved;
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const clusterKey = (e: ClusterEndpointInfo) => `${e.cidr ?? ''}|${e.domainName ?? ''}|${e.action}`;
  // AWS's own ClusterNetworkPolicy (networking.k8s.aws/v1alpha1) owns its ClusterPolicyEndpoints, as AWS's controller writes them.
  const ownerVersion = source.group ? `${source.group}/v1alpha1` : (TIER_API_VERSIONS[source.kind] ?? 'policy.networking.k8s.io/v1alpha1');
  const owner = ownerReference(ownerVersion, source.kind, source.name, opts.uidOf?.(source.kind, source.name, source.group));
  const ownerGroup = ownerVersion.split('/')[0];
  return resolved.groups.flatMap((group) => {
    // AWS's ClusterNetworkPolicy has a scope of its own: an upstream one of the same name keeps its objects.
    const scope = `ClusterPolicyEndpoint/${source.group ? `${source.group}/` : ''}${source.kind}/${source.name}${group.key ? `/${group.key}` : ''}`;
    const nameOfSlot = (slot: number) => `${chunkName(source.name, scope)}-${String(slot).padStart(3, '0')}`;
    // First match decides, so entries keep rule order across chunks: they are laid out afresh by slot, never kept in
    // the object that held them (which would append new entries after old ones), and names end in the slot number so
    // that name order is rule order for the agent. The selected pods have no order: each stays in the object that
    // holds it (as for PolicyEndpoints), so a pod added rewrites one object, not every one after its place.
    const ruleChunks = packChunks(CPE_RULE_LISTS, {
      // The position is part of the key: one cidr and action may appear in several rules.
      ingress: group.ingress.map((e, i) => ({ key: `${i}|${clusterKey(e)}`, value: e })),
      egress: group.egress.map((e, i) => ({ key: `${i}|${clusterKey(e)}`, value: e })),
    }, [], chunkSize, nameOfSlot);
    const mine = (opts.previous ?? []).filter(
      (c) => c.spec.policyRef.name === source.name && groupOf(c) === group.key && c.metadata.ownerReferences?.[0]?.kind === source.kind && (c.metadata.ownerReferences[0].apiVersion ?? '').split('/')[0] === ownerGroup,
    );
    const podChunks = packChunks(
      CPE_POD_LISTS,
      { podSelectorEndpoints: group.pods.map((p) => ({ key: podKey(p), value: p })) },
      mine.map((c) => ({ name: c.metadata.name ?? '', lists: { podSelectorEndpoints: (c.spec.podSelectorEndpoints ?? []).map((p) => ({ key: podKey(p), value: p })) } })),
      chunkSize,
      nameOfSlot,
    );
    // One object per name of either layout: its slot's rules and the pods placed in it.
    const byName = new Map<string, { pods: PodEndpoint[]; ingress: ClusterEndpointInfo[]; egress: ClusterEndpointInfo[] }>();
    const at = (name: string) => byName.get(name) ?? (byName.set(name, { pods: [], ingress: [], egress: [] }), byName.get(name)!);
    for (const c of ruleChunks) {
      at(c.name).ingress.push(...c.lists.ingress.map((e) => e.value));
      at(c.name).egress.push(...c.lists.egress.map((e) => e.value));
    }
    for (const c of podChunks) if (c.lists.podSelectorEndpoints.length > 0) at(c.name).pods.push(...c.lists.podSelectorEndpoints.map((e) => e.value));
    const chunks = [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, c]) => ({ name, ...c }));
    return chunks.map(({ name, pods, ingress, egress }): ClusterPolicyEndpoint => {
      return {
        apiVersion: 'networking.k8s.aws/v1alpha1',
        kind: 'ClusterPolicyEndpoint',
        metadata: { name, ...(group.key ? { labels: { [SUBJECT_GROUP_LABEL]: group.key } } : {}), ownerReferences: [owner] },
        spec: {
          policyRef: { name: source.name },
          tier: source.tier,
          priority: source.priority,
          // AWS's CRD requires the subject: `namespaces` when the policy selects whole namespaces, else `pods`.
          subject: source.subject.podSelector === undefined ? { namespaces: source.subject.namespaceSelector } : { pods: { namespaceSelector: source.subject.namespaceSelector, podSelector: source.subject.podSelector } },
          ...(pods.length > 0 ? { podSelectorEndpoints: pods } : {}),
          ...(ingress.length > 0 ? { ingress } : {}),
          ...(egress.length > 0 ? { egress } : {}),
        },
      };
    });
  });
}

/**
 * Resolves every admin-tier policy (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy) into
 * ClusterPolicyEndpoints, the cluster-scoped objects the AWS controller writes for its ClusterNetworkPolicy.
 */
export function resolveClusterPolicyEndpoints(engine: Engine, opts: ClusterResolveOptions = {}): ClusterPolicyEndpoint[] {
  return engine.compiled.tierPolicies.flatMap((_, i) => clusterPolicyEndpointsFor(resolveTierPolicy(engine, i), opts));
}
