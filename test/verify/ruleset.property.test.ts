/**
 * engine == interpret(ruleset) == interpret(objects), proved symbolically: for random clusters with every tier kind,
 * named ports on two protocols, workloads and dual-stack pods (through the YAML loader), each node's nftables table —
 * compiled from the controller's objects — decides every address, protocol and port of every local pod as the engine
 * does, and as the objects mean.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clusterArb } from '../../src/scenarios/random.js';
import { rulesetDisagreement, translate } from './support.js';

describe('engine == interpret(nftables table) == interpret(objects), proved per node', () => {
  it('standard mode, random clusters with all three tier kinds, through the YAML loader', () => {
    fc.assert(
      fc.property(clusterArb({ tiers: true, maxPods: 6, maxPolicies: 3 }), (generated) => {
        const why = rulesetDisagreement(translate(generated));
        expect(why, why).toBeUndefined();
      }),
      { numRuns: 150, seed: 12 },
    );
  });

  it('strict mode: the table still means what the objects say', () => {
    fc.assert(
      fc.property(clusterArb({ tiers: true, maxPods: 5, maxPolicies: 2 }), (generated) => {
        const why = rulesetDisagreement(translate(generated), 'strict');
        expect(why, why).toBeUndefined();
      }),
      { numRuns: 60, seed: 13 },
    );
  });
});
