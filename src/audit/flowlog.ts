/**
 * AWS's flow log against the engine: for every flow the AWS agent logged, the engine's verdict for the direction the
 * line names (both, when it names none), and a mismatch wherever AWS's verdict contradicts the engine. The engine
 * decides; this module only reads the log and compares the two answers.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../api/diagnostics.js';
import type { Protocol } from '../api/types.js';
import type { Engine, ResolvedEnd } from '../engine/engine.js';
import type { DirectionVerdict } from '../engine/types.js';
import { parseFlowLine, type FlowLine } from './flowlog-parse.js';

/** One log to read: its name (for line references) and its text. */
export interface FlowLogSource {
  readonly file: string;
  readonly text: string;
}

/** The engine's answer for one direction of a logged flow. */
export interface EngineSide {
  readonly direction: 'ingress' | 'egress';
  readonly allowed: boolean;
  readonly tier: string;
  /** The deciding policy (`ns/name`, or a tier policy's name); absent when none decided (default allow). */
  readonly policy?: string;
  readonly rule?: number;
  /** The engine's one-line reason, as `why` prints it. */
  readonly why: string;
}

/** A flow where AWS's verdict contradicts the engine. */
export interface FlowMismatch {
  readonly file: string;
  /** 1-based, in its file. */
  readonly line: number;
  readonly node: string;
  readonly time?: string;
  readonly from: string;
  readonly to: string;
  readonly src: string;
  readonly dst: string;
  readonly protocol: string;
  readonly port: number;
  readonly aws: { readonly verdict: string; readonly direction?: string; readonly tier?: string; readonly format: string };
  /** The directions compared (the line's, or both probed ones when it names none). */
  readonly engine: readonly EngineSide[];
  readonly reason: string;
}

export interface FlowCount {
  readonly flows: number;
  readonly mismatches: number;
}

/** The whole comparison; `-o json` of `palisade audit flowlogs`. */
export interface FlowLogAudit {
  readonly flows: number;
  readonly mismatches: readonly FlowMismatch[];
  /** Flow lines that could not be read, with where and why (the first 100). */
  readonly unparsed: number;
  readonly unparsedLines: readonly { readonly file: string; readonly line: number; readonly reason: string }[];
  /** Flows the engine has no answer for: a protocol it does not model (ICMP), or a conntrack expiry. */
  readonly notCompared: number;
  readonly byPolicy: readonly ({ readonly policy: string } & FlowCount)[];
  readonly byNode: readonly ({ readonly node: string } & FlowCount)[];
  /** Each compared flow as a matrix cell (endpoint or external range ids), for the web UI's marks. */
  readonly cells: readonly { readonly from: string; readonly to: string; readonly verdict: string; readonly mismatch: boolean }[];
}

const PROTOCOLS: Readonly<Record<string, Protocol>> = { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP' };

/**
 * Reads a log file as the agent leaves it: plain, or gzip-compressed (lumberjack's rotated `*.log.gz`, recognised by
 * its magic bytes, so a renamed file reads too).
 * @throws InputError when the file cannot be read or decompressed.
 */
export function readFlowLogFile(file: string, readStdin?: () => string): FlowLogSource {
  if (file === '-') return { file: '<stdin>', text: (readStdin ?? (() => readFileSync(0, 'utf8')))() };
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    throw new InputError(code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    try {
      data = gunzipSync(data);
    } catch (e) {
      throw new InputError(`${file}: not a readable gzip file: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { file, text: data.toString('utf8') };
}

function sideOf(v: DirectionVerdict): EngineSide {
  const deciding = v.rules[v.rules.length - 1];
  return {
    direction: v.direction,
    allowed: v.allowed,
    tier: v.tier,
    ...(deciding ? { policy: deciding.policy, rule: deciding.index } : {}),
    why: v.summary,
  };
}

/**
 * The policies a side is attributed to in the per-policy summary: the deciding rule's policy, or, for a pod isolated
 * with no rule allowing the flow, every NetworkPolicy that isolates it in that direction.
 */
function policiesOf(v: DirectionVerdict, end: ResolvedEnd): string[] {
  const deciding = v.rules[v.rules.length - 1];
  if (deciding) return [deciding.tier === 'NetworkPolicy' ? deciding.policy : `${deciding.kind} ${deciding.policy}`];
  if (v.isolated && end.kind === 'endpoint') {
    const isolating = end.cls.networkPolicies[v.direction].map((p) => `${p.namespace}/${p.name}`);
    if (isolating.length > 0) return isolating;
  }
  return ['(no policy)'];
}

function bump(map: Map<string, { flows: number; mismatches: number }>, key: string, mismatch: boolean): void {
  const c = map.get(key) ?? { flows: 0, mismatches: 0 };
  c.flows++;
  if (mismatch) c.mismatches++;
  map.set(key, c);
}

/**
 * Compares every flow of the logs with the engine.
 *
 * A line that names its direction is compared in that direction. A line without one (v1.0–v1.2.1, CloudWatch) was
 * logged by the probe of one of its pod ends, so it is compared with the directions that have a pod on their side
 * (egress of a source pod, ingress of a destination pod): ACCEPT contradicts the engine when it denies in every such
 * direction, DENY when it allows in every one.
 */
export function auditFlowLogs(engine: Engine, sources: readonly FlowLogSource[]): FlowLogAudit {
  let flows = 0;
  let unparsed = 0;
  let notCompared = 0;
  const unparsedLines: { file: string; line: number; reason: string }[] = [];
  const mismatches: FlowMismatch[] = [];
  const byPolicy = new Map<string, { flows: number; mismatches: number }>();
  const byNode = new Map<string, { flows: number; mismatches: number }>();
  const cells = new Map<string, { from: string; to: string; verdict: string; mismatch: boolean }>();
  for (const source of sources) {
    const lines = source.text.split('\n');
    lines.forEach((text, i) => {
      const parsed = parseFlowLine(text);
      if (parsed.kind === 'other') return;
      if (parsed.kind === 'broken') {
        unparsed++;
        if (unparsedLines.length < 100) unparsedLines.push({ file: source.file, line: i + 1, reason: parsed.reason });
        return;
      }
      const f = parsed.flow;
      let from: ResolvedEnd;
      let to: ResolvedEnd;
      try {
        from = engine.resolve(f.src);
        to = engine.resolve(f.dst);
      } catch {
        // e.g. an address redacted to "****" before the line was shared
        unparsed++;
        if (unparsedLines.length < 100) unparsedLines.push({ file: source.file, line: i + 1, reason: `not an IP address: ${f.src} -> ${f.dst}` });
        return;
      }
      flows++;
      const protocol = PROTOCOLS[f.protocol.toUpperCase()];
      const verdict = f.verdict.toUpperCase();
      if (!protocol || (verdict !== 'ACCEPT' && verdict !== 'DENY') || f.dstPort < 1 || f.dstPort > 65535) {
        notCompared++;
        return;
      }
      const fromId = from.kind === 'endpoint' ? from.endpoint.id : from.range.id;
      const toId = to.kind === 'endpoint' ? to.endpoint.id : to.range.id;
      const v = engine.verdict({ from: fromId, to: toId, protocol, port: f.dstPort });
      const probed: DirectionVerdict[] = f.direction
        ? [f.direction === 'egress' ? v.egress : v.ingress]
        : [...(from.kind === 'endpoint' ? [v.egress] : []), ...(to.kind === 'endpoint' ? [v.ingress] : [])];
      const compared = probed.length > 0 ? probed : [v.egress, v.ingress];
      const awsAllows = verdict === 'ACCEPT';
      const mismatch = awsAllows ? compared.every((d) => !d.allowed) : compared.every((d) => d.allowed);
      // The agent runs on the node of the pod whose probe logged the line.
      const local = f.direction === 'ingress' ? to : f.direction === 'egress' ? from : from.kind === 'endpoint' ? from : to;
      const node = f.node ?? (local.kind === 'endpoint' ? local.endpoint.nodeName : undefined) ?? `(unknown node: ${source.file})`;
      bump(byNode, node, mismatch);
      const attributed = new Set(compared.flatMap((d) => policiesOf(d, d.direction === 'egress' ? from : to)));
      for (const p of attributed) bump(byPolicy, p, mismatch);
      const cellKey = `${fromId}\u0000${toId}`;
      const prev = cells.get(cellKey);
      if (!prev || (mismatch && !prev.mismatch)) cells.set(cellKey, { from: fromId, to: toId, verdict, mismatch });
      if (!mismatch) return;
      const sides = compared.map(sideOf);
      mismatches.push({
        file: source.file,
        line: i + 1,
        node,
        ...(f.time !== undefined ? { time: f.time } : {}),
        from: fromId,
        to: toId,
        src: f.src,
        dst: f.dst,
        protocol,
        port: f.dstPort,
        aws: { verdict, ...(f.direction ? { direction: f.direction } : {}), ...(f.tier ? { tier: f.tier } : {}), format: f.format },
        engine: sides,
        reason: `AWS ${verdict === 'ACCEPT' ? 'accepted' : 'denied'}; the engine ${awsAllows ? 'denies' : 'allows'} ${sides.map((s) => `${s.direction}: ${s.why}`).join('; ')}`,
      });
    });
  }
  const sorted = <K extends string>(m: Map<string, { flows: number; mismatches: number }>, key: K) =>
    [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, c]) => ({ [key]: k, ...c }) as { [k in K]: string } & FlowCount);
  return {
    flows,
    mismatches,
    unparsed,
    unparsedLines,
    notCompared,
    byPolicy: sorted(byPolicy, 'policy'),
    byNode: sorted(byNode, 'node'),
    cells: [...cells.values()],
  };
}
