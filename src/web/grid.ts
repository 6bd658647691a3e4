/**
 * The matrix for the browser: the engine's class pairs written once per cell into a dense table, then run-length
 * encoded per row. A cluster of 2,000 endpoints with everything open is 4 million allowed pairs, far too many for
 * `matrixJson()` objects on the wire; the grid says the same in a few kilobytes.
 */
import type { Engine } from '../engine/engine.js';
import { formatPorts } from '../engine/ports.js';
import type { MatrixConnection, MatrixEndpoint, MatrixJson, PortsByProtocol } from '../engine/types.js';
import { CHANGED_LIMIT, type ChangedCell, type Grid, type PortText } from './protocol.js';

/** A grid with its dense cell table, for lookups and diffs on the server. */
export interface DenseGrid {
  readonly endpoints: readonly MatrixEndpoint[];
  readonly ports: readonly PortText[];
  /** `cells[from * n + to]`: index into `ports`. */
  readonly cells: Uint32Array;
  readonly position: ReadonlyMap<string, number>;
}

const NONE: PortText = { tcp: '', udp: '', sctp: '' };

function keyOf(p: PortText): string {
  return `${p.tcp}|${p.udp}|${p.sctp}`;
}

/** Every cell of the engine's matrix (endpoints in `matrixJson()` order), each an index into a port-set dictionary. */
export function denseGrid(engine: Engine): DenseGrid {
  const eps = engine.endpoints;
  const order = eps.map((_, i) => i).sort((x, y) => (eps[x].id < eps[y].id ? -1 : eps[x].id > eps[y].id ? 1 : 0));
  const endpoints: MatrixEndpoint[] = order.map((i) => ({ id: eps[i].id, kind: eps[i].kind, namespace: eps[i].namespace, name: eps[i].name }));
  for (const x of engine.externals) endpoints.push({ id: x.id, kind: 'External' });
  const position = new Map(endpoints.map((e, i) => [e.id, i]));
  const n = endpoints.length;
  const cells = new Uint32Array(n * n);
  const ports: PortText[] = [NONE];
  const dictionary = new Map<string, number>([[keyOf(NONE), 0]]);
  const { compiled } = engine;

  const positionsOf = (external: boolean, members: readonly number[]): number[] => {
    const out: number[] = [];
    for (const m of members) {
      const p = position.get(external ? compiled.externals[m].id : eps[m].id);
      if (p !== undefined) out.push(p);
    }
    return out;
  };
  engine.forEachClassPair((src, dst, all: PortsByProtocol) => {
    const text: PortText = { tcp: formatPorts(all.TCP), udp: formatPorts(all.UDP), sctp: formatPorts(all.SCTP) };
    const key = keyOf(text);
    let index = dictionary.get(key);
    if (index === undefined) {
      index = ports.length;
      ports.push(text);
      dictionary.set(key, index);
    }
    const tos = positionsOf(dst.external, dst.members);
    for (const from of positionsOf(src.external, src.members)) {
      const row = from * n;
      for (const to of tos) if (to !== from) cells[row + to] = index;
    }
  });
  // Each pod's own node reaches it on every port, whatever its class pair says.
  const pairs = engine.ownNodePairs();
  if (pairs.length > 0) {
    const text: PortText = { tcp: '1-65535', udp: '1-65535', sctp: '1-65535' };
    let index = dictionary.get(keyOf(text));
    if (index === undefined) {
      index = ports.length;
      ports.push(text);
      dictionary.set(keyOf(text), index);
    }
    for (const { external, endpoint } of pairs) {
      const from = position.get(compiled.externals[external].id);
      const to = position.get(eps[endpoint].id);
      if (from !== undefined && to !== undefined) cells[from * n + to] = index;
    }
  }
  return { endpoints, ports, cells, position };
}

/** The run-length encoded form of a dense grid. */
export function encodeGrid(dense: DenseGrid): Grid {
  const n = dense.endpoints.length;
  const rows: number[][] = [];
  for (let from = 0; from < n; from++) {
    const row: number[] = [];
    let value = dense.cells[from * n];
    let count = 0;
    for (let to = 0; to < n; to++) {
      const v = dense.cells[from * n + to];
      if (v === value) count++;
      else {
        row.push(value, count);
        value = v;
        count = 1;
      }
    }
    if (n > 0) row.push(value, count);
    rows.push(row);
  }
  return { endpoints: dense.endpoints, ports: dense.ports, rows };
}

/** Expands a grid back into `matrixJson()` form (used by tests to hold the two to the same contract). */
export function gridToMatrix(grid: Grid): MatrixJson {
  const connections: MatrixConnection[] = [];
  grid.rows.forEach((row, from) => {
    let to = 0;
    for (let k = 0; k < row.length; k += 2) {
      const [value, count] = [row[k], row[k + 1]];
      if (value !== 0) {
        for (let j = to; j < to + count; j++) {
          connections.push({ from: grid.endpoints[from].id, to: grid.endpoints[j].id, ...grid.ports[value] });
        }
      }
      to += count;
    }
  });
  return { endpoints: grid.endpoints, connections };
}

/**
 * Cells whose allowed ports differ between two engines' grids. Endpoints are matched by id; an external range of the
 * new grid is matched to the old range holding its first address (asked of the old engine), so a policy edit that
 * splits a range still compares like with like.
 */
export function diffGrids(before: DenseGrid, beforeEngine: Engine, after: DenseGrid): { changed: ChangedCell[]; count: number } {
  const n = after.endpoints.length;
  const m = before.endpoints.length;
  const oldIndex = after.endpoints.map((e) => {
    const same = before.position.get(e.id);
    if (same !== undefined) return same;
    if (e.kind !== 'External') return -1;
    const first = e.id.slice(0, e.id.indexOf('-')); // `first-last`; addresses never hold a '-'
    try {
      const r = beforeEngine.resolve(first);
      return r.kind === 'external' ? (before.position.get(r.range.id) ?? -1) : -1;
    } catch {
      return -1;
    }
  });
  const changed: ChangedCell[] = [];
  let count = 0;
  const isExternal = after.endpoints.map((e) => e.kind === 'External');
  for (let i = 0; i < n; i++) {
    const oi = oldIndex[i];
    for (let j = 0; j < n; j++) {
      if (i === j || (isExternal[i] && isExternal[j])) continue;
      const now = after.ports[after.cells[i * n + j]];
      const oj = oldIndex[j];
      const was = oi < 0 || oj < 0 ? null : before.ports[before.cells[oi * m + oj]];
      if (was !== null && keyOf(was) === keyOf(now)) continue;
      if (was === null && keyOf(now) === keyOf(NONE)) continue;
      count++;
      if (changed.length < CHANGED_LIMIT) changed.push({ from: after.endpoints[i].id, to: after.endpoints[j].id, before: was, after: now });
    }
  }
  return { changed, count };
}
