/**
 * The agent's compiler remembers its work per object (peer sets by content, compiled sets and chains per merged whole,
 * a node's share of the objects from sync to sync). Those memories must never change what is compiled: after any
 * sequence of changes, the table compiled with warm memories equals the table compiled from fresh copies of the same
 * objects compiled with no memory (`remember: false`), text for text, log tags included. The agent's compiler keeps
 * its last compile and rebuilds only the pods whose policies changed: it is the warm side here, one compiler for the
 * whole sequence.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClusterPolicyEndpoint, PolicyEndpoint } from '../../src/api/policyendpoint.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../../src/controller/resolve.js';
import { compile } from '../../src/engine/engine.js';
import { compileNode, NodeCompiler, type DesiredState, type LocalPod } from '../../src/nft/compile.js';
import { NodeViewer } from '../../src/nft/local.js';
import { renderDelta, renderFull } from '../../src/nft/script.js';
import { clusterArb } from '../../src/scenarios/random.js';

interface Objects {
  readonly pes: PolicyEndpoint[];
  readonly cpes: ClusterPolicyEndpoint[];
  readonly pods: LocalPod[];
}

const objectsArb = fc.record({ a: clusterArb({ tiers: true, maxPods: 8, maxPolicies: 4 }), b: clusterArb({ tiers: true, maxPods: 8, maxPolicies: 4 }) }).map(({ a, b }) => {
  const of = (c: typeof a): Objects => {
    const engine = compile(c);
    const node = c.nodes[0];
    const pods = c.endpoints
      .filter((e) => e.kind === 'Pod' && e.nodeName === node.name && e.ips.length > 0)
      .map((e, i): LocalPod => ({ ips: e.ips, ifname: `eni${i}` }));
    return { pes: resolvePolicyEndpoints(engine), cpes: resolveClusterPolicyEndpoints(engine), pods };
  };
  return { a: of(a), b: of(b) };
});

/**
 * A change at position `at` of a list: the other cluster's object there, a fresh copy of its own, dropped, or the same
 * object (name, pods) with the rules of the other cluster's object (`rules`) or of another object of its own list
 * (`share`: equal peers, which share sets), or a new object with its own rules and another object's pods (`pods`: a
 * pod joining or leaving a policy rewrites its objects, not its rules).
 */
const changeArb = fc.record({ list: fc.constantFrom('pes', 'cpes', 'cpes', 'pes', 'pods'), at: fc.nat(40), from: fc.nat(40), how: fc.constantFrom('other', 'copy', 'drop', 'rules', 'share', 'share', 'pods', 'pods') });

function withRules<T extends PolicyEndpoint | ClusterPolicyEndpoint>(o: T, from: T | undefined): T {
  if (!from) return o;
  const { ingress: _i, egress: _e, ...spec } = o.spec;
  return { ...o, spec: { ...spec, ...(from.spec.ingress ? { ingress: from.spec.ingress } : {}), ...(from.spec.egress ? { egress: from.spec.egress } : {}) } } as T;
}

describe('compiling with memories equals compiling afresh', () => {
  it('after any sequence of changes, warm and fresh compiles write the same table, and the deltas lead there', () => {
    fc.assert(
      fc.property(objectsArb, fc.array(changeArb, { minLength: 1, maxLength: 8 }), fc.constantFrom<'standard' | 'strict'>('standard', 'strict'), ({ a, b }, changes, mode) => {
        const viewer = new NodeViewer();
        const compiler = new NodeCompiler();
        let pes = [...a.pes];
        let cpes = [...a.cpes];
        let pods = a.pods;
        const compileWarm = () => {
          const v = viewer.view(pes, cpes, pods);
          return compiler.compile({ policyEndpoints: v.policyEndpoints, clusterPolicyEndpoints: v.clusterPolicyEndpoints, pods: v.pods, nodeAddresses: ['10.99.0.11'], mode }, { logGroup: 7, podInterfaces: 'eni*' });
        };
        const compileFresh = () =>
          compileNode({ policyEndpoints: structuredClone(pes), clusterPolicyEndpoints: structuredClone(cpes), pods: structuredClone(pods), nodeAddresses: ['10.99.0.11'], mode }, { logGroup: 7, podInterfaces: 'eni*', remember: false });
        const tags = (s: DesiredState) => [...s.logTags];
        let prev = compileWarm();
        const first = compileFresh();
        expect(renderFull(prev)).toBe(renderFull(first));
        expect(tags(prev)).toEqual(tags(first));
        for (const ch of changes) {
          if (ch.list === 'pods') {
            // A local pod leaves the node (or, when none is left, they all come back).
            pods = pods.length > 0 ? pods.filter((_, k) => k !== ch.at % pods.length) : a.pods;
            const warm = compileWarm();
            expect(renderFull(warm)).toBe(renderFull(compileFresh()));
            prev = warm;
            continue;
          }
          const list: (PolicyEndpoint | ClusterPolicyEndpoint)[] = ch.list === 'pes' ? pes : cpes;
          const other: readonly (PolicyEndpoint | ClusterPolicyEndpoint)[] = ch.list === 'pes' ? b.pes : b.cpes;
          if (list.length === 0) continue;
          const i = ch.at % list.length;
          const pick = (o: PolicyEndpoint | ClusterPolicyEndpoint, k: number) => {
            if (ch.how === 'copy') return structuredClone(o);
            if (ch.how === 'other') return other[k % Math.max(1, other.length)] ?? o;
            if (ch.how === 'rules') return withRules(o, other.length > 0 ? other[ch.from % other.length] : undefined);
            if (ch.how === 'pods') {
              const donor = [...list, ...other][ch.from % (list.length + other.length)];
              return { ...o, spec: { ...o.spec, podSelectorEndpoints: donor.spec.podSelectorEndpoints ?? [] } } as typeof o;
            }
            return withRules(o, list[ch.from % list.length]);
          };
          const next = ch.how === 'drop' ? list.filter((_, k) => k !== i) : list.map((o, k) => (k !== i ? o : pick(o, k)));
          if (ch.list === 'pes') pes = next as PolicyEndpoint[];
          else cpes = next as ClusterPolicyEndpoint[];
          const warm = compileWarm();
          const fresh = compileFresh();
          expect(renderFull(warm)).toBe(renderFull(fresh));
          expect(tags(warm)).toEqual(tags(fresh));
          // The delta from the last table must not depend on memory either: it is computed against equal states.
          expect(renderDelta(prev, warm)).toBe(renderDelta(prev, fresh));
          prev = warm;
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('equal peers share one set', () => {
  const pe = (ns: string, podIP: string, egress: { cidr: string }[]): PolicyEndpoint => ({
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'PolicyEndpoint',
    metadata: { name: `egress-${ns}`, namespace: ns },
    spec: { policyRef: { name: 'egress', namespace: ns }, podIsolation: ['Egress'], podSelectorEndpoints: [{ podIP, hostIP: '10.99.0.11', name: 'p', namespace: ns }], egress },
  });
  const pods: LocalPod[] = [{ ips: ['10.0.1.1'], ifname: 'eni1' }, { ips: ['10.0.2.1'], ifname: 'eni2' }, { ips: ['10.0.3.1'], ifname: 'eni3' }];
  // One compiler from compile to compile, as the agent keeps it: the pods whose sets change owner are rebuilt.
  const compiler = new NodeCompiler();
  const compileBoth = (pes: PolicyEndpoint[]) => {
    const input = { policyEndpoints: pes, pods, nodeAddresses: [], mode: 'standard' as const };
    const warm = compiler.compile(input);
    expect(renderFull(warm)).toBe(renderFull(compileNode({ ...input, policyEndpoints: structuredClone(pes) }, { remember: false })));
    return warm;
  };
  const dns = [{ cidr: '10.0.0.10/32' }];

  it('each namespace\'s copy of one egress policy is one set in the table; when the first copy changes, the others move to a set of their own', () => {
    const a = pe('ns-a', '10.0.1.1', dns);
    const b = pe('ns-b', '10.0.2.1', dns);
    const c = pe('ns-c', '10.0.3.1', dns);
    const first = compileBoth([a, b, c]);
    const peerSets = (s: typeof first) => [...s.sets.keys()].filter((n) => n.startsWith('pe_'));
    expect(peerSets(first)).toHaveLength(1);
    // ns-a (the first in key order, whose name the shared set has) now allows another address.
    const a2 = pe('ns-a', '10.0.1.1', [{ cidr: '10.0.0.11/32' }]);
    const second = compileBoth([a2, b, c]);
    expect(peerSets(second)).toHaveLength(2);
    const chainOf = (s: typeof first, ifname: string) => s.chains.get(s.sets.get('egress_dispatch')!.elements.find((e) => e.key === `"${ifname}"`)!.value!.replace('goto ', ''))!;
    const setOf = (s: typeof first, ifname: string) => /@(\S+)/.exec(chainOf(s, ifname).rules[0])![1];
    expect(setOf(second, 'eni2')).toBe(setOf(second, 'eni3'));
    expect(setOf(second, 'eni1')).not.toBe(setOf(second, 'eni2'));
    expect(second.sets.get(setOf(second, 'eni2'))!.elements.map((e) => e.key)).toEqual(['10.0.0.10 . 0-255']);
    expect(second.sets.get(setOf(second, 'eni1'))!.elements.map((e) => e.key)).toEqual(['10.0.0.11 . 0-255']);
  });
});
