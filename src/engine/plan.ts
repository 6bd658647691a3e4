/**
 * The enforcement plan: what each policy asks of the data plane, decided once, here, by the engine. For every policy
 * (NetworkPolicy or tier policy) and every rule: the peers as address blocks (a pod as its IPs, an ipBlock or network
 * as its CIDR minus exceptions, a node as its addresses) × the ports the rule covers for that peer, with
 *
 * - named ports already resolved: on egress per destination pod (an address block can carry only numbers, so each pod
 *   it covers that has the named port gets an entry of its own), on ingress per subject pod — subjects whose names
 *   resolve to different numbers are split into groups, each with its own entries, so nothing over-applies;
 * - fail-closed peers already applied: an Allow rule with a peer the engine cannot evaluate matches nothing (no
 *   entries), a Deny or Pass rule with one denies every address on its ports (the compiler made it `peers: null`).
 *
 * Consumers (the controller's PolicyEndpoint/ClusterPolicyEndpoint writer, and through those objects the agent's
 * nftables compiler) only transcribe this; the stage order a packet runs through is {@link STAGES} in pipeline.ts.
 */
import type { Protocol } from '../api/types.js';
import { PROTOCOLS } from '../api/types.js';
import type { Endpoint, TierPeer } from '../model/types.js';
import type { CompiledRule, Direction, PeerClass, RulePorts } from './compile.js';
import type { Engine } from './engine.js';
import { resolvePorts } from './evaluate.js';
import { formatIP, parseIP, rangeContains, type AddressRange } from '../api/ip.js';
import { NOTHING, formatPorts, isNothing } from './ports.js';
import type { PortsByProtocol } from './types.js';

/** One peer of a rule as the data plane sees it: `cidr` minus `except` (a bare IP is one address), on `ports`. */
export interface PlanEntry {
  /** A CIDR or a bare IP address (pod and node addresses are written bare). */
  readonly cidr: string;
  readonly except?: readonly string[];
  /** Never empty; {@link EVERYTHING} means every port of every protocol. */
  readonly ports: PortsByProtocol;
}

/** One rule of a policy, resolved for one group of subject pods. */
export interface PlanRule {
  readonly direction: Direction;
  /** Index within the policy's ingress or egress list. */
  readonly index: number;
  readonly name?: string;
  readonly action: CompiledRule['action'];
  /** In no particular order: within one rule every entry has the rule's action, so order does not matter. */
  readonly entries: readonly PlanEntry[];
  /** Why the rule has no entries, when it has none. */
  readonly dropped?: string;
  /** True for an Allow rule with a peer the engine cannot evaluate: it matches nothing, and nothing may be added. */
  readonly failsClosed?: true;
}

/** Subject pods whose rules resolve alike, and those rules (ingress rules, then egress rules, each in rule order). */
export interface PlanGroup {
  /** Pods with an IP, in cluster order. Workload representatives and pods without an IP are not in the data plane. */
  readonly pods: readonly Endpoint[];
  readonly rules: readonly PlanRule[];
}

/** A policy's plan: one group, unless ingress named ports resolve differently across its subjects. */
export interface PolicyPlan {
  readonly groups: readonly PlanGroup[];
}

const ALL_ADDRESSES = ['0.0.0.0/0', '::/0'] as const;

/** A source peer of a rule, as far as the plan needs it: pods (an atom), or address blocks written as text. */
type SourcePeer = { readonly kind: 'pods' } | { readonly kind: 'blocks'; readonly blocks: readonly { readonly cidr: string; readonly except?: readonly string[] }[] };

class Planner {
  private readonly classOfEndpoint: (i: number) => PeerClass;
  /** Every pod with an IP, for rules whose peers are everyone. */
  private readonly allPods: readonly number[];

  constructor(private readonly engine: Engine) {
    const { classes, endpointClass } = engine.compiled;
    this.classOfEndpoint = (i) => classes[endpointClass[i]];
    this.allPods = engine.cluster.endpoints.map((_, i) => i).filter((i) => this.inDataPlane(i));
  }

  /** Pods with an IP take part in the data plane; workload representatives and pending pods do not. */
  inDataPlane(i: number): boolean {
    const ep = this.engine.cluster.endpoints[i];
    return ep.kind === 'Pod' && ep.ips.length > 0;
  }

  podsOfAtom(atom: number): number[] {
    return this.engine.compiled.atoms[atom].endpoints.filter((i) => this.inDataPlane(i));
  }

  /**
   * Subjects grouped by how their own ingress rules' named ports resolve: the key is the resolved ports of every
   * ingress rule that names a port. Without ingress named ports there is one group.
   */
  groups(subject: number, ingress: readonly CompiledRule[]): number[][] {
    const pods = this.podsOfAtom(subject);
    const named = ingress.filter((r) => r.ports.named.length > 0);
    if (named.length === 0) return [pods];
    const byKey = new Map<string, number[]>();
    for (const i of pods) {
      const cls = this.classOfEndpoint(i);
      const key = named.map((r) => portsKey(resolvePorts(r.ports, cls))).join('|');
      const list = byKey.get(key);
      if (list) list.push(i);
      else byKey.set(key, [i]);
    }
    return byKey.size === 0 ? [[]] : [...byKey.values()];
  }

  /**
   * One rule for one group. `peers[k]` is the source form of `rule.peers[k]` (absent when `rule.peers` is null).
   * `subject` is a pod of the group (ingress named ports resolve against it); undefined for an empty group.
   */
  rule(dir: Direction, rule: CompiledRule, peers: readonly SourcePeer[], subject: number | undefined): PlanRule {
    const base = { direction: dir, index: rule.index, ...(rule.name ? { name: rule.name } : {}), action: rule.action };
    if (rule.never) return { ...base, entries: [], failsClosed: true, dropped: 'fails closed: one of its peers cannot be evaluated (e.g. domainNames), so it matches nothing' };
    const entries: PlanEntry[] = [];
    if (dir === 'ingress') {
      // The destination is the subject: every peer gets the ports as they resolve on the group's pods.
      const ports = subject === undefined ? rule.ports.fixed : resolvePorts(rule.ports, this.classOfEndpoint(subject));
      if (isNothing(ports)) return { ...base, entries, dropped: 'none of its named ports is a container port of these subject pods' };
      if (rule.peers === null) {
        for (const cidr of ALL_ADDRESSES) entries.push({ cidr, ports });
      } else {
        rule.peers.forEach((atom, k) => {
          const peer = peers[k];
          if (peer.kind === 'blocks') for (const b of peer.blocks) entries.push(block(b, ports));
          else for (const i of this.podsOfAtom(atom)) for (const ip of this.engine.cluster.endpoints[i].ips) entries.push({ cidr: ip, ports });
        });
      }
      return { ...base, entries };
    }
    // Egress: the destination is the peer. A block carries the numeric ports; each pod it covers that has a named
    // port gets that port as its own entry (a named port never matches an address outside every pod).
    const namedOnly: RulePorts = { fixed: NOTHING, named: rule.ports.named };
    const podEntries = (pods: readonly number[], ports: (cls: PeerClass) => PortsByProtocol, inside: (ip: string) => boolean = () => true) => {
      for (const i of pods) {
        const p = ports(this.classOfEndpoint(i));
        if (isNothing(p)) continue;
        for (const ip of this.engine.cluster.endpoints[i].ips) if (inside(ip)) entries.push({ cidr: ip, ports: p });
      }
    };
    const blocks = (list: readonly { cidr: string; except?: readonly string[] }[], covered: readonly number[], ranges: readonly AddressRange[] | undefined) => {
      if (!isNothing(rule.ports.fixed)) for (const b of list) entries.push(block(b, rule.ports.fixed));
      // Only the pod's addresses the block holds: a dual-stack pod may be inside it in one family only.
      if (rule.ports.named.length > 0) podEntries(covered, (cls) => resolvePorts(namedOnly, cls), (ip) => ranges === undefined || inRanges(ranges, ip));
    };
    if (rule.peers === null) {
      blocks(ALL_ADDRESSES.map((cidr) => ({ cidr })), this.allPods, undefined);
    } else {
      rule.peers.forEach((atom, k) => {
        const peer = peers[k];
        if (peer.kind === 'blocks') blocks(peer.blocks, this.podsOfAtom(atom), this.engine.compiled.atoms[atom].ranges);
        else podEntries(this.podsOfAtom(atom), (cls) => resolvePorts(rule.ports, cls));
      });
    }
    if (entries.length === 0) return { ...base, entries, dropped: 'no destination has any of its named ports' };
    return { ...base, entries };
  }
}

function inRanges(ranges: readonly AddressRange[], ip: string): boolean {
  const a = parseIP(ip);
  return a !== undefined && ranges.some((r) => rangeContains(r, a));
}

function block(b: { readonly cidr: string; readonly except?: readonly string[] }, ports: PortsByProtocol): PlanEntry {
  return { cidr: b.cidr, ...(b.except && b.except.length > 0 ? { except: [...b.except] } : {}), ports };
}

function portsKey(p: PortsByProtocol): string {
  return PROTOCOLS.map((proto: Protocol) => formatPorts(p[proto])).join('/');
}

const planners = new WeakMap<Engine, Planner>();
function plannerOf(engine: Engine): Planner {
  let p = planners.get(engine);
  if (!p) planners.set(engine, (p = new Planner(engine)));
  return p;
}

/**
 * The plan of `cluster.policies[index]`.
 * @example planNetworkPolicy(compile(cluster), 0).groups[0].rules[0].entries // [{ cidr: '10.0.1.5', ports: {...} }]
 */
export function planNetworkPolicy(engine: Engine, index: number): PolicyPlan {
  const compiled = engine.compiled.networkPolicies[index];
  if (!compiled) throw new RangeError(`no NetworkPolicy at index ${index}`);
  const planner = plannerOf(engine);
  const spec = compiled.source.policy.spec;
  const sourcePeers = (dir: Direction, index: number): SourcePeer[] => {
    const peers = dir === 'ingress' ? spec.ingress?.[index]?.from : spec.egress?.[index]?.to;
    // A domainNames peer (ApplicationNetworkPolicy): no address the objects can carry.
    return (peers ?? []).map((p) => (p.ipBlock ? { kind: 'blocks', blocks: [{ cidr: p.ipBlock.cidr, except: p.ipBlock.except }] } : p.domainNames ? { kind: 'blocks', blocks: [] } : { kind: 'pods' }));
  };
  return {
    groups: planner.groups(compiled.subject, compiled.rules.ingress).map((pods) => ({
      pods: pods.map((i) => engine.cluster.endpoints[i]),
      rules: (['ingress', 'egress'] as const).flatMap((dir) => compiled.rules[dir].map((r) => planner.rule(dir, r, sourcePeers(dir, r.index), pods[0]))),
    })),
  };
}

/** The plan of `engine.compiled.tierPolicies[index]` (tier order: ascending priority). */
export function planTierPolicy(engine: Engine, index: number): PolicyPlan {
  const compiled = engine.compiled.tierPolicies[index];
  if (!compiled) throw new RangeError(`no tier policy at index ${index}`);
  const planner = plannerOf(engine);
  const sourcePeers = (dir: Direction, rule: CompiledRule): SourcePeer[] => {
    if (rule.peers === null) return [];
    const source = compiled.source[dir][rule.index]?.peers ?? [];
    return rule.peers.map((atom, k): SourcePeer => {
      const p = source[rule.peerSources?.[k] ?? k];
      if (p.kind === 'pods') return { kind: 'pods' };
      if (p.kind === 'networks') return { kind: 'blocks', blocks: p.cidrs.map((cidr) => ({ cidr })) };
      // A domainNames peer the engine read through DNS answers: no address the objects can carry (DNS is not in the
      // data plane; AWS writes a domainName entry, which agents skip).
      if (p.kind === 'unsupported') return { kind: 'blocks', blocks: [] };
      // Node addresses, bare, as the atom holds them.
      const ranges = engine.compiled.atoms[atom].ranges ?? [];
      return { kind: 'blocks', blocks: ranges.map((r) => ({ cidr: hostText(r) })) };
    });
  };
  return {
    groups: planner.groups(compiled.subject, compiled.rules.ingress).map((pods) => ({
      pods: pods.map((i) => engine.cluster.endpoints[i]),
      rules: (['ingress', 'egress'] as const).flatMap((dir) => compiled.rules[dir].map((r) => planner.rule(dir, r, sourcePeers(dir, r), pods[0]))),
    })),
  };
}

/** A node address (a nodes peer's atom holds single hosts). */
function hostText(r: { readonly family: 4 | 6; readonly first: bigint }): string {
  return formatIP(r.family, r.first);
}
