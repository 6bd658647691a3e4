/**
 * Shared by the translation tests: a random cluster read back through the YAML loader and validation, the objects the
 * controller writes for it, and the engine's answer per direction for one packet of one pod, per address family.
 */
import { parseManifests } from '../../src/api/load.js';
import { parseIP } from '../../src/api/ip.js';
import type { Protocol } from '../../src/api/types.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../../src/controller/resolve.js';
import { compile, type Engine } from '../../src/engine/engine.js';
import { readDocuments } from '../../src/model/read.js';
import type { Cluster, Endpoint } from '../../src/model/types.js';
import { clusterYaml } from '../../src/scenarios/manifests.js';
import { PROBE_ADDRESSES, PROBE_PORTS } from '../../src/scenarios/random.js';
import type { ClusterPolicyEndpoint, PolicyEndpoint } from '../../src/api/policyendpoint.js';

export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];
export { PROBE_PORTS };

/** A generated cluster as a user would apply it: YAML, decoded and validated by the same path as every command. */
export function throughLoader(generated: Cluster): Cluster {
  const text = clusterYaml(generated);
  const { documents, diagnostics } = parseManifests(text, 'random.yaml');
  const read = readDocuments(documents, diagnostics);
  const errors = read.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`the generated manifests do not validate:\n${errors.map((e) => `${e.message} ${e.path ?? ''}`).join('\n')}\n${text}`);
  return read.cluster;
}

/** The cluster as seen by packets of one address family: pods keep only their addresses of that family. */
export function projectFamily(cluster: Cluster, family: 4 | 6): Cluster {
  return { ...cluster, endpoints: cluster.endpoints.map((e) => ({ ...e, ips: e.ips.filter((ip) => parseIP(ip)?.family === family) })) };
}

export interface Translation {
  readonly cluster: Cluster;
  readonly engine: Engine;
  readonly policyEndpoints: readonly PolicyEndpoint[];
  readonly clusterPolicyEndpoints: readonly ClusterPolicyEndpoint[];
  /** The engine of each family's projection: exact per packet (see projectFamily). */
  readonly byFamily: Readonly<Record<4 | 6, Engine>>;
}

export function translate(generated: Cluster, resolve = { pe: resolvePolicyEndpoints, cpe: resolveClusterPolicyEndpoints }): Translation {
  const cluster = throughLoader(generated);
  const engine = compile(cluster);
  return {
    cluster,
    engine,
    policyEndpoints: resolve.pe(engine),
    clusterPolicyEndpoints: resolve.cpe(engine),
    byFamily: { 4: compile(projectFamily(cluster, 4)), 6: compile(projectFamily(cluster, 6)) },
  };
}

/** Addresses worth probing for a family: every pod IP, the generator's probe addresses, the node addresses. */
export function probeAddresses(t: Translation, family: 4 | 6): string[] {
  const all = [...t.cluster.endpoints.flatMap((e) => e.ips), ...PROBE_ADDRESSES, ...t.cluster.nodes.flatMap((n) => n.addresses)];
  return [...new Set(all)].filter((ip) => parseIP(ip)?.family === family);
}

/** The engine's answer for one direction of one packet of `pod` with the address `peer` at the other end. */
export function engineDirection(t: Translation, pod: Endpoint, direction: 'ingress' | 'egress', peer: string, protocol: Protocol, port: number): boolean {
  const family = parseIP(peer)!.family;
  const engine = t.byFamily[family];
  const flow = direction === 'egress' ? { from: pod.id, to: peer, protocol, port } : { from: peer, to: pod.id, protocol, port };
  const v = engine.verdict(flow);
  return direction === 'egress' ? v.egress.allowed : v.ingress.allowed;
}

/** The pods of one node that take part in the data plane. */
export function localPods(cluster: Cluster, node: string): Endpoint[] {
  return cluster.endpoints.filter((e) => e.kind === 'Pod' && e.nodeName === node && e.ips.length > 0);
}
