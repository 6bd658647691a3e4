/** The parts of `agent verify` that need no root: which objects enter the proof, what is named unenforceable, --help. */
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { localObjects, maxEntriesPerPod, proveObjects, unenforceableEntries, type NodeObjects } from '../../src/agent/verify.js';
import type { PolicyEndpoint } from '../../src/api/policyendpoint.js';
import type { ClusterPolicyEndpoint } from '../../src/api/policyendpoint.js';
import { agentCommand } from '../../src/cli/agent.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import { compileNode } from '../../src/nft/compile.js';
import { rulesetFromState } from '../../src/nft/interpret.js';
import { clusterArb } from '../../src/scenarios/random.js';
import { objectsExpectation } from '../../src/verify/expect.js';
import { proveNode } from '../../src/verify/prove.js';
import { localPods, translate } from '../verify/support.js';

function nodeOf(generated: Parameters<typeof translate>[0], node: string): NodeObjects {
  const t = translate(generated);
  const n = t.cluster.nodes.find((x) => x.name === node)!;
  const pods = localPods(t.cluster, node).map((e, i) => ({ name: e.name, namespace: e.namespace, ips: e.ips, ifname: `eni${i}` }));
  return { policyEndpoints: t.policyEndpoints, clusterPolicyEndpoints: t.clusterPolicyEndpoints, pods, nodeAddresses: n.addresses, mode: 'standard' };
}

describe('agent verify without root', () => {
  it("the self-check's work bound counts the entries of each pod's own objects (20 000 entries on one pod: 20 001)", () => {
    const pe = (name: string, ip: string, entries: number): PolicyEndpoint => ({
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'PolicyEndpoint',
      metadata: { name, namespace: 'ns' },
      spec: {
        policyRef: { name, namespace: 'ns' },
        podIsolation: ['Ingress'],
        podSelectorEndpoints: [{ podIP: ip, hostIP: '10.99.0.1', name: `pod-${ip}`, namespace: 'ns' }],
        ingress: Array.from({ length: entries }, (_, i) => ({ cidr: `10.100.${i >> 8}.${i & 255}/32` })),
      },
    });
    const node: NodeObjects = {
      policyEndpoints: [pe('big', '10.0.0.1', 20_000), pe('small', '10.0.0.2', 3), pe('also-big', '10.0.0.1', 1), pe('remote', '10.0.9.9', 50_000)],
      clusterPolicyEndpoints: [],
      pods: [{ ips: ['10.0.0.1'], ifname: 'eni0' }, { ips: ['10.0.0.2'], ifname: 'eni1' }],
      nodeAddresses: ['10.99.0.1'],
      mode: 'standard',
    };
    expect(maxEntriesPerPod(node)).toBe(20_001);
    expect(maxEntriesPerPod({ ...node, policyEndpoints: [node.policyEndpoints[1]] })).toBe(3);
  });

  it('leaving out the objects that select no local pod changes no proof (random tiered clusters)', () => {
    fc.assert(
      fc.property(clusterArb({ tiers: true, maxPods: 6, maxPolicies: 3 }), fc.boolean(), (generated, broken) => {
        const node = nodeOf(generated, 'node0');
        const state = compileNode(node);
        // Also on a broken table (one dispatch map emptied): both must find a difference, or neither.
        const rs = rulesetFromState(broken ? { ...state, sets: new Map([...state.sets].map(([k, s]) => [k, k === 'ingress_dispatch' ? { ...s, elements: [] } : s])) } : state);
        const all = proveNode(rs, node.pods.map((p) => ({ id: `${p.namespace}/${p.name}`, ifname: p.ifname, ips: p.ips })), node.nodeAddresses, objectsExpectation(node, new Map(node.pods.map((p) => [p.ifname, p]))));
        expect(proveObjects(rs, node).proved).toBe(all.proved);
        const local = localObjects(node);
        expect(local.policyEndpoints.length).toBeLessThanOrEqual(node.policyEndpoints.length);
      }),
      { numRuns: 40, seed: 99 },
    );
  });

  it('a policy split over two objects stays whole when one of them selects a local pod', () => {
    const node = nodeOf(fc.sample(clusterArb({ maxPods: 4, maxPolicies: 2 }).filter((g) => g.policies.length > 0), { numRuns: 1, seed: 5 })[0], 'node0');
    const pe = {
      apiVersion: 'networking.k8s.aws/v1alpha1' as const, kind: 'PolicyEndpoint' as const,
      spec: { policyRef: { name: 'split', namespace: 'x' }, podIsolation: ['Ingress' as const] },
    };
    const selecting = { ...pe, metadata: { name: 'split-a', namespace: 'x' }, spec: { ...pe.spec, podSelectorEndpoints: [{ podIP: '10.0.0.1', hostIP: '', name: 'p0', namespace: 'x' }] } };
    const rules = { ...pe, metadata: { name: 'split-b', namespace: 'x' }, spec: { ...pe.spec, ingress: [{ cidr: '10.9.0.0/16' }] } };
    const elsewhere = { ...pe, metadata: { name: 'other-a', namespace: 'x' }, spec: { ...pe.spec, policyRef: { name: 'other', namespace: 'x' }, podSelectorEndpoints: [{ podIP: '10.7.7.7', hostIP: '', name: 'far', namespace: 'x' }] } };
    const local = localObjects({ ...node, pods: [{ ips: ['10.0.0.1'], ifname: 'eni0' }], policyEndpoints: [selecting, rules, elsewhere] });
    expect(local.policyEndpoints.map((p) => p.spec.policyRef.name)).toEqual(['split']);
    expect(local.policyEndpoints[0].spec.ingress).toEqual([{ cidr: '10.9.0.0/16' }]);
  });

  it('names the entries without a cidr, which the agent cannot enforce', () => {
    const cpe: ClusterPolicyEndpoint = {
      apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ClusterPolicyEndpoint', metadata: { name: 'dns-allow' },
      spec: { policyRef: { name: 'dns-allow' }, tier: 'Admin', subject: { namespaces: {} }, priority: 5, egress: [{ cidr: '10.0.0.0/8', action: 'Accept' }, { domainName: '*.example.com', action: 'Accept' }] },
    };
    expect(unenforceableEntries({ policyEndpoints: [], clusterPolicyEndpoints: [cpe] })).toEqual(['ClusterPolicyEndpoint dns-allow: egress entry 1 (domainName *.example.com) has no cidr']);
  });

  it('--help names what it proves and shows an example; `agent` still needs --node', async () => {
    const out: string[] = [];
    const io: Io = { out: (t) => out.push(t), err: (t) => out.push(t), interactive: false, readStdin: () => '' };
    expect(await run(['agent', 'verify', '--help'], io, [agentCommand(new EventEmitter() as unknown as NodeJS.Process)])).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('nft -j list table inet palisade');
    expect(text).toContain('Examples:');
    expect(text).toContain('--policy-endpoints');
    expect(text).toContain('-o, --output');
    out.length = 0;
    expect(await run(['agent'], io, [agentCommand(new EventEmitter() as unknown as NodeJS.Process)])).toBe(2);
    expect(out.join('\n')).toContain("required option '--node <name>' not specified");
  });
});
