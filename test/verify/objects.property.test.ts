/**
 * engine == interpret(objects): for random clusters with every tier kind, named ports on two protocols, workloads and
 * dual-stack pods, read through the YAML loader, the PolicyEndpoints and ClusterPolicyEndpoints the controller writes
 * mean, packet by packet, what the engine decides — for every local pod of every node, both directions, every probe
 * address (pods, externals, nodes), protocol and port.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clusterArb } from '../../src/scenarios/random.js';
import { objectsDisagreement, translate } from './support.js';

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
