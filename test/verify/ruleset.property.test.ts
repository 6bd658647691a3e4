/**
 * engine == interpret(ruleset) == interpret(objects), proved symbolically: for random clusters with every tier kind,
 * named ports on two protocols, workloads and dual-stack pods (through the YAML loader), each node's nftables table —
 * compiled from the controller's objects — decides every address, protocol and port of every local pod as the engine
 * does, and as the objects mean. With AWS's kinds too, without DNS answers (the agent resolves no names).
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

  it("with AWS's kinds (ApplicationNetworkPolicy, networking.k8s.aws ClusterNetworkPolicy), without DNS answers as the agent runs", async () => {
    // The agent resolves no names (a domainName entry is skipped), so the table is proved against the engine of the
    // cluster without answers; the engine with answers is tested against the reference in objects.property.test.ts.
    let awsKinds = 0;
    await fc.assert(
      fc.asyncProperty(clusterArb({ tiers: true, aws: true, maxPods: 6, maxPolicies: 3 }), async (generated) => {
        await new Promise<void>((r) => setImmediate(r));
        const t = translate(generated);
        if (t.cluster.tierPolicies.some((p) => p.group === 'networking.k8s.aws') || t.cluster.policies.some((p) => p.kind === 'ApplicationNetworkPolicy')) awsKinds++;
        const why = rulesetDisagreement(t);
        expect(why, why).toBeUndefined();
      }),
      { numRuns: 120, seed: 16 },
    );
    expect(awsKinds).toBeGreaterThan(60);
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
