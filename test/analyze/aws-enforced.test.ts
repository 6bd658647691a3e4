/**
 * The "as AWS enforces it" rewrites checked against small independent statements of what AWS's agent does, over
 * generated inputs: the rewritten cluster, compiled by the engine, must give AWS's verdict on every flow.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { awsDivergences, awsPodIdentifier } from '../../src/analyze/aws-enforced.js';
import { diffClusters } from '../../src/analyze/diff.js';
import { compile } from '../../src/engine/engine.js';
import type { Cluster, Endpoint, HostNetworkPod, NamespaceInfo, PolicyObject, TierPeer, TierPolicy, TierRule } from '../../src/model/types.js';
import type { NetworkPolicyPeer } from '../../src/api/types.js';
import { parseCIDR, parseIP } from '../../src/api/ip.js';

const nsInfo = (name: string, labels: Record<string, string> = {}): NamespaceInfo => ({ name, labels: { 'kubernetes.io/metadata.name': name, ...labels }, implicit: false });
const ep = (namespace: string, name: string, labels: Record<string, string>, ip: string): Endpoint => ({ id: `${namespace}/${name}`, kind: 'Pod', namespace, name, labels, ips: [ip], ports: [] });

const PODS = [ep('shop', 'web', { app: 'web' }, '10.0.1.1'), ep('shop', 'db', { app: 'db' }, '10.0.1.2'), ep('ops', 'prom', { app: 'prom' }, '10.0.2.1')];
const NAMESPACES = new Map([['shop', nsInfo('shop', { team: 'shop' })], ['ops', nsInfo('ops', { team: 'ops' })]]);

type PeerName = 'db' | 'ops' | 'all';
const PEERS: Readonly<Record<PeerName, TierPeer>> = {
  db: { kind: 'pods', selector: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } } },
  ops: { kind: 'pods', selector: { namespaceSelector: { matchLabels: { team: 'ops' } } } },
  all: { kind: 'pods', selector: { namespaceSelector: {} } },
};
const peerMatches = (peer: PeerName, to: Endpoint): boolean => peer === 'all' || (peer === 'db' ? to.labels.app === 'db' : to.namespace === 'ops');

interface GenRule {
  readonly action: TierRule['action'];
  readonly peer: PeerName;
  /** Only TCP 80, or every port. */
  readonly only80: boolean;
}
const ruleArb = fc.record({ action: fc.constantFrom<TierRule['action']>('Allow', 'Deny', 'Pass'), peer: fc.constantFrom<PeerName>('db', 'ops', 'all'), only80: fc.boolean() });

function tierPolicy(name: string, priority: number, rules: readonly GenRule[]): TierPolicy {
  return {
    tier: 'Admin',
    name,
    priority,
    kind: 'ClusterNetworkPolicy',
    group: 'networking.k8s.aws',
    subject: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } },
    ingress: [],
    egress: rules.map((r) => ({ action: r.action, peers: [PEERS[r.peer]], ...(r.only80 ? { ports: [{ kind: 'range' as const, protocol: 'TCP' as const, from: 80, to: 80 }] } : {}) })),
  };
}

const cluster = (tierPolicies: readonly TierPolicy[]): Cluster => ({ namespaces: NAMESPACES, endpoints: PODS, policies: [], tierPolicies, nodes: [], services: [] });
const RANK = { Deny: 0, Allow: 1, Pass: 2 } as const;
const hits = (r: GenRule, to: Endpoint, port: number) => peerMatches(r.peer, to) && (!r.only80 || port === 80);

/** AWS's agent: every matching rule of the tie at once, Deny before Accept before Pass; Pass and no match fall through to allow. */
function awsAllows(policies: readonly (readonly GenRule[])[], from: Endpoint, to: Endpoint, port: number): boolean {
  if (from.namespace !== 'shop') return true;
  const ranks = policies.flat().filter((r) => hits(r, to, port)).map((r) => RANK[r.action]);
  return ranks.length === 0 || Math.min(...ranks) !== 0;
}

/** First match over the policies in the given order, each one's rules in the given order. */
function firstMatchAllows(ordered: readonly (readonly GenRule[])[], from: Endpoint, to: Endpoint, port: number): boolean {
  if (from.namespace !== 'shop') return true;
  for (const rules of ordered) for (const r of rules) if (hits(r, to, port)) return r.action !== 'Deny';
  return true;
}

const FLOWS = PODS.flatMap((a) => PODS.filter((b) => b !== a).flatMap((b) => [80, 443].map((port) => ({ a, b, port }))));

describe('aws-priority-tie: the rewritten cluster gives the AWS agent verdict', () => {
  it('for two or three AWS ClusterNetworkPolicies at one priority, on every flow; reported exactly when the tie changes a flow', () => {
    fc.assert(
      fc.property(fc.array(fc.array(ruleArb, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 }), (generated) => {
        const input = cluster(generated.map((rules, i) => tierPolicy(`p${i}`, 7, rules)));
        const ties = awsDivergences(input).filter((d) => d.ruleId === 'aws-priority-tie');
        expect(ties).toHaveLength(1);
        const engine = compile(ties[0].enforced);
        for (const { a, b, port } of FLOWS) {
          expect(engine.verdict({ from: a.id, to: b.id, protocol: 'TCP', port }).allowed, `${a.id} -> ${b.id}:${port}`).toBe(awsAllows(generated, a, b, port));
        }
        // The baseline is each policy's own rules in AWS's order, the policies by name (as Palisade breaks the tie).
        const sorted = generated.map((rules) => [...rules].sort((x, y) => RANK[x.action] - RANK[y.action]));
        const dependsOnTie = FLOWS.some(({ a, b, port }) => firstMatchAllows(sorted, a, b, port) !== awsAllows(generated, a, b, port));
        const diff = diffClusters(ties[0].baseline ?? input, ties[0].enforced);
        expect(diff.opened.length + diff.closed.length > 0).toBe(dependsOnTie);
      }),
      { numRuns: 60 },
    );
  });

  it('policies at distinct priorities, or of the upstream API, are no tie for AWS', () => {
    const rules: GenRule[] = [{ action: 'Allow', peer: 'db', only80: false }];
    expect(awsDivergences(cluster([tierPolicy('a', 1, rules), tierPolicy('b', 2, rules)])).filter((d) => d.ruleId === 'aws-priority-tie')).toEqual([]);
    const upstream = [tierPolicy('a', 1, rules), tierPolicy('b', 1, rules)].map(({ group: _g, ...p }) => ({ ...p, kind: 'AdminNetworkPolicy' }));
    expect(awsDivergences(cluster(upstream)).filter((d) => d.ruleId === 'aws-priority-tie')).toEqual([]);
  });
});

describe('aws-except-across-rules across policies: the rewritten cluster gives the AWS agent verdict', () => {
  const CIDRS = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32', '10.2.0.0/16', '10.1.128.0/17'];
  const ADDRESSES = ['10.1.2.3', '10.1.2.4', '10.1.3.1', '10.1.200.1', '10.2.0.1', '10.3.0.1', '11.0.0.1'];
  const contains = (cidr: string, ip: string) => {
    const r = parseCIDR(cidr)!;
    const a = parseIP(ip)!;
    return a.value >= r.first && a.value <= r.last;
  };
  const strictlyInside = (inner: string, outer: string) => inner !== outer && contains(outer, inner.split('/')[0]) && Number(inner.split('/')[1]) > Number(outer.split('/')[1]);
  const np = (name: string, to: NetworkPolicyPeer[]): PolicyObject => ({ policy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: 'shop' }, spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ to }] } } });

  /** The agent for web's egress: every block an allow entry, every except not itself an entry a deny entry, longest prefix decides. */
  function awsEgressAllows(blocks: readonly { cidr: string; except: readonly string[] }[], ip: string): boolean {
    const allow = new Set(blocks.map((b) => b.cidr));
    const deny = new Set(blocks.flatMap((b) => b.except).filter((x) => !allow.has(x)));
    const hit = [...allow, ...deny].filter((c) => contains(c, ip)).sort((a, b) => Number(b.split('/')[1]) - Number(a.split('/')[1]))[0];
    return hit !== undefined && allow.has(hit);
  }

  it('one policy with an except-bearing block, another with plain blocks, for the pod both select', () => {
    const blockArb = fc.constantFrom(...CIDRS).chain((cidr) => fc.subarray(CIDRS.filter((c) => strictlyInside(c, cidr))).map((except) => ({ cidr, except })));
    fc.assert(
      fc.property(blockArb, fc.uniqueArray(fc.constantFrom(...CIDRS), { minLength: 1, maxLength: 2 }), (a, bBlocks) => {
        const input: Cluster = {
          namespaces: new Map([['shop', nsInfo('shop')]]),
          endpoints: [ep('shop', 'web', { app: 'web' }, '10.9.9.9')],
          policies: [np('a', [{ ipBlock: { cidr: a.cidr, ...(a.except.length > 0 ? { except: a.except } : {}) } }]), np('b', bBlocks.map((cidr) => ({ ipBlock: { cidr } })))],
          tierPolicies: [],
          nodes: [],
          services: [],
        };
        const found = awsDivergences(input).filter((d) => d.ruleId === 'aws-except-across-rules');
        // a's except is a's own block's already; b has no except: only b can be rewritten, by a's excepts.
        expect(found.every((d) => d.object === 'NetworkPolicy shop/b')).toBe(true);
        const engine = compile(found[0]?.enforced ?? input);
        const blocks = [a, ...bBlocks.map((cidr) => ({ cidr, except: [] }))];
        for (const ip of ADDRESSES) {
          expect(engine.verdict({ from: 'shop/web', to: ip, protocol: 'TCP', port: 80 }).allowed, `${JSON.stringify(blocks)} ${ip}`).toBe(awsEgressAllows(blocks, ip));
        }
      }),
      { numRuns: 80 },
    );
  });
});

describe('aws-host-network-peer: the rewritten cluster admits exactly what AWS\'s controller writes', () => {
  // The controller lists every pod of the peer's namespaces that its podSelector matches, hostNetwork ones included, and
  // writes status.podIP (pkg/resolvers/endpoints.go:118-131): a hostNetwork pod's is its node's address.
  const NS = ['monitoring', 'kube-system'];
  const hostArb = fc.record({ ns: fc.constantFrom(...NS), app: fc.constantFrom('exporter', 'proxy'), node: fc.integer({ min: 1, max: 6 }) });
  const peerArb = fc.record({ ns: fc.option(fc.constantFrom(...NS), { nil: undefined }), app: fc.option(fc.constantFrom('exporter', 'proxy'), { nil: undefined }) });
  it('for generated hostNetwork pods and ingress peers, on every node address', () => {
    fc.assert(
      fc.property(fc.uniqueArray(hostArb, { maxLength: 5, selector: (h) => h.node }), peerArb, (hosts, peer) => {
        const hostNetworkPods: HostNetworkPod[] = hosts.map((h, i) => ({ namespace: h.ns, name: `${h.app}-${i}`, labels: { app: h.app }, ips: [`10.0.50.${h.node}`], ports: [] }));
        const peerObj: NetworkPolicyPeer = peer.ns === undefined && peer.app === undefined ? { podSelector: {} } : { ...(peer.ns ? { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': peer.ns } } } : {}), ...(peer.app ? { podSelector: { matchLabels: { app: peer.app } } } : {}) };
        const policy: PolicyObject = { policy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'in', namespace: 'monitoring' }, spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [peerObj], ports: [{ port: 8080 }] }] } } };
        const input: Cluster = {
          namespaces: new Map(NS.map((n) => [n, nsInfo(n)])),
          endpoints: [ep('monitoring', 'app', { app: 'app' }, '10.0.3.1')],
          policies: [policy],
          tierPolicies: [],
          nodes: [],
          services: [],
          hostNetworkPods,
        };
        const written = new Set(
          hostNetworkPods.filter((h) => (peer.ns ? h.namespace === peer.ns : h.namespace === 'monitoring') && (peer.app === undefined || h.labels.app === peer.app)).flatMap((h) => h.ips),
        );
        const found = awsDivergences(input).filter((d) => d.ruleId === 'aws-host-network-peer');
        expect(found.length).toBe(written.size > 0 ? 1 : 0);
        const engine = compile(found[0]?.enforced ?? input);
        for (let n = 1; n <= 6; n++) {
          const ip = `10.0.50.${n}`;
          expect(engine.verdict({ from: ip, to: 'monitoring/app', protocol: 'TCP', port: 8080 }).allowed, ip).toBe(written.has(ip));
          expect(engine.verdict({ from: ip, to: 'monitoring/app', protocol: 'TCP', port: 9090 }).allowed).toBe(false);
        }
      }),
      { numRuns: 80 },
    );
  });
});

describe('awsPodIdentifier (aws/aws-network-policy-agent pkg/utils/utils.go:177-188)', () => {
  const label = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
  const suffix = fc.stringMatching(/^[a-z0-9]{5}$/);

  it('replicas of one ReplicaSet, and the ordinals of one StatefulSet, share one identifier; namespaces never do', () => {
    fc.assert(
      fc.property(label, fc.stringMatching(/^[a-f0-9]{9,10}$/), suffix, suffix, label, label, (deploy, hash, s1, s2, ns1, ns2) => {
        const rs = `${deploy}-${hash}`;
        expect(awsPodIdentifier(`${rs}-${s1}`, ns1)).toBe(`${rs}@${ns1}`);
        expect(awsPodIdentifier(`${rs}-${s1}`, ns1)).toBe(awsPodIdentifier(`${rs}-${s2}`, ns1));
        expect(awsPodIdentifier(`${deploy}-0`, ns1)).toBe(awsPodIdentifier(`${deploy}-1`, ns1));
        if (ns1 !== ns2) expect(awsPodIdentifier(`${rs}-${s1}`, ns1)).not.toBe(awsPodIdentifier(`${rs}-${s1}`, ns2));
      }),
    );
  });

  it('collapses names that differ only in their last segment, keeps a name without "-", and turns "." into "_"', () => {
    expect(awsPodIdentifier('redis-client', 'shop')).toBe(awsPodIdentifier('redis-0', 'shop'));
    expect(awsPodIdentifier('nginx-a', 'a')).toBe('nginx@a');
    expect(awsPodIdentifier('nginx', 'a')).toBe('nginx@a');
    expect(awsPodIdentifier('web.v2-x', 'a')).toBe('web_v2@a');
  });
});
