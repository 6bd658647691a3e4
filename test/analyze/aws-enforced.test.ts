/**
 * The "as AWS enforces it" rewrites checked against small independent statements of what AWS's agent does, over
 * generated inputs: the rewritten cluster, compiled by the engine, must give AWS's verdict on every flow.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { awsDivergences, awsPodIdentifier } from '../../src/analyze/aws-enforced.js';
import { diffClusters } from '../../src/analyze/diff.js';
import { compile } from '../../src/engine/engine.js';
import type { Cluster, Endpoint, NamespaceInfo, TierPeer, TierPolicy, TierRule } from '../../src/model/types.js';

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
