/**
 * engine == interpret(objects): for random clusters with every tier kind, named ports on two protocols, workloads and
 * dual-stack pods, read through the YAML loader, the PolicyEndpoints and ClusterPolicyEndpoints the controller writes
 * mean, packet by packet, what the engine decides — for every local pod of every node, both directions, every probe
 * address (pods, externals, nodes), protocol and port.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../src/api/ip.js';
import { clusterArb } from '../../src/scenarios/random.js';
import { ObjectsInterpreter } from '../../src/verify/objects.js';
import { PROBE_PORTS, PROTOCOLS, engineDirection, localPods, probeAddresses, translate, type Translation } from './support.js';

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

describe('engine == interpret(PolicyEndpoints, ClusterPolicyEndpoints)', () => {
  it('on random clusters with tiers of all three kinds, through the YAML loader', () => {
    fc.assert(
      fc.property(clusterArb({ tiers: true, maxPods: 6, maxPolicies: 3 }), (generated) => {
        const t = translate(generated);
        const why = objectsDisagreement(t);
        expect(why, why).toBeUndefined();
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
