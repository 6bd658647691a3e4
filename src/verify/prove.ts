/**
 * Translation validation for one node: proves that a table (the compiler's, or the kernel's read back) decides every
 * new connection of every local pod as an expectation does (the engine's verdicts, or the objects' meaning), for every
 * address, protocol and port — symbolically, not by sampling.
 *
 * Both sides are constant between their cut points (the table's set boundaries, the expectation's own, every local
 * pod and node address), so the address × port space falls into cells on which neither can change its mind; one
 * packet per cell decides the cell. The first cell where they differ is returned as a concrete counterexample packet.
 *
 * The packets: a local pod's egress to every address (to a local pod: that pod's ingress too; to the node's own
 * addresses: through the input hook), and every address's ingress to a local pod from outside the node.
 */
import { formatIP, type Address, type Family } from '../api/ip.js';
import { parseIP } from '../api/ip.js';
import type { Protocol } from '../api/types.js';
import { evaluate, reachableCuts, type L4, type NftPacket, type Ruleset } from '../nft/interpret.js';

/** A local pod: its host-side interface and addresses. */
export interface ProofPod {
  /** How reports name it (`namespace/name`, or the interface). */
  readonly id: string;
  readonly ifname: string;
  readonly ips: readonly string[];
}

type Cuts = { readonly addresses: Readonly<Record<Family, ReadonlySet<bigint>>>; readonly ports: ReadonlySet<number> };

/** What the table must do, per direction of one pod. */
export interface Expectation {
  allows(pod: ProofPod, direction: 'ingress' | 'egress', peer: Address, protocol: Protocol, port: number): boolean;
  /** Where the expectation may change its answer, besides pod and node addresses. */
  readonly cuts: Cuts;
  /** Where its answers for this pod may change (a subset of `cuts`). @default cuts */
  cutsFor?(pod: ProofPod): Cuts;
  /**
   * Pods with equal keys get equal answers towards every address but local pods' (e.g. the same objects select
   * them). @default every pod on its own
   */
  groupKey?(pod: ProofPod): string;
}

export interface Counterexample {
  readonly packet: NftPacket;
  /** `10.0.0.1 → 10.0.0.2 TCP/80 (egress of x/p1)` */
  readonly text: string;
  readonly expected: boolean;
  readonly actual: boolean;
}

export type ProofResult = { readonly proved: true; readonly cells: number } | { readonly proved: false; readonly cells: number; readonly counterexample: Counterexample };

/** The name the proof gives the node's uplink: any interface that is not a local pod's. */
export const UPLINK = '<uplink>';

const L4_OF: Readonly<Record<Protocol, L4>> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };
const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

function familyMax(f: Family): bigint {
  return f === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n;
}

/** Sorted starts of the pieces of [0, max] cut at `points` (a point starts a piece). */
function pieces(points: Iterable<bigint>, max: bigint): bigint[] {
  const set = new Set<bigint>([0n]);
  for (const p of points) if (p >= 0n && p <= max) set.add(p);
  return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Options of {@link proveNode}. */
export interface ProveOptions {
  /** Count the cells without evaluating them (what a proof would cost). @default false */
  readonly countOnly?: boolean;
}

/** The chain a pod's dispatch entry (in any verdict map keyed by its interface) leads to, per map. */
function dispatchChains(rs: Ruleset, ifname: string): string[] {
  const out: string[] = [];
  for (const [name, set] of rs.sets) {
    if (set.kind !== 'vmap') continue;
    const v = set.entries.get(ifname);
    if (v && (v.kind === 'goto' || v.kind === 'jump')) out.push(`${name}:${v.chain}`);
  }
  return out;
}

function union(...cuts: Cuts[]): { addresses: Record<Family, Set<bigint>>; ports: Set<number> } {
  const out = { addresses: { 4: new Set<bigint>(), 6: new Set<bigint>() } as Record<Family, Set<bigint>>, ports: new Set<number>() };
  for (const c of cuts) {
    for (const f of [4, 6] as const) for (const a of c.addresses[f]) out.addresses[f].add(a);
    for (const p of c.ports) out.ports.add(p);
  }
  return out;
}

function portStarts(ports: Iterable<number>): number[] {
  return [...new Set([1, ...ports])].filter((p) => p >= 1 && p <= 65535).sort((a, b) => a - b);
}

/**
 * Proves the table equal to the expectation on every cell, or returns the first counterexample.
 *
 * Each pod's cells are cut only where its own answers can change: the sets its dispatch entries reach, the sets every
 * packet meets (the hooks' chains), the expectation's cuts for that pod, and every local pod and node address. Pods the
 * table sends to the same chains and the expectation groups together are checked once, except towards local pods.
 * @example
 * const r = proveNode(rulesetFromState(state), pods, ['192.168.0.1'], engineExpectation);
 * if (!r.proved) console.log(r.counterexample.text);
 */
export function proveNode(rs: Ruleset, pods: readonly ProofPod[], nodeAddresses: readonly string[], expected: Expectation, opts: ProveOptions = {}): ProofResult {
  const local = new Map<string, ProofPod>();
  for (const pod of pods) for (const ip of pod.ips) {
    const a = parseIP(ip);
    if (a) local.set(`${a.family}:${a.value}`, pod);
  }
  const node = new Set(nodeAddresses.map((t) => parseIP(t)).filter((a): a is Address => a !== undefined).map((a) => `${a.family}:${a.value}`));
  const hooks = [...rs.chains.values()].filter((c) => c.hook).map((c) => c.name);
  const common = reachableCuts(rs, hooks);
  const podCuts = new Map<ProofPod, Cuts>();
  const cutsOf = (pod: ProofPod): Cuts => {
    let c = podCuts.get(pod);
    if (!c) {
      const chains = dispatchChains(rs, pod.ifname).map((d) => d.slice(d.indexOf(':') + 1));
      c = union(common, reachableCuts(rs, chains), expected.cutsFor ? expected.cutsFor(pod) : expected.cuts);
      podCuts.set(pod, c);
    }
    return c;
  };
  const singles: Record<Family, bigint[]> = { 4: [], 6: [] };
  for (const key of [...local.keys(), ...node]) {
    const [f, v] = key.split(':');
    singles[Number(f) as Family].push(BigInt(v), BigInt(v) + 1n);
  }
  // Representatives: the first pod of each group; the others are checked towards local pods (and the representative's own address) only.
  const groupOf = new Map<string, ProofPod>();
  let cells = 0;

  for (const pod of pods) {
    const key = expected.groupKey ? `${dispatchChains(rs, pod.ifname).join(',')}|${expected.groupKey(pod)}` : undefined;
    const rep = key === undefined ? undefined : groupOf.get(key);
    if (key !== undefined && rep === undefined) groupOf.set(key, pod);
    const mine = cutsOf(pod);
    for (const family of [4, 6] as const) {
      const own = pod.ips.map((t) => parseIP(t)).find((a): a is Address => a !== undefined && a.family === family);
      if (!own) continue;
      const repOwn = rep?.ips.map((t) => parseIP(t)).find((a): a is Address => a !== undefined && a.family === family);
      const starts = rep
        ? [...local.keys(), `${family}:${repOwn?.value ?? -1n}`].filter((k) => k.startsWith(`${family}:`)).map((k) => BigInt(k.slice(2)))
        : pieces([...mine.addresses[family], ...singles[family]], familyMax(family));
      const ports = portStarts(mine.ports);
      for (const start of starts) {
        if (start === own.value || start < 0n) continue;
        const key = `${family}:${start}`;
        const peer: Address = { family, value: start };
        const other = local.get(key);
        const toNode = node.has(key);
        const cellPorts = other ? portStarts([...mine.ports, ...cutsOf(other).ports]) : ports;
        for (const protocol of PROTOCOLS) {
          for (const port of cellPorts) {
            cells++;
            if (opts.countOnly) continue;
            // Egress of `pod` (and, to a local pod, that pod's ingress).
            const out: NftPacket = { hook: toNode && !other ? 'input' : 'forward', iif: pod.ifname, oif: other ? other.ifname : toNode ? '' : UPLINK, family, saddr: own.value, daddr: start, proto: L4_OF[protocol], dport: port, ct: 'new' };
            const wantOut = expected.allows(pod, 'egress', peer, protocol, port) && (other ? expected.allows(other, 'ingress', own, protocol, port) : true);
            const gotOut = evaluate(rs, out).verdict === 'accept';
            if (wantOut !== gotOut) return { proved: false, cells, counterexample: describe(out, wantOut, gotOut, `egress of ${pod.id}${other ? ` and ingress of ${other.id}` : ''}`) };
            if (other) continue; // the reverse packet is the other pod's egress, checked in its turn
            // Ingress to `pod` from outside the node.
            const inn: NftPacket = { hook: 'forward', iif: UPLINK, oif: pod.ifname, family, saddr: start, daddr: own.value, proto: L4_OF[protocol], dport: port, ct: 'new' };
            const wantIn = expected.allows(pod, 'ingress', peer, protocol, port);
            const gotIn = evaluate(rs, inn).verdict === 'accept';
            if (wantIn !== gotIn) return { proved: false, cells, counterexample: describe(inn, wantIn, gotIn, `ingress of ${pod.id}`) };
          }
        }
      }
    }
  }
  return { proved: true, cells };
}

/** How many cells {@link proveNode} would walk. */
export function countCells(rs: Ruleset, pods: readonly ProofPod[], nodeAddresses: readonly string[], expected: Expectation): number {
  return proveNode(rs, pods, nodeAddresses, expected, { countOnly: true }).cells;
}

function describe(p: NftPacket, expected: boolean, actual: boolean, what: string): Counterexample {
  const proto = p.proto.toUpperCase();
  const text = `${formatIP(p.family, p.saddr)} → ${formatIP(p.family, p.daddr)} ${proto}/${p.dport} (${what}): expected ${expected ? 'accept' : 'drop'}, the table ${actual ? 'accepts' : 'drops'}`;
  return { packet: p, text, expected, actual };
}
