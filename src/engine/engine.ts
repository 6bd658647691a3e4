/**
 * The engine: a compiled cluster that answers single flows (with reasons), allowed ports between any two ends, and the
 * full matrix. Results are computed per class pair; for each subject class, peers are grouped by the atoms its own
 * rules can see, so each direction is evaluated once per group, and the matrix visits only pairs that can be allowed.
 */
import { InputError } from '../api/diagnostics.js';
import { PROTOCOLS, type Protocol } from '../api/types.js';
import type { Cluster, Endpoint } from '../model/types.js';
import { compileCluster, hasAtom, ownNodeAddresses, type CompiledRule, type Compiled, type Direction, type PeerClass } from './compile.js';
import { evaluateDirection, resolvePorts, traceDirection } from './evaluate.js';
import { parseIP, type Address } from '../api/ip.js';
import { isDualStack, projectFamily } from '../model/family.js';
import { EVERYTHING, NOTHING, containsPort, formatPorts, intersect, intersectAll, isNothing, parsePorts, range, unionAll } from './ports.js';
import type { DirectionVerdict, ExternalRange, Flow, MatrixConnection, MatrixEndpoint, MatrixJson, PortsByProtocol, Verdict } from './types.js';

/** A resolved end of a flow. */
export type ResolvedEnd =
  | { readonly kind: 'endpoint'; readonly index: number; readonly endpoint: Endpoint; readonly cls: PeerClass }
  | { readonly kind: 'external'; readonly index: number; readonly range: ExternalRange; readonly cls: PeerClass; readonly address?: Address };

/**
 * The peers of one subject (and direction) grouped by what its rules can see of them: bit i of a class's mask says
 * whether it holds `atoms[i]`; classes with equal masks (and, where egress names ports, equal named ports) get equal
 * verdicts. Group 0 holds every class the scan did not touch.
 */
interface Partition {
  readonly atoms: readonly number[];
  /** Egress rules name ports, so the destination's named ports are part of the group. */
  readonly named: boolean;
  readonly groupByKey: Map<number | string, number>;
  /** A class of each group; for group 0 a phantom holding exactly the atoms untouched classes hold. */
  readonly reps: PeerClass[];
  /** The classes the scan touched, and their groups (some may be 0). */
  readonly touched: readonly number[];
  readonly touchedGroup: readonly number[];
  readonly defaultGroup: number;
}

/** One direction's decision over a protocol's ports: `starts[i]..starts[i+1]-1` all get `verdicts[i]`. */
interface Segments {
  readonly starts: Int32Array;
  readonly verdicts: readonly DirectionVerdict[];
}

interface DirectionState {
  readonly partition: Partition;
  readonly results: (PortsByProtocol | undefined)[];
  /** Per group, per protocol: the decision with its reasons, computed on first use. */
  readonly decisions: (Record<Protocol, Segments> | undefined)[];
}

/** The verdict of one port in a protocol's segments. */
function lookup(decisions: Record<Protocol, Segments>, protocol: Protocol, port: number): DirectionVerdict {
  const { starts, verdicts } = protocol === 'TCP' ? decisions.TCP : protocol === 'UDP' ? decisions.UDP : decisions.SCTP;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= port) lo = mid;
    else hi = mid - 1;
  }
  return verdicts[lo];
}

/** Ingress from the pod's own node: allowed before any policy is asked. */
const OWN_NODE: DirectionVerdict = { direction: 'ingress', allowed: true, tier: 'Default', isolated: false, rules: [], summary: "traffic from the pod's own node is always allowed" };

const EXTERNAL_SIDE: Record<Direction, DirectionVerdict> = {
  ingress: { direction: 'ingress', allowed: true, tier: 'Default', isolated: false, rules: [], summary: 'external address: no policy applies on this side' },
  egress: { direction: 'egress', allowed: true, tier: 'Default', isolated: false, rules: [], summary: 'external address: no policy applies on this side' },
};

/** How many class pairs `classPairPorts` remembers before it starts afresh. */
const PAIR_CACHE_LIMIT = 1 << 22;

export interface MatrixOptions {
  /** Only endpoints of this namespace (and external ranges). */
  readonly namespace?: string;
  readonly protocol?: Protocol;
  readonly port?: number;
}

export class Engine {
  readonly compiled: Compiled;
  private readonly phantom: PeerClass;
  private readonly states: Record<Direction, (DirectionState | undefined)[]>;
  private readonly partitions = new Map<string, Partition>();
  private readonly complements = new Map<number, readonly number[]>();
  private readonly byId = new Map<string, number>();
  private readonly byIP = new Map<string, number>();
  private readonly pairCache = new Map<number, PortsByProtocol>();
  /** In a dual-stack cluster, an engine per address family, for flows given by address (see model/family.ts). */
  private readonly byFamily?: Record<4 | 6, Engine>;
  /** Per endpoint index: the addresses of its own node (`family:value`), when it has any. */
  private readonly ownNode = new Map<number, Set<string>>();
  /** Both directions' decision segments of the endpoint class pairs single-flow queries asked about. */
  private readonly pairDecisions = new Map<number, { readonly egress: Record<Protocol, Segments>; readonly ingress: Record<Protocol, Segments> }>();

  constructor(readonly cluster: Cluster, opts: { readonly perFamily?: boolean } = {}) {
    this.compiled = compileCluster(cluster);
    if (opts.perFamily !== false && isDualStack(cluster)) {
      const make = (f: 4 | 6) => new Engine(projectFamily(cluster, f), { perFamily: false });
      let v4: Engine | undefined;
      let v6: Engine | undefined;
      // Compiled on first use: most questions name endpoints, not addresses.
      this.byFamily = {
        get 4() {
          return (v4 ??= make(4));
        },
        get 6() {
          return (v6 ??= make(6));
        },
      };
    }
    const words = this.compiled.classes[0]?.atoms.length ?? 1;
    this.phantom = {
      id: -1,
      external: false,
      members: [],
      atoms: new Uint32Array(words),
      ports: [],
      networkPolicies: { ingress: [], egress: [] },
      admin: [],
      baseline: [],
    };
    this.states = { ingress: [], egress: [] };
    cluster.endpoints.forEach((ep, i) => {
      const own = ownNodeAddresses(cluster, ep);
      if (own.size > 0) this.ownNode.set(i, own);
      this.byId.set(ep.id, i);
      for (const ip of ep.ips) {
        const a = parseIP(ip);
        if (a) this.byIP.set(`${a.family}:${a.value}`, i);
      }
    });
  }

  get endpoints(): readonly Endpoint[] {
    return this.cluster.endpoints;
  }

  /** External ranges as shown to users: IPv4 always, IPv6 only when some policy names an IPv6 block. */
  get externals(): readonly ExternalRange[] {
    return this.compiled.ipv6Shown ? this.compiled.externals : this.compiled.externals.filter((x) => x.family === 4);
  }

  /** Resolves an endpoint id, an external range id, or an IP address; an InputError when it names nothing. */
  resolve(text: string): ResolvedEnd {
    const i = this.byId.get(text);
    if (i !== undefined) return this.endpointEnd(i);
    const x = this.compiled.externals.findIndex((r) => r.id === text);
    if (x >= 0) return this.externalEnd(x);
    const a = parseIP(text);
    if (a) {
      const pod = this.byIP.get(`${a.family}:${a.value}`);
      if (pod !== undefined) return this.endpointEnd(pod);
      const ranges = this.compiled.externalRanges;
      let lo = 0;
      let hi = ranges.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const r = ranges[mid];
        if (r.family < a.family || (r.family === a.family && r.last < a.value)) lo = mid + 1;
        else if (r.family > a.family || r.first > a.value) hi = mid - 1;
        else return { ...this.externalEnd(mid), address: a };
      }
    }
    const near = [...this.byId.keys()].filter((id) => id.endsWith(`/${text}`) || id.startsWith(`${text}[`));
    const hint = near.length > 0 ? ` (did you mean ${near.slice(0, 3).join(', ')}?)` : '';
    throw new InputError(`no endpoint, external range or IP address named "${text}"${hint}`);
  }

  private endpointEnd(index: number): ResolvedEnd {
    return { kind: 'endpoint', index, endpoint: this.cluster.endpoints[index], cls: this.compiled.classes[this.compiled.endpointClass[index]] };
  }

  private externalEnd(index: number): ResolvedEnd & { kind: 'external' } {
    return { kind: 'external', index, range: this.compiled.externals[index], cls: this.compiled.classes[this.compiled.externalClass[index]] };
  }

  /** The classes that do not hold atom `a` (for atoms holding most classes: cheaper to walk than the atom). */
  private complementOf(a: number): readonly number[] {
    const cached = this.complements.get(a);
    if (cached) return cached;
    const inside = new Uint8Array(this.compiled.classes.length);
    for (const x of this.compiled.atomClasses[a]) inside[x] = 1;
    const outside: number[] = [];
    for (let x = 0; x < inside.length; x++) if (!inside[x]) outside.push(x);
    this.complements.set(a, outside);
    return outside;
  }

  private keyOf(partition: Pick<Partition, 'atoms' | 'named'>, cls: PeerClass): number | string {
    const { atoms } = partition;
    if (!partition.named && atoms.length <= 30) {
      let mask = 0;
      for (let i = 0; i < atoms.length; i++) if (hasAtom(cls, atoms[i])) mask |= 1 << i;
      return mask;
    }
    let key = '';
    for (const a of atoms) key += hasAtom(cls, a) ? '1' : '0';
    return partition.named ? `${key}|${cls.ports.map((p) => `${p.name}/${p.protocol}/${p.port}`).join(',')}` : key;
  }

  /** The group of a peer class in a subject's partition. */
  private groupOf(partition: Partition, cls: PeerClass): number {
    const key = this.keyOf(partition, cls);
    let g = partition.groupByKey.get(key);
    if (g === undefined) {
      // A class the scan grouped nowhere can only be of a new shape when it was added later; give it its own group.
      g = partition.reps.length;
      partition.groupByKey.set(key, g);
      partition.reps.push(cls);
    }
    return g;
  }

  private partitionFor(subject: PeerClass, dir: Direction): Partition {
    const atomSet = new Set<number>();
    let named = false;
    const addRules = (rules: readonly { peers: readonly number[] | null; ports: { named: readonly unknown[] } }[]) => {
      for (const r of rules) {
        for (const a of r.peers ?? []) atomSet.add(a);
        if (dir === 'egress' && r.ports.named.length > 0) named = true;
      }
    };
    for (const p of subject.admin) addRules(p.rules[dir]);
    for (const p of subject.baseline) addRules(p.rules[dir]);
    for (const p of subject.networkPolicies[dir]) addRules(p.rules[dir]);
    const atoms = [...atomSet].sort((a, b) => a - b);
    const cacheKey = `${atoms.join(',')}${named ? '|named' : ''}`;
    const cached = this.partitions.get(cacheKey);
    if (cached) return cached;

    const { classes, atomClasses } = this.compiled;
    const touched: number[] = [];
    const touchedGroup: number[] = [];
    const groupByKey = new Map<number | string, number>();
    const reps: PeerClass[] = [];
    const shape = { atoms, named };
    if (named || atoms.length > 30) {
      // Named ports (or very many atoms): group every class by its full key; rare, and linear in the classes. Every
      // class is touched, so group 0 (the phantom) is never any class's group.
      reps.push(this.phantom);
      for (const cls of classes) {
        const key = this.keyOf(shape, cls);
        let g = groupByKey.get(key);
        if (g === undefined) {
          g = reps.length;
          groupByKey.set(key, g);
          reps.push(cls);
        }
        touched.push(cls.id);
        touchedGroup.push(g);
      }
    } else {
      // Walk only what differs from an untouched class: the members of small atoms, the non-members of large ones.
      const dense = atoms.map((a) => atomClasses[a].length * 2 > classes.length);
      let defaultMask = 0;
      dense.forEach((d, i) => {
        if (d) defaultMask |= 1 << i;
      });
      const mask = new Map<number, number>();
      const touch = (c: number): number => {
        const m = mask.get(c);
        if (m !== undefined) return m;
        mask.set(c, defaultMask);
        touched.push(c);
        return defaultMask;
      };
      atoms.forEach((a, i) => {
        if (dense[i]) for (const c of this.complementOf(a)) mask.set(c, touch(c) & ~(1 << i));
        else for (const c of atomClasses[a]) mask.set(c, touch(c) | (1 << i));
      });
      groupByKey.set(defaultMask, 0);
      reps.push(defaultMask === 0 ? this.phantom : this.phantomWith(atoms.filter((_, i) => dense[i])));
      for (const c of touched) {
        const m = mask.get(c)!;
        let g = groupByKey.get(m);
        if (g === undefined) {
          g = reps.length;
          groupByKey.set(m, g);
          reps.push(classes[c]);
        }
        touchedGroup.push(g);
      }
    }
    const partition: Partition = { atoms, named, groupByKey, reps, touched, touchedGroup, defaultGroup: 0 };
    this.partitions.set(cacheKey, partition);
    return partition;
  }

  /** A class holding exactly `atoms`: the representative of untouched classes when large atoms hold them. */
  private phantomWith(atoms: readonly number[]): PeerClass {
    const bits = new Uint32Array(this.phantom.atoms.length);
    for (const a of atoms) bits[a >>> 5] |= 1 << (a & 31);
    return { ...this.phantom, atoms: bits };
  }

  private state(subject: PeerClass, dir: Direction): DirectionState {
    let s = this.states[dir][subject.id];
    if (!s) {
      const partition = this.partitionFor(subject, dir);
      s = { partition, results: new Array<PortsByProtocol | undefined>(partition.reps.length), decisions: new Array<Record<Protocol, Segments> | undefined>(partition.reps.length) };
      this.states[dir][subject.id] = s;
    }
    return s;
  }

  private groupResult(subject: PeerClass, dir: Direction, group: number): PortsByProtocol {
    const s = this.state(subject, dir);
    let r = s.results[group];
    if (r === undefined) {
      r = evaluateDirection(subject, s.partition.reps[group], dir);
      s.results[group] = r;
    }
    return r;
  }

  private directionPorts(subject: PeerClass, peer: PeerClass, dir: Direction): PortsByProtocol {
    if (subject.external) return EVERYTHING;
    const s = this.state(subject, dir);
    return this.groupResult(subject, dir, this.groupOf(s.partition, peer));
  }

  /**
   * The decision of one direction for a subject and a peer group, per protocol, as port segments: the ports where any
   * rule starts or stops cut the port space, and each piece gets one traced verdict.
   */
  private decisionsFor(subject: PeerClass, dir: Direction, group: number): Record<Protocol, Segments> {
    const s = this.state(subject, dir);
    const cached = s.decisions[group];
    if (cached) return cached;
    const peer = s.partition.reps[group];
    const dst = dir === 'egress' ? peer : subject;
    const cuts: Record<Protocol, Set<number>> = { TCP: new Set([1]), UDP: new Set([1]), SCTP: new Set([1]) };
    const addRules = (rules: readonly CompiledRule[]) => {
      for (const rule of rules) {
        const ports = resolvePorts(rule.ports, dst);
        for (const proto of PROTOCOLS) {
          for (const r of ports[proto]) {
            cuts[proto].add(r.from);
            if (r.to < 65535) cuts[proto].add(r.to + 1);
          }
        }
      }
    };
    for (const p of subject.admin) addRules(p.rules[dir]);
    for (const p of subject.networkPolicies[dir]) addRules(p.rules[dir]);
    for (const p of subject.baseline) addRules(p.rules[dir]);
    const out = {} as Record<Protocol, Segments>;
    for (const proto of PROTOCOLS) {
      const starts: number[] = [];
      const verdicts: DirectionVerdict[] = [];
      for (const start of [...cuts[proto]].sort((a, b) => a - b)) {
        const v = traceDirection(subject, peer, dir, proto, start);
        const prev = verdicts[verdicts.length - 1];
        if (prev && prev.allowed === v.allowed && prev.summary === v.summary) continue;
        starts.push(start);
        verdicts.push(v);
      }
      out[proto] = { starts: Int32Array.from(starts), verdicts };
    }
    s.decisions[group] = out;
    return out;
  }

  /** A direction's decision segments for a subject and a peer class. */
  private directionDecisions(subject: PeerClass, peer: PeerClass, dir: Direction): Record<Protocol, Segments> {
    const s = this.states[dir][subject.id] ?? this.state(subject, dir);
    const group = this.groupOf(s.partition, peer);
    return s.decisions[group] ?? this.decisionsFor(subject, dir, group);
  }

  private directionVerdict(subject: PeerClass | undefined, peer: PeerClass, dir: Direction, protocol: Protocol, port: number): DirectionVerdict {
    if (!subject || subject.external) return EXTERNAL_SIDE[dir];
    return lookup(this.directionDecisions(subject, peer, dir), protocol, port);
  }


  /** Allowed ports from class `src` to class `dst` (different endpoints), remembered for repeated queries. */
  classPairPorts(src: PeerClass, dst: PeerClass): PortsByProtocol {
    const key = src.id * this.compiled.classes.length + dst.id;
    const cached = this.pairCache.get(key);
    if (cached) return cached;
    const result = this.pairPorts(src, dst);
    // Bounded: a long-lived engine answering many queries must not grow without limit.
    if (this.pairCache.size >= PAIR_CACHE_LIMIT) this.pairCache.clear();
    this.pairCache.set(key, result);
    return result;
  }

  private pairPorts(src: PeerClass, dst: PeerClass): PortsByProtocol {
    if (src.external && dst.external) return NOTHING;
    const egress = this.directionPorts(src, dst, 'egress');
    return isNothing(egress) ? NOTHING : intersectAll(egress, this.directionPorts(dst, src, 'ingress'));
  }

  /** The families an end can use: an endpoint's address families (both when it has no address yet), a range's own. */
  private familiesOfEnd(text: string): readonly (4 | 6)[] {
    const i = this.byId.get(text);
    if (i !== undefined) {
      const fams = [...new Set(this.cluster.endpoints[i].ips.map((ip) => parseIP(ip)?.family).filter((f): f is 4 | 6 => f !== undefined))];
      return fams.length > 0 ? fams : [4, 6];
    }
    const x = this.compiled.externals.find((r) => r.id === text);
    if (x) return [x.family];
    // An address (a pod's or not) is of its own family only.
    const a = parseIP(text);
    return a ? [a.family] : [4, 6];
  }

  private commonFamilies(from: string, to: string): (4 | 6)[] {
    const b = this.familiesOfEnd(to);
    return this.familiesOfEnd(from).filter((f) => b.includes(f));
  }

  /** The family engine for a flow that names an address, in a dual-stack cluster: exact for that family's packets. */
  private familyOf(from: string, to: string): Engine | undefined {
    if (!this.byFamily) return undefined;
    const a = parseIP(from) ?? parseIP(to);
    return a ? this.byFamily[a.family] : undefined;
  }

  /**
   * Allowed ports between two ends (ids or IPs). An endpoint always reaches itself. With an address, in a dual-stack
   * cluster, the answer is for packets of that address's family.
   */
  allowedPorts(from: string, to: string): PortsByProtocol {
    const family = this.familyOf(from, to);
    if (family) return this.commonFamilies(from, to).length > 0 ? family.allowedPorts(from, to) : NOTHING;
    if (this.byFamily) {
      // Two endpoints by id: what some address family both have allows.
      let out = NOTHING;
      for (const f of this.commonFamilies(from, to)) out = unionAll(out, this.byFamily[f].allowedPorts(from, to));
      return out;
    }
    const a = this.resolve(from);
    const b = this.resolve(to);
    if (a.kind === 'endpoint' && b.kind === 'endpoint' && a.index === b.index) return EVERYTHING;
    if (this.fromOwnNode(a, b)) return EVERYTHING;
    return this.classPairPorts(a.cls, b.cls);
  }

  /** True when `a` is an address (or a one-address range) of `b`'s own node. */
  private fromOwnNode(a: ResolvedEnd, b: ResolvedEnd): boolean {
    if (a.kind !== 'external' || b.kind !== 'endpoint') return false;
    const own = this.ownNode.get(b.index);
    if (!own) return false;
    const r = this.compiled.externalRanges[a.index];
    const key = a.address ? `${a.address.family}:${a.address.value}` : r.first === r.last ? `${r.family}:${r.first}` : undefined;
    return key !== undefined && own.has(key);
  }

  /** Whether a flow is allowed, without reasons. */
  allows(flow: Flow): boolean {
    return containsPort(this.allowedPorts(flow.from, flow.to), flow.protocol, flow.port);
  }

  /**
   * A flow's verdict with the tier, policy and rule that decided each direction. With an address at either end, in a
   * dual-stack cluster, the verdict is for packets of that address's family.
   */
  verdict(flow: Flow): Verdict {
    // Kept small (the per-family case is a method of its own): this is the hot path of `why`, the UI and flow logs.
    if (this.byFamily) return this.familyVerdict(flow, this.byFamily);
    const ai = this.byId.get(flow.from);
    const bi = this.byId.get(flow.to);
    if (ai !== undefined && bi !== undefined && ai !== bi) {
      // The common case, without allocating resolved ends: two endpoints by id.
      const { classes, endpointClass } = this.compiled;
      const key = endpointClass[ai] * classes.length + endpointClass[bi];
      let pair = this.pairDecisions.get(key);
      if (pair === undefined) {
        const src = classes[endpointClass[ai]];
        const dst = classes[endpointClass[bi]];
        pair = { egress: this.directionDecisions(src, dst, 'egress'), ingress: this.directionDecisions(dst, src, 'ingress') };
        if (this.pairDecisions.size >= PAIR_CACHE_LIMIT) this.pairDecisions.clear();
        this.pairDecisions.set(key, pair);
      }
      const egress = lookup(pair.egress, flow.protocol, flow.port);
      const ingress = lookup(pair.ingress, flow.protocol, flow.port);
      return { flow, allowed: egress.allowed && ingress.allowed, egress, ingress };
    }
    const a = this.resolve(flow.from);
    const b = this.resolve(flow.to);
    if (a.kind === 'endpoint' && b.kind === 'endpoint' && a.index === b.index) {
      const self = { allowed: true, tier: 'Default', isolated: false, rules: [], summary: 'a pod always reaches itself' } as const;
      return { flow, allowed: true, egress: { ...self, direction: 'egress' }, ingress: { ...self, direction: 'ingress' } };
    }
    const egress = this.directionVerdict(a.kind === 'endpoint' ? a.cls : undefined, b.cls, 'egress', flow.protocol, flow.port);
    const ingress = this.fromOwnNode(a, b) ? OWN_NODE : this.directionVerdict(b.kind === 'endpoint' ? b.cls : undefined, a.cls, 'ingress', flow.protocol, flow.port);
    return { flow, allowed: egress.allowed && ingress.allowed, egress, ingress };
  }

  /** {@link verdict} in a dual-stack cluster: the engine of the flow's family, or of the first common one that allows it. */
  private familyVerdict(flow: Flow, byFamily: NonNullable<typeof this.byFamily>): Verdict {
    const family = this.familyOf(flow.from, flow.to);
    const common = this.commonFamilies(flow.from, flow.to);
    if (family && common.length > 0) return family.verdict(flow);
    // Two endpoints (or a range) by id: the verdict of the first family both have that allows it, else of the first.
    const verdicts = family ? [] : common.map((f) => byFamily[f].verdict(flow));
    const chosen = verdicts.find((v) => v.allowed) ?? verdicts[0];
    if (chosen) return chosen;
    const none: DirectionVerdict = { direction: 'egress', allowed: false, tier: 'Default', isolated: false, rules: [], summary: 'the two ends have no address family in common' };
    return { flow, allowed: false, egress: none, ingress: { ...none, direction: 'ingress' } };
  }

  /**
   * Calls `emit` for every ordered class pair with at least one allowed port (external → external never). Visits only
   * the pairs whose rules can see each other, plus open-to-open pairs.
   */
  forEachClassPair(emit: (src: PeerClass, dst: PeerClass, ports: PortsByProtocol) => void): void {
    const { classes } = this.compiled;
    // For each source class, the destinations whose ingress rules see it and allow it something.
    const ingressTouchers: number[][] = classes.map(() => []);
    const openIngress: number[] = [];
    for (const d of classes) {
      if (d.external) {
        openIngress.push(d.id);
        continue;
      }
      const { partition } = this.state(d, 'ingress');
      partition.touched.forEach((src, i) => {
        const g = partition.touchedGroup[i];
        if (g !== partition.defaultGroup && !isNothing(this.groupResult(d, 'ingress', g))) ingressTouchers[src].push(d.id);
      });
      if (!isNothing(this.groupResult(d, 'ingress', partition.defaultGroup))) openIngress.push(d.id);
    }
    const stamp = new Int32Array(classes.length).fill(-1);
    for (const src of classes) {
      const visit = (d: number) => {
        if (stamp[d] === src.id) return;
        stamp[d] = src.id;
        const dst = classes[d];
        if (src.external && dst.external) return;
        const ports = this.pairPorts(src, dst);
        if (!isNothing(ports)) emit(src, dst, ports);
      };
      let openEgress = true;
      if (!src.external) {
        const { partition } = this.state(src, 'egress');
        // Groups whose egress allows nothing hold no allowed pair: their members are never visited.
        partition.touched.forEach((d, i) => {
          const g = partition.touchedGroup[i];
          if (g !== partition.defaultGroup && !isNothing(this.groupResult(src, 'egress', g))) visit(d);
        });
        openEgress = !isNothing(this.groupResult(src, 'egress', partition.defaultGroup));
      }
      for (const d of ingressTouchers[src.id]) visit(d);
      if (openEgress) for (const d of openIngress) visit(d);
    }
  }


  /**
   * The pairs (external range index, endpoint index) where the range is one address of the endpoint's own node: every
   * port is allowed there, whatever the class pair says (matrix and grid apply these after the class pairs).
   */
  ownNodePairs(): readonly { readonly external: number; readonly endpoint: number }[] {
    if (this.ownNode.size === 0) return [];
    const single = new Map<string, number>();
    this.compiled.externalRanges.forEach((r, x) => {
      if (r.first === r.last) single.set(`${r.family}:${r.first}`, x);
    });
    const out: { external: number; endpoint: number }[] = [];
    for (const [endpoint, own] of this.ownNode) {
      for (const key of own) {
        const external = single.get(key);
        if (external !== undefined) out.push({ external, endpoint });
      }
    }
    return out;
  }

  /** The `matrix -o json` contract: endpoints, external ranges, and every allowed ordered pair with its ports. */
  matrixJson(opts: MatrixOptions = {}): MatrixJson {
    if (this.byFamily) return this.familyMatrix(opts);
    return this.singleMatrix(opts);
  }

  /**
   * A dual-stack cluster's matrix: per family, the pairs both ends can use that family for, from that family's engine;
   * the union of the two.
   */
  private familyMatrix(opts: MatrixOptions): MatrixJson {
    const endpoints = this.matrixEndpoints(opts);
    const merged = new Map<string, { from: string; to: string; ports: PortsByProtocol }>();
    for (const f of [4, 6] as const) {
      for (const c of this.byFamily![f].singleMatrix(opts).connections) {
        if (!this.commonFamilies(c.from, c.to).includes(f)) continue;
        const ports = { TCP: parsePorts(c.tcp), UDP: parsePorts(c.udp), SCTP: parsePorts(c.sctp) };
        const key = `${c.from}\u0000${c.to}`;
        const m = merged.get(key);
        if (m) m.ports = unionAll(m.ports, ports);
        else merged.set(key, { from: c.from, to: c.to, ports });
      }
    }
    const position = new Map(endpoints.map((e, i) => [e.id, i]));
    const connections = [...merged.values()]
      .filter((m) => position.has(m.from) && position.has(m.to))
      .map((m) => ({ from: m.from, to: m.to, tcp: formatPorts(m.ports.TCP), udp: formatPorts(m.ports.UDP), sctp: formatPorts(m.ports.SCTP) }))
      .sort((a, b) => position.get(a.from)! - position.get(b.from)! || position.get(a.to)! - position.get(b.to)!);
    return { endpoints, connections };
  }

  /** The matrix's endpoints: endpoints by id (of one namespace, when asked), then the external ranges shown. */
  private matrixEndpoints(opts: MatrixOptions): MatrixEndpoint[] {
    const eps = this.cluster.endpoints;
    const keep = (i: number) => opts.namespace === undefined || eps[i].namespace === opts.namespace;
    const endpoints: MatrixEndpoint[] = [];
    const order = eps.map((_, i) => i).filter(keep).sort((x, y) => (eps[x].id < eps[y].id ? -1 : eps[x].id > eps[y].id ? 1 : 0));
    for (const i of order) endpoints.push({ id: eps[i].id, kind: eps[i].kind, namespace: eps[i].namespace, name: eps[i].name });
    for (const x of this.externals) endpoints.push({ id: x.id, kind: 'External' });
    return endpoints;
  }

  private singleMatrix(opts: MatrixOptions): MatrixJson {
    const eps = this.cluster.endpoints;
    const keep = (i: number) => opts.namespace === undefined || eps[i].namespace === opts.namespace;
    const endpoints = this.matrixEndpoints(opts);
    const position = new Map(endpoints.map((e, i) => [e.id, i]));

    const filter = (p: PortsByProtocol): PortsByProtocol => {
      if (opts.protocol === undefined && opts.port === undefined) return p;
      const out = { TCP: p.TCP, UDP: p.UDP, SCTP: p.SCTP };
      for (const proto of PROTOCOLS) {
        if (opts.protocol !== undefined && proto !== opts.protocol) out[proto] = [];
        else if (opts.port !== undefined) out[proto] = intersect(out[proto], range(opts.port, opts.port));
      }
      return out;
    };
    const shownExternal = (m: number) => this.compiled.ipv6Shown || this.compiled.externals[m].family === 4;
    const idsOf = (cls: PeerClass): string[] =>
      cls.external
        ? cls.members.filter(shownExternal).map((m) => this.compiled.externals[m].id)
        : cls.members.filter(keep).map((m) => eps[m].id);

    const connections: MatrixConnection[] = [];
    this.forEachClassPair((src, dst, all) => {
      const ports = filter(all);
      if (isNothing(ports)) return;
      const tcp = formatPorts(ports.TCP);
      const udp = formatPorts(ports.UDP);
      const sctp = formatPorts(ports.SCTP);
      const froms = idsOf(src);
      const tos = idsOf(dst);
      for (const from of froms) for (const to of tos) if (from !== to) connections.push({ from, to, tcp, udp, sctp });
    });
    // Each pod's own node reaches it on every port (its address is a range of its own, see compile.ts).
    const all = filter(EVERYTHING);
    if (!isNothing(all)) {
      const byPair = new Map(connections.map((c, k) => [`${c.from}\u0000${c.to}`, k]));
      for (const { external, endpoint } of this.ownNodePairs()) {
        if (!keep(endpoint) || !shownExternal(external)) continue;
        const c = { from: this.compiled.externals[external].id, to: eps[endpoint].id, tcp: formatPorts(all.TCP), udp: formatPorts(all.UDP), sctp: formatPorts(all.SCTP) };
        const k = byPair.get(`${c.from}\u0000${c.to}`);
        if (k === undefined) connections.push(c);
        else connections[k] = c;
      }
    }
    connections.sort((a, b) => position.get(a.from)! - position.get(b.from)! || position.get(a.to)! - position.get(b.to)!);
    return { endpoints, connections };
  }
}

/** Compiles a cluster into an engine. */
export function compile(cluster: Cluster): Engine {
  return new Engine(cluster);
}
