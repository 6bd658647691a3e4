/**
 * An interpreter of PolicyEndpoint and ClusterPolicyEndpoint objects: what an agent that reads them must enforce for
 * one local pod, one direction and one packet. It is the meaning of the objects' format, written plainly (per packet,
 * no compilation), so that the controller's output and the agent's nftables ruleset can both be checked against the
 * engine: engine == interpret(objects) == interpret(ruleset).
 *
 * Per direction, the stages of src/engine/pipeline.ts:
 * - ingress from one of the node's own addresses is always accepted (the kubelet's probes; the API says so);
 * - Admin: the Admin-tier ClusterPolicyEndpoints selecting the pod, in {@link clusterPolicyEndpointOrder}, entries in
 *   order, the first matching entry decides (Pass → Next);
 * - NetworkPolicy: when a PolicyEndpoint selecting the pod isolates it in this direction, some matching entry of an
 *   isolating one accepts, else deny;
 * - Baseline: as Admin, for the Baseline tier;
 * - Default: accept; in strict mode a pod no PolicyEndpoint selects is denied.
 */
import type { Protocol } from '../api/types.js';
import { parseIP, type Address } from '../api/ip.js';
import {
  clusterPolicyEndpointOrder,
  mergeClusterPolicyEndpoints,
  mergePolicyEndpoints,
  type ClusterEndpointInfo,
  type ClusterPolicyEndpoint,
  type EndpointInfo,
  type PodEndpoint,
  type PolicyEndpoint,
  type PolicyEndpointPort,
} from '../api/policyendpoint.js';
import { runPipeline, type Stage } from '../engine/pipeline.js';

/** What one node's agent is given. */
export interface ObjectsInput {
  readonly policyEndpoints: readonly PolicyEndpoint[];
  readonly clusterPolicyEndpoints?: readonly ClusterPolicyEndpoint[];
  /** The node's own addresses. */
  readonly nodeAddresses: readonly string[];
  readonly mode: 'standard' | 'strict';
}

/** A local pod as the objects name it: by IP, or by namespace and name. */
export interface ObjectsPod {
  readonly ips: readonly string[];
  readonly name?: string;
  readonly namespace?: string;
}

/** One packet seen from the pod: the address at the other end, protocol and destination port. */
export interface ObjectsPacket {
  readonly direction: 'ingress' | 'egress';
  readonly peer: string;
  readonly protocol: Protocol;
  readonly port: number;
}

export interface ObjectsDecision {
  readonly allowed: boolean;
  /** `Node` for the node's own traffic to its pods. */
  readonly stage: Stage | 'Node';
  /** The deciding policy (`namespace/name` or the cluster policy's name), when one decided. */
  readonly policy?: string;
}

/** A compiled view of the input: merged objects, ready for many questions. */
export class ObjectsInterpreter {
  private readonly pes: readonly PolicyEndpoint[];
  private readonly cpes: readonly ClusterPolicyEndpoint[];
  private readonly node: readonly Address[];

  constructor(readonly input: ObjectsInput) {
    this.pes = mergePolicyEndpoints(input.policyEndpoints);
    this.cpes = mergeClusterPolicyEndpoints(input.clusterPolicyEndpoints ?? []).sort(clusterPolicyEndpointOrder);
    this.node = input.nodeAddresses.map((a) => parseIP(a)).filter((a): a is Address => a !== undefined);
  }

  private readonly selection = new Map<string, { readonly pes: readonly PolicyEndpoint[]; readonly cpes: readonly ClusterPolicyEndpoint[] }>();

  /** The objects that select a pod (by IP, or by namespace and name), in evaluation order; computed once per pod. */
  selecting(pod: ObjectsPod): { readonly pes: readonly PolicyEndpoint[]; readonly cpes: readonly ClusterPolicyEndpoint[] } {
    const key = `${pod.ips.join(',')}|${pod.namespace ?? ''}/${pod.name ?? ''}`;
    let sel = this.selection.get(key);
    if (!sel) {
      sel = { pes: this.pes.filter((pe) => selects(pe.spec.podSelectorEndpoints, pod)), cpes: this.cpes.filter((c) => selects(c.spec.podSelectorEndpoints, pod)) };
      this.selection.set(key, sel);
    }
    return sel;
  }

  /** The decision for one packet of one local pod. */
  decide(pod: ObjectsPod, packet: ObjectsPacket): ObjectsDecision {
    const peer = parseIP(packet.peer);
    if (!peer) throw new RangeError(`not an IP address: ${packet.peer}`);
    return this.decideAddress(pod, packet, peer);
  }

  /** {@link decide} with the peer's address already parsed. */
  decideAddress(pod: ObjectsPod, packet: Omit<ObjectsPacket, 'peer'>, peer: Address): ObjectsDecision {
    if (packet.direction === 'ingress' && this.node.some((n) => n.family === peer.family && n.value === peer.value)) {
      return { allowed: true, stage: 'Node' };
    }
    const { pes: selecting, cpes: tiered } = this.selecting(pod);
    const isolation = packet.direction === 'ingress' ? 'Ingress' : 'Egress';
    const listOf = <E>(o: { spec: { ingress?: readonly E[]; egress?: readonly E[] } }): readonly E[] => (packet.direction === 'ingress' ? o.spec.ingress : o.spec.egress) ?? [];
    const tier = (name: 'Admin' | 'Baseline') => () => {
      for (const c of tiered.filter((x) => x.spec.tier === name)) {
        for (const e of listOf<ClusterEndpointInfo>(c)) {
          if (!entryMatches(e, peer, packet.protocol, packet.port)) continue;
          if (e.action === 'Pass') return { answer: 'Next' as const, detail: c.spec.policyRef.name };
          return { answer: e.action === 'Accept' ? ('Accept' as const) : ('Deny' as const), detail: c.spec.policyRef.name };
        }
      }
      return { answer: 'Next' as const };
    };
    const result = runPipeline<string>({
      Admin: tier('Admin'),
      NetworkPolicy: () => {
        const isolating = selecting.filter((pe) => (pe.spec.podIsolation ?? []).includes(isolation));
        if (isolating.length === 0) return { answer: 'Next' };
        const by = isolating.find((pe) => listOf<EndpointInfo>(pe).some((e) => entryMatches(e, peer, packet.protocol, packet.port)));
        const name = (pe: PolicyEndpoint) => `${pe.spec.policyRef.namespace}/${pe.spec.policyRef.name}`;
        return by ? { answer: 'Accept', detail: name(by) } : { answer: 'Deny', detail: isolating.map(name).join(', ') };
      },
      Baseline: tier('Baseline'),
      Default: () => ({ answer: selecting.length === 0 && this.input.mode === 'strict' ? 'Deny' : 'Accept' }),
    });
    return { allowed: result.allowed, stage: result.stage, ...(result.detail !== undefined ? { policy: result.detail } : {}) };
  }
}

function selects(endpoints: readonly PodEndpoint[] | undefined, pod: ObjectsPod): boolean {
  const ips = new Set(pod.ips.map(canonical));
  return (endpoints ?? []).some((ep) => (ep.podIP !== '' && ips.has(canonical(ep.podIP))) || (pod.name !== undefined && ep.name === pod.name && ep.namespace === pod.namespace));
}

function canonical(ip: string): string {
  const a = parseIP(ip);
  return a ? `${a.family}:${a.value}` : ip;
}

interface ParsedEntry {
  readonly cidr?: { readonly family: 4 | 6; readonly value: bigint; readonly shift: bigint };
  readonly except: readonly { readonly family: 4 | 6; readonly value: bigint; readonly shift: bigint }[];
}

const parsed = new WeakMap<object, ParsedEntry>();

/** A CIDR (a bare address is a /32 or /128) as family, value and host-bit count; written apart from the engine's. */
function parseCidr(text: string): ParsedEntry['cidr'] {
  const [addr, len] = text.split('/');
  const base = parseIP(addr);
  if (!base) return undefined;
  const bits = base.family === 4 ? 32 : 128;
  const prefix = len === undefined ? bits : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return undefined;
  const shift = BigInt(bits - prefix);
  return { family: base.family, value: base.value >> shift, shift };
}

function within(c: NonNullable<ParsedEntry['cidr']>, a: Address): boolean {
  return c.family === a.family && a.value >> c.shift === c.value;
}

/** Does an entry (cidr minus except, on its ports) match the packet? An entry without cidr (a domain name) never does. */
export function entryMatches(e: { readonly cidr?: string; readonly except?: readonly string[]; readonly ports?: readonly PolicyEndpointPort[] }, peer: Address, protocol: Protocol, port: number): boolean {
  let p = parsed.get(e);
  if (!p) {
    p = { ...(e.cidr !== undefined ? { cidr: parseCidr(e.cidr) } : {}), except: (e.except ?? []).map(parseCidr).filter((x): x is NonNullable<ParsedEntry['cidr']> => x !== undefined) };
    parsed.set(e, p);
  }
  if (!p.cidr || !within(p.cidr, peer)) return false;
  if (p.except.some((x) => within(x, peer))) return false;
  if (!e.ports || e.ports.length === 0) return true;
  return e.ports.some((q) => (q.protocol ?? 'TCP') === protocol && (q.port === undefined || (port >= q.port && port <= (q.endPort ?? q.port))));
}
