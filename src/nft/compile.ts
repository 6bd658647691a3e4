/**
 * Compiles the desired state of one node — the PolicyEndpoints and ClusterPolicyEndpoints that select its pods, its
 * local pods and its own addresses — into a model of the `inet palisade` nftables table: sets, dispatch maps and
 * chains. The model is plain data so that two of them can be diffed into a delta transaction (see `script.ts`).
 *
 * It decides nothing: the objects carry the engine's plan (src/engine/plan.ts), and this transcribes their meaning —
 * the stages of src/engine/pipeline.ts, as src/verify/objects.ts states them — into chains that `goto` on. The
 * translation tests prove the result equal to the objects and to the engine on every cell (test/verify/):
 *
 *   admin stage     the Admin-tier ClusterPolicyEndpoints selecting the pod, by priority, entries in rule order:
 *                   Accept → accept, Deny → drop, Pass (or no match) → the next stage
 *   NetworkPolicy   only when a PolicyEndpoint isolates the pod in that direction; it decides (allowed → accept, else drop)
 *   baseline stage  the Baseline-tier ClusterPolicyEndpoints: Accept → accept, Deny → drop, Pass (or no match) → default
 *   default         accept (strict mode: deny, for a pod no PolicyEndpoint selects)
 *
 * "Accept" on egress is `goto ingress_check`: the destination's ingress (same node) still has its say.
 *
 * Layout (pod-to-pod and pod-to-world traffic crosses the node's forward path; pod-to-node traffic its input path).
 * Each direction has three verdict maps keyed by the pod's interface, looked up in order (O(1) per packet, no walk
 * over pods): `<dir>_admin` (`jump` to the admin stage's rules), `<dir>_dispatch` (`goto` the NetworkPolicy stage, or
 * `jump` to the baseline stage's rules, or the default verdict), `<dir>_default` (the default, after a baseline stage).
 * A stage's Pass and no match `return` to the next map, so no pod needs a chain of its own.
 *
 *   forward_filter (hook)  ct established,related → accept; invalid → drop; iifname vmap @egress_admin, @egress_dispatch,
 *                          @egress_default (the source pod's egress); [strict] unknown pod interface → deny;
 *                          goto ingress_check
 *   input_filter (hook)    ct established,related → accept; the same maps for TCP, UDP and SCTP (the pod's egress to
 *                          the node)
 *   ingress_check          node's own addresses → accept; oifname vmap @ingress_admin, @ingress_dispatch,
 *                          @ingress_default; [strict] unknown → deny; accept
 *   ad<i|e>r_<h>/bl<i|e>r_<h> the rules of the admin / baseline stage of one distinct list of ClusterPolicyEndpoints
 *                          (Pass and no match: `return`), shared by every pod with that list
 *   eg_<group>/in_<group>  one chain per distinct set of isolating PolicyEndpoints (pods with the same policies share it):
 *                          one lookup per PolicyEndpoint set, then log + drop.
 *   pe_<id>_<dir><fam><a|p> the allowed peers of a PolicyEndpoint and direction (shared by every one with the same peers,
 *                          named after the first in key order): `a` = `address . inet_proto` with every
 *                          protocol (0-255: all ports and protocols), `p` = `address . inet_proto . inet_service`; both
 *                          concatenated interval sets (nft fetches no element of those before a transaction).
 *   cp_<id>_<dir><run><fam><a|p> the peers of one run of same-action entries of one ClusterPolicyEndpoint (order only
 *                          matters between entries of different actions, so each run is one pair of sets).
 *
 * Elements therefore grow with the rules of the PolicyEndpoints (plus one dispatch entry per local pod), never with
 * pods × pods.
 */
import { createHash } from 'node:crypto';
import type { Protocol } from '../api/types.js';
import { clusterPolicyEndpointOrder, mergeClusterPolicyEndpoints, mergePolicyEndpoints, type ClusterEndpointInfo, type ClusterPolicyEndpoint, type ClusterRuleAction, type EndpointInfo, type PolicyEndpoint, type TrafficDirection } from '../api/policyendpoint.js';
import { localView, podKeys, selectedBy, selectedLocal } from './local.js';
import { canonicalAddress, cidrExcept, formatAddress, formatRange, mergeRanges, parseAddress, type AddressRange, type Family } from './address.js';

/** `standard`: a pod selected by no PolicyEndpoint allows everything. `strict`: it denies everything (AWS strict mode). */
export type EnforcingMode = 'standard' | 'strict';

/** A pod running on this node. */
export interface LocalPod {
  /** Known from a PolicyEndpoint or the pod list; absent for a pod seen only by its route. */
  readonly name?: string;
  readonly namespace?: string;
  readonly ips: readonly string[];
  /** Host-side interface, from the /32 or /128 host route to the pod IP. */
  readonly ifname: string;
}

/** Everything one node's table is compiled from. */
export interface NodeInput {
  readonly policyEndpoints: readonly PolicyEndpoint[];
  /** Admin and Baseline tier policies. @default none */
  readonly clusterPolicyEndpoints?: readonly ClusterPolicyEndpoint[];
  readonly pods: readonly LocalPod[];
  /** The node's own addresses: their traffic to local pods is always allowed. */
  readonly nodeAddresses: readonly string[];
  readonly mode: EnforcingMode;
}

export interface CompileOptions {
  /** NFLOG group for flow logs. @default undefined (no log statements) */
  readonly logGroup?: number;
  /** Also log accepted new connections (denials are always logged when `logGroup` is set). @default false */
  readonly logAccept?: boolean;
  /**
   * nft wildcard of host-side pod interfaces (e.g. `eni*`). In strict mode, traffic of such an interface that has no
   * dispatch entry yet (a pod the agent has not programmed) is denied. @default undefined (no such rule)
   */
  readonly podInterfaces?: string;
  /**
   * Use what earlier compiles remembered (sets, chains and merged objects per object, peer sets per entry list).
   * `false`: compile from nothing, with a memory of this compile's own. @default true
   */
  readonly remember?: boolean;
}

/** One element of a set or map: a key, and for maps a value. */
export interface NftElement {
  readonly key: string;
  readonly value?: string;
}

export interface NftSet {
  readonly name: string;
  /** The body of the declaration, e.g. `type ipv4_addr; flags interval;`. Never changes for a given name. */
  readonly decl: string;
  readonly elements: readonly NftElement[];
}

export interface NftChain {
  readonly name: string;
  /** Base chain declaration body (hook, priority, policy); absent for regular chains. */
  readonly hook?: string;
  readonly rules: readonly string[];
}

/** What a flow-log prefix stands for. */
export interface LogTag {
  readonly verdict: 'ACCEPT' | 'DENY';
  readonly direction: 'ingress' | 'egress';
  /**
   * Policies that decided: `namespace/name` of the NetworkPolicy, or the name of the cluster policy (Admin/Baseline).
   */
  readonly policies: readonly string[];
  /** `ADMIN`, `NETWORK_POLICY`, `BASELINE`, or `STRICT_MODE_DEFAULT` for strict mode's deny of an unprogrammed pod. */
  readonly tier: 'ADMIN' | 'NETWORK_POLICY' | 'BASELINE' | 'STRICT_MODE_DEFAULT';
}

/** The whole table as data. */
export interface DesiredState {
  readonly table: string;
  readonly counters: readonly string[];
  readonly sets: ReadonlyMap<string, NftSet>;
  readonly chains: ReadonlyMap<string, NftChain>;
  /** NFLOG prefix → meaning. */
  readonly logTags: ReadonlyMap<string, LogTag>;
}

export const TABLE = 'palisade';
export const COUNTERS = ['accept_ingress', 'accept_egress', 'drop_ingress', 'drop_egress'] as const;

const PROTO: Record<Protocol, string> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };
type Dir = 'ingress' | 'egress';
const DIR_CODE: Record<Dir, 'i' | 'e'> = { ingress: 'i', egress: 'e' };
const ISOLATION: Record<Dir, TrafficDirection> = { ingress: 'Ingress', egress: 'Egress' };

const hashes = new Map<string, string>();

/** A short stable name for a text (chain and set names): remembered, as the same texts come back every sync. */
function shortHash(text: string): string {
  let h = hashes.get(text);
  if (h === undefined) {
    h = createHash('sha256').update(text).digest('hex').slice(0, 10);
    if (hashes.size >= 50_000) hashes.clear();
    hashes.set(text, h);
  }
  return h;
}

const peKeys = new WeakMap<PolicyEndpoint, string>();

function peKey(pe: PolicyEndpoint): string {
  let k = peKeys.get(pe);
  if (k === undefined) peKeys.set(pe, (k = `${pe.metadata.namespace ?? ''}/${pe.metadata.name ?? ''}`));
  return k;
}

function policyName(pe: PolicyEndpoint): string {
  return `${pe.spec.policyRef.namespace}/${pe.spec.policyRef.name}`;
}

/** An inclusive port range of one protocol. */
interface ProtoPorts {
  readonly proto: Protocol;
  readonly from: number;
  readonly to: number;
}

/** The allowed peers of one direction of one PolicyEndpoint, disjoint and canonical. */
export interface PeerSets {
  /** Per family: address ranges allowed on every port of every protocol. */
  readonly any: Record<Family, AddressRange[]>;
  /** Per family: disjoint `range . proto . ports` cells. */
  readonly ports: Record<Family, { range: AddressRange; proto: Protocol; from: number; to: number }[]>;
}

function entryPorts(e: EndpointInfo): ProtoPorts[] | 'all' {
  if (!e.ports || e.ports.length === 0) return 'all';
  return e.ports.map((p) => {
    const proto = p.protocol ?? 'TCP';
    if (p.port === undefined) return { proto, from: 0, to: 65535 };
    const to = p.endPort !== undefined && p.endPort >= p.port ? p.endPort : p.port;
    return { proto, from: p.port, to };
  });
}

function mergePorts(ps: readonly { from: number; to: number }[]): { from: number; to: number }[] {
  const sorted = [...ps].sort((a, b) => a.from - b.from);
  const out: { from: number; to: number }[] = [];
  for (const p of sorted) {
    const prev = out[out.length - 1];
    if (prev && p.from <= prev.to + 1) prev.to = Math.max(prev.to, p.to);
    else out.push({ ...p });
  }
  return out;
}

/**
 * Resolves entries (cidr − except, ports) into disjoint set contents: nft interval sets reject overlapping elements,
 * and a canonical form makes deltas exact. Address ranges are cut at every boundary, each cell gets the union of the
 * port ranges covering it, and neighbouring cells with equal ports are merged again.
 */
const NO_ENTRIES: readonly EndpointInfo[] = Object.freeze([]);
const peerCache = new WeakMap<readonly EndpointInfo[], PeerSets>();

/**
 * {@link resolvePeers}, remembered per entry list: sources hand out the same object (and lists) until it changes, so a
 * sync re-resolves only the lists that changed. PeerSets are never mutated after they are made.
 */
function cachedPeers(entries: readonly EndpointInfo[]): PeerSets {
  let p = peerCache.get(entries);
  if (p) return p;
  // A rewritten object often carries the same entries (the controller rewrites a policy's objects when only its pods
  // changed): remembered by content too, in a bounded map.
  const text = JSON.stringify(entries);
  p = peerContent.get(text);
  if (p) {
    peerContent.delete(text);
  } else {
    p = resolvePeers(entries);
    if (peerContent.size >= PEER_CONTENT_MAX) peerContent.delete(peerContent.keys().next().value!);
  }
  peerContent.set(text, p);
  peerCache.set(entries, p);
  return p;
}
const peerContent = new Map<string, PeerSets>();
const PEER_CONTENT_MAX = 20_000;

export function resolvePeers(entries: readonly EndpointInfo[]): PeerSets {
  const any: Record<Family, AddressRange[]> = { 4: [], 6: [] };
  const rects: { range: AddressRange; pp: ProtoPorts }[] = [];
  for (const e of entries) {
    const ranges = cidrExcept(e.cidr, e.except ?? []);
    const ports = entryPorts(e);
    for (const r of ranges) {
      if (ports === 'all') any[r.family].push(r);
      else for (const pp of ports) rects.push({ range: r, pp });
    }
  }
  const out: PeerSets = { any: { 4: mergeRanges(any[4]), 6: mergeRanges(any[6]) }, ports: { 4: [], 6: [] } };
  for (const family of [4, 6] as const) {
    for (const proto of ['TCP', 'UDP', 'SCTP'] as const) {
      const rs = rects.filter((x) => x.range.family === family && x.pp.proto === proto);
      if (rs.length === 0) continue;
      // Sweep over the address axis: at each boundary, rectangles start or end; between two boundaries the active
      // rectangles are exactly those covering the segment (O(n log n + n·k), k = overlap depth).
      const events = new Map<bigint, { add: number[]; remove: number[] }>();
      const at = (x: bigint) => events.get(x) ?? (events.set(x, { add: [], remove: [] }), events.get(x)!);
      rs.forEach((x, i) => { at(x.range.first).add.push(i); at(x.range.last + 1n).remove.push(i); });
      const points = [...events.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const active = new Set<number>();
      let pending: { first: bigint; last: bigint; ports: { from: number; to: number }[]; sig: string } | undefined;
      const flush = () => {
        if (!pending) return;
        for (const p of pending.ports) {
          out.ports[family].push({ range: { family, first: pending.first, last: pending.last }, proto, from: p.from, to: p.to });
        }
        pending = undefined;
      };
      for (let i = 0; i + 1 < points.length; i++) {
        const ev = events.get(points[i])!;
        for (const r of ev.remove) active.delete(r);
        for (const a of ev.add) active.add(a);
        const first = points[i];
        const last = points[i + 1] - 1n;
        if (active.size === 0) { flush(); continue; }
        const ports = mergePorts([...active].map((k) => rs[k].pp));
        const sig = ports.map((p) => `${p.from}-${p.to}`).join(',');
        if (pending && pending.sig === sig && pending.last + 1n === first) pending.last = last;
        else { flush(); pending = { first, last, ports, sig }; }
      }
      flush();
    }
  }
  return out;
}

/** The protocol part of an address-only peer: every IP protocol. */
const ALL_PROTOCOLS = '0-255';

const elementCache = new WeakMap<PeerSets, { any: Record<Family, NftElement[]>; ports: Record<Family, NftElement[]> }>();

/**
 * The set elements of peer sets, made once per PeerSets: the same arrays every sync while the peers stay the same, so
 * the delta renderer skips them without comparing.
 */
function peerElements(peers: PeerSets): { any: Record<Family, NftElement[]>; ports: Record<Family, NftElement[]> } {
  let e = elementCache.get(peers);
  if (!e) {
    const ports = (family: Family) => peers.ports[family].map((c) => ({ key: `${formatRange(c.range)} . ${PROTO[c.proto]} . ${portText(c.from, c.to)}` }));
    e = {
      any: { 4: peers.any[4].map((r) => ({ key: `${formatRange(r)} . ${ALL_PROTOCOLS}` })), 6: peers.any[6].map((r) => ({ key: `${formatRange(r)} . ${ALL_PROTOCOLS}` })) },
      ports: { 4: ports(4), 6: ports(6) },
    };
    elementCache.set(peers, e);
  }
  return e;
}

function portText(from: number, to: number): string {
  return from === to ? String(from) : `${from}-${to}`;
}

/** True when the PolicyEndpoint's podSelectorEndpoints name the pod (by IP, or by namespace and name). */
export function selects(pe: PolicyEndpoint, pod: LocalPod): boolean {
  const ips = new Set(pod.ips.map(canonicalAddress));
  return (pe.spec.podSelectorEndpoints ?? []).some(
    (ep) =>
      (ep.podIP !== '' && ips.has(safeCanonical(ep.podIP))) ||
      (pod.name !== undefined && ep.name === pod.name && ep.namespace === pod.namespace),
  );
}

function safeCanonical(ip: string): string {
  try { return canonicalAddress(ip); } catch { return ip; }
}

/** A policy's merged whole, and the objects it was merged from (what selects is read from these, once each). */
interface Whole<T> {
  readonly whole: T;
  readonly parts: readonly T[];
}

/**
 * The wholes selecting each local pod (by IP, or by namespace and name, as `selects` matches), in the order given.
 * What each object selects of the local pods is remembered per object and set of pods (`local.ts`), so a whole of
 * many pieces costs only its changed pieces.
 */
function selectionIndex<T extends PolicyEndpoint | ClusterPolicyEndpoint>(wholes: readonly Whole<T>[], pods: readonly LocalPod[]): (pod: LocalPod) => readonly T[] {
  const keys = podKeys(pods, true);
  const podsOfKey = podsByKey(pods);
  const perPod: T[][] = pods.map(() => []);
  for (const { whole, parts } of wholes) {
    for (const part of parts) {
      for (const k of selectedLocal(part, keys)) {
        for (const i of podsOfKey.get(k) ?? []) {
          const l = perPod[i];
          if (l[l.length - 1] !== whole) l.push(whole);
        }
      }
    }
  }
  const index = podIndex(pods);
  return (pod) => perPod[index.get(pod) ?? -1] ?? [];
}

const byKeyOfList = new WeakMap<readonly LocalPod[], { readonly byKey: Map<string, number[]>; readonly index: Map<LocalPod, number> }>();

function podLookups(pods: readonly LocalPod[]): { readonly byKey: Map<string, number[]>; readonly index: Map<LocalPod, number> } {
  let l = byKeyOfList.get(pods);
  if (!l) {
    // Each key (canonical IP, `namespace/name`) → the pods it names; each pod → its wholes, in the order given (a whole's
    // hits come one after another, so comparing with the last one pushed keeps each whole once).
    const byKey = new Map<string, number[]>();
    pods.forEach((p, i) => {
      const add = (k: string) => {
        const list = byKey.get(k);
        if (!list) byKey.set(k, [i]);
        else if (list[list.length - 1] !== i) list.push(i);
      };
      for (const ip of p.ips) add(safeCanonical(ip));
      if (p.name !== undefined) add(`${p.namespace}/${p.name}`);
    });
    l = { byKey, index: new Map(pods.map((p, i) => [p, i])) };
    byKeyOfList.set(pods, l);
  }
  return l;
}
const podsByKey = (pods: readonly LocalPod[]) => podLookups(pods).byKey;
const podIndex = (pods: readonly LocalPod[]) => podLookups(pods).index;


/**
 * `merge(objects)`, with each merged whole remembered while its pieces stay the same objects: a policy of several
 * pieces is one new object per merge, and the peer sets are remembered per entry list of that object.
 */
function mergedOnce<T extends PolicyEndpoint | ClusterPolicyEndpoint>(objects: readonly T[], merge: (parts: readonly T[]) => T[], mergeCache: Memory['merge']): Whole<T>[] {
  const groups = new Map<string, T[]>();
  for (const o of objects) {
    const g = selectedBy(o).group;
    const list = groups.get(g);
    if (list) list.push(o);
    else groups.set(g, [o]);
  }
  const out: Whole<T>[] = [];
  for (const parts of groups.values()) {
    if (parts.length === 1) {
      out.push({ whole: parts[0], parts });
      continue;
    }
    const have = mergeCache.get(parts[0]);
    if (have && have.parts.length === parts.length && have.parts.every((p, i) => p === parts[i])) {
      out.push({ whole: have.merged as T, parts });
      continue;
    }
    // The whole's own pod list is never read here (the parts say what selects): merged without it.
    const merged = merge(parts.map(withoutPods))[0];
    mergeCache.set(parts[0], { parts, merged });
    out.push({ whole: merged, parts });
  }
  return out;
}

function withoutPods<T extends PolicyEndpoint | ClusterPolicyEndpoint>(o: T): T {
  const { podSelectorEndpoints: _pods, ...spec } = o.spec;
  return { ...o, spec } as T;
}

/**
 * The verdict maps of one direction, looked up in this order: `admin` (jump to the admin stage's rules), `dispatch`
 * (the NetworkPolicy stage, a jump to the baseline stage's rules, or the default), `default` (after the baseline).
 */
type Stage = 'admin' | 'dispatch' | 'default';
const STAGES: readonly Stage[] = ['admin', 'dispatch', 'default'];
const mapName = (dir: Dir, stage: Stage) => `${dir}_${stage}`;
/** A pod's entries in the verdict maps of each direction. */
type PodEntries = Record<Dir, { readonly admin?: string; readonly dispatch: string; readonly default?: string }>;

type PeMemo = WeakMap<PolicyEndpoint, Map<string, { readonly owner: string; readonly rules: string[]; readonly sets: readonly NftSet[]; readonly tag?: readonly [string, LogTag] }>>;
type CpeMemo = WeakMap<ClusterPolicyEndpoint, Map<string, { readonly runs: { action: ClusterRuleAction; matches: string[]; id: string; run: number }[]; readonly sets: readonly NftSet[] }>>;
type TierMemo = Map<string, { readonly selected: readonly ClusterPolicyEndpoint[]; readonly rules: string[]; readonly tags: readonly (readonly [string, LogTag])[] }>;
type StageMemo = Map<string, { readonly parts: readonly string[][]; readonly deny: string; readonly rules: string[] }>;
type PodMemo = Map<
  string,
  {
    /** The rule tokens of its wholes (see {@link Memory.tokens}), in order. */
    readonly selecting: readonly string[];
    readonly tiered: readonly string[];
    readonly owners: string;
    readonly entries: PodEntries;
    readonly chains: readonly NftChain[];
    readonly sets: readonly NftSet[];
    readonly tags: readonly (readonly [string, LogTag])[];
  }
>;

/**
 * What the compiler remembers between compiles: per PolicyEndpoint and ClusterPolicyEndpoint (merged wholes, the same
 * objects while their pieces are) what they compiled to; per tier and NetworkPolicy stage chain the wholes or rule
 * lists it was made of; merged wholes per pieces; peer sets per entry list. `remember: false` compiles with an empty
 * memory of its own (the translation tests compare both).
 */
interface Memory {
  readonly pe: PeMemo;
  readonly cpe: CpeMemo;
  readonly tier: TierMemo;
  readonly stage: StageMemo;
  /** Per pod (interface), mode and options: its wholes, and the chains, sets and tags its entries lead to. */
  readonly pod: PodMemo;
  readonly merge: WeakMap<object, { parts: readonly object[]; merged: object }>;
  readonly peers: (entries: readonly EndpointInfo[]) => PeerSets;
  /**
   * Per whole: everything of it a pod's chains, sets and log tags are made of — its key, policy, tier, isolation and
   * peer sets — and nothing of the pods it selects. A pod joining a policy rewrites the policy's objects (every
   * local pod's ClusterPolicyEndpoints, for a cluster-wide admin policy) without changing any other pod's rules.
   */
  readonly tokens: WeakMap<object, string>;
  /** A number per peer sets object, for tokens. */
  readonly peerIds: WeakMap<PeerSets, number>;
}

const shared: Memory = { pe: new WeakMap(), cpe: new WeakMap(), tier: new Map(), stage: new Map(), pod: new Map(), merge: new WeakMap(), peers: cachedPeers, tokens: new WeakMap(), peerIds: new WeakMap() };

function freshMemory(): Memory {
  // Peer sets by content still: equal peers share sets in a fresh compile too.
  const byContent = new Map<string, PeerSets>();
  const peers = (entries: readonly EndpointInfo[]) => {
    const text = JSON.stringify(entries);
    let p = byContent.get(text);
    if (!p) byContent.set(text, (p = resolvePeers(entries)));
    return p;
  };
  return { pe: new WeakMap(), cpe: new WeakMap(), tier: new Map(), stage: new Map(), pod: new Map(), merge: new WeakMap(), peers, tokens: new WeakMap(), peerIds: new WeakMap() };
}

let nextPeerId = 1;
function peerId(memory: Memory, peers: PeerSets): number {
  let id = memory.peerIds.get(peers);
  if (id === undefined) memory.peerIds.set(peers, (id = nextPeerId++));
  return id;
}

/** {@link Memory.tokens} of a PolicyEndpoint whole. */
function peToken(memory: Memory, pe: PolicyEndpoint): string {
  let t = memory.tokens.get(pe);
  if (t === undefined) {
    const peers = (dir: Dir) => peerId(memory, memory.peers((dir === 'ingress' ? pe.spec.ingress : pe.spec.egress) ?? NO_ENTRIES));
    t = `${peKey(pe)}\n${policyName(pe)}\n${(pe.spec.podIsolation ?? []).join(',')}\n${peers('ingress')}\n${peers('egress')}`;
    memory.tokens.set(pe, t);
  }
  return t;
}

/** {@link Memory.tokens} of a ClusterPolicyEndpoint whole: its runs of actions and their peers, per direction. */
function cpeToken(memory: Memory, c: ClusterPolicyEndpoint): string {
  let t = memory.tokens.get(c);
  if (t === undefined) {
    const runs = (entries: readonly ClusterEndpointInfo[] | undefined) => actionRuns(entries ?? []).map((r) => `${r.action}:${peerId(memory, memory.peers(r.entries))}`).join(',');
    t = `${cpeKey(c)}\n${c.spec.tier}\n${c.spec.policyRef.name}\n${runs(c.spec.ingress)}\n${runs(c.spec.egress)}`;
    memory.tokens.set(c, t);
  }
  return t;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The chains, sets and log tags a pod's dispatch verdicts lead to, in the state being built: every chain they go to or
 * jump to (those built so far), the sets those chains' rules look up, the tags of their log prefixes.
 */
function reachable(
  verdicts: readonly string[],
  chains: ReadonlyMap<string, NftChain>,
  sets: ReadonlyMap<string, NftSet>,
  logTags: ReadonlyMap<string, LogTag>,
): { chains: NftChain[]; sets: NftSet[]; tags: [string, LogTag][] } {
  const out = { chains: [] as NftChain[], sets: [] as NftSet[], tags: [] as [string, LogTag][] };
  const seen = new Set<string>();
  const seenSets = new Set<string>();
  const todo = verdicts.flatMap((v) => /^(?:goto|jump) (\S+)$/.exec(v)?.slice(1) ?? []);
  while (todo.length > 0) {
    const name = todo.pop()!;
    const chain = chains.get(name);
    if (seen.has(name) || !chain) continue;
    seen.add(name);
    out.chains.push(chain);
    for (const rule of chain.rules) {
      for (const m of rule.matchAll(/(?:goto|jump) (\S+)/g)) todo.push(m[1]);
      for (const m of rule.matchAll(/@(\S+)/g)) {
        const set = sets.get(m[1]);
        if (set && !seenSets.has(m[1])) {
          seenSets.add(m[1]);
          out.sets.push(set);
        }
      }
      const prefix = /log prefix "([^"]*)"/.exec(rule)?.[1];
      const tag = prefix !== undefined ? logTags.get(prefix) : undefined;
      if (prefix !== undefined && tag) out.tags.push([prefix, tag]);
    }
  }
  return out;
}

function cpeKey(c: ClusterPolicyEndpoint): string {
  return `cpe/${c.metadata.name ?? ''}`;
}

/**
 * Consecutive entries with the same action, in order. Only the order between different actions matters (the first
 * matching entry decides), so each run can be one set. `domainName` entries are not enforced (no DNS here): left out.
 */
function actionRuns(entries: readonly ClusterEndpointInfo[]): { action: ClusterRuleAction; entries: EndpointInfo[] }[] {
  const runs: { action: ClusterRuleAction; entries: EndpointInfo[] }[] = [];
  for (const e of entries) {
    if (e.cidr === undefined) continue;
    const info: EndpointInfo = e.ports && e.ports.length > 0 ? { cidr: e.cidr, ports: e.ports } : { cidr: e.cidr };
    const last = runs[runs.length - 1];
    if (last && last.action === e.action) last.entries.push(info);
    else runs.push({ action: e.action, entries: [info] });
  }
  return runs;
}

/**
 * Compiles one node's desired table.
 *
 * @example
 * const state = compileNode({ policyEndpoints, pods, nodeAddresses: ['10.99.0.11'], mode: 'standard' }, { logGroup: 7 });
 * const script = renderFull(state); // one atomic `nft -f` transaction
 */
export function compileNode(input: NodeInput, opts: CompileOptions = {}): DesiredState {
  const memory = opts.remember === false ? freshMemory() : shared;
  const sets = new Map<string, NftSet>();
  const chains = new Map<string, NftChain>();
  const logTags = new Map<string, LogTag>();
  const log = (prefix: string, tag: LogTag) => {
    if (opts.logGroup === undefined) return '';
    logTags.set(prefix, tag);
    return `log prefix "${prefix}" group ${opts.logGroup} `;
  };

  // Node addresses.
  // Plain (hash) sets of single addresses: no interval set without concatenation in the table (see peerMatches).
  const node: Record<Family, Set<string>> = { 4: new Set(), 6: new Set() };
  for (const a of input.nodeAddresses) {
    const p = parseAddress(a);
    node[p.family].add(formatAddress(p.family, p.value));
  }
  const nodeSet = (f: Family) => [...node[f]].sort().map((key) => ({ key }));
  sets.set('node4', { name: 'node4', decl: 'type ipv4_addr;', elements: nodeSet(4) });
  sets.set('node6', { name: 'node6', decl: 'type ipv6_addr;', elements: nodeSet(6) });

  // PolicyEndpoint peer sets, only for PolicyEndpoints that isolate a local pod in that direction.
  // Code-unit order, not localeCompare: the same order everywhere, and ~10× cheaper (most of a 10k-pod compile was this sort).
  // The objects of one policy are one whole: a pod listed in one of them gets the rules written in the others.
  // Only the policies of which an object selects a local pod: the others change no local pod's answer.
  const view = localView(input.policyEndpoints, input.clusterPolicyEndpoints ?? [], input.pods);
  const keyed = mergedOnce(view.policyEndpoints, mergePolicyEndpoints, memory.merge).map((w) => ({ w, k: peKey(w.whole) }));
  const peWholes = keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)).map((x) => x.w);
  // Declares the sets holding `peers` (named `<base><family><a|p>`) and returns the matches that look them up.
  const peerMatches = (peers: PeerSets, dir: Dir, base: string): string[] => {
    const out: string[] = [];
    const peer = dir === 'ingress' ? 'saddr' : 'daddr';
    for (const family of [4, 6] as const) {
      const fam = family === 4 ? 'ip' : 'ip6';
      const addrType = family === 4 ? 'ipv4_addr' : 'ipv6_addr';
      const anyName = `${base}${family}a`;
      const portName = `${base}${family}p`;
      const elements = peerElements(peers);
      if (peers.any[family].length > 0) {
        // Keyed by address and protocol (every protocol: 0-255), not by address alone: nft reads back every element
        // of every plain interval set before each transaction, but not those of concatenated sets, so a busy node's
        // delta costs milliseconds, not tens of them.
        sets.set(anyName, { name: anyName, decl: `type ${addrType} . inet_proto; flags interval;`, elements: elements.any[family] });
        out.push(`${fam} ${peer} . meta l4proto @${anyName}`);
      }
      if (peers.ports[family].length > 0) {
        sets.set(portName, { name: portName, decl: `type ${addrType} . inet_proto . inet_service; flags interval;`, elements: elements.ports[family] });
        out.push(`${fam} ${peer} . meta l4proto . th dport @${portName}`);
      }
    }
    return out;
  };
  const peSetRules = new Map<string, string[]>(); // `${peKey}|${dir}` → lookup rules
  const optsKey = `${opts.logGroup ?? ''}|${opts.logAccept ?? false}`;
  const entriesOf = (pe: PolicyEndpoint, dir: Dir) => (dir === 'ingress' ? pe.spec.ingress : pe.spec.egress) ?? NO_ENTRIES;
  // Identical peers (each namespace's copy of one egress policy, say) share one pair of sets, named after the first
  // PolicyEndpoint and direction, in key order, that has them: hundreds of copies are one set in the kernel, and a
  // PolicyEndpoint whose peers are its own keeps its sets' names as its peers change (an element delta).
  const owners = new Map<PeerSets, string>();
  for (const { whole } of peWholes) {
    for (const dir of ['ingress', 'egress'] as const) {
      if (!(whole.spec.podIsolation ?? []).includes(ISOLATION[dir])) continue;
      const peers = memory.peers(entriesOf(whole, dir));
      if (!owners.has(peers)) owners.set(peers, `${peKey(whole)}|${DIR_CODE[dir]}`);
    }
  }
  const ensurePeSets = (pe: PolicyEndpoint, dir: Dir): string[] => {
    const k = `${peKey(pe)}|${dir}`;
    const have = peSetRules.get(k);
    if (have) return have;
    const peers = memory.peers(entriesOf(pe, dir));
    const owner = owners.get(peers) ?? `${peKey(pe)}|${DIR_CODE[dir]}`;
    // The same object, direction, options and set owner as in an earlier compile: the same sets, rules and log tag.
    const memo = memory.pe.get(pe)?.get(`${dir}|${optsKey}`);
    if (memo && memo.owner === owner) {
      for (const set of memo.sets) sets.set(set.name, set);
      if (memo.tag) logTags.set(memo.tag[0], memo.tag[1]);
      peSetRules.set(k, memo.rules);
      return memo.rules;
    }
    const id = shortHash(peKey(pe));
    const rules: string[] = [];
    const tagPrefix = `pl A ${DIR_CODE[dir]} ${id}`;
    const tag: LogTag = { verdict: 'ACCEPT', direction: dir, policies: [policyName(pe)], tier: 'NETWORK_POLICY' };
    const accept = `${log(tagPrefix, tag)}counter name "accept_${dir}" accept`;
    const cut = owner.lastIndexOf('|');
    const base = `pe_${shortHash(owner.slice(0, cut))}_${owner.slice(cut + 1)}`;
    for (const m of peerMatches(peers, dir, base)) rules.push(`${m} ${accept}`);
    peSetRules.set(k, rules);
    const made = [4, 6].flatMap((f) => [`${base}${f}a`, `${base}${f}p`]).flatMap((n) => (sets.has(n) ? [sets.get(n)!] : []));
    let byDir = memory.pe.get(pe);
    if (!byDir) memory.pe.set(pe, (byDir = new Map()));
    byDir.set(`${dir}|${optsKey}`, { owner, rules, sets: made, ...(opts.logGroup !== undefined ? { tag: [tagPrefix, tag] as const } : {}) });
    return rules;
  };

  // Per direction, the three verdict maps a packet is looked up in, in order (see the layout above).
  const maps: Record<Dir, Record<Stage, NftElement[]>> = { ingress: { admin: [], dispatch: [], default: [] }, egress: { admin: [], dispatch: [], default: [] } };
  const strictDeny = (dir: Dir) => {
    const name = `deny_${dir}`;
    if (!chains.has(name)) {
      chains.set(name, {
        name,
        rules: [`${log(`pl D ${DIR_CODE[dir]} strict`, { verdict: 'DENY', direction: dir, policies: [], tier: 'STRICT_MODE_DEFAULT' })}counter name "drop_${dir}" drop`],
      });
    }
    return `goto ${name}`;
  };

  // Which PolicyEndpoints and ClusterPolicyEndpoints select which pod, indexed once (as `selects` matches).
  const peIndex = selectionIndex(peWholes, input.pods);
  const cpeWholes = mergedOnce(view.clusterPolicyEndpoints, mergeClusterPolicyEndpoints, memory.merge).sort((a, b) => clusterPolicyEndpointOrder(a.whole, b.whole));
  const cpeIndex = selectionIndex(cpeWholes, input.pods);

  // The tier stages. A stage chain is shared by every pod with the same ClusterPolicyEndpoints and the same next stage.
  const cpeRuns = new Map<string, { action: ClusterRuleAction; matches: string[]; id: string; run: number }[]>();
  const ensureCpeSets = (cpe: ClusterPolicyEndpoint, dir: Dir) => {
    const k = `${cpeKey(cpe)}|${dir}`;
    const have = cpeRuns.get(k);
    if (have) return have;
    // The same whole and direction as in an earlier compile: the same sets and matches.
    const memo = memory.cpe.get(cpe)?.get(dir);
    if (memo) {
      for (const set of memo.sets) sets.set(set.name, set);
      cpeRuns.set(k, memo.runs);
      return memo.runs;
    }
    const id = shortHash(cpeKey(cpe));
    const runs: { action: ClusterRuleAction; matches: string[]; id: string; run: number }[] = [];
    const made: NftSet[] = [];
    for (const [run, r] of actionRuns((dir === 'ingress' ? cpe.spec.ingress : cpe.spec.egress) ?? []).entries()) {
      const base = `cp_${id}_${DIR_CODE[dir]}${run}`;
      runs.push({ action: r.action, matches: peerMatches(memory.peers(r.entries), dir, base), id, run });
      for (const n of [4, 6].flatMap((f) => [`${base}${f}a`, `${base}${f}p`])) if (sets.has(n)) made.push(sets.get(n)!);
    }
    cpeRuns.set(k, runs);
    let byDir = memory.cpe.get(cpe);
    if (!byDir) memory.cpe.set(cpe, (byDir = new Map()));
    byDir.set(dir, { runs, sets: made });
    return runs;
  };
  // A tier stage is two chains: the stage's rules, shared by every pod with the same ClusterPolicyEndpoints (Pass and
  // no match return), and per next stage a two-rule entry chain (`jump` to the rules, then the next stage).
  const tierRules = (stage: 'ad' | 'bl', selected: readonly ClusterPolicyEndpoint[], dir: Dir): string => {
    const name = `${stage}${DIR_CODE[dir]}r_${shortHash(selected.map(cpeKey).join('\n'))}`;
    if (chains.has(name)) return name;
    // The same wholes as in an earlier compile: the same chain (its sets are the wholes' own).
    const memoKey = `${name}|${optsKey}`;
    const memo = memory.tier.get(memoKey);
    if (memo && memo.selected.length === selected.length && memo.selected.every((c, i) => c === selected[i])) {
      for (const c of selected) ensureCpeSets(c, dir);
      for (const [prefix, tag] of memo.tags) logTags.set(prefix, tag);
      chains.set(name, { name, rules: memo.rules });
      return name;
    }
    const tagsBefore = new Set(logTags.keys());
    const rules: string[] = [];
    for (const cpe of selected) {
      const tier = cpe.spec.tier === 'Admin' ? 'ADMIN' : 'BASELINE';
      const policies = [cpe.spec.policyRef.name];
      for (const r of ensureCpeSets(cpe, dir)) {
        const verdict =
          r.action === 'Pass'
            ? 'return'
            : r.action === 'Accept'
              ? `${log(`pl A ${DIR_CODE[dir]} ${r.id} ${r.run}`, { verdict: 'ACCEPT', direction: dir, policies, tier })}counter name "accept_${dir}" ${dir === 'egress' ? 'goto ingress_check' : 'accept'}`
              : `${log(`pl D ${DIR_CODE[dir]} ${r.id} ${r.run}`, { verdict: 'DENY', direction: dir, policies, tier })}counter name "drop_${dir}" drop`;
        for (const m of r.matches) rules.push(`${m} ${verdict}`);
      }
    }
    chains.set(name, { name, rules });
    if (memory.tier.size >= 20_000) memory.tier.clear();
    memory.tier.set(memoKey, { selected, rules, tags: [...logTags].filter(([k]) => !tagsBefore.has(k)) });
    return name;
  };
  const networkPolicyStage = (isolating: readonly PolicyEndpoint[], dir: Dir): string => {
    const group = shortHash(isolating.map(peKey).join('\n'));
    const name = `${dir === 'ingress' ? 'in' : 'eg'}_${group}`;
    if (!chains.has(name)) {
      const parts = isolating.map((pe) => ensurePeSets(pe, dir));
      const denyPrefix = `pl D ${DIR_CODE[dir]} ${group}`;
      const denyTag: LogTag = { verdict: 'DENY', direction: dir, policies: [...new Set(isolating.map(policyName))], tier: 'NETWORK_POLICY' };
      const deny = `${log(denyPrefix, denyTag)}counter name "drop_${dir}" drop`;
      // Made of the same rule lists as in an earlier compile: the same chain (and the same array, which the delta
      // renderer skips without comparing).
      const memoKey = `${name}|${optsKey}`;
      const memo = memory.stage.get(memoKey);
      if (memo && memo.parts.length === parts.length && memo.parts.every((r, i) => r === parts[i]) && memo.deny === deny) {
        chains.set(name, { name, rules: memo.rules });
      } else {
        const rules = parts.flat();
        // Allowed egress still has to pass the destination's ingress check (same-node pods): goto, not accept.
        const allowed = dir === 'egress' ? rules.map((r) => r.replace(/ accept$/, ' goto ingress_check')) : rules;
        const all = [...allowed, deny];
        if (memory.stage.size >= 20_000) memory.stage.clear();
        memory.stage.set(memoKey, { parts, deny, rules: all });
        chains.set(name, { name, rules: all });
      }
    }
    return `goto ${name}`;
  };
  const hasEntries = (dir: Dir) => (c: ClusterPolicyEndpoint) => ((dir === 'ingress' ? c.spec.ingress : c.spec.egress) ?? []).some((e) => e.cidr !== undefined);

  const pushEntries = (pod: LocalPod, entries: PodEntries) => {
    const key = `"${pod.ifname}"`;
    for (const dir of ['ingress', 'egress'] as const) {
      for (const stage of STAGES) {
        const value = entries[dir][stage];
        if (value !== undefined) maps[dir][stage].push({ key, value });
      }
    }
  };
  const pods = [...input.pods].sort((a, b) => (a.ifname < b.ifname ? -1 : a.ifname > b.ifname ? 1 : 0));
  // What a pod's entries lead to depends only on its wholes (and the owners of their sets): a pod whose wholes are the
  // same objects as in an earlier compile takes its chains, sets and log tags from then, unbuilt.
  const ownerPairs = new Map<PolicyEndpoint, string>();
  const ownerPair = (pe: PolicyEndpoint) => {
    let o = ownerPairs.get(pe);
    if (o === undefined) ownerPairs.set(pe, (o = `${owners.get(memory.peers(entriesOf(pe, 'ingress'))) ?? ''}|${owners.get(memory.peers(entriesOf(pe, 'egress'))) ?? ''}`));
    return o;
  };
  const ownersOf = (selecting: readonly PolicyEndpoint[]) => selecting.map(ownerPair).join('\n');
  for (const pod of pods) {
    const selecting = peIndex(pod);
    const tiered = cpeIndex(pod);
    const podKey = `${pod.ifname}|${input.mode}|${optsKey}|${opts.podInterfaces ?? ''}`;
    const podOwners = ownersOf(selecting);
    const peTokens = selecting.map((pe) => peToken(memory, pe));
    const cpeTokens = tiered.map((c) => cpeToken(memory, c));
    const memo = memory.pod.get(podKey);
    if (memo && memo.owners === podOwners && sameList(memo.selecting, peTokens) && sameList(memo.tiered, cpeTokens)) {
      for (const c of memo.chains) if (!chains.has(c.name)) chains.set(c.name, c);
      for (const set of memo.sets) sets.set(set.name, set);
      for (const [prefix, tag] of memo.tags) logTags.set(prefix, tag);
      pushEntries(pod, memo.entries);
      continue;
    }
    const entries: PodEntries = { ingress: { dispatch: '' }, egress: { dispatch: '' } };
    for (const dir of ['ingress', 'egress'] as const) {
      const pass = dir === 'ingress' ? 'accept' : 'goto ingress_check';
      const fallback = selecting.length === 0 && input.mode === 'strict' ? strictDeny(dir) : pass;
      const isolating = selecting.filter((pe) => (pe.spec.podIsolation ?? []).includes(ISOLATION[dir]));
      const admin = tiered.filter((c) => c.spec.tier === 'Admin').filter(hasEntries(dir));
      const baseline = tiered.filter((c) => c.spec.tier === 'Baseline').filter(hasEntries(dir));
      // The admin stage's rules are jumped to: Pass and no match return to the next map. An isolating NetworkPolicy
      // decides; without one, the baseline stage is jumped to and the default entry decides what it leaves.
      const e: { admin?: string; dispatch: string; default?: string } = { dispatch: fallback };
      if (admin.length > 0) e.admin = `jump ${tierRules('ad', admin, dir)}`;
      if (isolating.length > 0) e.dispatch = networkPolicyStage(isolating, dir);
      else if (baseline.length > 0) {
        e.dispatch = `jump ${tierRules('bl', baseline, dir)}`;
        e.default = fallback;
      }
      entries[dir] = e;
    }
    pushEntries(pod, entries);
    if (memory.pod.size >= 20_000) memory.pod.clear();
    const verdicts = (['ingress', 'egress'] as const).flatMap((d) => [entries[d].admin, entries[d].dispatch, entries[d].default].filter((v): v is string => v !== undefined));
    memory.pod.set(podKey, { selecting: peTokens, tiered: cpeTokens, owners: podOwners, entries, ...reachable(verdicts, chains, sets, logTags) });
  }
  for (const dir of ['ingress', 'egress'] as const) {
    for (const stage of STAGES) {
      const name = mapName(dir, stage);
      sets.set(name, { name, decl: 'type ifname : verdict;', elements: maps[dir][stage] });
    }
  }

  const strictUnknown = input.mode === 'strict' && opts.podInterfaces !== undefined;
  chains.set('ingress_check', {
    name: 'ingress_check',
    rules: [
      'ip saddr @node4 accept',
      'ip6 saddr @node6 accept',
      ...STAGES.map((st) => `oifname vmap @${mapName('ingress', st)}`),
      ...(strictUnknown ? [`oifname "${opts.podInterfaces}" ${strictDeny('ingress')}`] : []),
      'accept',
    ],
  });
  // Traffic from a pod to the node's own addresses is delivered locally (the input hook), never forwarded: it is the
  // pod's egress like any other destination. Only the protocols policies speak of: the rest (ICMPv6 neighbour
  // discovery above all, which the node needs to reach its pods over IPv6) is not a policy's business.
  const transport = 'meta l4proto { tcp, udp, sctp }';
  chains.set('input_filter', {
    name: 'input_filter',
    hook: 'type filter hook input priority filter; policy accept;',
    rules: [
      'ct state established,related accept',
      ...STAGES.map((st) => `${transport} iifname vmap @${mapName('egress', st)}`),
      ...(strictUnknown ? [`${transport} iifname "${opts.podInterfaces}" ${strictDeny('egress')}`] : []),
      'accept',
    ],
  });
  chains.set('forward_filter', {
    name: 'forward_filter',
    hook: 'type filter hook forward priority filter; policy accept;',
    rules: [
      'ct state established,related accept',
      'ct state invalid drop',
      ...STAGES.map((st) => `iifname vmap @${mapName('egress', st)}`),
      ...(strictUnknown ? [`iifname "${opts.podInterfaces}" ${strictDeny('egress')}`] : []),
      'goto ingress_check',
    ],
  });
  // Sets and chains in name order: the same table text however much of it came from memory.
  const byName = <T,>(m: Map<string, T>) => new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { table: TABLE, counters: [...COUNTERS], sets: byName(sets), chains: byName(chains), logTags: byName(logTags) };
}

/** Kernel object counts of a state: set/map elements, rules, chains, sets. */
export function countState(s: DesiredState): { elements: number; rules: number; chains: number; sets: number } {
  let elements = 0;
  for (const set of s.sets.values()) elements += set.elements.length;
  let rules = 0;
  for (const c of s.chains.values()) rules += c.rules.length;
  return { elements, rules, chains: s.chains.size, sets: s.sets.size };
}
