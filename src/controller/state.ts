/**
 * The controller's view of the cluster: the objects its informers hold, turned into the model through the same
 * `buildCluster` the CLI uses, and an index that says which policies a change can affect.
 */
import type { JsonObject, LoadedDocument } from '../api/load.js';
import type { NetworkPolicy, NetworkPolicyPeer } from '../api/types.js';
import { matchesSelector } from '../engine/selector.js';
import { buildCluster } from '../model/cluster.js';
import type { Cluster } from '../model/types.js';

/** The kinds the controller watches to compute endpoints. */
export type WatchedKind = 'Namespace' | 'Pod' | 'Service' | 'NetworkPolicy' | 'AdminNetworkPolicy' | 'BaselineAdminNetworkPolicy' | 'ClusterNetworkPolicy';

export const TIER_KINDS = ['AdminNetworkPolicy', 'BaselineAdminNetworkPolicy', 'ClusterNetworkPolicy'] as const;

const API_VERSIONS: Readonly<Record<WatchedKind, string>> = {
  Namespace: 'v1',
  Pod: 'v1',
  Service: 'v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  AdminNetworkPolicy: 'policy.networking.k8s.io/v1alpha1',
  BaselineAdminNetworkPolicy: 'policy.networking.k8s.io/v1alpha1',
  ClusterNetworkPolicy: 'policy.networking.k8s.io/v1alpha2',
};

/** A policy's key: `np/<namespace>/<name>` or `tier/<Kind>/<name>`. */
export type PolicyKey = string;

export function npKey(namespace: string, name: string): PolicyKey {
  return `np/${namespace}/${name}`;
}

export function tierKey(kind: string, name: string): PolicyKey {
  return `tier/${kind}/${name}`;
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
    apiVersion: API_VERSIONS[kind],
    kind,
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

/** Peers of a NetworkPolicy, both directions, with whether the rule is egress. */
function peersOf(p: NetworkPolicy): { peer: NetworkPolicyPeer; egress: boolean }[] {
  return [
    ...(p.spec.ingress ?? []).flatMap((r) => (r.from ?? []).map((peer) => ({ peer, egress: false }))),
    ...(p.spec.egress ?? []).flatMap((r) => (r.to ?? []).map((peer) => ({ peer, egress: true }))),
  ];
}

/**
 * The watched objects. `cluster()` builds the model (optionally with only some policies, so compiling costs only
 * what those policies need); `affected()` answers which policies a change can affect, through an index of policies by
 * namespace and of the policies whose peers use a namespaceSelector.
 */
export class ClusterState {
  private readonly objects = new Map<WatchedKind, Map<string, JsonObject>>();
  private readonly docs = new WeakMap<JsonObject, LoadedDocument>();
  /** NetworkPolicies by namespace. */
  private readonly npByNamespace = new Map<string, Set<string>>();
  /** NetworkPolicies with a peer that selects namespaces. */
  private readonly npWithNamespaceSelector = new Set<PolicyKey>();

  constructor() {
    for (const k of Object.keys(API_VERSIONS) as WatchedKind[]) this.objects.set(k, new Map());
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
    for (const kind of TIER_KINDS) for (const o of this.map(kind).values()) out.push(tierKey(kind, metaOf(o).name));
    return out;
  }

  /** The uid of a tier policy, for owner references. */
  tierUid(kind: string, name: string): string | undefined {
    const o = (TIER_KINDS as readonly string[]).includes(kind) ? this.map(kind as WatchedKind).get(name) : undefined;
    return o ? metaOf(o).uid : undefined;
  }

  /**
   * Records an added, changed (`value` set) or deleted (`value` undefined) object.
   * @returns the policies the change can affect (a superset), empty when nothing that matters changed.
   */
  apply(kind: WatchedKind, key: string, value: JsonObject | undefined): Set<PolicyKey> {
    const map = this.map(kind);
    const old = map.get(key);
    const norm = value ? { ...value, apiVersion: API_VERSIONS[kind], kind } : undefined;
    if (norm) map.set(key, norm);
    else map.delete(key);
    if (kind === 'NetworkPolicy') this.indexPolicy(key, old, norm);
    return this.affected(kind, old, norm);
  }

  private indexPolicy(key: string, old: JsonObject | undefined, now: JsonObject | undefined): void {
    for (const o of [old, now]) {
      if (!o) continue;
      const m = metaOf(o);
      const pk = npKey(m.namespace, m.name);
      this.npWithNamespaceSelector.delete(pk);
      this.npByNamespace.get(m.namespace)?.delete(key);
    }
    if (now) {
      const m = metaOf(now);
      let set = this.npByNamespace.get(m.namespace);
      if (!set) this.npByNamespace.set(m.namespace, (set = new Set()));
      set.add(key);
      if (peersOf(now as unknown as NetworkPolicy).some((x) => x.peer.namespaceSelector)) this.npWithNamespaceSelector.add(npKey(m.namespace, m.name));
    }
  }

  private namespaceLabels(name: string): Record<string, string> {
    const o = this.map('Namespace').get(name);
    return { ...(o ? metaOf(o).labels : {}), 'kubernetes.io/metadata.name': name };
  }

  private tierKeys(): PolicyKey[] {
    return TIER_KINDS.flatMap((kind) => [...this.map(kind).values()].map((o) => tierKey(kind, metaOf(o).name)));
  }

  /** NetworkPolicies whose rules can name something in `namespace`: same-namespace ones and namespaceSelector ones. */
  private candidates(namespace: string): { key: PolicyKey; policy: NetworkPolicy }[] {
    const out = new Map<PolicyKey, NetworkPolicy>();
    for (const k of this.npByNamespace.get(namespace) ?? []) {
      const o = this.map('NetworkPolicy').get(k);
      if (o) out.set(npKey(namespace, metaOf(o).name), o as unknown as NetworkPolicy);
    }
    for (const pk of this.npWithNamespaceSelector) {
      const [, ns, name] = pk.split('/');
      const o = this.map('NetworkPolicy').get(`${ns}/${name}`);
      if (o) out.set(pk, o as unknown as NetworkPolicy);
    }
    return [...out].map(([key, policy]) => ({ key, policy }));
  }

  private peerCovers(policy: NetworkPolicy, peer: NetworkPolicyPeer, namespace: string): boolean {
    if (peer.ipBlock) return false;
    if (peer.namespaceSelector) return matchesSelector(peer.namespaceSelector, this.namespaceLabels(namespace));
    return (policy.metadata.namespace ?? '') === namespace;
  }

  private affected(kind: WatchedKind, old: JsonObject | undefined, now: JsonObject | undefined): Set<PolicyKey> {
    const out = new Set<PolicyKey>();
    const any = (now ?? old)!;
    const m = metaOf(any);
    switch (kind) {
      case 'NetworkPolicy':
        out.add(npKey(m.namespace, m.name));
        break;
      case 'AdminNetworkPolicy':
      case 'BaselineAdminNetworkPolicy':
      case 'ClusterNetworkPolicy':
        out.add(tierKey(kind, m.name));
        break;
      case 'Namespace': {
        const oldLabels = old ? JSON.stringify(metaOf(old).labels) : undefined;
        const newLabels = now ? JSON.stringify(metaOf(now).labels) : undefined;
        if (oldLabels === newLabels) break;
        for (const k of this.npByNamespace.get(m.name) ?? []) out.add(npKey(m.name, k.split('/')[1]));
        for (const k of this.npWithNamespaceSelector) out.add(k);
        for (const k of this.tierKeys()) out.add(k);
        break;
      }
      case 'Pod': {
        if (podProjection(old) === podProjection(now)) break;
        for (const version of [old, now]) {
          if (!version) continue;
          const pm = metaOf(version);
          const behindService = [...this.map('Service').values()].some((s) => {
            const sm = metaOf(s);
            const sel = (s.spec as { selector?: Record<string, string> } | undefined)?.selector;
            return sm.namespace === pm.namespace && matchesSelector({ matchLabels: sel ?? {} }, pm.labels);
          });
          for (const { key, policy } of this.candidates(pm.namespace)) {
            const subject = (policy.metadata.namespace ?? '') === pm.namespace && matchesSelector(policy.spec.podSelector, pm.labels);
            const peer = peersOf(policy).some(
              (x) => this.peerCovers(policy, x.peer, pm.namespace) && (matchesSelector(x.peer.podSelector ?? {}, pm.labels) || (x.egress && behindService)),
            );
            if (subject || peer) out.add(key);
          }
          for (const k of this.tierKeys()) out.add(k);
        }
        break;
      }
      case 'Service': {
        for (const { key, policy } of this.candidates(m.namespace)) {
          if (peersOf(policy).some((x) => x.egress && this.peerCovers(policy, x.peer, m.namespace))) out.add(key);
        }
        for (const k of this.tierKeys()) out.add(k);
        break;
      }
    }
    return out;
  }

  /**
   * The model of everything watched. With `only`, policies not in it are left out: the engine then compiles only the
   * atoms those policies use.
   */
  cluster(only?: ReadonlySet<PolicyKey>): Cluster {
    const docs: LoadedDocument[] = [];
    for (const [kind, map] of this.objects) {
      for (const o of map.values()) {
        if (only) {
          const m = metaOf(o);
          if (kind === 'NetworkPolicy' && !only.has(npKey(m.namespace, m.name))) continue;
          if ((TIER_KINDS as readonly string[]).includes(kind) && !only.has(tierKey(kind, m.name))) continue;
        }
        let d = this.docs.get(o);
        if (!d) this.docs.set(o, (d = documentOf(kind, o)));
        docs.push(d);
      }
    }
    return buildCluster(docs).cluster;
  }
}
