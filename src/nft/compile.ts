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
import { clusterPolicyEndpointOrder, mergeClusterPolicyEndpoints, mergePolicyEndpoints, ownerAwsGroup, type ClusterEndpointInfo, type ClusterPolicyEndpoint, type ClusterRuleAction, type EndpointInfo, type PolicyEndpoint, type TrafficDirection } from '../api/policyendpoint.js';
import { groupOf, localView, podKeys, samePods, selectedLocal } from './local.js';
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

/**
 * `cidr − except` per entry text, remembered (bounded): a policy's peers are mostly pod addresses that every rewrite of
 * its objects lists again. Ranges are never mutated.
 */
function entryRanges(cidr: string, except: readonly string[] | undefined): readonly AddressRange[] {
  const key = except && except.length > 0 ? `${cidr} ${except.join(' ')}` : cidr;
  let r = rangeCache.get(key);
  if (!r) {
    r = cidrExcept(cidr, except ?? []);
    if (rangeCache.size >= 100_000) rangeCache.clear();
    rangeCache.set(key, r);
  }
  return r;
}
const rangeCache = new Map<string, readonly AddressRange[]>();

export function resolvePeers(entries: readonly EndpointInfo[]): PeerSets {
  const any: Record<Family, AddressRange[]> = { 4: [], 6: [] };
  const rects: { range: AddressRange; pp: ProtoPorts }[] = [];
  for (const e of entries) {
    const ranges = entryRanges(e.cidr, e.except);
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

/** Which of a peer set's four sets (IPv4/IPv6, every port / some ports) have elements: what the rules looking them up are made of. */
function peerShape(p: PeerSets): string {
  return `${p.any[4].length > 0 ? 'a' : '-'}${p.ports[4].length > 0 ? 'p' : '-'}${p.any[6].length > 0 ? 'a' : '-'}${p.ports[6].length > 0 ? 'p' : '-'}`;
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

const byKeyOfList = new WeakMap<readonly LocalPod[], Map<string, number[]>>();

/** Each key (canonical IP, `namespace/name`) → the positions of the pods it names, once per pod list. */
function podsByKey(pods: readonly LocalPod[]): Map<string, number[]> {
  let byKey = byKeyOfList.get(pods);
  if (!byKey) {
    const made = new Map<string, number[]>();
    pods.forEach((p, i) => {
      const add = (k: string) => {
        const list = made.get(k);
        if (!list) made.set(k, [i]);
        else if (list[list.length - 1] !== i) list.push(i);
      };
      for (const ip of p.ips) add(safeCanonical(ip));
      if (p.name !== undefined) add(`${p.namespace}/${p.name}`);
    });
    byKeyOfList.set(pods, (byKey = made));
  }
  return byKey;
}


/**
 * The whole of one merge group: its only object, or the merge of its pieces, remembered while the pieces stay the same
 * objects (a policy of several pieces is one new object per merge; its peer sets are remembered per entry list).
 */
function wholeOf<T extends PolicyEndpoint | ClusterPolicyEndpoint>(parts: readonly T[], merge: (parts: readonly T[]) => T[], mergeCache: Memory['merge']): T {
  if (parts.length === 1) return parts[0];
  const have = mergeCache.get(parts[0]);
  if (have && have.parts.length === parts.length && have.parts.every((p, i) => p === parts[i])) return have.merged as T;
  // The whole's own pod list is never read here (the parts say what selects): merged without it.
  const merged = merge(parts.map(withoutPods))[0];
  mergeCache.set(parts[0], { parts, merged });
  return merged;
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

/** What a {@link NodeCompiler} keeps of one merge group (a policy's objects, read as one whole) between compiles. */
interface Group<T> {
  readonly parts: readonly T[];
  readonly whole: T;
  /** What places it among the wholes: the key of a PolicyEndpoint, the tier order's fields of a ClusterPolicyEndpoint. */
  readonly order: string;
  /** Everything of it that rules are made of ({@link Memory.tokens}). */
  readonly token: string;
  /**
   * {@link token} with each peer set reduced to which of its sets are non-empty: while it stays, the rules stay, text for
   * text, and only the elements of the whole's sets change (a pod joining its peers, say).
   */
  readonly shape: string;
  /** The local pods its pieces select (indices into the compiler's pod list), ascending. */
  readonly pods: readonly number[];
  /** PolicyEndpoints: the peers of each isolated direction (rules name their sets after the peers' owners). */
  readonly isolated?: Readonly<Partial<Record<Dir, PeerSets>>>;
  /** PolicyEndpoints: its name as the owner of a direction's sets, `key|i` and `key|e` (made once per whole). */
  readonly ownerNames?: Readonly<Record<Dir, string>>;
  /** The owners of its isolated directions' sets as of the last compile. */
  owners?: Readonly<Record<Dir, string | undefined>>;
}

/** One kind of object (PolicyEndpoints, or ClusterPolicyEndpoints) as the compiler keeps it between compiles. */
interface Side<T> {
  readonly groups: Map<number, Group<T>>;
  /** Group numbers in the order of the wholes (PolicyEndpoints by key, ClusterPolicyEndpoints in tier order). */
  sorted: number[];
  position: Map<number, number>;
  /** Two wholes with the same place or key: their order, and what is built per key, follow the input's order. */
  ties: boolean;
  /** Per pod: the groups selecting it. */
  readonly perPod: Set<number>[];
}

/** What a pod's entries lead to: its chains, the sets they look up, the tags of their log prefixes. */
interface Contribution {
  readonly chains: readonly NftChain[];
  readonly sets: readonly NftSet[];
  readonly tags: readonly (readonly [string, LogTag])[];
}

/** Objects by name, each counted once per pod whose entries lead to it. */
class Counted<T> {
  readonly items = new Map<string, { obj: T; n: number }>();
  /** A name came or went since the last {@link take}. */
  changed = false;
  add(name: string, obj: T): void {
    const have = this.items.get(name);
    if (have) {
      have.n++;
      have.obj = obj;
    } else {
      this.items.set(name, { obj, n: 1 });
      this.changed = true;
    }
  }
  remove(name: string): void {
    const have = this.items.get(name)!;
    if (--have.n === 0) {
      this.items.delete(name);
      this.changed = true;
    }
  }
}

interface CompilerState {
  /** Options, mode and node addresses: a compile with others starts afresh. */
  readonly config: string;
  readonly pods: readonly LocalPod[];
  /** Pod indices in interface-name order (the order of the dispatch entries). */
  readonly byIfname: readonly number[];
  readonly pe: Side<PolicyEndpoint>;
  readonly cpe: Side<ClusterPolicyEndpoint>;
  /** The owner of each distinct peer list of the PolicyEndpoint wholes (see {@link updateOwners}). */
  readonly owners: Map<PeerSets, string>;
  /** The groups whose wholes isolate a direction with each peer list. */
  readonly holders: Map<PeerSets, Set<number>>;
  readonly entries: (PodEntries | undefined)[];
  readonly contributions: (Contribution | undefined)[];
  readonly chains: Counted<NftChain>;
  readonly sets: Counted<NftSet>;
  readonly tags: Counted<LogTag>;
  /** The parts of the table that depend only on the options and the node: base chains, node address sets. */
  readonly fixed: { readonly chains: readonly NftChain[]; readonly sets: readonly NftSet[]; readonly tags: readonly (readonly [string, LogTag])[] };
  maps?: Record<Dir, Record<Stage, NftElement[]>>;
  names?: { readonly sets: readonly string[]; readonly chains: readonly string[]; readonly tags: readonly string[] };
  last?: DesiredState;
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function newSide<T>(pods: number): Side<T> {
  return { groups: new Map(), sorted: [], position: new Map(), ties: false, perPod: Array.from({ length: pods }, () => new Set<number>()) };
}

/**
 * The merge groups of `objects` after a compile's changes: groups whose pieces are the same objects as last time keep
 * their whole; the local pods of every group whose rules or place changed, and the pods that joined or left a group,
 * are added to `touched`; groups whose peers alone changed to `refresh`.
 */
function updateSide<T extends PolicyEndpoint | ClusterPolicyEndpoint>(
  side: Side<T>,
  objects: readonly T[],
  make: (parts: readonly T[]) => Omit<Group<T>, 'parts'>,
  compare: (a: T, b: T) => number,
  keyOf: (w: T) => string,
  touched: Set<number>,
  refresh: Set<number>,
): SideChanges<T> {
  const changes: SideChanges<T> = { replaced: [], resorted: false };
  const byGroup = new Map<number, T[]>();
  for (const o of objects) {
    const g = groupOf(o);
    const list = byGroup.get(g);
    if (list) list.push(o);
    else byGroup.set(g, [o]);
  }
  let resort = side.ties;
  const setPods = (g: number, before: readonly number[], after: readonly number[], all: boolean) => {
    const was = new Set(before);
    const now = new Set(after);
    for (const i of before) if (all || !now.has(i)) touched.add(i);
    for (const i of after) if (all || !was.has(i)) touched.add(i);
    for (const i of before) if (!now.has(i)) side.perPod[i].delete(g);
    for (const i of after) side.perPod[i].add(g);
  };
  for (const [g, parts] of byGroup) {
    const prev = side.groups.get(g);
    if (prev && sameList(prev.parts, parts)) continue;
    const next: Group<T> = { parts, ...make(parts) };
    if (!prev || prev.order !== next.order) resort = true;
    // The same rules and place: only the pods that joined or left it change.
    const rulesChanged = !prev || prev.order !== next.order || prev.shape !== next.shape;
    setPods(g, prev?.pods ?? [], next.pods, rulesChanged);
    // Only its peers changed: its pods keep their rules, its sets get the new elements.
    if (!rulesChanged && prev.token !== next.token) refresh.add(g);
    if (prev?.owners !== undefined) next.owners = prev.owners;
    side.groups.set(g, next);
    changes.replaced.push({ g, ...(prev ? { prev } : {}), next });
  }
  for (const [g, prev] of side.groups) {
    if (byGroup.has(g)) continue;
    setPods(g, prev.pods, [], true);
    side.groups.delete(g);
    changes.replaced.push({ g, prev });
    resort = true;
  }
  if (!resort) return changes;
  changes.resorted = true;
  // The input's order of first appearance, then a stable sort: ties keep it.
  const sorted = [...byGroup.keys()].sort((a, b) => compare(side.groups.get(a)!.whole, side.groups.get(b)!.whole));
  let ties = false;
  const keys = new Set<string>();
  for (let k = 0; k < sorted.length; k++) {
    const w = side.groups.get(sorted[k])!.whole;
    if (k > 0 && compare(side.groups.get(sorted[k - 1])!.whole, w) === 0) ties = true;
    const key = keyOf(w);
    if (keys.has(key)) ties = true;
    keys.add(key);
  }
  side.sorted = sorted;
  side.position = new Map(sorted.map((g, k) => [g, k]));
  side.ties = ties;
  return changes;
}

/** What {@link updateSide} changed: each group added, replaced or removed (as it was and as it is), and whether the order was rebuilt. */
interface SideChanges<T> {
  readonly replaced: { readonly g: number; readonly prev?: Group<T>; readonly next?: Group<T> }[];
  resorted: boolean;
}

/**
 * Identical peers (each namespace's copy of one egress policy, say) share one pair of sets, named after the first
 * PolicyEndpoint whole and direction, in key order (ingress before egress), that has them: hundreds of copies are one
 * set in the kernel, and a PolicyEndpoint whose peers are its own keeps its sets' names as its peers change (an element
 * delta). Kept from compile to compile: only the peer lists of the groups that changed are looked at again, unless the
 * order of the wholes was rebuilt. The local pods of a whole whose sets changed owner are added to `touched` (its rules
 * name other sets). Owners' names are the same strings from compile to compile, so they are compared by reference.
 */
function updateOwners(st: CompilerState, changes: SideChanges<PolicyEndpoint>, touched: Set<number>): Map<PeerSets, string> {
  const { owners, holders } = st;
  const side = st.pe;
  // The peer lists some changed group had or has: only their owners can have changed.
  const affected = new Set<PeerSets>();
  const hold = (g: number, group: Group<PolicyEndpoint>, add: boolean) => {
    for (const dir of ['ingress', 'egress'] as const) {
      const peers = group.isolated?.[dir];
      if (!peers) continue;
      let set = holders.get(peers);
      if (add) {
        if (!set) holders.set(peers, (set = new Set()));
        set.add(g);
      } else if (set) {
        set.delete(g);
        if (set.size === 0) holders.delete(peers);
      }
      affected.add(peers);
    }
  };
  for (const c of changes.replaced) {
    if (c.prev) hold(c.g, c.prev, false);
    if (c.next) hold(c.g, c.next, true);
  }
  let check: Iterable<Group<PolicyEndpoint>>;
  if (changes.resorted || owners.size === 0) {
    owners.clear();
    for (const g of side.sorted) {
      const group = side.groups.get(g)!;
      for (const dir of ['ingress', 'egress'] as const) {
        const peers = group.isolated?.[dir];
        if (peers && !owners.has(peers)) owners.set(peers, group.ownerNames![dir]);
      }
    }
    check = side.groups.values();
  } else {
    const groups = new Set<Group<PolicyEndpoint>>();
    for (const peers of affected) {
      const set = holders.get(peers);
      if (!set) {
        owners.delete(peers);
        continue;
      }
      let best: string | undefined;
      let bestAt = Infinity;
      for (const g of set) {
        const group = side.groups.get(g)!;
        groups.add(group);
        const at = side.position.get(g)! * 2 + (group.isolated?.ingress === peers ? 0 : 1);
        if (at < bestAt) {
          bestAt = at;
          best = group.ownerNames![at % 2 === 0 ? 'ingress' : 'egress'];
        }
      }
      owners.set(peers, best!);
    }
    for (const c of changes.replaced) if (c.next) groups.add(c.next);
    check = groups;
  }
  for (const group of check) {
    const ingress = group.isolated?.ingress ? owners.get(group.isolated.ingress) : undefined;
    const egress = group.isolated?.egress ? owners.get(group.isolated.egress) : undefined;
    if (!group.owners || group.owners.ingress !== ingress || group.owners.egress !== egress) {
      if (group.owners) for (const i of group.pods) touched.add(i);
      group.owners = { ingress, egress };
    }
  }
  return owners;
}

/** The wholes selecting pod `i`, in the side's order. */
function wholesOf<T>(side: Side<T>, i: number): T[] {
  const gs = [...side.perPod[i]];
  if (gs.length > 1) gs.sort((a, b) => side.position.get(a)! - side.position.get(b)!);
  return gs.map((g) => side.groups.get(g)!.whole);
}

/** The tags of the log prefixes in `rules`, as `logTags` holds them. */
function tagsOf(rules: readonly string[], logTags: ReadonlyMap<string, LogTag>): [string, LogTag][] {
  const out: [string, LogTag][] = [];
  for (const rule of rules) {
    const prefix = /log prefix "([^"]*)"/.exec(rule)?.[1];
    const tag = prefix !== undefined ? logTags.get(prefix) : undefined;
    if (prefix !== undefined && tag) out.push([prefix, tag]);
  }
  return out;
}

/**
 * Compiles one node's desired table, from sync to sync: what it compiled last time is kept, and a compile rebuilds only
 * the pods whose policies changed — a pod's entries and what they lead to depend only on the wholes selecting it and
 * the owners of their sets. The table is the same, text for text, as a compile from nothing (`compileNode`): the
 * memory property tests hold the two equal over random sequences of changes.
 *
 * @example
 * const compiler = new NodeCompiler();
 * const state = compiler.compile({ policyEndpoints, pods, nodeAddresses: ['10.99.0.11'], mode: 'standard' });
 * const next = compiler.compile({ policyEndpoints: changed, pods, nodeAddresses: ['10.99.0.11'], mode: 'standard' });
 * const script = renderDelta(state, next); // only what changed
 */
export class NodeCompiler {
  private state: CompilerState | undefined;
  private fresh: Memory | undefined;

  compile(input: NodeInput, opts: CompileOptions = {}): DesiredState {
    const remember = opts.remember !== false;
    const memory = remember ? shared : (this.fresh ??= freshMemory());
    const optsKey = `${opts.logGroup ?? ''}|${opts.logAccept ?? false}`;
    const config = `${optsKey}|${opts.podInterfaces ?? ''}|${input.mode}|${remember}|${input.nodeAddresses.join(',')}`;
    const previous = this.state;
    const st = previous && previous.config === config && (previous.pods === input.pods || samePods(previous.pods, input.pods)) ? previous : this.start(config, input, opts);
    this.state = st;
    const firstCompile = st !== previous;

    // Scratch maps: what this compile builds or takes from memory, for the pods it rebuilds.
    const sets = new Map<string, NftSet>();
    const chains = new Map<string, NftChain>();
    const logTags = new Map<string, LogTag>();
    const log = logStatement(opts, logTags);

    // Only the policies of which an object selects a local pod: the others change no local pod's answer.
    const view = localView(input.policyEndpoints, input.clusterPolicyEndpoints ?? [], input.pods);
    const entriesOf = (pe: PolicyEndpoint, dir: Dir) => (dir === 'ingress' ? pe.spec.ingress : pe.spec.egress) ?? NO_ENTRIES;
    const keys = podKeys(input.pods, true);
    const podsOfKey = podsByKey(input.pods);
    const podsOf = (parts: readonly (PolicyEndpoint | ClusterPolicyEndpoint)[]): number[] => {
      const out = new Set<number>();
      for (const part of parts) for (const k of selectedLocal(part, keys)) for (const i of podsOfKey.get(k) ?? []) out.add(i);
      return [...out].sort((a, b) => a - b);
    };
    const touched = new Set<number>();
    const refreshPe = new Set<number>();
    const refreshCpe = new Set<number>();
    // The objects of one policy are one whole: a pod listed in one of them gets the rules written in the others.
    // Code-unit order of keys, not localeCompare: the same order everywhere, and ~10× cheaper.
    const peChanges = updateSide(
      st.pe,
      view.policyEndpoints,
      (parts) => {
        const whole = wholeOf(parts, mergePolicyEndpoints, memory.merge);
        const isolated: Partial<Record<Dir, PeerSets>> = {};
        for (const dir of ['ingress', 'egress'] as const) if ((whole.spec.podIsolation ?? []).includes(ISOLATION[dir])) isolated[dir] = memory.peers(entriesOf(whole, dir));
        const key = peKey(whole);
        const shape = `${key}\n${policyName(whole)}\n${(whole.spec.podIsolation ?? []).join(',')}\n${peerShape(memory.peers(entriesOf(whole, 'ingress')))}\n${peerShape(memory.peers(entriesOf(whole, 'egress')))}`;
        return { whole, order: key, token: peToken(memory, whole), shape, pods: podsOf(parts), isolated, ownerNames: { ingress: `${key}|${DIR_CODE.ingress}`, egress: `${key}|${DIR_CODE.egress}` } };
      },
      (a, b) => byCodeUnits(peKey(a), peKey(b)),
      peKey,
      touched,
      refreshPe,
    );
    updateSide(
      st.cpe,
      view.clusterPolicyEndpoints,
      (parts) => {
        const whole = wholeOf(parts, mergeClusterPolicyEndpoints, memory.merge);
        const order = `${whole.spec.priority}\n${whole.spec.policyRef.name}\n${whole.metadata.ownerReferences?.[0]?.kind ?? ''}\n${ownerAwsGroup(whole)}\n${whole.metadata.name ?? ''}`;
        const runs = (entries: readonly ClusterEndpointInfo[] | undefined) => actionRuns(entries ?? []).map((r) => `${r.action}:${peerShape(memory.peers(r.entries))}`).join(',');
        const shape = `${cpeKey(whole)}\n${whole.spec.tier}\n${whole.spec.policyRef.name}\n${runs(whole.spec.ingress)}\n${runs(whole.spec.egress)}`;
        return { whole, order, token: cpeToken(memory, whole), shape, pods: podsOf(parts) };
      },
      clusterPolicyEndpointOrder,
      cpeKey,
      touched,
      refreshCpe,
    );

    // Identical peers (each namespace's copy of one egress policy, say) share one pair of sets, named after the first
    // PolicyEndpoint and direction, in key order, that has them: hundreds of copies are one set in the kernel, and a
    // PolicyEndpoint whose peers are its own keeps its sets' names as its peers change (an element delta).
    const owners = updateOwners(st, peChanges, touched);
    // Wholes with the same key share what is built per key, in the input's order: every pod is rebuilt then.
    const everyPod = firstCompile || st.pe.ties || st.cpe.ties;

    const peSetRules = new Map<string, string[]>(); // `${peKey}|${dir}` → lookup rules
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
    const strictDeny = (dir: Dir) => {
      const name = `deny_${dir}`;
      if (!chains.has(name)) chains.set(name, denyChain(dir, log));
      return `goto ${name}`;
    };

    // The tier stages: the rules of one distinct list of ClusterPolicyEndpoints, shared by every pod with that list.
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
    // A tier stage's rules: Pass and no match return to the next verdict map.
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
      // Every tag its rules log with (another chain of this compile may have made some of them first).
      memory.tier.set(memoKey, { selected, rules, tags: tagsOf(rules, logTags) });
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

    // What a pod's entries lead to depends only on its wholes (and the owners of their sets): a pod whose wholes are the
    // same objects as in an earlier compile takes its chains, sets and log tags from then, unbuilt.
    const ownerPairs = new Map<PolicyEndpoint, string>();
    const ownerPair = (pe: PolicyEndpoint) => {
      let o = ownerPairs.get(pe);
      if (o === undefined) ownerPairs.set(pe, (o = `${owners.get(memory.peers(entriesOf(pe, 'ingress'))) ?? ''}|${owners.get(memory.peers(entriesOf(pe, 'egress'))) ?? ''}`));
      return o;
    };
    let entriesChanged = firstCompile;
    let contributed = false;
    for (const i of st.byIfname) {
      if (!everyPod && !touched.has(i)) continue;
      const pod = st.pods[i];
      const selecting = wholesOf(st.pe, i);
      const tiered = wholesOf(st.cpe, i);
      const podKey = `${pod.ifname}|${input.mode}|${optsKey}|${opts.podInterfaces ?? ''}`;
      const podOwners = selecting.map(ownerPair).join('\n');
      const peTokens = selecting.map((pe) => peToken(memory, pe));
      const cpeTokens = tiered.map((c) => cpeToken(memory, c));
      let memo = memory.pod.get(podKey);
      if (memo && memo.owners === podOwners && sameList(memo.selecting, peTokens) && sameList(memo.tiered, cpeTokens)) {
        for (const c of memo.chains) if (!chains.has(c.name)) chains.set(c.name, c);
        for (const set of memo.sets) sets.set(set.name, set);
        for (const [prefix, tag] of memo.tags) logTags.set(prefix, tag);
      } else {
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
        if (memory.pod.size >= 20_000) memory.pod.clear();
        const verdicts = (['ingress', 'egress'] as const).flatMap((d) => [entries[d].admin, entries[d].dispatch, entries[d].default].filter((v): v is string => v !== undefined));
        memo = { selecting: peTokens, tiered: cpeTokens, owners: podOwners, entries, ...reachable(verdicts, chains, sets, logTags) };
        memory.pod.set(podKey, memo);
      }
      const before = st.entries[i];
      if (!before || !sameEntries(before, memo.entries)) entriesChanged = true;
      st.entries[i] = memo.entries;
      const was = st.contributions[i];
      if (was !== memo) {
        contributed = true;
        // Added before the old ones are removed: a name both lead to is never dropped on the way.
        for (const c of memo.chains) st.chains.add(c.name, c);
        for (const set of memo.sets) st.sets.add(set.name, set);
        for (const [prefix, tag] of memo.tags) st.tags.add(prefix, tag);
        if (was) {
          for (const c of was.chains) st.chains.remove(c.name);
          for (const set of was.sets) st.sets.remove(set.name);
          for (const [prefix] of was.tags) st.tags.remove(prefix);
        }
        st.contributions[i] = memo;
      }
    }

    // Wholes whose peers alone changed: the same rules name the same sets, which now hold other elements.
    const refreshSets = (rules: readonly string[]) => {
      for (const rule of rules) {
        for (const m of rule.matchAll(/@(\S+)/g)) {
          const counted = st.sets.items.get(m[1]);
          const now = sets.get(m[1]);
          if (counted && now && counted.obj !== now) {
            counted.obj = now;
            contributed = true;
          }
        }
      }
    };
    for (const g of refreshPe) {
      const group = st.pe.groups.get(g);
      if (!group) continue;
      for (const dir of ['ingress', 'egress'] as const) if (group.isolated?.[dir]) refreshSets(ensurePeSets(group.whole, dir));
    }
    for (const g of refreshCpe) {
      const group = st.cpe.groups.get(g);
      if (!group) continue;
      for (const dir of ['ingress', 'egress'] as const) refreshSets(ensureCpeSets(group.whole, dir).flatMap((r) => r.matches));
    }

    if (!entriesChanged && !contributed && st.last) return st.last;
    if (entriesChanged || !st.maps) {
      // Per direction, the three verdict maps a packet is looked up in, in order (see the layout above).
      const maps: Record<Dir, Record<Stage, NftElement[]>> = { ingress: { admin: [], dispatch: [], default: [] }, egress: { admin: [], dispatch: [], default: [] } };
      for (const i of st.byIfname) {
        const key = `"${st.pods[i].ifname}"`;
        for (const dir of ['ingress', 'egress'] as const) {
          for (const stage of STAGES) {
            const value = st.entries[i]![dir][stage];
            if (value !== undefined) maps[dir][stage].push({ key, value });
          }
        }
      }
      // A map whose entries are the same keeps its array: the delta renderer skips it without comparing.
      const old = st.maps;
      for (const dir of ['ingress', 'egress'] as const) {
        for (const stage of STAGES) {
          const was = old?.[dir][stage];
          if (was && sameElements(was, maps[dir][stage])) maps[dir][stage] = was;
        }
      }
      st.maps = maps;
    }
    const mapSets = (['ingress', 'egress'] as const).flatMap((dir) => STAGES.map((stage): NftSet => ({ name: mapName(dir, stage), decl: 'type ifname : verdict;', elements: st.maps![dir][stage] })));

    // Sets and chains in name order: the same table text however much of it came from memory.
    const fixedSets = [...st.fixed.sets, ...mapSets];
    if (!st.names || st.chains.changed || st.sets.changed || st.tags.changed) {
      const chainNames = new Set([...st.fixed.chains.map((c) => c.name), ...st.chains.items.keys()]);
      const setNames = new Set([...fixedSets.map((x) => x.name), ...st.sets.items.keys()]);
      const tagNames = new Set([...st.fixed.tags.map(([p]) => p), ...st.tags.items.keys()]);
      st.names = { chains: [...chainNames].sort(byCodeUnits), sets: [...setNames].sort(byCodeUnits), tags: [...tagNames].sort(byCodeUnits) };
      st.chains.changed = st.sets.changed = st.tags.changed = false;
    }
    const fixedChain = new Map(st.fixed.chains.map((c) => [c.name, c]));
    const fixedSet = new Map(fixedSets.map((x) => [x.name, x]));
    const fixedTag = new Map(st.fixed.tags);
    const state: DesiredState = {
      table: TABLE,
      counters: [...COUNTERS],
      sets: new Map(st.names.sets.map((n) => [n, fixedSet.get(n) ?? st.sets.items.get(n)!.obj])),
      chains: new Map(st.names.chains.map((n) => [n, fixedChain.get(n) ?? st.chains.items.get(n)!.obj])),
      logTags: new Map(st.names.tags.map((n) => [n, fixedTag.get(n) ?? st.tags.items.get(n)!.obj])),
    };
    st.last = state;
    return state;
  }

  /** A compiler state with nothing compiled yet, for these options, pods and node addresses. */
  private start(config: string, input: NodeInput, opts: CompileOptions): CompilerState {
    const pods = input.pods;
    const byIfname = pods.map((_, i) => i).sort((a, b) => byCodeUnits(pods[a].ifname, pods[b].ifname));
    const tags = new Map<string, LogTag>();
    const log = logStatement(opts, tags);
    // Node addresses: plain (hash) sets of single addresses (no interval set without concatenation in the table).
    const node: Record<Family, Set<string>> = { 4: new Set(), 6: new Set() };
    for (const a of input.nodeAddresses) {
      const p = parseAddress(a);
      node[p.family].add(formatAddress(p.family, p.value));
    }
    const nodeSet = (f: Family) => [...node[f]].sort().map((key) => ({ key }));
    const strictUnknown = input.mode === 'strict' && opts.podInterfaces !== undefined;
    const denied = strictUnknown ? [denyChain('ingress', log), denyChain('egress', log)] : [];
    // Traffic from a pod to the node's own addresses is delivered locally (the input hook), never forwarded: it is the
    // pod's egress like any other destination. Only the protocols policies speak of: the rest (ICMPv6 neighbour
    // discovery above all, which the node needs to reach its pods over IPv6) is not a policy's business.
    const transport = 'meta l4proto { tcp, udp, sctp }';
    const chains: NftChain[] = [
      ...denied,
      {
        name: 'ingress_check',
        rules: [
          'ip saddr @node4 accept',
          'ip6 saddr @node6 accept',
          ...STAGES.map((st) => `oifname vmap @${mapName('ingress', st)}`),
          ...(strictUnknown ? [`oifname "${opts.podInterfaces}" goto deny_ingress`] : []),
          'accept',
        ],
      },
      {
        name: 'input_filter',
        hook: 'type filter hook input priority filter; policy accept;',
        rules: [
          'ct state established,related accept',
          ...STAGES.map((st) => `${transport} iifname vmap @${mapName('egress', st)}`),
          ...(strictUnknown ? [`${transport} iifname "${opts.podInterfaces}" goto deny_egress`] : []),
          'accept',
        ],
      },
      {
        name: 'forward_filter',
        hook: 'type filter hook forward priority filter; policy accept;',
        rules: [
          'ct state established,related accept',
          'ct state invalid drop',
          ...STAGES.map((st) => `iifname vmap @${mapName('egress', st)}`),
          ...(strictUnknown ? [`iifname "${opts.podInterfaces}" goto deny_egress`] : []),
          'goto ingress_check',
        ],
      },
    ];
    const sets: NftSet[] = [
      { name: 'node4', decl: 'type ipv4_addr;', elements: nodeSet(4) },
      { name: 'node6', decl: 'type ipv6_addr;', elements: nodeSet(6) },
    ];
    return {
      config,
      pods,
      byIfname,
      pe: newSide(pods.length),
      cpe: newSide(pods.length),
      owners: new Map(),
      holders: new Map(),
      entries: pods.map(() => undefined),
      contributions: pods.map(() => undefined),
      chains: new Counted(),
      sets: new Counted(),
      tags: new Counted(),
      fixed: { chains, sets, tags: [...tags] },
    };
  }
}

/** The log statement of a rule (none without a log group), its tag recorded in `tags`. */
function logStatement(opts: CompileOptions, tags: Map<string, LogTag>): (prefix: string, tag: LogTag) => string {
  return (prefix, tag) => {
    if (opts.logGroup === undefined) return '';
    tags.set(prefix, tag);
    return `log prefix "${prefix}" group ${opts.logGroup} `;
  };
}

/** Strict mode's deny of a direction: log (with a log group) and drop. */
function denyChain(dir: Dir, log: (prefix: string, tag: LogTag) => string): NftChain {
  return { name: `deny_${dir}`, rules: [`${log(`pl D ${DIR_CODE[dir]} strict`, { verdict: 'DENY', direction: dir, policies: [], tier: 'STRICT_MODE_DEFAULT' })}counter name "drop_${dir}" drop`] };
}

function sameEntries(a: PodEntries, b: PodEntries): boolean {
  return a === b || (['ingress', 'egress'] as const).every((d) => a[d].admin === b[d].admin && a[d].dispatch === b[d].dispatch && a[d].default === b[d].default);
}

function sameElements(a: readonly NftElement[], b: readonly NftElement[]): boolean {
  return a.length === b.length && a.every((e, i) => e.key === b[i].key && e.value === b[i].value);
}


/**
 * Compiles one node's desired table from nothing (with the process's memory of earlier compiles, unless
 * `remember: false`). The agent keeps a {@link NodeCompiler}, which rebuilds only what changed.
 *
 * @example
 * const state = compileNode({ policyEndpoints, pods, nodeAddresses: ['10.99.0.11'], mode: 'standard' }, { logGroup: 7 });
 * const script = renderFull(state); // one atomic `nft -f` transaction
 */
export function compileNode(input: NodeInput, opts: CompileOptions = {}): DesiredState {
  return new NodeCompiler().compile(input, opts);
}

/** Kernel object counts of a state: set/map elements, rules, chains, sets. */
export function countState(s: DesiredState): { elements: number; rules: number; chains: number; sets: number } {
  let elements = 0;
  for (const set of s.sets.values()) elements += set.elements.length;
  let rules = 0;
  for (const c of s.chains.values()) rules += c.rules.length;
  return { elements, rules, chains: s.chains.size, sets: s.sets.size };
}
