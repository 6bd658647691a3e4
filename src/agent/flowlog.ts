/**
 * Flow logs from the kernel.
 *
 * Mechanism: the rules carry `log group N prefix "pl <A|D> <i|e> <id>"` on the verdict of each NEW connection (only
 * new connections reach those rules: `ct state established,related accept` comes first). The kernel hands those
 * packets to NFLOG; `tcpdump -i nflog:N -w -` (Debian package `tcpdump`) binds the group over nfnetlink in the node's
 * network namespace and streams pcap (DLT_NFLOG) that we parse here: the prefix TLV names the rule, the payload TLV
 * gives addresses and ports. Why this over the alternatives: conntrack events only report connections that were
 * accepted (a dropped SYN never creates a confirmed entry, so DENY would be invisible); `log prefix` to the kernel
 * log is suppressed in non-initial namespaces unless a host-wide sysctl is flipped; and Node.js has no AF_NETLINK
 * sockets to read NFLOG directly. NFLOG is per-namespace, lossless up to its socket buffer, and carries the prefix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { LogTag } from '../nft/compile.js';
import { formatAddress } from '../nft/address.js';

/** One NFLOG packet: the rule prefix and the packet's 5-tuple. */
export interface NflogPacket {
  readonly prefix: string;
  readonly family: 4 | 6;
  readonly src: string;
  readonly dst: string;
  readonly protocol: number;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly time: Date;
}

const NFULA_PAYLOAD = 9;
const NFULA_PREFIX = 10;
const DLT_NFLOG = 239;

/** Parses one DLT_NFLOG frame (TLV lengths and types are in host byte order, little-endian here). */
export function parseNflogFrame(frame: Buffer, time: Date): NflogPacket | undefined {
  if (frame.length < 4) return undefined;
  let prefix = '';
  let payload: Buffer | undefined;
  for (let off = 4; off + 4 <= frame.length; ) {
    const len = frame.readUInt16LE(off);
    const type = frame.readUInt16LE(off + 2) & 0x7fff;
    if (len < 4 || off + len > frame.length) break;
    const value = frame.subarray(off + 4, off + len);
    if (type === NFULA_PREFIX) prefix = value.toString('utf8').replace(/\0.*$/s, '');
    if (type === NFULA_PAYLOAD) payload = value;
    off += (len + 3) & ~3;
  }
  if (!payload || payload.length < 1) return undefined;
  const version = payload[0] >> 4;
  let protocol: number;
  let src: string;
  let dst: string;
  let l4: number;
  if (version === 4 && payload.length >= 20) {
    protocol = payload[9];
    src = formatAddress(4, BigInt(payload.readUInt32BE(12)));
    dst = formatAddress(4, BigInt(payload.readUInt32BE(16)));
    l4 = (payload[0] & 0x0f) * 4;
  } else if (version === 6 && payload.length >= 40) {
    protocol = payload[6];
    src = formatAddress(6, BigInt('0x' + payload.subarray(8, 24).toString('hex')));
    dst = formatAddress(6, BigInt('0x' + payload.subarray(24, 40).toString('hex')));
    l4 = 40;
  } else {
    return undefined;
  }
  const hasPorts = protocol === 6 || protocol === 17 || protocol === 132;
  return {
    prefix,
    family: version === 4 ? 4 : 6,
    src,
    dst,
    protocol,
    srcPort: hasPorts && payload.length >= l4 + 4 ? payload.readUInt16BE(l4) : undefined,
    dstPort: hasPorts && payload.length >= l4 + 4 ? payload.readUInt16BE(l4 + 2) : undefined,
    time,
  };
}

/** Incremental pcap stream parser (DLT_NFLOG only). */
export class PcapNflogParser {
  private buf: Buffer = Buffer.alloc(0);
  private headerSeen = false;
  private littleEndian = true;
  constructor(private readonly onPacket: (p: NflogPacket) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (!this.headerSeen) {
      if (this.buf.length < 24) return;
      const magic = this.buf.readUInt32LE(0);
      this.littleEndian = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
      const link = this.littleEndian ? this.buf.readUInt32LE(20) : this.buf.readUInt32BE(20);
      if (link !== DLT_NFLOG) throw new Error(`pcap link type ${link}, expected NFLOG (${DLT_NFLOG})`);
      this.buf = this.buf.subarray(24);
      this.headerSeen = true;
    }
    const u32 = (o: number) => (this.littleEndian ? this.buf.readUInt32LE(o) : this.buf.readUInt32BE(o));
    while (this.buf.length >= 16) {
      const incl = u32(8);
      if (this.buf.length < 16 + incl) break;
      const time = new Date(u32(0) * 1000 + Math.floor(u32(4) / 1000));
      const p = parseNflogFrame(this.buf.subarray(16, 16 + incl), time);
      this.buf = this.buf.subarray(16 + incl);
      if (p) this.onPacket(p);
    }
  }
}

const PROTO_NAME: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

/** The rule that decided, as the engine numbers it: its index in the policy's ingress or egress list, and its name. */
export interface FlowRule {
  readonly index: number;
  /** Set for Admin and Baseline tier rules that have one. @default absent */
  readonly name?: string;
}

/**
 * The AWS network policy agent's flow-log line formats, from its git history (aws/aws-network-policy-agent
 * `pkg/ebpf/events/events.go`; zap JSON encoder with `level`, `ts` (ISO 8601), `caller`, `msg`,
 * `pkg/logger/zaplogger.go`):
 *
 * - `v1.0` (agent v1.0.1–v1.2.1): `msg` is `Flow Info:  ` and the flow is in fields `Src IP`, `Src Port`, `Dest IP`,
 *   `Dest Port`, `Proto`, `Verdict`; every verdict at `info`.
 * - `v1.2` (agent v1.2.2–v1.2.7): the flow in `msg`, `Direction` added; IPv4 lines `Proto TCP Verdict DENY Direction
 *   ingress`, IPv6 lines in the colon form `Proto: TCP Verdict: DENY Direction: ingress`; DENY at `info`, ACCEPT at
 *   `debug`.
 * - `v1.3` (agent v1.3.0 to the newest read, v1.4.1 and main): as `v1.2` plus the tier — IPv4 `…, Tier ADMIN`, IPv6
 *   `… Tier: ADMIN` — one of `ADMIN`, `NETWORK_POLICY`, `BASELINE`, `DEFAULT` (a strict-mode default deny).
 */
export type FlowLogFamily = 'v1.0' | 'v1.2' | 'v1.3';

/** One agent version's format: its family and the `caller` lines of its DENY (info) and ACCEPT (debug) log calls. */
interface FlowLogVersion {
  readonly family: FlowLogFamily;
  /** events.go lines: IPv6 deny, IPv6 accept, IPv4 deny, IPv4 accept (v1.0: IPv6, IPv4). */
  readonly lines: readonly number[];
}

/** Every agent version whose events.go Palisade read, by tag. */
export const FLOW_LOG_VERSIONS: Readonly<Record<string, FlowLogVersion>> = {
  'v1.0.8': { family: 'v1.0', lines: [178, 193] },
  'v1.1.0': { family: 'v1.0', lines: [178, 193] },
  'v1.1.6': { family: 'v1.0', lines: [178, 193] },
  'v1.2.0': { family: 'v1.0', lines: [176, 191] },
  'v1.2.1': { family: 'v1.0', lines: [176, 191] },
  'v1.2.2': { family: 'v1.2', lines: [217, 220, 242, 245] },
  'v1.2.3': { family: 'v1.2', lines: [218, 221, 243, 246] },
  'v1.2.4': { family: 'v1.2', lines: [221, 224, 246, 249] },
  'v1.2.5': { family: 'v1.2', lines: [221, 224, 246, 249] },
  'v1.2.6': { family: 'v1.2', lines: [221, 224, 246, 249] },
  'v1.2.7': { family: 'v1.2', lines: [221, 224, 246, 249] },
  'v1.3.0': { family: 'v1.3', lines: [239, 242, 267, 270] },
  'v1.3.1': { family: 'v1.3', lines: [239, 242, 267, 270] },
  'v1.3.2': { family: 'v1.3', lines: [239, 242, 267, 270] },
  'v1.3.4': { family: 'v1.3', lines: [239, 242, 267, 270] },
  'v1.3.5': { family: 'v1.3', lines: [239, 242, 267, 270] },
  'v1.3.7': { family: 'v1.3', lines: [241, 244, 270, 273] },
  'v1.4.0': { family: 'v1.3', lines: [241, 244, 270, 273] },
  'v1.4.1': { family: 'v1.3', lines: [241, 244, 270, 273] },
};

/** The newest agent version read: the default `--flow-log-format`. */
export const NEWEST_FLOW_LOG_FORMAT = 'v1.4.1';

/**
 * Resolves a `--flow-log-format` value: an agent version (`v1.3.7`, `1.3.7`) or a family (`v1.2`: its newest version).
 * @returns the version tag, or undefined when unknown.
 */
export function resolveFlowLogFormat(name: string): string | undefined {
  const v = name.startsWith('v') ? name : `v${name}`;
  if (FLOW_LOG_VERSIONS[v]) return v;
  const inFamily = Object.keys(FLOW_LOG_VERSIONS).filter((k) => FLOW_LOG_VERSIONS[k].family === v);
  return inFamily.length > 0 ? inFamily[inFamily.length - 1] : undefined;
}

let configuredFormat = NEWEST_FLOW_LOG_FORMAT;

/**
 * Sets the format every flow record is written in (the agent's `--flow-log-format`).
 * @throws Error for a version that is not in {@link FLOW_LOG_VERSIONS}.
 */
export function configureFlowLogFormat(name: string): void {
  const v = resolveFlowLogFormat(name);
  if (!v) throw new Error(`unknown flow log format "${name}": one of ${Object.keys(FLOW_LOG_VERSIONS).join(', ')}, or v1.0, v1.2, v1.3`);
  configuredFormat = v;
}

/** A flow-log record in the AWS network policy agent's shape for one version, plus the deciding policy. */
export interface FlowRecord {
  /** `debug` for ACCEPT from v1.2.2 on, as the AWS agent logs it (`log().Debugf`); `info` otherwise. */
  readonly level: 'info' | 'debug';
  readonly ts: string;
  /** Where the AWS agent logs the line, as zap's short caller: `events/events.go:LINE` of the version. */
  readonly caller: string;
  readonly msg: string;
  /** v1.0 format only: the flow as fields, as the agent's logr key/value pairs. */
  readonly 'Src IP'?: string;
  readonly 'Src Port'?: number;
  readonly 'Dest IP'?: string;
  readonly 'Dest Port'?: number;
  readonly Proto?: string;
  readonly Verdict?: string;
  readonly node: string;
  /** The kernel's verdict. */
  readonly verdict: 'ACCEPT' | 'DENY';
  readonly direction: 'ingress' | 'egress';
  /** `namespace/name` of the NetworkPolicy that decided (for DENY: every policy isolating the pod that direction). */
  readonly policies: readonly string[];
  /** The kernel's tier in AWS's names: `ADMIN`, `NETWORK_POLICY`, `BASELINE`, or `DEFAULT` (strict mode's default deny). */
  readonly tier: string;
  // The fields below are the engine's explanation, present only when the agent has an explainer (`runAgent({ explain })`):
  // the kernel's sets merge a policy's entries, so which rule matched is known to the engine only.
  /**
   * The policy that decided, by the engine: `namespace/name` of a NetworkPolicy, the name of an Admin or Baseline policy;
   * for a denial by isolation, the isolating NetworkPolicies, `, `-separated. Absent when no policy decided (default allow).
   */
  readonly policy?: string;
  /** The rule of `policy` that decided. Absent for a denial by isolation (no rule matched) and for default allow. */
  readonly rule?: FlowRule;
  /** What the engine decides for this direction of the flow. */
  readonly engineVerdict?: 'ACCEPT' | 'DENY';
  /** The engine's tier in the kernel's spelling: `ADMIN`, `NETWORK_POLICY`, `BASELINE` or `DEFAULT` (no policy applies). */
  readonly engineTier?: string;
  /** Present (and true) when the engine's verdict differs from the kernel's: the data plane does not do what the engine predicts. */
  readonly mismatch?: true;
}

/** The 5-tuple and direction of a logged flow, as the agent asks an explainer about it. */
export interface FlowTuple {
  readonly srcIP: string;
  readonly srcPort: number;
  readonly dstIP: string;
  readonly dstPort: number;
  /** `TCP`, `UDP`, `SCTP`, `ICMP`, `ICMPv6`, or the protocol number. */
  readonly protocol: string;
  /** The side the kernel decided: `ingress` of the destination pod, `egress` of the source pod. */
  readonly direction: 'ingress' | 'egress';
}

/** The engine's decision for one direction of a flow. */
export interface FlowExplanation {
  readonly verdict: 'ACCEPT' | 'DENY';
  /** `ADMIN`, `NETWORK_POLICY`, `BASELINE` or `DEFAULT`. */
  readonly tier: string;
  readonly policy?: string;
  readonly rule?: FlowRule;
  /** One sentence for people; logged with a mismatch. */
  readonly summary: string;
}

/** Explains a flow with the engine; `undefined` when it cannot (a pod or protocol the engine does not know). */
export type FlowExplainer = (flow: FlowTuple) => FlowExplanation | undefined;

/**
 * Turns an NFLOG packet into a flow record, using the prefix → meaning table of the programmed state, in the format
 * of `format` (an agent version; default: the one {@link configureFlowLogFormat} set, else the newest).
 */
export function flowRecord(p: NflogPacket, tag: LogTag | undefined, node: string, format: string = configuredFormat): FlowRecord | undefined {
  if (!p.prefix.startsWith('pl ')) return undefined;
  const version = FLOW_LOG_VERSIONS[resolveFlowLogFormat(format) ?? NEWEST_FLOW_LOG_FORMAT];
  const [, v, d] = p.prefix.split(' ');
  const verdict = tag?.verdict ?? (v === 'A' ? 'ACCEPT' : 'DENY');
  const direction = tag?.direction ?? (d === 'i' ? 'ingress' : 'egress');
  // AWS names strict mode's deny of a pod no policy has reached yet the DEFAULT tier (pkg/ebpf/events/events.go getTier).
  const tier = tag?.tier === 'STRICT_MODE_DEFAULT' ? 'DEFAULT' : tag?.tier ?? 'NETWORK_POLICY';
  const proto = PROTO_NAME[p.protocol] ?? String(p.protocol);
  const v6 = p.family === 6;
  const accept = verdict === 'ACCEPT';
  const ts = p.time.toISOString();
  const base = { node, verdict, direction, policies: tag?.policies ?? [], tier } as const;
  if (version.family === 'v1.0') {
    return {
      level: 'info',
      ts,
      caller: `events/events.go:${version.lines[v6 ? 0 : 1]}`,
      msg: 'Flow Info:  ',
      'Src IP': p.src,
      'Src Port': p.srcPort ?? 0,
      'Dest IP': p.dst,
      'Dest Port': p.dstPort ?? 0,
      Proto: proto,
      Verdict: verdict,
      ...base,
    };
  }
  const head = `Flow Info: Src IP: ${p.src} Src Port: ${p.srcPort ?? 0} Dest IP: ${p.dst} Dest Port: ${p.dstPort ?? 0} `;
  const withTier = version.family === 'v1.3';
  const tail = v6
    ? `Proto: ${proto} Verdict: ${verdict} Direction: ${direction}${withTier ? ` Tier: ${tier}` : ''}`
    : `Proto ${proto} Verdict ${verdict} Direction ${direction}${withTier ? `, Tier ${tier}` : ''}`;
  const line = version.lines[(v6 ? 0 : 2) + (accept ? 1 : 0)];
  return { level: accept ? 'debug' : 'info', ts, caller: `events/events.go:${line}`, msg: head + tail, ...base };
}

/** The flow a packet's record is about, as an explainer is asked. */
export function flowTuple(p: NflogPacket, direction: 'ingress' | 'egress'): FlowTuple {
  return { srcIP: p.src, srcPort: p.srcPort ?? 0, dstIP: p.dst, dstPort: p.dstPort ?? 0, protocol: PROTO_NAME[p.protocol] ?? String(p.protocol), direction };
}

/**
 * Adds the engine's explanation to a record, and `mismatch: true` when the verdicts differ. Strict mode's denial of a
 * pod no policy selects (kernel tier `DEFAULT`) is the configured mode, not a disagreement: the engine
 * models standard mode, where such a pod is open. (AWS logs that denial with tier `DEFAULT`.)
 */
export function explainRecord(r: FlowRecord, e: FlowExplanation): FlowRecord {
  // The kernel's DEFAULT tier denies only in strict mode (standard mode's default allows).
  const strictDefault = r.tier === 'DEFAULT' && r.verdict === 'DENY' && e.tier === 'DEFAULT';
  return {
    ...r,
    ...(e.policy !== undefined ? { policy: e.policy } : {}),
    ...(e.rule !== undefined ? { rule: e.rule } : {}),
    engineVerdict: e.verdict,
    engineTier: e.tier,
    ...(e.verdict !== r.verdict && !strictDefault ? { mismatch: true as const } : {}),
  };
}

export interface NflogReaderOptions {
  readonly group: number;
  readonly netns?: string;
  readonly onPacket: (p: NflogPacket) => void;
  readonly onError?: (e: Error) => void;
}

/** A running `tcpdump -i nflog:GROUP`; resolves once tcpdump is listening. */
export class NflogReader {
  private child?: ChildProcess;

  static async start(opts: NflogReaderOptions): Promise<NflogReader> {
    const r = new NflogReader();
    const args = ['-i', `nflog:${opts.group}`, '-U', '--immediate-mode', '-s', '0', '-w', '-'];
    const [file, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, 'tcpdump', ...args]] : ['tcpdump', args];
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    r.child = child;
    const parser = new PcapNflogParser(opts.onPacket);
    child.stdout.on('data', (c: Buffer) => {
      try { parser.push(c); } catch (e) { opts.onError?.(e as Error); }
    });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 5000);
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        if (/listening on/.test(err)) { clearTimeout(timer); resolve(); }
      });
      child.on('error', (e) => { clearTimeout(timer); reject(e); });
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`tcpdump exited (${code}): ${err.trim()}`)); });
    });
    return r;
  }

  /** Process id of tcpdump (or of `ip netns exec`, which execs it). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
      setTimeout(() => { c.kill('SIGKILL'); resolve(); }, 2000).unref();
    });
  }
}
