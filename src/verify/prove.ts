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
import { evaluate, rulesetCuts, type L4, type NftPacket, type Ruleset } from '../nft/interpret.js';

/** A local pod: its host-side interface and addresses. */
export interface ProofPod {
  /** How reports name it (`namespace/name`, or the interface). */
  readonly id: string;
  readonly ifname: string;
  readonly ips: readonly string[];
}

/** What the table must do, per direction of one pod. */
export interface Expectation {
  allows(pod: ProofPod, direction: 'ingress' | 'egress', peer: Address, protocol: Protocol, port: number): boolean;
  /** Where the expectation may change its answer, besides pod and node addresses. */
  readonly cuts: { readonly addresses: Readonly<Record<Family, ReadonlySet<bigint>>>; readonly ports: ReadonlySet<number> };
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

/**
 * Proves the table equal to the expectation on every cell, or returns the first counterexample.
 * @example
 * const r = proveNode(rulesetFromState(state), pods, ['192.168.0.1'], engineExpectation);
 * if (!r.proved) console.log(r.counterexample.text);
 */
export function proveNode(rs: Ruleset, pods: readonly ProofPod[], nodeAddresses: readonly string[], expected: Expectation): ProofResult {
  const table = rulesetCuts(rs);
  const local = new Map<string, ProofPod>();
  for (const pod of pods) for (const ip of pod.ips) {
    const a = parseIP(ip);
    if (a) local.set(`${a.family}:${a.value}`, pod);
  }
  const node = new Set(nodeAddresses.map((t) => parseIP(t)).filter((a): a is Address => a !== undefined).map((a) => `${a.family}:${a.value}`));
  const portStarts = [...new Set([1, ...table.ports, ...expected.cuts.ports])].filter((p) => p >= 1 && p <= 65535).sort((a, b) => a - b);
  let cells = 0;

  for (const family of [4, 6] as const) {
    const singles: bigint[] = [];
    for (const key of [...local.keys(), ...node]) {
      const [f, v] = key.split(':');
      if (Number(f) === family) singles.push(BigInt(v), BigInt(v) + 1n);
    }
    const starts = pieces([...table.addresses[family], ...expected.cuts.addresses[family], ...singles], familyMax(family));
    for (const pod of pods) {
      const own = pod.ips.map((t) => parseIP(t)).find((a): a is Address => a !== undefined && a.family === family);
      if (!own) continue;
      for (const start of starts) {
        if (start === own.value) continue;
        const key = `${family}:${start}`;
        const peer: Address = { family, value: start };
        const other = local.get(key);
        const toNode = node.has(key);
        for (const protocol of PROTOCOLS) {
          for (const port of portStarts) {
            cells++;
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

function describe(p: NftPacket, expected: boolean, actual: boolean, what: string): Counterexample {
  const proto = p.proto.toUpperCase();
  const text = `${formatIP(p.family, p.saddr)} → ${formatIP(p.family, p.daddr)} ${proto}/${p.dport} (${what}): expected ${expected ? 'accept' : 'drop'}, the table ${actual ? 'accepts' : 'drops'}`;
  return { packet: p, text, expected, actual };
}
