/**
 * The connection graph: namespaces as boxes, endpoints (or whole namespaces, when collapsed or when there are too
 * many to draw) as nodes, external ranges in a column of their own, and one edge per connected pair of nodes,
 * aggregated from the matrix. The layout is a plain grid, so the same cluster always looks the same.
 */
import { describePorts } from './cells.js';
import { fill, h, s } from './dom.js';
import type { Line, MatrixModel } from './model.js';

const NODE_W = 112;
const NODE_H = 58;
const PAD = 18;
const TITLE = 24;
/** Beyond this many endpoints, namespaces are drawn as single nodes. */
const MAX_NODES = 150;
/** Beyond this many edges, edges are drawn only for the selected node. */
const MAX_EDGES = 900;

export interface GraphEvents {
  open(from: Line, to: Line): void;
}

interface NodeBox {
  readonly line: Line;
  readonly x: number;
  readonly y: number;
  readonly label: string;
  readonly title: string;
}

interface Edge {
  readonly a: number;
  readonly b: number;
  /** Both directions connected alike: drawn once with two arrowheads. */
  readonly both: boolean;
  readonly state: 'allowed' | 'partial' | 'removed';
  readonly changed: boolean;
}

export class GraphView {
  readonly root: HTMLDivElement;
  private readonly canvas: HTMLDivElement;
  private readonly list: HTMLDivElement;
  private readonly note: HTMLParagraphElement;
  private model?: MatrixModel;
  private nodes: NodeBox[] = [];
  private edges: Edge[] = [];
  private selected = -1;

  constructor(private readonly events: GraphEvents) {
    this.canvas = h('div', { class: 'graph-canvas' });
    this.note = h('p', { class: 'muted graph-note' });
    this.list = h('div', { class: 'graph-list', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Select a node (click, or Tab and Enter) to list its connections.'));
    this.root = h('div', { class: 'graph' }, h('div', { class: 'graph-main' }, this.note, this.canvas), this.list);
  }

  show(model: MatrixModel, collapsed: ReadonlySet<string>): void {
    this.model = model;
    let lines = model.lines(collapsed, '');
    const auto = lines.length > MAX_NODES;
    if (auto) lines = model.lines(new Set(model.groups.filter((g) => g.members.length > 1).map((g) => g.name)), '');
    this.layout(lines);
    this.connect();
    this.selected = Math.min(this.selected, this.nodes.length - 1);
    const dense = this.edges.length > MAX_EDGES;
    this.note.textContent = [
      `${this.nodes.length} nodes, ${this.edges.length} edges (a pair connected both ways is one edge with two arrowheads).`,
      auto ? `More than ${MAX_NODES} endpoints: namespaces are drawn as single nodes.` : '',
      dense ? 'Too many edges to draw at once: select a node to see its edges.' : '',
    ]
      .filter(Boolean)
      .join(' ');
    this.draw();
  }

  private layout(lines: Line[]): void {
    const m = this.model!;
    const byGroup = new Map<number, Line[]>();
    for (const l of lines) {
      const list = byGroup.get(l.group);
      if (list) list.push(l);
      else byGroup.set(l.group, [l]);
    }
    const groups = [...byGroup.keys()];
    const internal = groups.filter((g) => !m.groups[g].external);
    const external = groups.filter((g) => m.groups[g].external);
    const columns = Math.max(1, Math.ceil(Math.sqrt(internal.length)));
    const colX: number[] = [];
    const colY: number[] = new Array(columns + 1).fill(0);
    this.nodes = [];
    this.boxes = [];
    const place = (g: number, col: number) => {
      const members = byGroup.get(g)!;
      const per = Math.max(1, Math.ceil(Math.sqrt(members.length)));
      const rows = Math.ceil(members.length / per);
      const w = per * NODE_W + PAD;
      const hgt = rows * NODE_H + TITLE + PAD;
      const x = colX[col];
      const y = colY[col];
      colY[col] += hgt + PAD;
      this.boxes.push({ x, y, w, h: hgt, name: m.groups[g].name, external: m.groups[g].external });
      members.forEach((line, k) => {
        const nx = x + PAD / 2 + (k % per) * NODE_W + NODE_W / 2;
        const ny = y + TITLE + Math.floor(k / per) * NODE_H + NODE_H / 2;
        const ep = line.kind === 'endpoint' ? m.grid.endpoints[line.index] : undefined;
        const label = line.kind === 'group' ? `${m.groups[g].name} (${m.groups[g].members.length})` : ep && 'name' in ep ? ep.name : m.ids[line.kind === 'endpoint' ? line.index : 0];
        const title = line.kind === 'group' ? `namespace ${m.groups[g].name}: ${m.groups[g].members.length} endpoints` : `${m.ids[line.index]} (${ep?.kind ?? ''})`;
        this.nodes.push({ line, x: nx, y: ny, label, title });
      });
      return w;
    };
    // Column widths: the widest box of each column.
    const widths = new Array(columns).fill(0);
    internal.forEach((g, i) => {
      const per = Math.max(1, Math.ceil(Math.sqrt(byGroup.get(g)!.length)));
      widths[i % columns] = Math.max(widths[i % columns], per * NODE_W + PAD);
    });
    let x = PAD;
    for (let c = 0; c < columns; c++) {
      colX[c] = x;
      colY[c] = PAD;
      x += widths[c] + PAD * 2;
    }
    colX[columns] = x + PAD * 2;
    colY[columns] = PAD;
    internal.forEach((g, i) => place(g, i % columns));
    external.forEach((g) => place(g, columns));
  }

  private boxes: { x: number; y: number; w: number; h: number; name: string; external: boolean }[] = [];

  private connect(): void {
    const m = this.model!;
    const n = this.nodes.length;
    const cell = (a: number, b: number) => m.lineCell(this.nodes[a].line, this.nodes[b].line);
    this.edges = [];
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const ab = cell(a, b);
        const ba = cell(b, a);
        const kind = (c: { state: string; changed: boolean }) => (c.state === 'allowed' || c.state === 'partial' ? c.state : c.changed && c.state === 'blocked' ? 'removed' : undefined) as Edge['state'] | undefined;
        const ka = kind(ab);
        const kb = kind(ba);
        if (ka && kb && ka === kb && ab.changed === ba.changed) this.edges.push({ a, b, both: true, state: ka, changed: ab.changed });
        else {
          if (ka) this.edges.push({ a, b, both: false, state: ka, changed: ab.changed });
          if (kb) this.edges.push({ a: b, b: a, both: false, state: kb, changed: ba.changed });
        }
      }
    }
  }

  private draw(): void {
    const width = Math.max(...this.boxes.map((b) => b.x + b.w), 200) + PAD;
    const height = Math.max(...this.boxes.map((b) => b.y + b.h), 100) + PAD;
    const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': 'Connection graph' });
    const defs = s('defs');
    for (const state of ['allowed', 'partial', 'removed']) {
      defs.append(
        s('marker', { id: `arrow-${state}`, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', class: `arrow-${state}` }, s('path', { d: 'M0,0 L10,5 L0,10 z' })),
      );
    }
    svg.append(defs);
    for (const b of this.boxes) {
      svg.append(s('g', { class: `ns-box${b.external ? ' external' : ''}` }, s('rect', { x: b.x, y: b.y, width: b.w, height: b.h, rx: 8 }), s('text', { x: b.x + 10, y: b.y + 17, class: 'ns-title' }, b.external ? 'External ranges' : `namespace ${b.name}`)));
    }
    const dense = this.edges.length > MAX_EDGES;
    const edgeLayer = s('g', { class: `edges${this.selected >= 0 ? ' focused' : ''}` });
    this.edges.forEach((e, k) => {
      if (dense && e.a !== this.selected && e.b !== this.selected) return;
      const A = this.nodes[e.a];
      const B = this.nodes[e.b];
      const d = edgePath(A, B, e.both ? 0 : 18);
      const near = e.a === this.selected || e.b === this.selected;
      const title = `${A.title.split(' (')[0]} ${e.both ? '⇄' : '→'} ${B.title.split(' (')[0]}: ${e.state === 'removed' ? 'no longer allowed' : e.state === 'allowed' ? 'all ports' : 'some ports'}${e.changed ? ' (changed by the edit)' : ''}`;
      const g = s(
        'g',
        { class: `edge e-${e.state}${e.changed ? ' changed' : ''}${near ? ' near' : ''}`, 'data-edge': k, 'data-from': this.key(A.line), 'data-to': this.key(B.line) },
        s('title', {}, title),
        s('path', { d, class: 'hit' }),
        s('path', { d, class: 'line', 'marker-end': `url(#arrow-${e.state})`, ...(e.both ? { 'marker-start': `url(#arrow-${e.state})` } : {}) }),
      );
      g.addEventListener('click', () => this.events.open(A.line, B.line));
      edgeLayer.append(g);
    });
    svg.append(edgeLayer);
    this.nodes.forEach((node, k) => {
      const shape =
        node.line.kind === 'group'
          ? s('rect', { x: node.x - 13, y: node.y - 19, width: 26, height: 26, rx: 4 })
          : this.model!.external[node.line.index]
            ? s('path', { d: `M${node.x},${node.y - 20} l12,12 l-12,12 l-12,-12 z` })
            : s('circle', { cx: node.x, cy: node.y - 6, r: 11 });
      const g = s(
        'g',
        { class: `node${node.line.kind === 'group' ? ' group' : ''}${k === this.selected ? ' selected' : ''}`, tabindex: 0, role: 'button', 'aria-pressed': String(k === this.selected), 'aria-label': `${node.title}: select to list its connections`, 'data-node': this.key(node.line) },
        s('title', {}, node.title),
        shape,
        s('text', { x: node.x, y: node.y + 20, 'text-anchor': 'middle' }, truncate(node.label, 18)),
      );
      const select = () => {
        this.selected = this.selected === k ? -1 : k;
        this.draw();
        this.canvas.querySelector<SVGGElement>(`.node[data-node="${CSS.escape(this.key(node.line))}"]`)?.focus();
        this.showList();
      };
      g.addEventListener('click', select);
      g.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          select();
        }
      });
      svg.append(g);
    });
    fill(this.canvas, svg);
  }

  private key(l: Line): string {
    return l.kind === 'endpoint' ? this.model!.ids[l.index] : `namespace:${this.model!.groups[l.group].name}`;
  }

  private showList(): void {
    if (this.selected < 0) {
      fill(this.list, h('p', { class: 'muted' }, 'Select a node (click, or Tab and Enter) to list its connections.'));
      return;
    }
    const m = this.model!;
    const me = this.nodes[this.selected];
    const item = (other: NodeBox, outgoing: boolean, e: Edge) => {
      const [from, to] = outgoing ? [me, other] : [other, me];
      const ports = from.line.kind === 'endpoint' && to.line.kind === 'endpoint' ? describePorts(m.ports(from.line.index, to.line.index)) : e.state === 'allowed' ? 'all ports' : 'some ports or some pairs';
      return h('li', {}, h('button', { type: 'button', class: `link e-${e.state}`, onclick: () => this.events.open(from.line, to.line) }, `${outgoing ? '→' : '←'} ${other.title.split(' (')[0]}`), ` ${e.state === 'removed' ? 'no longer allowed' : ports}`);
    };
    const out = h('ul', {});
    const inc = h('ul', {});
    for (const e of this.edges) {
      if (e.a === this.selected) {
        out.append(item(this.nodes[e.b], true, e));
        if (e.both) inc.append(item(this.nodes[e.b], false, e));
      } else if (e.b === this.selected) {
        inc.append(item(this.nodes[e.a], false, e));
        if (e.both) out.append(item(this.nodes[e.a], true, e));
      }
    }
    fill(this.list, h('h3', {}, me.title), h('h4', {}, 'Sends to'), out.childElementCount ? out : h('p', { class: 'muted' }, 'nothing'), h('h4', {}, 'Receives from'), inc.childElementCount ? inc : h('p', { class: 'muted' }, 'nothing'));
  }
}

/** A line from A to B stopping short of both nodes; bent sideways by `bend` so opposite directions do not overlap. */
function edgePath(A: NodeBox, B: NodeBox, bend: number): string {
  const ax = A.x;
  const ay = A.y - 6;
  const bx = B.x;
  const by = B.y - 6;
  const dx = bx - ax;
  const dy = by - ay;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len;
  const uy = dy / len;
  const r = 15;
  const sx = ax + ux * r;
  const sy = ay + uy * r;
  const ex = bx - ux * r;
  const ey = by - uy * r;
  const mx = (sx + ex) / 2 - uy * bend;
  const my = (sy + ey) / 2 + ux * bend;
  return `M${sx.toFixed(1)},${sy.toFixed(1)} Q${mx.toFixed(1)},${my.toFixed(1)} ${ex.toFixed(1)},${ey.toFixed(1)}`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
