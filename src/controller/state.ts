/**
 * The controller's view of the cluster: the objects its informers hold, indexed so that a change answers which
 * policies it can affect, and so that those policies can be compiled over only the pods and Services they can see.
 *
 * Both answers are supersets, decided by label selectors alone (the engine's own `matchesSelector`); the engine then
 * decides, on the scoped model, exactly which pods each policy selects. So a pass over a scoped model yields the same
 * PolicyEndpoints as a pass over the whole cluster, at the cost of the few hundred pods a tenant's policies can see.
 * Nodes are read only by the `nodes` peers of tier policies: a Node change marks the policies whose node selectors it
 * gives different addresses, and a scoped model holds the nodes those selectors pick.
 */
import type { JsonObject, LoadedDocument } from '../api/load.js';
import type { LabelSelector, NetworkPolicy } from '../api/types.js';
import { isEmptySelector, matchesSelector, selectorKey } from '../engine/selector.js';
import { buildCluster, NAMESPACE_NAME_LABEL } from '../model/cluster.js';
import { isTierObject, normalizeTierPolicy } from '../model/tiers.js';
import { normalizeAwsClusterNetworkPolicy } from '../model/aws.js';
import { AWS_API_GROUP, AWS_V1ALPHA1 } from '../api/aws-types.js';
import type { Cluster } from '../model/types.js';

/**
 * The kinds the controller watches to compute endpoints. `AwsClusterNetworkPolicy` is AWS's own ClusterNetworkPolicy
 * (`networking.k8s.aws/v1alpha1`), told apart from the upstream `ClusterNetworkPolicy` (policy.networking.k8s.io).
 */
export type WatchedKind =
  | 'Namespace'
  | 'Node'
  | 'Pod'
  | 'Service'
  | 'NetworkPolicy'
  | 'ApplicationNetworkPolicy'
  | 'AdminNetworkPolicy'
  | 'BaselineAdminNetworkPolicy'
  | 'ClusterNetworkPolicy'
  | 'AwsClusterNetworkPolicy';

export const TIER_KINDS = ['AdminNetworkPolicy', 'BaselineAdminNetworkPolicy', 'ClusterNetworkPolicy', 'AwsClusterNetworkPolicy'] as const;
type TierWatchedKind = (typeof TIER_KINDS)[number];

/** Each watched kind's apiVersion and kind as the API serves it. */
const API_KINDS: Readonly<Record<WatchedKind, { readonly apiVersion: string; readonly kind: string }>> = {
  Namespace: { apiVersion: 'v1', kind: 'Namespace' },
  Node: { apiVersion: 'v1', kind: 'Node' },
  Pod: { apiVersion: 'v1', kind: 'Pod' },
  Service: { apiVersion: 'v1', kind: 'Service' },
  NetworkPolicy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  ApplicationNetworkPolicy: { apiVersion: AWS_V1ALPHA1, kind: 'ApplicationNetworkPolicy' },
  AdminNetworkPolicy: { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'AdminNetworkPolicy' },
  BaselineAdminNetworkPolicy: { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'BaselineAdminNetworkPolicy' },
  ClusterNetworkPolicy: { apiVersion: 'policy.networking.k8s.io/v1alpha2', kind: 'ClusterNetworkPolicy' },
  AwsClusterNetworkPolicy: { apiVersion: AWS_V1ALPHA1, kind: 'ClusterNetworkPolicy' },
};

/**
 * A policy's key: `np/<namespace>/<name>`, `anp/<namespace>/<name>` (AWS's ApplicationNetworkPolicy),
 * `tier/<Kind>/<name>`, or `tier/ClusterNetworkPolicy.networking.k8s.aws/<name>` (AWS's ClusterNetworkPolicy).
 */
export type PolicyKey = string;

export function npKey(namespace: string, name: string): PolicyKey {
  return `np/${namespace}/${name}`;
}

/** The key of AWS's ApplicationNetworkPolicy `namespace/name`. */
export function anpKey(namespace: string, name: string): PolicyKey {
  return `anp/${namespace}/${name}`;
}

/** The key of a tier policy; `group` is set for AWS's own ClusterNetworkPolicy (networking.k8s.aws). */
export function tierKey(kind: string, name: string, group?: string): PolicyKey {
  return `tier/${group ? `${kind}.${group}` : kind}/${name}`;
}

/** The watched kind of a tier key's kind segment. */
function tierKindOfKey(segment: string): TierWatchedKind | undefined {
  if (segment === `ClusterNetworkPolicy.${AWS_API_GROUP}`) return 'AwsClusterNetworkPolicy';
  return segment !== 'AwsClusterNetworkPolicy' && (TIER_KINDS as readonly string[]).includes(segment) ? (segment as TierWatchedKind) : undefined;
}

/** The key of a tier policy object of a watched kind. */
function tierKeyOf(kind: TierWatchedKind, name: string): PolicyKey {
  return kind === 'AwsClusterNetworkPolicy' ? tierKey('ClusterNetworkPolicy', name, AWS_API_GROUP) : tierKey(kind, name);
}

function metaOf(o: JsonObject): { name: string; namespace: string; labels: Record<string, string>; uid?: string } {
  const m = (o.metadata ?? {}) as { name?: string; namespace?: string; labels?: Record<string, string>; uid?: string };
  return { name: m.name ?? '', namespace: m.namespace ?? '', labels: m.labels ?? {}, ...(m.uid ? { uid: m.uid } : {}) };
}

/** `namespace/name` (or `name` for cluster-scoped objects). */
export function objectKey(o: JsonObject): string {
  const m = metaOf(o);
  return m.namespace ? `${m.namespace}/${m.name}` : m.name;
}

const NO_POS = { file: '<api>', line: 0, column: 0 };

function documentOf(kind: WatchedKind, value: JsonObject): LoadedDocument {
  const m = metaOf(value);
  return {
    value,
    apiVersion: API_KINDS[kind].apiVersion,
    kind: API_KINDS[kind].kind,
    name: m.name,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    pos: NO_POS,
    position: () => NO_POS,
  };
}

/** What of a pod can change a PolicyEndpoint; status churn (conditions, container states) is not. */
function podProjection(o: JsonObject | undefined): string {
  if (!o) return '';
  const spec = (o.spec ?? {}) as { hostNetwork?: boolean; containers?: { ports?: unknown }[] };
  const status = (o.status ?? {}) as { podIP?: string; podIPs?: unknown; hostIP?: string; phase?: string };
  const m = metaOf(o);
  return JSON.stringify([
    m.labels,
    spec.hostNetwork ?? false,
    (spec.containers ?? []).map((c) => c.ports ?? []),
    status.podIP ?? '',
    status.podIPs ?? [],
    status.hostIP ?? '',
    status.phase === 'Succeeded' || status.phase === 'Failed',
  ]);
}

/** The address types a `nodes` peer stands for: the node's own IPs, not its host or DNS names. */
const NODE_ADDRESS_TYPES: ReadonlySet<string> = new Set(['InternalIP', 'ExternalIP']);

/**
 * What the controller keeps of a Node: name, uid, labels and its InternalIP/ExternalIP addresses. The rest (images,
 * conditions, heartbeats) is large, changes every few seconds and never reaches a PolicyEndpoint.
 */
export function nodeView(o: JsonObject): JsonObject {
  const m = metaOf(o);
  const addresses = ((o.status as { addresses?: unknown } | undefined)?.addresses ?? []) as unknown[];
  const kept = Array.isArray(addresses)
    ? addresses.filter((a): a is { type: string; address: string } => {
        const x = a as { type?: unknown; address?: unknown } | null;
        return typeof x?.type === 'string' && NODE_ADDRESS_TYPES.has(x.type) && typeof x.address === 'string';
      })
    : [];
  return {
    metadata: { name: m.name, labels: m.labels, ...(m.uid ? { uid: m.uid } : {}) },
    status: { addresses: kept.map((a) => ({ type: a.type, address: a.address })) },
  };
}

/** A node's addresses as kept by {@link nodeView}, in order; empty for no node. */
function nodeAddresses(o: JsonObject | undefined): string {
  const list = ((o?.status as { addresses?: { address: string }[] } | undefined)?.addresses ?? []).map((a) => a.address);
  return list.length > 0 ? JSON.stringify(list) : '';
}

/**
 * Pods a policy selects or names, as label selectors: in one namespace (`namespace`) or in the namespaces a selector
 * picks. `podSelector` absent: every pod there.
 */
interface PodReach {
  readonly namespace?: string;
  readonly namespaceSelector?: LabelSelector;
  readonly podSelector?: LabelSelector;
  /** An egress peer: the Services of its namespaces (their ClusterIPs, their pods' ports) matter too. */
  readonly egress: boolean;
}

/** What a policy can see: its subject, its pod peers (ipBlocks and networks need no pod) and its `nodes` peers. */
interface PolicyReach {
  readonly subject?: PodReach;
  readonly peers: readonly PodReach[];
  /** The node selectors of its `nodes` peers (tier policies only). */
  readonly nodes?: readonly LabelSelector[];
}

function networkPolicyReach(o: JsonObject): PolicyReach {
  const p = o as unknown as NetworkPolicy;
  const namespace = p.metadata.namespace ?? '';
  const peers: PodReach[] = [];
  const add = (peer: NonNullable<NetworkPolicy['spec']['ingress']>[number]['from'], egress: boolean) => {
    for (const x of peer ?? []) {
      if (x.ipBlock || x.domainNames) continue;
      peers.push({ ...(x.namespaceSelector ? { namespaceSelector: x.namespaceSelector } : { namespace }), ...(x.podSelector ? { podSelector: x.podSelector } : {}), egress });
    }
  };
  for (const r of p.spec?.ingress ?? []) add(r.from, false);
  for (const r of p.spec?.egress ?? []) {
    add(r.to, true);
    // Named ports towards every destination or an ipBlock resolve on each pod that has them: any pod can matter.
    const named = (r.ports ?? []).some((x) => typeof x.port === 'string');
    if (named && (!r.to || r.to.length === 0 || r.to.some((x) => x.ipBlock))) peers.push({ namespaceSelector: {}, egress: false });
  }
  return { subject: { namespace, podSelector: p.spec?.podSelector ?? {}, egress: false }, peers };
}

function tierPolicyReach(o: JsonObject, aws: boolean): PolicyReach {
  // What the model cannot normalise, it leaves out of the cluster: such a policy selects nothing.
  const policy = aws ? normalizeAwsClusterNetworkPolicy(o).policy : isTierObject(o) ? normalizeTierPolicy(o).policy : undefined;
  if (!policy) return { peers: [] };
  const reach = (s: { namespaceSelector: LabelSelector; podSelector?: LabelSelector }, egress: boolean): PodReach => ({
    namespaceSelector: s.namespaceSelector,
    ...(s.podSelector ? { podSelector: s.podSelector } : {}),
    egress,
  });
  const peers: PodReach[] = [];
  const nodes: LabelSelector[] = [];
  for (const dir of ['ingress', 'egress'] as const) {
    for (const rule of policy[dir]) {
      for (const peer of rule.peers) {
        if (peer.kind === 'pods') peers.push(reach(peer.selector, dir === 'egress'));
        else if (peer.kind === 'nodes') nodes.push(peer.nodeSelector);
      }
    }
  }
  return { subject: reach(policy.subject, false), peers, ...(nodes.length > 0 ? { nodes } : {}) };
}

function reachesOf(r: PolicyReach): PodReach[] {
  return r.subject ? [r.subject, ...r.peers] : [...r.peers];
}

/** A namespace's labels as the model gives them; without its object (`o` undefined), only its name label. */
function labelsOfNamespace(name: string, o: JsonObject | undefined): Record<string, string> {
  return { ...(o ? metaOf(o).labels : {}), [NAMESPACE_NAME_LABEL]: name };
}

/** Pods of one namespace, with an index of label pairs that narrows a selector to candidates. */
class NamespacePods {
  readonly pods = new Map<string, JsonObject>();
  private readonly byLabel = new Map<string, Set<string>>();

  set(key: string, old: JsonObject | undefined, now: JsonObject | undefined): void {
    if (old) for (const [k, v] of Object.entries(metaOf(old).labels)) this.byLabel.get(`${k}=${v}`)?.delete(key);
    if (now) {
      this.pods.set(key, now);
      for (const [k, v] of Object.entries(metaOf(now).labels)) {
        let s = this.byLabel.get(`${k}=${v}`);
        if (!s) this.byLabel.set(`${k}=${v}`, (s = new Set()));
        s.add(key);
      }
    } else this.pods.delete(key);
  }

  /** Pods that may match `sel` (a superset; the engine decides); every pod when `sel` is absent or narrows nothing. */
  candidates(sel: LabelSelector | undefined): Iterable<string> {
    if (!sel || isEmptySelector(sel)) return this.pods.keys();
    let best: Iterable<string> | undefined;
    let size = Infinity;
    const consider = (keys: Iterable<string>, n: number) => {
      if (n < size) {
        best = keys;
        size = n;
      }
    };
    for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
      const s = this.byLabel.get(`${k}=${v}`);
      consider(s ?? [], s?.size ?? 0);
    }
    for (const e of sel.matchExpressions ?? []) {
      if (e.operator !== 'In') continue;
      const sets = (e.values ?? []).map((v) => this.byLabel.get(`${e.key}=${v}`)).filter((s): s is Set<string> => s !== undefined);
      const union = new Set(sets.flatMap((s) => [...s]));
      consider(union, union.size);
    }
    return best ?? this.pods.keys();
  }
}

/** Policies indexed by what a change in a namespace must ask: by namespace, and by distinct namespaceSelector. */
class ReachIndex {
  private readonly reach = new Map<PolicyKey, PolicyReach>();
  private readonly byNamespace = new Map<string, Set<PolicyKey>>();
  private readonly bySelector = new Map<string, { selector: LabelSelector; keys: Set<PolicyKey> }>();
  /** Policies with `nodes` peers, by distinct node selector. */
  private readonly byNodeSelector = new Map<string, { selector: LabelSelector; keys: Set<PolicyKey> }>();

  get(key: PolicyKey): PolicyReach | undefined {
    return this.reach.get(key);
  }

  set(key: PolicyKey, reach: PolicyReach | undefined): void {
    const old = this.reach.get(key);
    if (old) {
      for (const r of reachesOf(old)) {
        if (r.namespace !== undefined) this.byNamespace.get(r.namespace)?.delete(key);
        if (r.namespaceSelector) this.bySelector.get(selectorKey(r.namespaceSelector))?.keys.delete(key);
      }
      for (const sel of old.nodes ?? []) {
        const k = selectorKey(sel);
        const e = this.byNodeSelector.get(k);
        e?.keys.delete(key);
        if (e && e.keys.size === 0) this.byNodeSelector.delete(k);
      }
    }
    if (!reach) {
      this.reach.delete(key);
      return;
    }
    this.reach.set(key, reach);
    for (const r of reachesOf(reach)) {
      if (r.namespace !== undefined) {
        let s = this.byNamespace.get(r.namespace);
        if (!s) this.byNamespace.set(r.namespace, (s = new Set()));
        s.add(key);
      }
      if (r.namespaceSelector) {
        const k = selectorKey(r.namespaceSelector);
        let e = this.bySelector.get(k);
        if (!e) this.bySelector.set(k, (e = { selector: r.namespaceSelector, keys: new Set() }));
        e.keys.add(key);
      }
    }
    for (const sel of reach.nodes ?? []) {
      const k = selectorKey(sel);
      let e = this.byNodeSelector.get(k);
      if (!e) this.byNodeSelector.set(k, (e = { selector: sel, keys: new Set() }));
      e.keys.add(key);
    }
  }

  /**
   * Policies whose `nodes` peers a node change moves: a selector that picks the node before or after, where what the
   * node gives it (its addresses when picked, nothing otherwise) differs. Each distinct selector is asked once.
   */
  nodeFlips(before: JsonObject | undefined, after: JsonObject | undefined): Set<PolicyKey> {
    const out = new Set<PolicyKey>();
    const gives = (sel: LabelSelector, o: JsonObject | undefined) => (o && matchesSelector(sel, metaOf(o).labels) ? nodeAddresses(o) : '');
    for (const { selector, keys } of this.byNodeSelector.values()) if (gives(selector, before) !== gives(selector, after)) for (const k of keys) out.add(k);
    return out;
  }

  /** Policies that can name something in a namespace with these labels: each distinct selector is asked once. */
  candidates(namespace: string, labels: Readonly<Record<string, string>>): Set<PolicyKey> {
    const out = new Set(this.byNamespace.get(namespace) ?? []);
    for (const { selector, keys } of this.bySelector.values()) if (keys.size > 0 && matchesSelector(selector, labels)) for (const k of keys) out.add(k);
    return out;
  }

  /** Policies with a namespaceSelector whose answer differs between the two label sets. */
  selectorFlips(before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): Set<PolicyKey> {
    const out = new Set<PolicyKey>();
    for (const { selector, keys } of this.bySelector.values()) if (matchesSelector(selector, before) !== matchesSelector(selector, after)) for (const k of keys) out.add(k);
    return out;
  }
}

/**
 * The watched objects. `apply()` records a change and answers which policies it can affect; `cluster()` builds the
 * model of the whole cluster, `scopedCluster()` the model a set of policies needs: those policies, every namespace,
 * and only the pods and Services their selectors can match.
 */
export class ClusterState {
  private readonly objects = new Map<WatchedKind, Map<string, JsonObject>>();
  private readonly docs = new WeakMap<JsonObject, LoadedDocument>();
  private readonly podsByNamespace = new Map<string, NamespacePods>();
  private readonly servicesByNamespace = new Map<string, Map<string, JsonObject>>();
  /** Namespaces some object is in, with how many: a namespace without a Namespace object exists while referenced. */
  private readonly referenced = new Map<string, number>();
  private readonly index = new ReachIndex();

  constructor() {
    for (const k of Object.keys(API_KINDS) as WatchedKind[]) this.objects.set(k, new Map());
  }

  private map(kind: WatchedKind): Map<string, JsonObject> {
    return this.objects.get(kind)!;
  }

  get(kind: WatchedKind, key: string): JsonObject | undefined {
    return this.map(kind).get(key);
  }

  count(kind: WatchedKind): number {
    return this.map(kind).size;
  }

  /** Every policy key there is now. */
  policyKeys(): PolicyKey[] {
    const out: PolicyKey[] = [];
    for (const o of this.map('NetworkPolicy').values()) out.push(npKey(metaOf(o).namespace, metaOf(o).name));
    for (const o of this.map('ApplicationNetworkPolicy').values()) out.push(anpKey(metaOf(o).namespace, metaOf(o).name));
    for (const kind of TIER_KINDS) for (const o of this.map(kind).values()) out.push(tierKeyOf(kind, metaOf(o).name));
    return out;
  }

  /** The uid of a tier policy, for owner references; `group` set for AWS's ClusterNetworkPolicy. */
  tierUid(kind: string, name: string, group?: string): string | undefined {
    const watched = tierKindOfKey(group ? `${kind}.${group}` : kind);
    const o = watched ? this.map(watched).get(name) : undefined;
    return o ? metaOf(o).uid : undefined;
  }

  /**
   * Records an added, changed (`value` set) or deleted (`value` undefined) object.
   * @returns the policies the change can affect (a superset), empty when nothing that matters changed.
   */
  apply(kind: WatchedKind, key: string, value: JsonObject | undefined): Set<PolicyKey> {
    const map = this.map(kind);
    const old = map.get(key);
    const kept = value && kind === 'Node' ? nodeView(value) : value;
    const norm = kept ? { ...kept, ...API_KINDS[kind] } : undefined;
    // A deletion of something never seen (a relist racing a delete) changes nothing.
    if (!old && !norm) return new Set();
    // Asked before the change, so a namespace's labels are the ones the old objects were matched with.
    const before = this.affectedBy(kind, old, norm);
    if (norm) map.set(key, norm);
    else map.delete(key);
    this.reindex(kind, key, old, norm);
    return before;
  }

  private reindex(kind: WatchedKind, key: string, old: JsonObject | undefined, now: JsonObject | undefined): void {
    if (kind !== 'Namespace' && kind !== 'Node' && !(TIER_KINDS as readonly string[]).includes(kind)) {
      if (old) this.unreference(metaOf(old).namespace);
      if (now) this.referenced.set(metaOf(now).namespace, (this.referenced.get(metaOf(now).namespace) ?? 0) + 1);
    }
    switch (kind) {
      case 'Pod': {
        const ns = metaOf((now ?? old)!).namespace;
        let pods = this.podsByNamespace.get(ns);
        if (!pods) this.podsByNamespace.set(ns, (pods = new NamespacePods()));
        pods.set(key, old, now);
        break;
      }
      case 'Service': {
        const ns = metaOf((now ?? old)!).namespace;
        let svcs = this.servicesByNamespace.get(ns);
        if (!svcs) this.servicesByNamespace.set(ns, (svcs = new Map()));
        if (now) svcs.set(key, now);
        else svcs.delete(key);
        break;
      }
      case 'NetworkPolicy':
      case 'ApplicationNetworkPolicy': {
        // An ApplicationNetworkPolicy is NetworkPolicy-shaped; its domainNames peers name no pod.
        const m = metaOf((now ?? old)!);
        this.index.set(kind === 'NetworkPolicy' ? npKey(m.namespace, m.name) : anpKey(m.namespace, m.name), now ? networkPolicyReach(now) : undefined);
        break;
      }
      case 'AdminNetworkPolicy':
      case 'BaselineAdminNetworkPolicy':
      case 'ClusterNetworkPolicy':
      case 'AwsClusterNetworkPolicy':
        this.index.set(tierKeyOf(kind, metaOf((now ?? old)!).name), now ? tierPolicyReach(now, kind === 'AwsClusterNetworkPolicy') : undefined);
        break;
      case 'Namespace':
      case 'Node':
        break;
    }
  }

  private unreference(ns: string): void {
    const n = (this.referenced.get(ns) ?? 0) - 1;
    if (n > 0) this.referenced.set(ns, n);
    else this.referenced.delete(ns);
  }

  /** A namespace's labels as the model gives them (a namespace without its object has only its name label). */
  private namespaceLabels(name: string): Record<string, string> {
    return labelsOfNamespace(name, this.map('Namespace').get(name));
  }


  /** Every namespace the model has: declared, or referenced by a pod, Service or NetworkPolicy. */
  private namespaceNames(): string[] {
    return [...new Set([...this.map('Namespace').keys(), ...this.referenced.keys()])];
  }

  private covers(r: PodReach, namespace: string, labels: Readonly<Record<string, string>>): boolean {
    return r.namespace !== undefined ? r.namespace === namespace : matchesSelector(r.namespaceSelector ?? {}, labels);
  }

  /** Whether some Service of the pod's namespace selects it (its ClusterIP and ports depend on the pod). */
  private behindService(namespace: string, labels: Readonly<Record<string, string>>): boolean {
    for (const s of this.servicesByNamespace.get(namespace)?.values() ?? []) {
      const sel = (s.spec as { selector?: Record<string, string> } | undefined)?.selector;
      if (matchesSelector({ matchLabels: sel ?? {} }, labels)) return true;
    }
    return false;
  }

  private affectedBy(kind: WatchedKind, old: JsonObject | undefined, now: JsonObject | undefined): Set<PolicyKey> {
    const out = new Set<PolicyKey>();
    const m = metaOf((now ?? old)!);
    switch (kind) {
      case 'NetworkPolicy':
        out.add(npKey(m.namespace, m.name));
        break;
      case 'ApplicationNetworkPolicy':
        out.add(anpKey(m.namespace, m.name));
        break;
      case 'AdminNetworkPolicy':
      case 'BaselineAdminNetworkPolicy':
      case 'ClusterNetworkPolicy':
      case 'AwsClusterNetworkPolicy':
        out.add(tierKeyOf(kind, m.name));
        break;
      case 'Namespace':
        // Only namespace selection reads namespace labels; a policy is affected where its selector's answer flips.
        return this.index.selectorFlips(labelsOfNamespace(m.name, old), labelsOfNamespace(m.name, now));
      case 'Node':
        // Only `nodes` peers read nodes; a policy is affected where what the node gives one of its selectors changes.
        return this.index.nodeFlips(old, now);
      case 'Pod': {
        if (podProjection(old) === podProjection(now)) break;
        const labelsNs = this.namespaceLabels(m.namespace);
        for (const version of [old, now]) {
          if (!version) continue;
          const labels = metaOf(version).labels;
          const served = this.behindService(m.namespace, labels);
          for (const key of this.index.candidates(m.namespace, labelsNs)) {
            const reach = this.index.get(key)!;
            const hit = reachesOf(reach).some(
              (r) => this.covers(r, m.namespace, labelsNs) && (matchesSelector(r.podSelector ?? {}, labels) || (r.egress && served)),
            );
            if (hit) out.add(key);
          }
        }
        break;
      }
      case 'Service': {
        const labelsNs = this.namespaceLabels(m.namespace);
        for (const key of this.index.candidates(m.namespace, labelsNs)) {
          if (this.index.get(key)!.peers.some((r) => r.egress && this.covers(r, m.namespace, labelsNs))) out.add(key);
        }
        break;
      }
    }
    return out;
  }

  private doc(kind: WatchedKind, o: JsonObject): LoadedDocument {
    let d = this.docs.get(o);
    if (!d) this.docs.set(o, (d = documentOf(kind, o)));
    return d;
  }

  private policyObject(key: PolicyKey): { kind: WatchedKind; o: JsonObject } | undefined {
    const [, a, b, ...rest] = key.split('/');
    if (key.startsWith('np/') || key.startsWith('anp/')) {
      const kind = key.startsWith('np/') ? 'NetworkPolicy' : 'ApplicationNetworkPolicy';
      const o = this.map(kind).get(`${a}/${[b, ...rest].join('/')}`);
      return o && { kind, o };
    }
    const kind = tierKindOfKey(a);
    if (!kind) return undefined;
    const o = this.map(kind).get([b, ...rest].join('/'));
    return o && { kind, o };
  }

  /** The model of everything watched. */
  cluster(): Cluster {
    const docs: LoadedDocument[] = [];
    for (const [kind, map] of this.objects) for (const o of map.values()) docs.push(this.doc(kind, o));
    return buildCluster(docs).cluster;
  }

  /**
   * The model `keys` need: those policies, every Namespace, the Nodes their `nodes` peers pick, and the pods and
 * Services their selectors can reach
   * (candidates by namespace and label, a superset of what the engine will select). Resolving those policies on it
   * gives what resolving them on {@link cluster} gives.
   */
  scopedCluster(keys: Iterable<PolicyKey>): Cluster {
    const docs: LoadedDocument[] = [];
    for (const o of this.map('Namespace').values()) docs.push(this.doc('Namespace', o));
    const pods = new Set<string>();
    const services = new Set<string>();
    const namespaces = this.namespaceNames().map((name) => ({ name, labels: this.namespaceLabels(name) }));
    const nodeSelectors: LabelSelector[] = [];
    const podsOf = (ns: string, sel: LabelSelector | undefined) => {
      const index = this.podsByNamespace.get(ns);
      if (index) for (const k of index.candidates(sel)) pods.add(k);
    };
    for (const key of keys) {
      const policy = this.policyObject(key);
      if (!policy) continue;
      docs.push(this.doc(policy.kind, policy.o));
      nodeSelectors.push(...(this.index.get(key)?.nodes ?? []));
      for (const r of reachesOf(this.index.get(key) ?? { peers: [] })) {
        const inScope = r.namespace !== undefined ? [r.namespace] : namespaces.filter((n) => matchesSelector(r.namespaceSelector ?? {}, n.labels)).map((n) => n.name);
        for (const ns of inScope) {
          podsOf(ns, r.podSelector);
          if (!r.egress) continue;
          for (const [k, s] of this.servicesByNamespace.get(ns) ?? []) {
            if (services.has(k)) continue;
            services.add(k);
            podsOf(ns, { matchLabels: (s.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {} });
          }
        }
      }
    }
    const podMap = this.map('Pod');
    for (const k of pods) docs.push(this.doc('Pod', podMap.get(k)!));
    const svcMap = this.map('Service');
    for (const k of services) docs.push(this.doc('Service', svcMap.get(k)!));
    // Nodes matter only to `nodes` peers: the ones some selector in scope picks.
    if (nodeSelectors.length > 0) {
      for (const o of this.map('Node').values()) if (nodeSelectors.some((sel) => matchesSelector(sel, metaOf(o).labels))) docs.push(this.doc('Node', o));
    }
    return buildCluster(docs).cluster;
  }
}
