/**
 * The AWS network policy agent's flow log, as it is on a node (`/var/log/aws-routed-eni/network-policy-agent.log`,
 * rotated to `.gz` by lumberjack) or exported from CloudWatch. Every form the agent has written
 * (`pkg/ebpf/events/events.go` of aws/aws-network-policy-agent, by release):
 *
 * - v1.0–v1.2.1: a logr/zap JSON line with `"msg":"Flow Info:  "` and the flow as separate keys (`Src IP`, `Src Port`,
 *   `Dest IP`, `Dest Port`, `Proto`, `Verdict`), no direction; v1.0.1–v1.0.2 name the time key `timestamp` (their
 *   `main.go` sets `TimeKey = "timestamp"`), later ones `ts`;
 * - v1.2.2+: the flow in the message, `Flow Info: Src IP: … Src Port: … Dest IP: … Dest Port: … Proto TCP Verdict DENY
 *   Direction egress`;
 * - v1.3+: the same with `, Tier NETWORK_POLICY` at the end;
 * - the IPv6 agent (`enable-ipv6`): colons after every key, `Proto: TCP Verdict: DENY Direction: egress Tier: …`;
 * - CloudWatch (`enable-cloudwatch-logs`): `Node: …;SIP: …;SPORT: …;DIP: …;DPORT: …;PROTOCOL: …;PolicyVerdict: …`
 *   (and `;Tier: …` from v1.3), as the message of an event, often with the event's time before it.
 *
 * Palisade's own agent writes the v1.3 form plus its own keys (`node`, `policy`, …), so its logs read the same way.
 */

/** Which form a flow line was written in. */
export type FlowFormat = 'keys' | 'text' | 'text-tier' | 'text-ipv6' | 'cloudwatch';

/** One flow the agent logged. */
export interface FlowLine {
  readonly format: FlowFormat;
  readonly time?: string;
  /** From the line itself (CloudWatch `Node:`, or a `node` key); otherwise unknown. */
  readonly node?: string;
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
  /** As the agent names it: TCP, UDP, SCTP, ICMP, … */
  readonly protocol: string;
  /** ACCEPT, DENY, or EXPIRED/DELETED (a conntrack entry removed, not a policy decision). */
  readonly verdict: string;
  /** Absent before v1.2.2 and in CloudWatch lines. */
  readonly direction?: 'ingress' | 'egress';
  /** ADMIN, NETWORK_POLICY, BASELINE, DEFAULT (v1.3+). */
  readonly tier?: string;
}

/** What one line of a log is: a flow, another log line, or a flow line that could not be read. */
export type ParsedLine = { readonly kind: 'flow'; readonly flow: FlowLine } | { readonly kind: 'other' } | { readonly kind: 'broken'; readonly reason: string };

// Keys are optional-colon so that the IPv4 form (`Proto TCP`) and the IPv6 form (`Proto: TCP`) share one pattern.
const TEXT_FLOW =
  /Flow Info: Src IP: (\S+) Src Port: (\d+) Dest IP: (\S+) Dest Port: (\d+) Proto(:?) (\S+) Verdict:? (\S+) Direction:? (\w+)(?:,? Tier:? (\w+))?/;

const CLOUDWATCH_FLOW = /Node:\s*([^;]*);\s*SIP:\s*([^;]+);\s*SPORT:\s*(\d+);\s*DIP:\s*([^;]+);\s*DPORT:\s*(\d+);\s*PROTOCOL:\s*([^;]+);\s*PolicyVerdict:\s*([^;\s"]+)(?:;\s*Tier:\s*([^;\s"]+))?/;

const ISO_TIME = /^\s*(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?)/;

function direction(text: string | undefined): 'ingress' | 'egress' | undefined {
  const d = text?.toLowerCase();
  return d === 'ingress' || d === 'egress' ? d : undefined;
}

function textFlow(msg: string, time: string | undefined, node: string | undefined): ParsedLine | undefined {
  const m = TEXT_FLOW.exec(msg);
  if (!m) return undefined;
  const dir = direction(m[8]);
  if (!dir) return { kind: 'broken', reason: `unknown direction "${m[8]}"` };
  const format: FlowFormat = m[5] === ':' ? 'text-ipv6' : m[9] !== undefined ? 'text-tier' : 'text';
  return {
    kind: 'flow',
    flow: {
      format,
      ...(time !== undefined ? { time } : {}),
      ...(node !== undefined ? { node } : {}),
      src: m[1],
      srcPort: Number(m[2]),
      dst: m[3],
      dstPort: Number(m[4]),
      protocol: m[6],
      verdict: m[7],
      direction: dir,
      ...(m[9] !== undefined ? { tier: m[9] } : {}),
    },
  };
}

function cloudwatchFlow(text: string, time: string | undefined): ParsedLine | undefined {
  const m = CLOUDWATCH_FLOW.exec(text);
  if (!m) return undefined;
  const node = m[1].trim();
  return {
    kind: 'flow',
    flow: {
      format: 'cloudwatch',
      ...(time !== undefined ? { time } : {}),
      ...(node !== '' ? { node } : {}),
      src: m[2].trim(),
      srcPort: Number(m[3]),
      dst: m[4].trim(),
      dstPort: Number(m[5]),
      protocol: m[6].trim(),
      verdict: m[7],
      ...(m[8] !== undefined ? { tier: m[8] } : {}),
    },
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The v1.0–v1.2.1 form: the flow as keys of the JSON line. */
function keysFlow(o: Record<string, unknown>, time: string | undefined): ParsedLine {
  const src = str(o['Src IP']);
  const dst = str(o['Dest IP']);
  const sp = o['Src Port'];
  const dp = o['Dest Port'];
  const proto = str(o.Proto);
  const verdict = str(o.Verdict);
  const missing = [
    ['Src IP', src],
    ['Src Port', typeof sp === 'number' ? sp : undefined],
    ['Dest IP', dst],
    ['Dest Port', typeof dp === 'number' ? dp : undefined],
    ['Proto', proto],
    ['Verdict', verdict],
  ]
    .filter(([, v]) => v === undefined)
    .map(([k]) => k);
  if (missing.length > 0) return { kind: 'broken', reason: `"Flow Info" without ${missing.map((k) => `"${String(k)}"`).join(', ')}` };
  const node = str(o.node);
  return {
    kind: 'flow',
    flow: {
      format: 'keys',
      ...(time !== undefined ? { time } : {}),
      ...(node !== undefined ? { node } : {}),
      src: src!,
      srcPort: sp as number,
      dst: dst!,
      dstPort: dp as number,
      protocol: proto!,
      verdict: verdict!,
    },
  };
}

/**
 * Reads one line of an agent log. Lines that are not flows (the agent's other messages) are `other`; a line that
 * names a flow but cannot be read (cut off by rotation, a JSON error, a field missing) is `broken`.
 */
export function parseFlowLine(line: string): ParsedLine {
  const text = line.trim();
  if (text === '') return { kind: 'other' };
  if (text.startsWith('{')) {
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      const flowish = text.includes('Flow Info') || text.includes('PolicyVerdict');
      return flowish ? { kind: 'broken', reason: 'not valid JSON (cut off?)' } : { kind: 'other' };
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return { kind: 'other' };
    const rec = o as Record<string, unknown>;
    const time = str(rec.ts) ?? str(rec.timestamp) ?? str(rec['@timestamp']) ?? (typeof rec.timestamp === 'number' ? new Date(rec.timestamp).toISOString() : undefined);
    const msg = str(rec.msg) ?? str(rec.message) ?? str(rec['@message']);
    if (msg === undefined) return { kind: 'other' };
    if (msg.startsWith('Flow Info:')) {
      if (msg.trim() === 'Flow Info:') return keysFlow(rec, time);
      return textFlow(msg, time, str(rec.node)) ?? { kind: 'broken', reason: 'a "Flow Info" message in no known form' };
    }
    if (msg.includes('PolicyVerdict')) return cloudwatchFlow(msg, time) ?? { kind: 'broken', reason: 'a CloudWatch flow in no known form' };
    return { kind: 'other' };
  }
  const time = ISO_TIME.exec(text)?.[1];
  if (text.includes('Flow Info: Src IP')) return textFlow(text, time, undefined) ?? { kind: 'broken', reason: 'a "Flow Info" line in no known form' };
  if (text.includes('PolicyVerdict')) return cloudwatchFlow(text, time) ?? { kind: 'broken', reason: 'a CloudWatch flow in no known form' };
  return { kind: 'other' };
}
