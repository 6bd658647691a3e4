import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClusterPolicyEndpoint, PolicyEndpoint } from '../api/policyendpoint.js';
import type { LocalPod } from './compile.js';
import { localView, namePods, NodeViewer, nodeView } from './local.js';

/** Pods 10.0.0.1-10.0.0.8: pod i is `p<i>` in namespace `ns<i % 2>`. */
const ip = (i: number) => `10.0.0.${i + 1}`;
const endpoint = (i: number, byName: boolean) => ({ podIP: byName ? '' : ip(i), hostIP: '10.99.0.1', name: `p${i}`, namespace: `ns${i % 2}` });

function pe(policy: number, chunk: number, pods: readonly { i: number; byName: boolean }[], version: number): PolicyEndpoint {
  return {
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'PolicyEndpoint',
    metadata: { name: `pol${policy}-${chunk}`, namespace: 'ns0', annotations: { v: String(version) } },
    spec: { policyRef: { name: `pol${policy}`, namespace: 'ns0' }, podIsolation: ['Ingress'], podSelectorEndpoints: pods.map((p) => endpoint(p.i, p.byName)) },
  };
}

function cpe(policy: number, chunk: number, pods: readonly { i: number; byName: boolean }[]): ClusterPolicyEndpoint {
  return {
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'ClusterPolicyEndpoint',
    metadata: { name: `c${policy}-${chunk}`, ownerReferences: [{ apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'AdminNetworkPolicy', name: `c${policy}`, uid: 'u' }] },
    spec: { policyRef: { name: `c${policy}` }, tier: 'Admin', priority: policy, subject: { namespaces: {} }, podSelectorEndpoints: pods.map((p) => endpoint(p.i, p.byName)) },
  };
}

const podsArb = fc.array(fc.record({ i: fc.nat(7), byName: fc.boolean() }), { maxLength: 3 });
const slotArb = fc.record({ policy: fc.nat(3), pods: podsArb });
/** The local pods: some of the eight, discovered by route (no names). */
const localArb = fc.uniqueArray(fc.nat(7), { minLength: 1, maxLength: 4 }).map((is) => is.map((i): LocalPod => ({ ips: [ip(i)], ifname: `v${i}` })));

describe('a node reads only the policies that select its pods', () => {
  it('an object selecting no local pod is left out, and every piece of a policy one piece of which selects one is kept', () => {
    const local: LocalPod[] = [{ ips: ['10.0.0.1'], ifname: 'v0' }];
    const a = pe(1, 0, [{ i: 0, byName: false }], 0);
    const b = pe(1, 1, [{ i: 3, byName: false }], 0); // same policy, no local pod: kept (the policy is one whole)
    const c = pe(2, 0, [{ i: 3, byName: false }], 0); // another policy, no local pod: left out
    const d = pe(3, 0, [{ i: 0, byName: true }], 0); // by name only: kept once the pod is named by `a`
    const v = nodeView([a, b, c, d], [], local);
    expect(v.pods).toEqual([{ ips: ['10.0.0.1'], ifname: 'v0', name: 'p0', namespace: 'ns0' }]);
    expect(v.policyEndpoints).toEqual([a, b, d]);
    expect(localView([a, b, c, d], [], local).policyEndpoints).toEqual([a, b]); // unnamed pods: by IP only
    expect(namePods(local, [c, a])[0].name).toBe('p0');
  });

  it('a pod found again at the same IP on another interface (recreated) is viewed on its new interface', () => {
    const viewer = new NodeViewer();
    const a = pe(1, 0, [{ i: 0, byName: false }], 0);
    expect(viewer.view([a], [], [{ ips: [ip(0)], ifname: 'v0' }]).pods.map((p) => p.ifname)).toEqual(['v0']);
    const again = viewer.view([a], [], [{ ips: [ip(0)], ifname: 'v9' }]);
    expect(again.pods).toEqual([{ ips: [ip(0)], ifname: 'v9', name: 'p0', namespace: 'ns0' }]);
    // A NodeViewer's lists are its own local view: localView hands them back for the pods they were made for.
    expect(localView(again.policyEndpoints, again.clusterPolicyEndpoints, again.pods).policyEndpoints).toBe(again.policyEndpoints);
  });

  it('kept up to date from sync to sync, it reads as a fresh reading of the same lists (property)', () => {
    fc.assert(
      fc.property(
        localArb,
        fc.array(slotArb, { minLength: 1, maxLength: 8 }),
        fc.array(slotArb, { maxLength: 3 }),
        fc.array(fc.record({ list: fc.constantFrom('pe', 'cpe'), at: fc.nat(7), slot: slotArb, grow: fc.boolean() }), { maxLength: 12 }),
        (local, peSlots, cpeSlots, changes) => {
          let version = 0;
          let pes = peSlots.map((s, k) => pe(s.policy, k, s.pods, version++));
          let cpes = cpeSlots.map((s, k) => cpe(s.policy, k, s.pods));
          const viewer = new NodeViewer();
          const check = () => {
            const inc = viewer.view(pes, cpes, local);
            const fresh = nodeView(pes, cpes, local);
            expect(inc.pods).toEqual(fresh.pods);
            expect(inc.policyEndpoints).toEqual(fresh.policyEndpoints);
            expect(inc.clusterPolicyEndpoints).toEqual(fresh.clusterPolicyEndpoints);
            // Identity too: the compiler remembers its work per object.
            inc.policyEndpoints.forEach((o, i) => expect(o).toBe(fresh.policyEndpoints[i]));
          };
          check();
          for (const ch of changes) {
            if (ch.list === 'pe') {
              const next = pe(ch.slot.policy, ch.at, ch.slot.pods, version++);
              pes = ch.grow || pes.length === 0 ? [...pes, next] : pes.map((o, i) => (i === ch.at % pes.length ? next : o));
            } else {
              const next = cpe(ch.slot.policy, ch.at, ch.slot.pods);
              cpes = ch.grow || cpes.length === 0 ? [...cpes, next] : cpes.map((o, i) => (i === ch.at % cpes.length ? next : o));
            }
            check();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
