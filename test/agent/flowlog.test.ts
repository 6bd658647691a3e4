/**
 * Flow-log records explained by the engine, without root: the fields each kind of decision adds (rule index and name,
 * isolating policy, tiers, default allow), `mismatch` only on a real disagreement, the AWS `msg` unchanged, the cache.
 */
import { describe, expect, it, vi } from 'vitest';
import { engineExplainer } from '../../src/agent/explain.js';
import { configureFlowLogFormat, explainRecord, flowRecord, flowTuple, resolveFlowLogFormat, type FlowExplanation, type FlowRecord, type NflogPacket } from '../../src/agent/flowlog.js';
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

  it('keeps the AWS msg exactly and the AWS fields first (v1.4.1: ACCEPT at debug from events.go:273)', () => {
    const r = logged(packet('10.244.1.2', '10.244.1.3', 80), np('ACCEPT'));
    expect(r.msg).toBe('Flow Info: Src IP: 10.244.1.2 Src Port: 40000 Dest IP: 10.244.1.3 Dest Port: 80 Proto TCP Verdict ACCEPT Direction ingress, Tier NETWORK_POLICY');
    expect(r.msg).toBe(flowRecord(packet('10.244.1.2', '10.244.1.3', 80), np('ACCEPT'), 'n1')!.msg);
    expect(JSON.stringify(r)).toBe(
      '{"level":"debug","ts":"2025-01-01T00:00:00.000Z","caller":"events/events.go:273","msg":"Flow Info: Src IP: 10.244.1.2 Src Port: 40000 Dest IP: 10.244.1.3 Dest Port: 80 Proto TCP Verdict ACCEPT Direction ingress, Tier NETWORK_POLICY",' +
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

describe("flow-log formats of the AWS agent's versions (aws/aws-network-policy-agent pkg/ebpf/events/events.go)", () => {
  const v4 = (verdict: 'ACCEPT' | 'DENY', tier: LogTag['tier'] = 'NETWORK_POLICY'): [NflogPacket, LogTag] => [
    { prefix: `pl ${verdict === 'ACCEPT' ? 'A' : 'D'} i 1`, family: 4, src: '10.244.1.2', dst: '10.244.1.3', protocol: 6, srcPort: 40000, dstPort: 80, time: new Date('2025-01-01T00:00:00Z') },
    { verdict, direction: 'ingress', policies: [], tier },
  ];
  const v6 = (verdict: 'ACCEPT' | 'DENY'): [NflogPacket, LogTag] => [
    { prefix: 'pl D e 1', family: 6, src: 'fd00::2', dst: '2001:db8::7', protocol: 17, srcPort: 5353, dstPort: 53, time: new Date('2025-01-01T00:00:00Z') },
    { verdict, direction: 'egress', policies: [], tier: 'ADMIN' },
  ];
  it.each([
    ['v1.4.1 IPv4 DENY (events.go:270, Infof)', v4('DENY'), 'v1.4.1', 'info', 'events/events.go:270', 'Flow Info: Src IP: 10.244.1.2 Src Port: 40000 Dest IP: 10.244.1.3 Dest Port: 80 Proto TCP Verdict DENY Direction ingress, Tier NETWORK_POLICY'],
    ['v1.4.1 IPv6 DENY in the colon form (events.go:241)', v6('DENY'), 'v1.4.1', 'info', 'events/events.go:241', 'Flow Info: Src IP: fd00::2 Src Port: 5353 Dest IP: 2001:db8::7 Dest Port: 53 Proto: UDP Verdict: DENY Direction: egress Tier: ADMIN'],
    ['v1.4.1 IPv6 ACCEPT at debug (events.go:244, Debugf)', v6('ACCEPT'), 'v1.4.1', 'debug', 'events/events.go:244', 'Flow Info: Src IP: fd00::2 Src Port: 5353 Dest IP: 2001:db8::7 Dest Port: 53 Proto: UDP Verdict: ACCEPT Direction: egress Tier: ADMIN'],
    ['v1.4.1 strict-mode default deny is tier DEFAULT (getTier)', v4('DENY', 'STRICT_MODE_DEFAULT'), 'v1.4.1', 'info', 'events/events.go:270', 'Flow Info: Src IP: 10.244.1.2 Src Port: 40000 Dest IP: 10.244.1.3 Dest Port: 80 Proto TCP Verdict DENY Direction ingress, Tier DEFAULT'],
    ['v1.3.0 IPv4 ACCEPT (events.go:270)', v4('ACCEPT'), 'v1.3.0', 'debug', 'events/events.go:270', 'Flow Info: Src IP: 10.244.1.2 Src Port: 40000 Dest IP: 10.244.1.3 Dest Port: 80 Proto TCP Verdict ACCEPT Direction ingress, Tier NETWORK_POLICY'],
    ['v1.2.7: no tier (events.go:246)', v4('DENY'), 'v1.2.7', 'info', 'events/events.go:246', 'Flow Info: Src IP: 10.244.1.2 Src Port: 40000 Dest IP: 10.244.1.3 Dest Port: 80 Proto TCP Verdict DENY Direction ingress'],
    ['v1.2.2 IPv6: no tier, colon form (events.go:220)', v6('ACCEPT'), 'v1.2.2', 'debug', 'events/events.go:220', 'Flow Info: Src IP: fd00::2 Src Port: 5353 Dest IP: 2001:db8::7 Dest Port: 53 Proto: UDP Verdict: ACCEPT Direction: egress'],
    ['family v1.2 is its newest version, v1.2.7', v4('DENY'), 'v1.2', 'info', 'events/events.go:246', 'Flow Info: Src IP: 10.244.1.2 Src Port: 40000 Dest IP: 10.244.1.3 Dest Port: 80 Proto TCP Verdict DENY Direction ingress'],
  ] as const)('%s', (_name, [p, tag], format, level, caller, msg) => {
    const r = flowRecord(p, tag, 'n1', format)!;
    expect(r.level).toBe(level);
    expect(r.caller).toBe(caller);
    expect(r.msg).toBe(msg);
  });
  it('v1.0.8: msg "Flow Info:  " with the flow as logr fields, every verdict at info (events.go:193)', () => {
    const [p, tag] = v4('ACCEPT');
    const r = flowRecord(p, tag, 'n1', 'v1.0.8')!;
    expect(r).toMatchObject({ level: 'info', caller: 'events/events.go:193', msg: 'Flow Info:  ', 'Src IP': '10.244.1.2', 'Src Port': 40000, 'Dest IP': '10.244.1.3', 'Dest Port': 80, Proto: 'TCP', Verdict: 'ACCEPT' });
  });
  it('an unknown version is refused by configureFlowLogFormat', () => {
    expect(() => configureFlowLogFormat('v9.9.9')).toThrow(/unknown flow log format/);
    expect(resolveFlowLogFormat('1.3.7')).toBe('v1.3.7');
  });
});
