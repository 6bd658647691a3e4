/**
 * Every form of the AWS node agent's flow-log line. Each case names where its format comes from: the agent's
 * `pkg/ebpf/events/events.go` (and `main.go` for the v1.0.1–v1.0.2 time key) at the release given, or the issue whose
 * report shows such a line. The lines are written here in those formats (addresses and times are ours).
 */
import { describe, expect, it } from 'vitest';
import { parseFlowLine, type FlowLine } from '../../src/audit/flowlog-parse.js';

interface Case {
  readonly name: string;
  readonly line: string;
  readonly flow: Partial<FlowLine>;
}

const cases: readonly Case[] = [
  {
    name: 'v1.0.2 JSON keys with the `timestamp` key (events.go v1.0.2 log.Info("Flow Info:  ", "Src IP", …); main.go TimeKey = "timestamp"; as in aws/aws-network-policy-agent#92)',
    line: '{"level":"info","timestamp":"2023-10-09T10:01:34.774Z","logger":"ebpf-client","msg":"Flow Info:  ","Src IP":"10.0.1.12","Src Port":50878,"Dest IP":"169.254.169.254","Dest Port":80,"Proto":"TCP","Verdict":"ACCEPT"}',
    flow: { format: 'keys', time: '2023-10-09T10:01:34.774Z', src: '10.0.1.12', srcPort: 50878, dst: '169.254.169.254', dstPort: 80, protocol: 'TCP', verdict: 'ACCEPT', direction: undefined },
  },
  {
    name: 'v1.0.4–v1.2.1 JSON keys with `ts` (events.go v1.2.1, zap production encoder; as in aws/aws-network-policy-agent#73)',
    line: '{"level":"info","ts":"2023-12-12T07:00:03.731Z","logger":"ebpf-client","msg":"Flow Info:  ","Src IP":"10.1.206.228","Src Port":56468,"Dest IP":"172.20.0.10","Dest Port":53,"Proto":"UDP","Verdict":"DENY"}',
    flow: { format: 'keys', time: '2023-12-12T07:00:03.731Z', src: '10.1.206.228', dst: '172.20.0.10', dstPort: 53, protocol: 'UDP', verdict: 'DENY' },
  },
  {
    name: 'v1.2.2 single line, IPv4 (events.go v1.2.2 Infof("Flow Info: Src IP: %s … Proto %s Verdict %s Direction %s"))',
    line: '{"level":"info","ts":"2025-06-10T12:00:01.001Z","caller":"events/events.go:242","msg":"Flow Info: Src IP: 10.0.2.13 Src Port: 38140 Dest IP: 10.0.1.11 Dest Port: 80 Proto TCP Verdict DENY Direction ingress"}',
    flow: { format: 'text', src: '10.0.2.13', srcPort: 38140, dst: '10.0.1.11', dstPort: 80, protocol: 'TCP', verdict: 'DENY', direction: 'ingress', tier: undefined },
  },
  {
    name: 'v1.3+ single line with ", Tier" (events.go v1.3.0 "… Direction %s, Tier %s")',
    line: '{"level":"info","ts":"2025-11-02T08:30:00.500Z","caller":"events/events.go:267","msg":"Flow Info: Src IP: 10.0.1.12 Src Port: 50878 Dest IP: 169.254.169.254 Dest Port: 80 Proto TCP Verdict DENY Direction egress, Tier NETWORK_POLICY"}',
    flow: { format: 'text-tier', src: '10.0.1.12', dst: '169.254.169.254', dstPort: 80, verdict: 'DENY', direction: 'egress', tier: 'NETWORK_POLICY' },
  },
  {
    name: 'v1.3+ ACCEPT at debug level, ADMIN tier (events.go HEAD Debugf for ACCEPT, getTier ADMIN)',
    line: '{"level":"debug","ts":"2026-05-21T10:00:00.000Z","caller":"events/events.go:273","msg":"Flow Info: Src IP: 10.0.1.17 Src Port: 60312 Dest IP: 10.0.2.18 Dest Port: 8080 Proto TCP Verdict ACCEPT Direction egress, Tier ADMIN"}',
    flow: { format: 'text-tier', verdict: 'ACCEPT', direction: 'egress', tier: 'ADMIN', dstPort: 8080 },
  },
  {
    name: 'IPv6 agent, v1.2.2 colon form (events.go v1.2.2 "Proto: %s Verdict: %s Direction: %s", ConvByteToIPv6)',
    line: '{"level":"info","ts":"2025-06-10T12:00:02.000Z","caller":"events/events.go:217","msg":"Flow Info: Src IP: 2600:1f14:abc::12 Src Port: 41000 Dest IP: 2600:1f14:abc::11 Dest Port: 443 Proto: TCP Verdict: DENY Direction: ingress"}',
    flow: { format: 'text-ipv6', src: '2600:1f14:abc::12', dst: '2600:1f14:abc::11', dstPort: 443, verdict: 'DENY', direction: 'ingress', tier: undefined },
  },
  {
    name: 'IPv6 agent, v1.3+ colon form with "Tier:" (events.go v1.3.0 "… Direction: %s Tier: %s")',
    line: '{"level":"info","ts":"2025-11-02T08:30:01.000Z","caller":"events/events.go:239","msg":"Flow Info: Src IP: fd00::5 Src Port: 5353 Dest IP: fd00::a Dest Port: 53 Proto: UDP Verdict: DENY Direction: egress Tier: BASELINE"}',
    flow: { format: 'text-ipv6', src: 'fd00::5', dst: 'fd00::a', protocol: 'UDP', verdict: 'DENY', direction: 'egress', tier: 'BASELINE' },
  },
  {
    name: 'CloudWatch message before v1.3 (events.go v1.2.1 message = "Node: …;SIP: …;PolicyVerdict: …"; console export as in aws/aws-network-policy-agent#163)',
    line: '2023-12-06T14:25:58.455-06:00   Node: ip-172-27-44-11.ec2.internal;SIP: 172.27.32.157;SPORT: 60476;DIP: 172.27.38.227;DPORT: 5003;PROTOCOL: TCP;PolicyVerdict: ACCEPT',
    flow: { format: 'cloudwatch', time: '2023-12-06T14:25:58.455-06:00', node: 'ip-172-27-44-11.ec2.internal', src: '172.27.32.157', srcPort: 60476, dst: '172.27.38.227', dstPort: 5003, protocol: 'TCP', verdict: 'ACCEPT', direction: undefined },
  },
  {
    name: 'CloudWatch message v1.3+ with ";Tier:" (events.go v1.3.0 message … + ";Tier: " + tier)',
    line: 'Node: ip-10-0-1-5.ec2.internal;SIP: 10.0.1.12;SPORT: 50878;DIP: 169.254.169.254;DPORT: 80;PROTOCOL: TCP;PolicyVerdict: DENY;Tier: NETWORK_POLICY',
    flow: { format: 'cloudwatch', node: 'ip-10-0-1-5.ec2.internal', dst: '169.254.169.254', verdict: 'DENY', tier: 'NETWORK_POLICY' },
  },
  {
    name: 'CloudWatch Logs Insights JSON export with "; " separators (as in aws/aws-network-policy-agent#414)',
    line: '{"@timestamp": "2025-02-04 10:36:48.986", "@message": "Node: ip-10-0-3-9.compute.internal; SIP: 203.0.113.7; SPORT: 5671; DIP: 10.0.3.20; DPORT: 53912; PROTOCOL: TCP; PolicyVerdict: DENY"}',
    flow: { format: 'cloudwatch', time: '2025-02-04 10:36:48.986', node: 'ip-10-0-3-9.compute.internal', src: '203.0.113.7', srcPort: 5671, dst: '10.0.3.20', dstPort: 53912, verdict: 'DENY' },
  },
  {
    name: "Palisade's own agent: the v1.3 message plus its keys (README, Agent and lab)",
    line: '{"level":"info","ts":"2026-11-26T08:14:46.221Z","msg":"Flow Info: Src IP: 10.244.1.2 Src Port: 42610 Dest IP: 10.244.2.2 Dest Port: 80 Proto TCP Verdict ACCEPT Direction ingress, Tier NETWORK_POLICY","node":"node-2","verdict":"ACCEPT"}',
    flow: { format: 'text-tier', node: 'node-2', src: '10.244.1.2', dst: '10.244.2.2', verdict: 'ACCEPT', direction: 'ingress', tier: 'NETWORK_POLICY' },
  },
  {
    name: 'conntrack expiry verdict (events.go getVerdict EXPIRED/DELETED) reads as a flow',
    line: '{"level":"debug","ts":"2026-01-01T00:00:00.000Z","msg":"Flow Info: Src IP: 10.0.1.12 Src Port: 1 Dest IP: 10.0.1.11 Dest Port: 80 Proto TCP Verdict EXPIRED/DELETED Direction egress, Tier DEFAULT"}',
    flow: { verdict: 'EXPIRED/DELETED', tier: 'DEFAULT' },
  },
];

describe('AWS flow-log line formats', () => {
  for (const c of cases) {
    it(c.name, () => {
      const parsed = parseFlowLine(c.line);
      expect(parsed.kind).toBe('flow');
      if (parsed.kind !== 'flow') return;
      for (const [k, v] of Object.entries(c.flow)) expect(parsed.flow[k as keyof FlowLine], k).toBe(v);
    });
  }
});

describe('lines that are not flows, and broken flow lines', () => {
  const other: readonly [string, string][] = [
    ['an agent message (events.go v1.0 "Successfully attached Ingress TC probe")', '{"level":"info","timestamp":"2023-10-09T10:01:29.870Z","logger":"ebpf-client","msg":"Successfully attached Ingress TC probe for pod: ","Pod: ":"client"}'],
    ['an empty line', ''],
    ['plain text', 'I1130 10:00:00.000000 1 main.go:12] starting'],
  ];
  for (const [name, line] of other) it(`${name} is skipped`, () => expect(parseFlowLine(line)).toEqual({ kind: 'other' }));

  const broken: readonly [string, string, string][] = [
    ['a JSON flow line cut off by rotation', '{"level":"info","ts":"2025-01-01T00:00:00Z","msg":"Flow Info:  ","Src IP":"10.0.2.15","Src Port":51', 'not valid JSON'],
    ['a v1.0 flow without "Dest Port"', '{"level":"info","ts":"2025-01-01T00:00:00Z","msg":"Flow Info:  ","Src IP":"10.0.2.15","Src Port":51,"Dest IP":"10.0.1.1","Proto":"TCP","Verdict":"DENY"}', '"Dest Port"'],
    ['a single-line flow missing its verdict', '{"msg":"Flow Info: Src IP: 10.0.2.15 Src Port: 51 Dest IP: 10.0.1.1 Dest Port: 80 Proto TCP"}', 'no known form'],
    ['a CloudWatch line cut short', 'Node: n1;SIP: 10.0.0.1;SPORT: 1;DIP: 10.0.0.2;PolicyVerdict: DENY', 'no known form'],
  ];
  for (const [name, line, reason] of broken) {
    it(`${name} is broken, with a reason`, () => {
      const p = parseFlowLine(line);
      expect(p.kind).toBe('broken');
      if (p.kind === 'broken') expect(p.reason).toContain(reason);
    });
  }
});
