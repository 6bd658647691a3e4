/**
 * The part of a cluster's (Cluster)PolicyEndpoints that can matter to one node: every object of each policy (merge
 * group) of which some object selects a local pod, by IP or by namespace and name. A busy node of a 10k-pod cluster
 * reads thousands of objects and needs a few hundred; a sync after one change must not cost the whole cluster again.
 *
 * Sources hand out the same object until it changes, so what an object selects (its pods' canonical addresses and
 * names, and its merge group) is computed once per object, and which of the node's pods it selects once per object
 * and set of local pods. Nothing here decides traffic: it only chooses which objects the compiler reads.
 */
import { clusterPolicyEndpointGroup, policyEndpointGroup, type ClusterPolicyEndpoint, type PolicyEndpoint } from '../api/policyendpoint.js';
import { canonicalAddress } from './address.js';
import type { LocalPod } from './compile.js';

type Selecting = PolicyEndpoint | ClusterPolicyEndpoint;

/** What an object selects, and its merge group. */
export interface Selected {
  /** Canonical pod IPs of its `podSelectorEndpoints` (empty podIPs left out). */
  readonly ips: readonly string[];
  /** `namespace/name` of each selected pod. */
  readonly names: readonly string[];
  /** The policy (merge group) it is a piece of: the objects of one group are read as one whole. */
  readonly group: string;
  /** Each listed pod with a podIP: its canonical IP, name and namespace, in the object's order. */
  readonly listed: readonly { readonly ip: string; readonly name: string; readonly namespace: string }[];
}

/** Per object: what it selects, and its answers for the last two sets of local pods asked about. */
interface Rec {
  readonly sel: Selected;
  /** The group as a small number (cheaper to look up than its text). */
  readonly gid: number;
  idA: number;
  hitsA: readonly string[];
  idB: number;
  hitsB: readonly string[];
  /** Canonical IP → its first listing, made when first needed. */
  byIP?: Map<string, { readonly name: string; readonly namespace: string }>;
}

function safeCanonical(ip: string): string {
  try {
    return canonicalAddress(ip);
  } catch {
    return ip;
  }
}

const records = new WeakMap<object, Rec>();
/** Group text → number, for as long as the process runs (a few per policy ever seen). */
const groupIds = new Map<string, number>();

function record(o: Selecting): Rec {
  let r = records.get(o);
  if (!r) {
    const eps = o.spec.podSelectorEndpoints ?? [];
    const group = o.kind === 'ClusterPolicyEndpoint' ? `C ${clusterPolicyEndpointGroup(o)}` : `P ${policyEndpointGroup(o)}`;
    const listed = eps.filter((ep) => ep.podIP !== '').map((ep) => ({ ip: safeCanonical(ep.podIP), name: ep.name, namespace: ep.namespace }));
    const sel = { ips: listed.map((l) => l.ip), names: eps.map((ep) => `${ep.namespace}/${ep.name}`), group, listed };
    let gid = groupIds.get(group);
    if (gid === undefined) groupIds.set(group, (gid = groupIds.size));
    r = { sel, gid, idA: 0, hitsA: NONE, idB: 0, hitsB: NONE };
    records.set(o, r);
  }
  return r;
}

/** {@link Selected} of an object, computed once per object. */
export function selectedBy(o: Selecting): Selected {
  return record(o).sel;
}

/** The merge group of an object as a small number, the same for every object of that group while the process runs. */
export function groupOf(o: Selecting): number {
  return record(o).gid;
}

/** A set of local pods, with a number that stays the same while the set does (the key of the per-object answers). */
export interface PodKeys {
  readonly id: number;
  readonly ips: ReadonlySet<string>;
  readonly names: ReadonlySet<string>;
}

// A few recent pod sets: the agent asks with and without names, and several agents may share a process (the lab).
const recentKeys = new Map<string, PodKeys>();
let nextId = 1;
const NONE: readonly string[] = Object.freeze([]);

/** The keys of a set of local pods (`byName`: their names too), the same object while the set is the same. */
export function podKeys(pods: readonly LocalPod[], byName: boolean): PodKeys {
  // The same list (the agent keeps what discovery found, the viewer its named pods): the same keys, unsorted again.
  const known = keysOfList.get(pods);
  const have = byName ? known?.byName : known?.byIP;
  if (have) return have;
  const keys = podKeysOf(pods, byName);
  keysOfList.set(pods, { ...known, [byName ? 'byName' : 'byIP']: keys });
  return keys;
}
const keysOfList = new WeakMap<readonly LocalPod[], { readonly byIP?: PodKeys; readonly byName?: PodKeys }>();

function podKeysOf(pods: readonly LocalPod[], byName: boolean): PodKeys {
  const ips = new Set<string>();
  const names = new Set<string>();
  for (const p of pods) {
    for (const ip of p.ips) ips.add(safeCanonical(ip));
    if (byName && p.name !== undefined) names.add(`${p.namespace}/${p.name}`);
  }
  const signature = `${[...ips].sort().join(',')}|${[...names].sort().join(',')}`;
  let keys = recentKeys.get(signature);
  if (!keys) {
    keys = { id: nextId++, ips, names };
    if (recentKeys.size >= 16) recentKeys.delete(recentKeys.keys().next().value!);
    recentKeys.set(signature, keys);
  }
  return keys;
}

function hitsOf(r: Rec, keys: PodKeys): readonly string[] {
  if (r.idA === keys.id) return r.hitsA;
  if (r.idB === keys.id) return r.hitsB;
  let hits: string[] | undefined;
  for (const ip of r.sel.ips) if (keys.ips.has(ip)) (hits ??= []).push(ip);
  if (keys.names.size > 0) for (const n of r.sel.names) if (keys.names.has(n)) (hits ??= []).push(n);
  const result = hits ? [...new Set(hits)] : NONE;
  // The older slot gives way.
  if (r.idA < r.idB) {
    r.idA = keys.id;
    r.hitsA = result;
  } else {
    r.idB = keys.id;
    r.hitsB = result;
  }
  return result;
}

/** The keys of `keys`' pods the object selects: their canonical IPs, and `namespace/name`s when asked by name. */
export function selectedLocal(o: Selecting, keys: PodKeys): readonly string[] {
  return hitsOf(record(o), keys);
}

/** Every object of each merge group of which one object selects one of `keys`' pods, in the order given. */
function groupsSelecting<T extends Selecting>(objects: readonly T[], recs: readonly Rec[], keys: PodKeys): T[] {
  const touched = new Set<string>();
  for (const r of recs) if (hitsOf(r, keys).length > 0) touched.add(r.sel.group);
  if (touched.size === 0) return [];
  return objects.filter((_, i) => touched.has(recs[i].sel.group));
}

/** What one node's table is compiled from, of all the cluster's objects. */
export interface LocalView {
  readonly policyEndpoints: PolicyEndpoint[];
  readonly clusterPolicyEndpoints: ClusterPolicyEndpoint[];
}

/**
 * The objects of the policies that select one of the pods, by IP or by namespace and name: the others change no local
 * pod's answer. The order of the input is kept.
 *
 * @example
 * const view = localView(pes, cpes, pods); // view.policyEndpoints: a few hundred of a cluster's 5,000
 */
export function localView(pes: readonly PolicyEndpoint[], cpes: readonly ClusterPolicyEndpoint[], pods: readonly LocalPod[]): LocalView {
  // A NodeViewer's own view of these pods is its own local view: handed back as it is.
  if (viewedFor.get(pes) === pods && viewedFor.get(cpes) === pods) return { policyEndpoints: pes as PolicyEndpoint[], clusterPolicyEndpoints: cpes as ClusterPolicyEndpoint[] };
  const keys = podKeys(pods, true);
  return { policyEndpoints: groupsSelecting(pes, pes.map(record), keys), clusterPolicyEndpoints: groupsSelecting(cpes, cpes.map(record), keys) };
}

/** The local pods an object lists by IP, each with the name it gives it: `ip=namespace/name,…`. */
function localListings(r: Rec, keys: PodKeys): string {
  const hits = hitsOf(r, keys);
  if (hits.length === 0) return '';
  return hits.map((ip) => {
    const l = listingOf(r, ip);
    return l ? `${ip}=${l.namespace}/${l.name}` : '';
  }).join(',');
}

function listingOf(r: Rec, ip: string): { readonly name: string; readonly namespace: string } | undefined {
  if (!r.byIP) {
    r.byIP = new Map();
    for (const l of r.sel.listed) if (!r.byIP.has(l.ip)) r.byIP.set(l.ip, l);
  }
  return r.byIP.get(ip);
}

function nameFrom(pods: readonly LocalPod[], recs: readonly Rec[], keys: PodKeys): LocalPod[] {
  const names = new Map<string, { name: string; namespace: string }>();
  for (const r of recs) {
    const hits = hitsOf(r, keys);
    if (hits.length === 0) continue;
    for (const ip of hits) {
      const l = listingOf(r, ip);
      if (l && !names.has(ip)) names.set(ip, l);
    }
  }
  return pods.map((pod) => {
    for (const ip of pod.ips) {
      const n = names.get(safeCanonical(ip));
      if (n) return { ...pod, name: n.name, namespace: n.namespace };
    }
    return pod;
  });
}

/**
 * Names route-discovered pods from the objects that list their IPs (the first listing wins), as the agent does before
 * compiling: a PolicyEndpoint may select a pod by name and namespace only.
 */
export function namePods(pods: readonly LocalPod[], objects: readonly Selecting[]): LocalPod[] {
  return nameFrom(pods, objects.map(record), podKeys(pods, false));
}

/**
 * One node's share of the cluster's objects, in one pass: its pods named ({@link namePods}) and the objects of the
 * policies that select one of them ({@link localView}).
 *
 * @example
 * const { pods: named, policyEndpoints, clusterPolicyEndpoints } = nodeView(pes, cpes, discovered);
 */
export function nodeView(pes: readonly PolicyEndpoint[], cpes: readonly ClusterPolicyEndpoint[], pods: readonly LocalPod[]): LocalView & { readonly pods: LocalPod[] } {
  return new NodeViewer().view(pes, cpes, pods);
}

/** The lists a NodeViewer handed out, each with the (named) pods it is the view of. */
const viewedFor = new WeakMap<readonly Selecting[], readonly LocalPod[]>();

function handOut<T extends LocalView & { readonly pods: LocalPod[] }>(result: T): T {
  viewedFor.set(result.policyEndpoints, result.pods);
  viewedFor.set(result.clusterPolicyEndpoints, result.pods);
  return result;
}

/** What a {@link NodeViewer} remembers of one list: its objects, and per position whether it selects a local pod. */
interface ListState<T extends Selecting> {
  readonly objects: readonly T[];
  readonly recs: Rec[];
  /** Per position: selects a local pod by IP (names the pods). */
  readonly byIP: boolean[];
  /** Per position: selects a local pod by IP or name (its group is the node's). */
  readonly any: boolean[];
  /** Per group (number): how many of its objects select a local pod. */
  readonly groups: Map<number, number>;
  /** The positions replaced since {@link out} was made, and whether the set of the node's groups may differ from then. */
  changed: readonly number[];
  regroup: boolean;
  /** The last list of the node's objects, and per position its index there (-1: not the node's). */
  out?: { readonly list: readonly T[]; readonly at: Int32Array };
}

/**
 * {@link nodeView}, kept up to date from one sync to the next: sources hand out the same objects in the same places
 * until they change, so a sync compares the lists by identity and looks again only at the objects that changed. A
 * list that grew or shrank, or a change in the names of the local pods, is read afresh.
 *
 * @example
 * const viewer = new NodeViewer();
 * const view = viewer.view(pes, cpes, pods); // later syncs: only the changed objects are looked at
 */
export class NodeViewer {
  private last:
    | { keysA: PodKeys; keysB: PodKeys; pods: readonly LocalPod[]; named: LocalPod[]; pes: ListState<PolicyEndpoint>; cpes: ListState<ClusterPolicyEndpoint>; result: LocalView & { readonly pods: LocalPod[] } }
    | undefined;

  view(pes: readonly PolicyEndpoint[], cpes: readonly ClusterPolicyEndpoint[], pods: readonly LocalPod[]): LocalView & { readonly pods: LocalPod[] } {
    const keysA = podKeys(pods, false);
    const last = this.last;
    if (last && last.keysA === keysA && last.pes.objects.length === pes.length && last.cpes.objects.length === cpes.length) {
      const peChanged = changedAt(last.pes.objects, pes);
      const cpeChanged = changedAt(last.cpes.objects, cpes);
      const samePodsAsLast = pods === last.pods || samePods(pods, last.pods);
      if (peChanged.length === 0 && cpeChanged.length === 0 && samePodsAsLast) return last.result;
      // The pods' names come from the objects listing their IPs, in order: when no changed object listed or lists a
      // local pod's IP, and the pods are the same, the names are too.
      // A changed object that lists the same local pods under the same names as before (a policy gained a remote
      // pod, say) changes no name.
      const before = [...peChanged.map((i) => last.pes.recs[i]), ...cpeChanged.map((i) => last.cpes.recs[i])];
      const pe = update(last.pes, pes, peChanged, keysA, last.keysB);
      const cpe = update(last.cpes, cpes, cpeChanged, keysA, last.keysB);
      const after = [...peChanged.map((i) => pe.recs[i]), ...cpeChanged.map((i) => cpe.recs[i])];
      const named =
        samePodsAsLast && before.every((r, k) => localListings(r, keysA) === localListings(after[k], keysA))
          ? last.named
          : nameFrom(pods, [...indicesOf(pe.byIP).map((i) => pe.recs[i]), ...indicesOf(cpe.byIP).map((i) => cpe.recs[i])], keysA);
      if (named === last.named || samePods(named, last.named)) {
        const result = handOut({ pods: last.named, policyEndpoints: selectedGroups(pe), clusterPolicyEndpoints: selectedGroups(cpe) });
        this.last = { ...last, pods, pes: pe, cpes: cpe, result };
        return result;
      }
    }
    return this.fresh(pes, cpes, pods, keysA);
  }

  private fresh(pes: readonly PolicyEndpoint[], cpes: readonly ClusterPolicyEndpoint[], pods: readonly LocalPod[], keysA: PodKeys): LocalView & { readonly pods: LocalPod[] } {
    const peRecs = pes.map(record);
    const cpeRecs = cpes.map(record);
    const named = nameFrom(pods, [...peRecs, ...cpeRecs], keysA);
    const keysB = podKeys(named, true);
    const pe = listState(pes, peRecs, keysA, keysB);
    const cpe = listState(cpes, cpeRecs, keysA, keysB);
    const result = handOut({ pods: named, policyEndpoints: selectedGroups(pe), clusterPolicyEndpoints: selectedGroups(cpe) });
    this.last = { keysA, keysB, pods, named, pes: pe, cpes: cpe, result };
    return result;
  }
}

function changedAt<T>(before: readonly T[], after: readonly T[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < after.length; i++) if (before[i] !== after[i]) out.push(i);
  return out;
}

function indicesOf(flags: readonly boolean[]): number[] {
  const out: number[] = [];
  flags.forEach((f, i) => f && out.push(i));
  return out;
}

/** The same pods, in the same order: interfaces, addresses, names. */
export function samePods(a: readonly LocalPod[], b: readonly LocalPod[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i].name && p.namespace === b[i].namespace && p.ifname === b[i].ifname && p.ips.join() === b[i].ips.join());
}

function listState<T extends Selecting>(objects: readonly T[], recs: Rec[], keysA: PodKeys, keysB: PodKeys): ListState<T> {
  const groups = new Map<number, number>();
  const byIP = recs.map((r) => hitsOf(r, keysA).length > 0);
  const any = recs.map((r) => {
    const hit = hitsOf(r, keysB).length > 0;
    if (hit) groups.set(r.gid, (groups.get(r.gid) ?? 0) + 1);
    return hit;
  });
  return { objects, recs, byIP, any, groups, changed: [], regroup: true };
}

/** The state after the objects at `changed` were replaced (same length, same other positions). */
function update<T extends Selecting>(s: ListState<T>, objects: readonly T[], changed: readonly number[], keysA: PodKeys, keysB: PodKeys): ListState<T> {
  if (changed.length === 0) return s;
  // In place: the viewer owns its state, and the views it handed out are lists of their own.
  const { recs, byIP, any, groups } = s;
  // The node's groups are the same when each replaced object is of the same group and no group's count left or came
  // to zero: then the node's list keeps its positions, and only the replaced objects change in it.
  let regroup = s.regroup;
  for (const i of changed) {
    if (any[i]) {
      const g = recs[i].gid;
      const n = (groups.get(g) ?? 0) - 1;
      if (n > 0) groups.set(g, n);
      else {
        groups.delete(g);
        regroup = true;
      }
    }
    const r = record(objects[i]);
    if (r.gid !== recs[i].gid) regroup = true;
    recs[i] = r;
    byIP[i] = hitsOf(r, keysA).length > 0;
    any[i] = hitsOf(r, keysB).length > 0;
    if (any[i]) {
      const n = groups.get(r.gid) ?? 0;
      if (n === 0) regroup = true;
      groups.set(r.gid, n + 1);
    }
  }
  return { objects, recs, byIP, any, groups, changed: [...s.changed, ...changed], regroup, ...(s.out ? { out: s.out } : {}) };
}

/** The objects of the node's groups, in the list's order: a new list each time (a list handed out is never changed). */
function selectedGroups<T extends Selecting>(s: ListState<T>): T[] {
  if (s.out && !s.regroup) {
    const list = s.out.list.slice();
    for (const i of s.changed) if (s.out.at[i] >= 0) list[s.out.at[i]] = s.objects[i];
    s.out = { list, at: s.out.at };
  } else {
    const list: T[] = [];
    const at = new Int32Array(s.objects.length).fill(-1);
    for (let i = 0; i < s.objects.length; i++) {
      if (s.groups.has(s.recs[i].gid)) {
        at[i] = list.length;
        list.push(s.objects[i]);
      }
    }
    s.out = { list, at };
  }
  s.changed = [];
  s.regroup = false;
  // Never changed once handed out: the next call makes a new list.
  return s.out.list as T[];
}
