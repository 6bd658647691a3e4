/**
 * Two tables are equal when they decide every packet of every local pod alike. This states the compiler's model as an
 * Expectation that {@link proveNode} checks the kernel's table against, cell by cell.
 */
import { parseIP, type Address } from '../../src/api/ip.js';
import type { Protocol } from '../../src/api/types.js';
import type { LocalPod } from '../../src/nft/compile.js';
import { evaluate, rulesetCuts, type L4, type NftPacket, type Ruleset } from '../../src/nft/interpret.js';
import { UPLINK, type Expectation, type ProofPod } from '../../src/verify/prove.js';

const L4_OF: Readonly<Record<Protocol, L4>> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

/** What `reference` decides for each direction, answering for the whole packet as the kernel sees it. */
export function rulesetExpectation(reference: Ruleset, pods: readonly LocalPod[], nodeAddresses: readonly string[]): Expectation {
  const key = (a: Address) => `${a.family}:${a.value}`;
  const byAddress = new Map<string, LocalPod>();
  for (const p of pods) for (const ip of p.ips) byAddress.set(key(parseIP(ip)!), p);
  const node = new Set(nodeAddresses.map((t) => key(parseIP(t)!)));
  return {
    cuts: rulesetCuts(reference),
    allows(pod: ProofPod, direction, peer, protocol, port) {
      const own = pod.ips.map((t) => parseIP(t)!).find((a) => a.family === peer.family)!;
      const other = byAddress.get(key(peer));
      const packet: NftPacket =
        direction === 'egress'
          ? { hook: node.has(key(peer)) && !other ? 'input' : 'forward', iif: pod.ifname, oif: other ? other.ifname : node.has(key(peer)) ? '' : UPLINK, family: peer.family, saddr: own.value, daddr: peer.value, proto: L4_OF[protocol], dport: port, ct: 'new' }
          : { hook: 'forward', iif: other ? other.ifname : UPLINK, oif: pod.ifname, family: peer.family, saddr: peer.value, daddr: own.value, proto: L4_OF[protocol], dport: port, ct: 'new' };
      return evaluate(reference, packet).verdict === 'accept';
    },
  };
}

export function proofPods(pods: readonly LocalPod[]): ProofPod[] {
  return pods.map((p) => ({ id: p.name !== undefined ? `${p.namespace}/${p.name}` : p.ifname, ifname: p.ifname, ips: p.ips }));
}
