/**
 * Read-only questions the controller asks of a compiled engine: which pods an atom holds, which namespaces a
 * selector picks, which Services a peer names. Which pods a policy selects and which pods a peer matches always come
 * from the engine's atoms; nothing here decides whether traffic is allowed.
 */
import type { LabelSelector } from '../api/types.js';
import type { Atom } from '../engine/compile.js';
import type { Engine } from '../engine/engine.js';
import { formatIP } from '../api/ip.js';
import { matchesSelector } from '../engine/selector.js';
import type { Cluster, Endpoint, ServiceInfo } from '../model/types.js';

/** The atom with id `atom`. */
export function atomOf(engine: Engine, atom: number): Atom {
  const a = engine.compiled.atoms[atom];
  if (!a) throw new Error(`no atom ${atom}`);
  return a;
}

/**
 * The pods of an atom that have a pod IP, in cluster order (namespace, name). Workload representatives and pods
 * without an IP yet are left out: the AWS controller lists a pod only once its network is ready.
 */
export function podsOfAtom(engine: Engine, atom: number): Endpoint[] {
  const eps = engine.cluster.endpoints;
  return atomOf(engine, atom)
    .endpoints.map((i) => eps[i])
    .filter((ep) => ep.kind === 'Pod' && ep.ips.length > 0);
}

/** The pods a NetworkPolicy selects (`cluster.policies[index]`), as {@link podsOfAtom}. */
export function selectedPods(engine: Engine, index: number): Endpoint[] {
  const np = engine.compiled.networkPolicies[index];
  if (!np) throw new Error(`no NetworkPolicy at index ${index}`);
  return podsOfAtom(engine, np.subject);
}

/**
 * The addresses an address atom covers that are single hosts, as bare IPs (e.g. the nodes of a tier `nodes` peer).
 * Ranges wider than one address are formatted `first-last`, which no caller expects from a nodes peer.
 */
export function atomHosts(engine: Engine, atom: number): string[] {
  return (atomOf(engine, atom).ranges ?? []).map((r) =>
    r.first === r.last ? formatIP(r.family, r.first) : `${formatIP(r.family, r.first)}-${formatIP(r.family, r.last)}`,
  );
}

/** The primary pod IP (`status.podIP`, which the API keeps equal to `podIPs[0]`): the one the AWS controller writes. */
export function primaryIP(ep: Endpoint): string {
  return ep.ips[0] ?? '';
}

/** Names of the namespaces a namespaceSelector picks, sorted. */
export function namespacesMatching(cluster: Cluster, selector: LabelSelector): string[] {
  return [...cluster.namespaces.values()].filter((ns) => matchesSelector(selector, ns.labels)).map((ns) => ns.name);
}

/**
 * The Services of `namespace` whose ClusterIP the AWS controller adds for an egress pod peer: not headless, and whose
 * `spec.selector`, read as a label set, the peer's podSelector matches (an absent podSelector matches every Service).
 * This is the AWS controller's own test, not "the Service selects a matched pod"; Palisade keeps it so both write the
 * same objects.
 */
export function servicesForPeer(cluster: Cluster, namespace: string, podSelector: LabelSelector | undefined): ServiceInfo[] {
  return cluster.services.filter(
    (s) => s.namespace === namespace && s.clusterIPs.length > 0 && matchesSelector(podSelector ?? {}, s.selector ?? {}),
  );
}

/** The pods of the Service's namespace that its selector picks (an empty or absent selector picks them all). */
export function podsOfService(cluster: Cluster, svc: ServiceInfo): Endpoint[] {
  const sel = { matchLabels: svc.selector ?? {} };
  return cluster.endpoints.filter((ep) => ep.kind === 'Pod' && ep.namespace === svc.namespace && matchesSelector(sel, ep.labels));
}
