/**
 * The difference between two clusters' reachability: the connections a change opens and closes, each with the policy
 * responsible (the verdict of a representative port in the new cluster), and the endpoints that appear or disappear.
 *
 * External addresses are compared on the common refinement of both clusters' external ranges (each side cuts the
 * address space at its own ipBlock boundaries), asking each engine about one address of every refined range, and
 * adjacent ranges with the same change are merged back for the report.
 */
import { PROTOCOLS, type Protocol } from '../api/types.js';
import { compile, type Engine } from '../engine/engine.js';
import { familyMax, formatIP, type Family } from '../api/ip.js';
import { formatPorts, isNothing, subtractAll } from '../engine/ports.js';
import type { DirectionVerdict, PortsByProtocol } from '../engine/types.js';
import type { Cluster, Endpoint } from '../model/types.js';

/** Why one direction of a changed connection now decides as it does. */
export interface Cause {
  readonly direction: 'egress' | 'ingress';
  /** The verdict summary in the new cluster, e.g. `NetworkPolicy a/allow-egress rule 2 allows`. */
  readonly summary: string;
  /** `namespace/name` of the NetworkPolicies or names of the tier policies named by the verdict. */
  readonly policies: readonly string[];
}

/** One connection whose allowed ports changed. */
export interface ConnectionChange {
  readonly from: string;
  readonly to: string;
  /** Namespace of each end; `external` for addresses. */
  readonly fromNamespace: string;
  readonly toNamespace: string;
  /** The ports that changed, per protocol, in `matrix -o json` form (`80,8000-8100`, `` for none). */
  readonly tcp: string;
  readonly udp: string;
  readonly sctp: string;
  /** The representative flow the causes were computed for. */
  readonly probe: { readonly protocol: Protocol; readonly port: number };
  readonly causes: readonly Cause[];
}

export interface EndpointRef {
  readonly id: string;
  readonly kind: string;
  readonly namespace: string;
}

/** The `diff -o json` contract. */
export interface ReachabilityDiff {
  readonly opened: readonly ConnectionChange[];
  readonly closed: readonly ConnectionChange[];
  readonly endpoints: { readonly added: readonly EndpointRef[]; readonly removed: readonly EndpointRef[] };
}

export const EXTERNAL = 'external';

interface RefinedRange {
  readonly family: Family;
  readonly first: bigint;
  readonly last: bigint;
}

/** Every boundary of either side's external ranges, as one list of ranges per family. */
function refineExternals(a: Engine, b: Engine): RefinedRange[] {
  const v6 = a.compiled.ipv6Shown || b.compiled.ipv6Shown;
  const out: RefinedRange[] = [];
  for (const family of v6 ? ([4, 6] as const) : ([4] as const)) {
    const cuts = new Set<bigint>();
    for (const e of [a, b]) for (const r of e.compiled.externalRanges) if (r.family === family) cuts.add(r.first);
    const points = [...cuts].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    points.forEach((first, i) => out.push({ family, first, last: i + 1 < points.length ? points[i + 1] - 1n : familyMax(family) }));
  }
  return out;
}

interface End {
  /** The id the report shows. */
  readonly id: string;
  /** What each engine resolves: an endpoint id, or the id of that engine's external range holding the refined one. */
  readonly before: string;
  readonly after: string;
  readonly namespace: string;
  readonly range?: RefinedRange;
}

/**
 * The id of the engine's external range holding `r` (refined ranges never straddle one). By id, not by address: an
 * address would resolve to a pod that has it.
 */
function externalId(engine: Engine, r: RefinedRange): string {
  const i = engine.compiled.externalRanges.findIndex((x) => x.family === r.family && x.first <= r.first && r.last <= x.last);
  return engine.compiled.externals[i].id;
}

function rangeId(r: RefinedRange): string {
  return r.first === r.last ? formatIP(r.family, r.first) : `${formatIP(r.family, r.first)}-${formatIP(r.family, r.last)}`;
}

function firstPort(p: PortsByProtocol): { protocol: Protocol; port: number } {
  for (const protocol of PROTOCOLS) if (p[protocol].length > 0) return { protocol, port: p[protocol][0].from };
  return { protocol: 'TCP', port: 1 };
}

function causesOf(before: Engine, after: Engine, from: End, to: End, probe: { protocol: Protocol; port: number }): Cause[] {
  const v0 = before.verdict({ from: from.before, to: to.before, ...probe });
  const v1 = after.verdict({ from: from.after, to: to.after, ...probe });
  // The directions whose verdict flipped explain the change; the probe port changed, so at least one did.
  const flipped = (['egress', 'ingress'] as const).filter((dir) => v0[dir].allowed !== v1[dir].allowed);
  return (flipped.length > 0 ? flipped : (['egress', 'ingress'] as const)).map((dir) => {
    const now: DirectionVerdict = v1[dir];
    return { direction: dir, summary: now.summary, policies: [...new Set(now.rules.map((r) => r.policy))] };
  });
}

function endpointRef(e: Endpoint): EndpointRef {
  return { id: e.id, kind: e.kind, namespace: e.namespace };
}

/**
 * Compares the reachability of two clusters.
 * @example diffClusters(readCluster(['old/']).cluster, readCluster(['new/']).cluster).opened
 */
export function diffClusters(oldCluster: Cluster, newCluster: Cluster): ReachabilityDiff {
  const before = compile(oldCluster);
  const after = compile(newCluster);
  const oldIds = new Set(oldCluster.endpoints.map((e) => e.id));
  const newIds = new Set(newCluster.endpoints.map((e) => e.id));
  const common = newCluster.endpoints.filter((e) => oldIds.has(e.id)).sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const ranges = refineExternals(before, after);
  const ends: End[] = [
    ...common.map((e) => ({ id: e.id, before: e.id, after: e.id, namespace: e.namespace })),
    ...ranges.map((r) => ({ id: rangeId(r), before: externalId(before, r), after: externalId(after, r), namespace: EXTERNAL, range: r })),
  ];

  const opened: ConnectionChange[] = [];
  const closed: ConnectionChange[] = [];
  const record = (list: ConnectionChange[], a: End, b: End, ports: PortsByProtocol) => {
    const probe = firstPort(ports);
    list.push({
      from: a.id,
      to: b.id,
      fromNamespace: a.namespace,
      toNamespace: b.namespace,
      tcp: formatPorts(ports.TCP),
      udp: formatPorts(ports.UDP),
      sctp: formatPorts(ports.SCTP),
      probe,
      causes: causesOf(before, after, a, b, probe),
    });
  };
  for (const a of ends) {
    for (const b of ends) {
      if (a === b || (a.range && b.range)) continue;
      const p0 = before.allowedPorts(a.before, b.before);
      const p1 = after.allowedPorts(a.after, b.after);
      const more = subtractAll(p1, p0);
      const less = subtractAll(p0, p1);
      if (!isNothing(more)) record(opened, a, b, more);
      if (!isNothing(less)) record(closed, a, b, less);
    }
  }
  const byId = (x: EndpointRef, y: EndpointRef) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
  return {
    opened: mergeRanges(opened, ranges),
    closed: mergeRanges(closed, ranges),
    endpoints: {
      added: newCluster.endpoints.filter((e) => !oldIds.has(e.id)).map(endpointRef).sort(byId),
      removed: oldCluster.endpoints.filter((e) => !newIds.has(e.id)).map(endpointRef).sort(byId),
    },
  };
}

/** Merges changes to adjacent external ranges that are alike (same other end, ports and causes) into one range. */
function mergeRanges(changes: readonly ConnectionChange[], ranges: readonly RefinedRange[]): ConnectionChange[] {
  const rangeOf = new Map(ranges.map((r) => [rangeId(r), r]));
  const out: ConnectionChange[] = [];
  const open = new Map<string, { index: number; range: RefinedRange }>();
  for (const c of changes) {
    const externalTo = rangeOf.get(c.to);
    const externalFrom = rangeOf.get(c.from);
    const r = externalTo ?? externalFrom;
    if (!r) {
      out.push(c);
      continue;
    }
    const key = JSON.stringify([externalTo ? 'to' : 'from', externalTo ? c.from : c.to, c.tcp, c.udp, c.sctp, c.causes.map((x) => x.summary)]);
    const prev = open.get(key);
    if (prev && prev.range.family === r.family && prev.range.last + 1n === r.first) {
      const merged = { family: r.family, first: prev.range.first, last: r.last };
      const id = rangeId(merged);
      out[prev.index] = externalTo ? { ...out[prev.index], to: id } : { ...out[prev.index], from: id };
      open.set(key, { index: prev.index, range: merged });
      continue;
    }
    open.set(key, { index: out.length, range: r });
    out.push(c);
  }
  return out;
}

/** True when nothing changed. */
export function isEmptyDiff(d: ReachabilityDiff): boolean {
  return d.opened.length === 0 && d.closed.length === 0 && d.endpoints.added.length === 0 && d.endpoints.removed.length === 0;
}

/** Ports of a change in one line: `TCP 80, UDP 53`; `all ports` when every port of every protocol. */
export function describePorts(c: Pick<ConnectionChange, 'tcp' | 'udp' | 'sctp'>): string {
  const all = '1-65535';
  if (c.tcp === all && c.udp === all && c.sctp === all) return 'all ports';
  return [c.tcp && `TCP ${c.tcp}`, c.udp && `UDP ${c.udp}`, c.sctp && `SCTP ${c.sctp}`].filter(Boolean).join(', ');
}

/** Changes grouped by (from namespace, to namespace, ports), in first-seen order. */
export function groupChanges(changes: readonly ConnectionChange[]): { readonly title: string; readonly changes: readonly ConnectionChange[] }[] {
  const groups = new Map<string, ConnectionChange[]>();
  for (const c of changes) {
    const title = `${c.fromNamespace} → ${c.toNamespace}: ${describePorts(c)}`;
    const list = groups.get(title);
    if (list) list.push(c);
    else groups.set(title, [c]);
  }
  return [...groups].map(([title, list]) => ({ title, changes: list }));
}
