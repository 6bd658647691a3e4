/**
 * engine == interpret(objects): for random clusters with every tier kind, named ports on two protocols, workloads and
 * dual-stack pods, read through the YAML loader, the PolicyEndpoints and ClusterPolicyEndpoints the controller writes
 * mean, packet by packet, what the engine decides — for every local pod of every node, both directions, every probe
 * address (pods, externals, nodes), protocol and port.
 *
 * With AWS's kinds (ApplicationNetworkPolicy, networking.k8s.aws ClusterNetworkPolicy with domainNames peers) the
 * statement is split where DNS is: the controller and agents resolve no names, so without DNS answers engine ==
 * objects on every packet (and == the engine of the generated cluster: the manifests say what was meant); with the generator's answers (added as `why --resolve` adds them) engine == reference ==
 * the engine of the generated cluster (the manifests say what was meant) on every flow, and engine == objects on every packet whose peer no answer names (a domainName entry carries no address,
 * and agents skip it).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { domainPeers } from '../../src/model/aws.js';
import { clusterArb } from '../../src/scenarios/random.js';
import { answeredAddresses, objectsDisagreement, referenceDisagreement, roundTripDisagreement, translate } from './support.js';

const yieldNow = () => new Promise<void>((r) => setImmediate(r));

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

  it("with AWS's kinds, without DNS answers (as the controller and agents run): every packet", async () => {
    await fc.assert(
      fc.asyncProperty(clusterArb({ tiers: true, aws: true, maxPods: 6, maxPolicies: 3 }), async (generated) => {
        await yieldNow();
        const t = translate(generated);
        const why = objectsDisagreement(t);
        expect(why, why).toBeUndefined();
        const vsGenerated = roundTripDisagreement(t, generated);
        expect(vsGenerated, vsGenerated).toBeUndefined();
      }),
      { numRuns: 100, seed: 14 },
    );
  });

  it("with AWS's kinds and DNS answers: engine == reference on every flow, and == objects off the answered addresses", async () => {
    let answered = 0;
    let awsKinds = 0;
    await fc.assert(
      fc.asyncProperty(clusterArb({ tiers: true, aws: true, maxPods: 6, maxPolicies: 3 }), async (generated) => {
        await yieldNow();
        const t = translate(generated, undefined, { dns: true });
        if (domainPeers(t.cluster).some((d) => d.answered)) answered++;
        if (t.cluster.tierPolicies.some((p) => p.group === 'networking.k8s.aws') || t.cluster.policies.some((p) => p.kind === 'ApplicationNetworkPolicy')) awsKinds++;
        const vsGenerated = roundTripDisagreement(t, generated);
        expect(vsGenerated, vsGenerated).toBeUndefined();
        const vsReference = referenceDisagreement(t);
        expect(vsReference, vsReference).toBeUndefined();
        const why = objectsDisagreement(t, answeredAddresses(t.cluster));
        expect(why, why).toBeUndefined();
      }),
      { numRuns: 40, seed: 15 },
    );
    // The runs exercise what they claim: AWS's kinds read back from YAML, and domainNames peers with answers.
    expect(awsKinds).toBeGreaterThan(20);
    expect(answered).toBeGreaterThan(3);
  });
});
