/**
 * Flow-log records explained by the engine, without root: the fields each kind of decision adds (rule index and name,
 * isolating policy, tiers, default allow), `mismatch` only on a real disagreement, the AWS `msg` unchanged, the cache.
 */
import { describe, expect, it, vi } from 'vitest';
import { engineExplainer } from '../../src/agent/explain.js';
import { explainRecord, flowRecord, flowTuple, type FlowExplanation, type FlowRecord, type NflogPacket } from '../../src/agent/flowlog.js';
import { compile } from '../../src/engine/engine.js';
import type { LogTag } from '../../src/nft/compile.js';
import { clusterFromYaml, namespace, pod } from '../support/cluster.js';

const CLUSTER =
  namespace('default') +
  pod('default', 'a', '10.244.1.2', { app: 'a' }, ['80/TCP']) +
  pod('default', 'b', '10.244.1.3', { app: 'b' }, ['80/TCP', '81/TCP']) +
  pod('default', 'c', '10.244.2.2', { app: 'c' }, ['80/TCP']) +
  `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ingress, namespace: default}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - {from: [{podSelector: {matchLabels: {app: c}}}], ports: [{port: 81}]}
  - {from: [{podSelector: {matchLabels: {app: a}}}], ports: [{port: 80}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-metadata}
spec:
  tier: Admin
  priority: 0
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: c}}}}
  egress: [{name: block-imds, action: Deny, to: [{networks: [169.254.169.254/32]}]}]
---
`;

const engine = compile(clusterFromYaml(CLUSTER));

const packet = (src: string, dst: string, dstPort: number, protocol = 6): NflogPacket => ({
  prefix: 'pl A i 1', family: 4, src, dst, protocol, srcPort: 40000, dstPort, time: new Date('2025-01-01T00:00:00Z'),
});

/** The record the agent writes for a packet the kernel decided as `tag` says, explained by `engine`. */
function logged(p: NflogPacket, tag: LogTag): FlowRecord {
  const r = flowRecord(p, tag, 'n1')!;
  const e = engineExplainer(engine)(flowTuple(p, r.direction));
  return e ? explainRecord(r, e) : r;
}

const np = (verdict: 'ACCEPT' | 'DENY', direction: 'ingress' | 'egress' = 'ingress'): LogTag => ({ verdict, direction, policies: ['default/b-ingress'], tier: 'NETWORK_POLICY' });

describe('flow records explained by the engine', () => {
  const cases: { name: string; packet: NflogPacket; tag: LogTag; fields: Partial<FlowRecord>; absent?: (keyof FlowRecord)[] }[] = [
    {
      name: 'accepted by the second rule: rule index 1 and the policy',
      packet: packet('10.244.1.2', '10.244.1.3', 80),
      tag: np('ACCEPT'),
      fields: { verdict: 'ACCEPT', tier: 'NETWORK_POLICY', policy: 'default/b-ingress', rule: { index: 1 }, engineVerdict: 'ACCEPT', engineTier: 'NETWORK_POLICY' },
      absent: ['mismatch'],
    },
    {
      name: 'denied by isolation: the isolating policy, no rule',
      packet: packet('10.244.2.2', '10.244.1.3', 80),
      tag: np('DENY'),
      fields: { verdict: 'DENY', policy: 'default/b-ingress', engineVerdict: 'DENY', engineTier: 'NETWORK_POLICY' },
      absent: ['rule', 'mismatch'],
    },
    {
      name: 'an Admin rule with a name: index and name',
      packet: packet('10.244.2.2', '169.254.169.254', 80),
      tag: { verdict: 'DENY', direction: 'egress', policies: ['no-metadata'], tier: 'ADMIN' },
      fields: { tier: 'ADMIN', policy: 'no-metadata', rule: { index: 0, name: 'block-imds' }, engineVerdict: 'DENY', engineTier: 'ADMIN' },
      absent: ['mismatch'],
    },
    {
      name: 'the kernel accepts what the engine denies: mismatch',
      packet: packet('10.244.2.2', '10.244.1.3', 80),
      tag: np('ACCEPT'),
      fields: { verdict: 'ACCEPT', engineVerdict: 'DENY', policy: 'default/b-ingress', mismatch: true },
      absent: ['rule'],
    },
    {
      name: 'the kernel denies what the engine allows by default: mismatch, no policy',
      packet: packet('10.244.1.3', '10.244.2.2', 80),
      tag: np('DENY'),
      fields: { verdict: 'DENY', engineVerdict: 'ACCEPT', engineTier: 'DEFAULT', mismatch: true },
      absent: ['policy', 'rule'],
    },
    {
      name: "strict mode's default deny is the mode, not a disagreement",
      packet: packet('10.244.1.3', '10.244.2.2', 80),
      tag: { verdict: 'DENY', direction: 'ingress', policies: [], tier: 'STRICT_MODE_DEFAULT' },
      fields: { engineVerdict: 'ACCEPT', engineTier: 'DEFAULT' },
      absent: ['mismatch', 'policy'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = logged(c.packet, c.tag);
      expect(r).toMatchObject(c.fields);
      for (const k of c.absent ?? []) expect(r).not.toHaveProperty(k);
    });
  }

  it('keeps the AWS msg exactly and the AWS fields first', () => {
    const r = logged(packet('10.244.1.2', '10.244.1.3', 80), np('ACCEPT'));
    expect(r.msg).toBe('Flow Info: Src IP: 10.244.1.2 Src Port: 40000 Dest IP: 10.244.1.3 Dest Port: 80 Proto TCP Verdict ACCEPT Direction ingress, Tier NETWORK_POLICY');
    expect(r.msg).toBe(flowRecord(packet('10.244.1.2', '10.244.1.3', 80), np('ACCEPT'), 'n1')!.msg);
    expect(JSON.stringify(r)).toBe(
      '{"level":"info","ts":"2025-01-01T00:00:00.000Z","msg":"Flow Info: Src IP: 10.244.1.2 Src Port: 40000 Dest IP: 10.244.1.3 Dest Port: 80 Proto TCP Verdict ACCEPT Direction ingress, Tier NETWORK_POLICY",' +
        '"node":"n1","verdict":"ACCEPT","direction":"ingress","policies":["default/b-ingress"],"tier":"NETWORK_POLICY",' +
        '"policy":"default/b-ingress","rule":{"index":1},"engineVerdict":"ACCEPT","engineTier":"NETWORK_POLICY"}',
    );
  });

  it('does not explain what the engine does not know: ICMP, a pod it has no endpoint for', () => {
    const explain = engineExplainer(engine);
    expect(explain(flowTuple(packet('10.244.1.2', '10.244.1.3', 0, 1), 'ingress'))).toBeUndefined();
    expect(explain(flowTuple(packet('10.244.1.2', '10.244.9.9', 80), 'ingress'))).toBeUndefined();
    // The source unknown is fine on ingress: it is the peer, an external address to the engine.
    expect(explain(flowTuple(packet('10.244.9.9', '10.244.1.3', 80), 'ingress'))).toMatchObject({ verdict: 'DENY', policy: 'default/b-ingress' });
  });

  it('caches by addresses, protocol, port and direction, with a bounded size', () => {
    const spy = vi.spyOn(engine, 'verdict');
    const explain = engineExplainer(engine, { cacheSize: 2 });
    const f = (srcPort: number, dstPort: number) => ({ ...flowTuple(packet('10.244.1.2', '10.244.1.3', dstPort), 'ingress' as const), srcPort });
    const first: FlowExplanation | undefined = explain(f(40000, 80));
    expect(explain(f(40001, 80))).toBe(first); // another source port: the same flow for policy
    expect(spy).toHaveBeenCalledTimes(1);
    explain(f(40000, 81));
    explain(f(40000, 82)); // evicts port 80
    explain(f(40000, 80));
    expect(spy).toHaveBeenCalledTimes(4);
    expect(explain(f(40000, 80))).toEqual(first);
    spy.mockRestore();
  });
});
