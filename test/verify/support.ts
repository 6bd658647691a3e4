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
import { compileNode, type DesiredState, type LocalPod } from '../../src/nft/compile.js';
import { rulesetFromState } from '../../src/nft/interpret.js';
import { engineExpectation, objectsExpectation } from '../../src/verify/expect.js';
import { ObjectsInterpreter } from '../../src/verify/objects.js';
import { proveNode, type ProofPod } from '../../src/verify/prove.js';
import { projectFamily } from '../../src/verify/expect.js';

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

/** The first packet where the objects and the engine disagree, or undefined. */
export function objectsDisagreement(t: Translation): string | undefined {
  for (const node of t.cluster.nodes) {
    const interp = new ObjectsInterpreter({ policyEndpoints: t.policyEndpoints, clusterPolicyEndpoints: t.clusterPolicyEndpoints, nodeAddresses: node.addresses, mode: 'standard' });
    for (const pod of localPods(t.cluster, node.name)) {
      for (const family of [4, 6] as const) {
        if (!pod.ips.some((ip) => parseIP(ip)?.family === family)) continue;
        for (const peer of probeAddresses(t, family)) {
          if (pod.ips.includes(peer)) continue;
          for (const direction of ['ingress', 'egress'] as const) {
            for (const protocol of PROTOCOLS) {
              for (const port of PROBE_PORTS) {
                const engine = engineDirection(t, pod, direction, peer, protocol, port);
                const objects = interp.decide(pod, { direction, peer, protocol, port });
                if (engine !== objects.allowed) {
                  return `${pod.id} ${direction} ${direction === 'egress' ? 'to' : 'from'} ${peer} ${protocol}/${port}: engine ${engine ? 'allows' : 'denies'}, objects ${objects.allowed ? 'allow' : 'deny'} (${objects.stage}${objects.policy ? ` ${objects.policy}` : ''})`;
                }
              }
            }
          }
        }
      }
    }
  }
  return undefined;
}


/** The first node whose table disagrees with the engine or with its objects, as a counterexample; else undefined. */
export function rulesetDisagreement(t: Translation, mode: 'standard' | 'strict' = 'standard', mutate: (s: DesiredState) => DesiredState = (s) => s): string | undefined {
  const engine = engineExpectation(t.byFamily);
  for (const node of t.cluster.nodes) {
    const pods: LocalPod[] = localPods(t.cluster, node.name).map((e, i) => ({ name: e.name, namespace: e.namespace, ips: e.ips, ifname: `pl${i}` }));
    const proofPods: ProofPod[] = pods.map((p) => ({ id: `${p.namespace}/${p.name}`, ifname: p.ifname, ips: p.ips }));
    const input = { policyEndpoints: t.policyEndpoints, clusterPolicyEndpoints: t.clusterPolicyEndpoints, nodeAddresses: node.addresses, mode };
    const rs = rulesetFromState(mutate(compileNode({ ...input, pods })));
    const objects = objectsExpectation(input, new Map(pods.map((p) => [p.ifname, p])));
    const vsObjects = proveNode(rs, proofPods, node.addresses, objects);
    if (!vsObjects.proved) return `${node.name}: table vs objects: ${vsObjects.counterexample.text}`;
    if (mode === 'standard') {
      const vsEngine = proveNode(rs, proofPods, node.addresses, engine);
      if (!vsEngine.proved) return `${node.name}: table vs engine: ${vsEngine.counterexample.text}`;
    }
  }
  return undefined;
}

