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
import { clusterDnsAnswers, clusterYaml } from '../../src/scenarios/manifests.js';
import { withDnsAnswers } from '../../src/model/aws.js';
import { referenceAllowed, type RefEnd } from '../../src/engine/reference.js';
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

/**
 * A generated cluster as a user would apply it: YAML, decoded and validated by the same path as every command. With
 * `dns`, its DNS answers are added as `palisade why --resolve NAME=IP` adds them (`withDnsAnswers`); without, the
 * loaded cluster has none, as the controller and agent have none.
 */
export function throughLoader(generated: Cluster, opts: { readonly dns?: boolean } = {}): Cluster {
  const cluster = loadYaml(generated);
  return opts.dns ? withDnsAnswers(cluster, clusterDnsAnswers(generated)) : cluster;
}

function loadYaml(generated: Cluster): Cluster {
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

export function translate(generated: Cluster, resolve = { pe: resolvePolicyEndpoints, cpe: resolveClusterPolicyEndpoints }, opts: { readonly dns?: boolean } = {}): Translation {
  const cluster = throughLoader(generated, opts);
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

/** Every address a DNS answer of the cluster gives (the flows to them are the engine's alone: no kernel resolves). */
export function answeredAddresses(cluster: Cluster): Set<string> {
  return new Set([...(cluster.dns ?? []).values()].flat());
}

/**
 * The first flow where the engine and the reference evaluator disagree, or undefined: every pod to and from every
 * other endpoint and probe address, every protocol and probe port.
 */
export function referenceDisagreement(t: Translation): string | undefined {
  return flowDisagreement(t, (src, dst, protocol, port) => referenceAllowed(t.cluster, src.ref, dst.ref, protocol, port), 'reference');
}

/**
 * The first flow where the engine of the cluster read back from YAML and the engine of the generated cluster (with the
 * same DNS answers) disagree, or undefined: the manifests say what the generator meant.
 */
export function roundTripDisagreement(t: Translation, generated: Cluster): string | undefined {
  const original = compile(t.cluster.dns ? { ...generated, dns: t.cluster.dns } : { ...generated, dns: undefined });
  const ids = new Set(generated.endpoints.map((e) => e.id));
  return flowDisagreement(t, (src, dst, protocol, port) => (ids.has(src.label) || 'address' in src.ref) && (ids.has(dst.label) || 'address' in dst.ref) ? original.verdict({ from: src.label, to: dst.label, protocol, port }).allowed : undefined, 'generated');
}

type FlowEnd = { readonly label: string; readonly ref: RefEnd };

function flowDisagreement(t: Translation, expected: (src: FlowEnd, dst: FlowEnd, protocol: Protocol, port: number) => boolean | undefined, what: string): string | undefined {
  const ends: FlowEnd[] = [
    ...t.cluster.endpoints.map((endpoint) => ({ label: endpoint.id, ref: { endpoint } as RefEnd })),
    ...[...PROBE_ADDRESSES, ...t.cluster.nodes.flatMap((n) => n.addresses)]
      .filter((a, i, all) => all.indexOf(a) === i && !t.cluster.endpoints.some((e) => e.ips.includes(a)))
      .map((a) => ({ label: a, ref: { address: parseIP(a)! } as RefEnd })),
  ];
  for (const src of ends) {
    for (const dst of ends) {
      if (src === dst || ('address' in src.ref && 'address' in dst.ref)) continue;
      for (const protocol of PROTOCOLS) {
        for (const port of PROBE_PORTS) {
          const want = expected(src, dst, protocol, port);
          if (want === undefined) continue;
          const got = t.engine.verdict({ from: src.label, to: dst.label, protocol, port }).allowed;
          if (got !== want) return `${src.label} -> ${dst.label} ${protocol}/${port}: engine ${got ? 'allows' : 'denies'}, ${what} ${want ? 'allows' : 'denies'}`;
        }
      }
    }
  }
  return undefined;
}

/**
 * The first packet where the objects and the engine disagree, or undefined. `skip` names peer addresses left out
 * (e.g. those DNS answers give: the objects cannot carry a domain name's addresses).
 */
export function objectsDisagreement(t: Translation, skip: ReadonlySet<string> = new Set()): string | undefined {
  for (const node of t.cluster.nodes) {
    const interp = new ObjectsInterpreter({ policyEndpoints: t.policyEndpoints, clusterPolicyEndpoints: t.clusterPolicyEndpoints, nodeAddresses: node.addresses, mode: 'standard' });
    for (const pod of localPods(t.cluster, node.name)) {
      for (const family of [4, 6] as const) {
        if (!pod.ips.some((ip) => parseIP(ip)?.family === family)) continue;
        for (const peer of probeAddresses(t, family)) {
          if (pod.ips.includes(peer) || skip.has(peer)) continue;
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

