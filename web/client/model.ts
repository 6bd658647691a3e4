/**
 * The matrix as the page holds it: the server's grid decoded into a dense table, endpoints grouped by namespace,
 * cell states for the current view, and namespace aggregates for collapsed groups.
 */
import type { ChangedCell, Grid, PortText } from '../../src/web/protocol.js';
import { cellState, type CellState, type View } from './cells.js';

export interface Group {
  /** The namespace, or `External` for the address ranges. */
  readonly name: string;
  readonly external: boolean;
  readonly members: readonly number[];
}

/** A row (and the same column) of the matrix: one endpoint, or a collapsed group. */
export type Line = { readonly kind: 'endpoint'; readonly index: number; readonly group: number } | { readonly kind: 'group'; readonly group: number };

export const EXTERNAL_GROUP = 'External';

const STATE_CODE: Record<CellState, number> = { blocked: 0, allowed: 1, partial: 2, self: 3 };
const CODE_STATE: CellState[] = ['blocked', 'allowed', 'partial', 'self'];

export class MatrixModel {
  readonly n: number;
  readonly ids: readonly string[];
  readonly external: readonly boolean[];
  readonly cells: Uint32Array;
  readonly index: ReadonlyMap<string, number>;
  readonly groups: readonly Group[];
  readonly groupOf: Int32Array;
  /** Changed cells (`from * n + to`) against the loaded policies, with the ports before. */
  readonly changed = new Map<number, ChangedCell>();
  private stateByPort: Uint8Array = new Uint8Array(0);
  private aggregates = new Map<number, { state: CellState; changed: boolean }>();

  constructor(readonly grid: Grid) {
    const n = grid.endpoints.length;
    this.n = n;
    this.ids = grid.endpoints.map((e) => e.id);
    this.external = grid.endpoints.map((e) => e.kind === 'External');
    this.index = new Map(this.ids.map((id, i) => [id, i]));
    this.cells = new Uint32Array(n * n);
    grid.rows.forEach((row, from) => {
      let to = 0;
      for (let k = 0; k < row.length; k += 2) {
        this.cells.fill(row[k], from * n + to, from * n + to + row[k + 1]);
        to += row[k + 1];
      }
    });
    const groups: Group[] = [];
    const byName = new Map<string, number[]>();
    grid.endpoints.forEach((e, i) => {
      const name = 'namespace' in e ? e.namespace : EXTERNAL_GROUP;
      let list = byName.get(name);
      if (!list) {
        byName.set(name, (list = []));
        groups.push({ name, external: e.kind === 'External', members: list });
      }
      list.push(i);
    });
    this.groups = groups;
    this.groupOf = new Int32Array(n);
    groups.forEach((g, gi) => g.members.forEach((m) => (this.groupOf[m] = gi)));
    this.setView({});
  }

  /** Marks changed cells (from the evaluate response). */
  setChanged(changed: readonly ChangedCell[]): void {
    this.changed.clear();
    for (const c of changed) {
      const i = this.index.get(c.from);
      const j = this.index.get(c.to);
      if (i !== undefined && j !== undefined) this.changed.set(i * this.n + j, c);
    }
    this.aggregates.clear();
  }

  setView(view: View): void {
    this.stateByPort = Uint8Array.from(this.grid.ports, (p) => STATE_CODE[cellState(p, view)]);
    this.aggregates.clear();
  }

  ports(i: number, j: number): PortText {
    return this.grid.ports[this.cells[i * this.n + j]];
  }

  /** A pair that is not a connection: an endpoint with itself, or two external ranges. */
  isSelf(i: number, j: number): boolean {
    return i === j || (this.external[i] && this.external[j]);
  }

  state(i: number, j: number): CellState {
    if (this.isSelf(i, j)) return 'self';
    return CODE_STATE[this.stateByPort[this.cells[i * this.n + j]]];
  }

  isChanged(i: number, j: number): boolean {
    return this.changed.has(i * this.n + j);
  }

  /** The members a line stands for. */
  membersOf(line: Line): readonly number[] {
    return line.kind === 'endpoint' ? [line.index] : this.groups[line.group].members;
  }

  /**
   * State and change mark of the cell between two lines. A collapsed group combines its pairs: allowed or blocked
   * when all agree, else partial; changed when any changed.
   */
  lineCell(a: Line, b: Line): { state: CellState; changed: boolean } {
    if (a.kind === 'endpoint' && b.kind === 'endpoint') return { state: this.state(a.index, b.index), changed: this.isChanged(a.index, b.index) };
    const key = (l: Line) => (l.kind === 'endpoint' ? l.index : -1 - l.group);
    const k = key(a) * (this.n + this.groups.length + 1) + key(b);
    const hit = this.aggregates.get(k);
    if (hit) return hit;
    let seen = 0; // 1 allowed, 2 blocked, 4 partial
    let changed = false;
    const checkChanges = this.changed.size > 0;
    for (const i of this.membersOf(a)) {
      for (const j of this.membersOf(b)) {
        if (this.isSelf(i, j)) continue;
        const st = this.state(i, j);
        seen |= st === 'allowed' ? 1 : st === 'blocked' ? 2 : 4;
        if (checkChanges && !changed) changed = this.isChanged(i, j);
      }
    }
    const result = { state: (seen === 0 ? 'self' : seen === 1 ? 'allowed' : seen === 2 ? 'blocked' : 'partial') as CellState, changed };
    this.aggregates.set(k, result);
    return result;
  }

  /** A representative connection between two lines (the first pair that is not a self pair). */
  representative(a: Line, b: Line): [number, number] | undefined {
    for (const i of this.membersOf(a)) for (const j of this.membersOf(b)) if (!this.isSelf(i, j)) return [i, j];
    return undefined;
  }

  /** The lines shown: endpoints of expanded groups, one line per collapsed group; `filter` keeps matching endpoints. */
  lines(collapsed: ReadonlySet<string>, filter: string): Line[] {
    const out: Line[] = [];
    const f = filter.trim().toLowerCase();
    this.groups.forEach((g, gi) => {
      const members = f ? g.members.filter((m) => this.ids[m].toLowerCase().includes(f)) : g.members;
      if (members.length === 0) return;
      if (collapsed.has(g.name)) out.push({ kind: 'group', group: gi });
      else for (const m of members) out.push({ kind: 'endpoint', index: m, group: gi });
    });
    return out;
  }
}
