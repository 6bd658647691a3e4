import { describe, expect, it } from 'vitest';
import type { ClusterEndpointInfo, ClusterPolicyEndpoint, EndpointInfo, PolicyEndpoint, TrafficDirection } from '../api/policyendpoint.js';
import { compileNode, countState, resolvePeers, type LocalPod } from './compile.js';
import { renderDelta, renderFull } from './script.js';

function pe(name: string, opts: { pods: string[]; isolation: TrafficDirection[]; ingress?: EndpointInfo[]; egress?: EndpointInfo[] }): PolicyEndpoint {
  return {
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'PolicyEndpoint',
    metadata: { name: `${name}-abcde`, namespace: 'default' },
    spec: {
      policyRef: { name, namespace: 'default' },
      podIsolation: opts.isolation,
      podSelectorEndpoints: opts.pods.map((ip, i) => ({ podIP: ip, hostIP: '10.99.0.11', name: `p${i}`, namespace: 'default' })),
      ingress: opts.ingress,
      egress: opts.egress,
    },
  };
}

const pods: LocalPod[] = [
  { ips: ['10.0.1.1'], ifname: 'pl-v1' },
  { ips: ['10.0.1.2'], ifname: 'pl-v2' },
  { ips: ['10.0.1.3', 'fd00::1:3'], ifname: 'pl-v3' },
];

describe('resolvePeers', () => {
  it('keeps all-port entries as address intervals', () => {
    const r = resolvePeers([{ cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] }]);
    expect(r.any[4]).toHaveLength(2);
    expect(r.ports[4]).toHaveLength(0);
  });
  it('cuts overlapping cidrs into disjoint cells with the union of ports', () => {
    const r = resolvePeers([
      { cidr: '10.0.0.0/16', ports: [{ protocol: 'TCP', port: 80 }] },
      { cidr: '10.0.1.0/24', ports: [{ protocol: 'TCP', port: 81 }, { port: 8000, endPort: 8080 }] },
    ]);
    const cells = r.ports[4].map((c) => `${c.range.first}-${c.range.last}:${c.proto}:${c.from}-${c.to}`);
    // 10.0.0.0/24, then 10.0.1.0/24 with 80-81 and 8000-8080, then the rest of the /16.
    expect(cells).toHaveLength(4);
    expect(new Set(cells).size).toBe(4);
  });
  it('protocol without port means every port of it', () => {
    const r = resolvePeers([{ cidr: '10.0.0.1/32', ports: [{ protocol: 'UDP' }] }]);
    expect(r.ports[4]).toEqual([{ range: expect.anything(), proto: 'UDP', from: 0, to: 65535 }]);
  });
});

describe('compileNode', () => {
  it('standard mode: unselected pods pass, isolated pods jump to a shared group chain', () => {
    const s = compileNode({
      mode: 'standard',
      nodeAddresses: ['10.99.0.11'],
      pods,
      policyEndpoints: [pe('web', { pods: ['10.0.1.1', '10.0.1.2'], isolation: ['Ingress'], ingress: [{ cidr: '10.0.2.0/24', ports: [{ port: 80 }] }] })],
    });
    const ing = s.sets.get('ingress_dispatch')!.elements;
    expect(ing.find((e) => e.key === '"pl-v1"')?.value).toMatch(/^goto in_/);
    expect(ing.find((e) => e.key === '"pl-v1"')?.value).toBe(ing.find((e) => e.key === '"pl-v2"')?.value);
    expect(ing.find((e) => e.key === '"pl-v3"')?.value).toBe('accept');
    expect(s.sets.get('egress_dispatch')!.elements.every((e) => e.value === 'goto ingress_check')).toBe(true);
    expect(renderFull(s)).toContain('tcp . 80');
  });

  it('strict mode: unselected pods deny both ways, and unknown pod interfaces are denied', () => {
    const s = compileNode({ mode: 'strict', nodeAddresses: [], pods, policyEndpoints: [] }, { podInterfaces: 'pl-v*' });
    expect(s.sets.get('ingress_dispatch')!.elements.every((e) => e.value === 'goto deny_ingress')).toBe(true);
    expect(s.chains.get('forward_filter')!.rules).toContain('iifname "pl-v*" goto deny_egress');
  });

  it('the first rules are conntrack rules', () => {
    const s = compileNode({ mode: 'standard', nodeAddresses: [], pods: [], policyEndpoints: [] });
    expect(s.chains.get('forward_filter')!.rules.slice(0, 2)).toEqual(['ct state established,related accept', 'ct state invalid drop']);
  });

  it('elements grow with rules and pods, not pods × pods', () => {
    const many: LocalPod[] = Array.from({ length: 200 }, (_, i) => ({ ips: [`10.0.${i >> 8}.${i & 255}`], ifname: `pl-v${i}` }));
    const peerIPs = Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255}/32`);
    const s = compileNode({
      mode: 'standard',
      nodeAddresses: [],
      pods: many,
      policyEndpoints: [pe('all', { pods: many.map((p) => p.ips[0]), isolation: ['Ingress', 'Egress'], ingress: peerIPs.map((cidr) => ({ cidr, ports: [{ port: 80 }] })), egress: [{ cidr: '0.0.0.0/0' }] })],
    });
    const c = countState(s);
    // 1000 peers are adjacent /32s: merged into one interval per port cell; dispatch = 2 × 200 pods.
    expect(c.elements).toBeLessThanOrEqual(2 * 200 + 1000 + 10);
    expect(c.chains).toBe(5); // forward_filter, input_filter, ingress_check, one ingress group, one egress group
  });

  it('logs denials with the policies that isolate, accepts with the policy that matched', () => {
    const s = compileNode(
      { mode: 'standard', nodeAddresses: [], pods, policyEndpoints: [pe('web', { pods: ['10.0.1.1'], isolation: ['Ingress'], ingress: [{ cidr: '10.0.0.0/8' }] })] },
      { logGroup: 7, logAccept: true },
    );
    const tags = [...s.logTags.values()];
    expect(tags).toContainEqual({ verdict: 'DENY', direction: 'ingress', policies: ['default/web'], tier: 'NETWORK_POLICY' });
    expect(tags).toContainEqual({ verdict: 'ACCEPT', direction: 'ingress', policies: ['default/web'], tier: 'NETWORK_POLICY' });
    expect(renderFull(s)).toMatch(/log prefix "pl D i [0-9a-f]+" group 7/);
  });
});

describe('renderDelta', () => {
  const base = { mode: 'standard' as const, nodeAddresses: ['10.99.0.11'], pods };
  const web = (ports: number[]) => pe('web', { pods: ['10.0.1.1'], isolation: ['Ingress'], ingress: [{ cidr: '10.0.2.0/24', ports: ports.map((port) => ({ port })) }] });

  it('is empty when nothing changed', () => {
    const a = compileNode({ ...base, policyEndpoints: [web([80])] });
    const b = compileNode({ ...base, policyEndpoints: [web([80])] });
    expect(renderDelta(a, b)).toBe('');
  });

  it('a changed port is one element delete and one add, nothing else', () => {
    const a = compileNode({ ...base, policyEndpoints: [web([80])] });
    const b = compileNode({ ...base, policyEndpoints: [web([81])] });
    const lines = renderDelta(a, b).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^delete element inet palisade pe_\w+_i4p \{ 10\.0\.2\.0-10\.0\.2\.255 \. tcp \. 80 \}$/);
    expect(lines[1]).toMatch(/^add element inet palisade pe_\w+_i4p \{ 10\.0\.2\.0-10\.0\.2\.255 \. tcp \. 81 \}$/);
  });

  it('removing the policy removes its chain and sets after the dispatch entry', () => {
    const a = compileNode({ ...base, policyEndpoints: [web([80])] });
    const b = compileNode({ ...base, policyEndpoints: [] });
    const d = renderDelta(a, b);
    const idxMap = d.indexOf('delete element inet palisade ingress_dispatch');
    const idxChain = d.indexOf('delete chain inet palisade in_');
    const idxSet = d.indexOf('delete set inet palisade pe_');
    expect(idxMap).toBeGreaterThanOrEqual(0);
    expect(idxMap).toBeLessThan(idxChain);
    expect(idxChain).toBeLessThan(idxSet);
    expect(d).toContain('add element inet palisade ingress_dispatch { "pl-v1" : accept }');
  });

  it('a new pod adds only its dispatch entries', () => {
    const a = compileNode({ ...base, policyEndpoints: [web([80])] });
    const b = compileNode({ ...base, pods: [...pods, { ips: ['10.0.1.9'], ifname: 'pl-v9' }], policyEndpoints: [web([80])] });
    const lines = renderDelta(a, b).trim().split('\n');
    expect([...lines].sort()).toEqual([
      'add element inet palisade egress_dispatch { "pl-v9" : goto ingress_check }',
      'add element inet palisade ingress_dispatch { "pl-v9" : accept }',
    ]);
  });

  it('full render recreates the table in one transaction', () => {
    const s = compileNode({ ...base, policyEndpoints: [web([80])] });
    const lines = renderFull(s).split('\n');
    expect(lines.slice(0, 3)).toEqual(['add table inet palisade', 'delete table inet palisade', 'add table inet palisade']);
  });
});

describe('scale', () => {
  it('compiles 20 000 non-adjacent peers quickly (sweep, not pairwise)', () => {
    const ingress = Array.from({ length: 20_000 }, (_, i) => ({ cidr: `10.100.${(i * 2) >> 8}.${(i * 2) & 255}/32`, ports: [{ port: 80 }] }));
    const t0 = performance.now();
    const s = compileNode({ mode: 'standard', nodeAddresses: [], pods, policyEndpoints: [pe('big', { pods: ['10.0.1.1'], isolation: ['Ingress'], ingress })] });
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(countState(s).elements).toBe(20_000 + 6);
  });
});

function cpe(name: string, tier: 'Admin' | 'Baseline', priority: number, podIPs: string[], ingress: ClusterEndpointInfo[]): ClusterPolicyEndpoint {
  return {
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'ClusterPolicyEndpoint',
    metadata: { name: `${name}-zzzzz` },
    spec: {
      policyRef: { name },
      tier,
      priority,
      subject: { namespaces: {} },
      podSelectorEndpoints: podIPs.map((ip, i) => ({ podIP: ip, hostIP: '10.99.0.11', name: `p${i}`, namespace: 'default' })),
      ingress,
    },
  };
}

describe('admin tiers (ClusterPolicyEndpoints)', () => {
  /** A pod's entry in one of the ingress verdict maps (`admin`, `dispatch`, `default`), if any. */
  const entryOf = (s: ReturnType<typeof compileNode>, ifname: string, stage: 'admin' | 'dispatch' | 'default' = 'dispatch') =>
    s.sets.get(`ingress_${stage}`)!.elements.find((e) => e.key === `"${ifname}"`)?.value;
  const verdictOf = (s: ReturnType<typeof compileNode>, ifname: string) => entryOf(s, ifname)!;
  const chainOf = (s: ReturnType<typeof compileNode>, verdict: string) => s.chains.get(verdict.replace(/^(goto|jump) /, ''))!;
  /** A tier stage's rules, jumped to from a verdict map: Pass and no match return to the next map. */
  const stageOf = (s: ReturnType<typeof compileNode>, verdict: string | undefined) => {
    expect(verdict).toMatch(/^jump (ad|bl)[ie]r_\w+$/);
    return chainOf(s, verdict!);
  };

  // name, inputs, the stage chain's expectations.
  const cases: { name: string; cpes: ClusterPolicyEndpoint[]; pes: PolicyEndpoint[]; check: (s: ReturnType<typeof compileNode>) => void }[] = [
    {
      name: 'admin entries in order, same-action runs share sets, Pass and no match go on to the NetworkPolicy stage',
      cpes: [cpe('a', 'Admin', 10, ['10.0.1.1'], [
        { cidr: '10.0.2.1', action: 'Deny' },
        { cidr: '10.0.2.2', action: 'Deny', ports: [{ protocol: 'TCP', port: 80 }] },
        { cidr: '10.0.2.0/24', action: 'Pass' },
        { cidr: '0.0.0.0/0', action: 'Accept' },
      ])],
      pes: [pe('np', { pods: ['10.0.1.1'], isolation: ['Ingress'], ingress: [{ cidr: '10.0.2.9' }] })],
      check: (s) => {
        const admin = stageOf(s, entryOf(s, 'pl-v1', 'admin'));
        expect(admin.name).toMatch(/^adir_/);
        const np = [...s.chains.keys()].find((k) => k.startsWith('in_'))!;
        expect(verdictOf(s, 'pl-v1')).toBe(`goto ${np}`);
        // Pass returns to the base chain, which goes on to the NetworkPolicy stage's map; so does no match.
        expect(admin.rules).toEqual([
          expect.stringMatching(/^ip saddr \. meta l4proto @cp_\w+_i04a counter name "drop_ingress" drop$/),
          expect.stringMatching(/^ip saddr \. meta l4proto \. th dport @cp_\w+_i04p counter name "drop_ingress" drop$/),
          expect.stringMatching(/^ip saddr \. meta l4proto @cp_\w+_i14a return$/),
          expect.stringMatching(/^ip saddr \. meta l4proto @cp_\w+_i24a counter name "accept_ingress" accept$/),
        ]);
      },
    },
    {
      name: 'a pod no PolicyEndpoint isolates goes from admin to baseline, then to the default (accept)',
      cpes: [cpe('b', 'Baseline', 0, ['10.0.1.2'], [{ cidr: '10.0.2.0/24', action: 'Deny' }]), cpe('a', 'Admin', 5, ['10.0.1.2'], [{ cidr: '10.0.3.0/24', action: 'Pass' }])],
      pes: [],
      check: (s) => {
        const admin = stageOf(s, entryOf(s, 'pl-v2', 'admin'));
        const baseline = stageOf(s, verdictOf(s, 'pl-v2'));
        expect(baseline.name).toMatch(/^blir_/);
        expect(entryOf(s, 'pl-v2', 'default')).toBe('accept');
        expect(admin.rules[0]).toBe(`ip saddr . meta l4proto @${[...s.sets.keys()].find((k) => k.endsWith('_i04a') && admin.rules[0].includes(k))} return`);
        // A pod without tier policies has no admin entry and no default entry: its dispatch entry decides.
        expect(entryOf(s, 'pl-v1', 'admin')).toBeUndefined();
        expect(entryOf(s, 'pl-v1', 'default')).toBeUndefined();
        expect(verdictOf(s, 'pl-v1')).toBe('accept');
      },
    },
    {
      name: 'admin policies by priority: the lower number first, whatever the input order',
      cpes: [cpe('late', 'Admin', 20, ['10.0.1.1'], [{ cidr: '10.0.2.1', action: 'Accept' }]), cpe('early', 'Admin', 3, ['10.0.1.1'], [{ cidr: '10.0.2.1', action: 'Deny' }])],
      pes: [],
      check: (s) => {
        const admin = stageOf(s, entryOf(s, 'pl-v1', 'admin'));
        expect(admin.rules[0]).toContain('drop');
        expect(admin.rules[1]).toContain('accept');
        expect(verdictOf(s, 'pl-v1')).toBe('accept');
      },
    },
    {
      name: 'an isolating NetworkPolicy decides: baseline is never reached',
      cpes: [cpe('b', 'Baseline', 0, ['10.0.1.1'], [{ cidr: '0.0.0.0/0', action: 'Accept' }])],
      pes: [pe('np', { pods: ['10.0.1.1'], isolation: ['Ingress'] })],
      check: (s) => {
        expect(verdictOf(s, 'pl-v1')).toMatch(/^goto in_/);
        expect([...s.chains.keys()].some((k) => k.startsWith('blir_'))).toBe(false);
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = compileNode({ policyEndpoints: c.pes, clusterPolicyEndpoints: c.cpes, pods, nodeAddresses: ['10.99.0.11'], mode: 'standard' });
      c.check(s);
    });
  }

  it('flow-log tags name the tier and the cluster policy', () => {
    const s = compileNode(
      { policyEndpoints: [], clusterPolicyEndpoints: [cpe('guard', 'Admin', 1, ['10.0.1.1'], [{ cidr: '10.0.2.0/24', action: 'Deny' }]), cpe('floor', 'Baseline', 0, ['10.0.1.1'], [{ cidr: '10.0.3.0/24', action: 'Accept' }])], pods, nodeAddresses: [], mode: 'standard' },
      { logGroup: 7 },
    );
    const tags = [...s.logTags.values()];
    expect(tags).toContainEqual({ verdict: 'DENY', direction: 'ingress', policies: ['guard'], tier: 'ADMIN' });
    expect(tags).toContainEqual({ verdict: 'ACCEPT', direction: 'ingress', policies: ['floor'], tier: 'BASELINE' });
  });

  it('a delta that removes a tier stage and the NetworkPolicy chain it jumps to empties both before deleting either', () => {
    const input = { pods, nodeAddresses: [], mode: 'standard' as const };
    const before = compileNode({ ...input, policyEndpoints: [pe('np', { pods: ['10.0.1.1'], isolation: ['Ingress'] })], clusterPolicyEndpoints: [cpe('a', 'Admin', 1, ['10.0.1.1'], [{ cidr: '10.0.2.0/24', action: 'Pass' }])] });
    const script = renderDelta(before, compileNode({ ...input, policyEndpoints: [] }));
    const lines = script.trim().split('\n');
    const lastFlush = Math.max(...lines.map((l, i) => (l.startsWith('flush chain') ? i : -1)));
    const firstDelete = lines.findIndex((l) => l.startsWith('delete chain'));
    expect(firstDelete).toBeGreaterThan(lastFlush);
    // The stage's rules and the NetworkPolicy chain.
    expect(lines.filter((l) => l.startsWith('delete chain'))).toHaveLength(2);
  });
});
