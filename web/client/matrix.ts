/**
 * The reachability matrix: rows are sources, columns destinations, endpoints grouped by namespace (each group
 * collapsible into one line). Only the cells in view exist in the DOM, so 2,000 endpoints (4 million cells) scroll as
 * easily as 20. Headers stick; cells are focusable, arrow keys move, Enter explains.
 */
import { describePorts } from './cells.js';
import { h } from './dom.js';
import type { Line, MatrixModel } from './model.js';
import type { FlowLogCell } from '../../src/web/protocol.js';

const SYMBOL: Record<string, string> = { allowed: '✓', partial: '~', blocked: '✗', self: '' };
const WORD: Record<string, string> = { allowed: 'allowed', partial: 'some ports allowed', blocked: 'blocked', self: 'not a connection' };
const NS_BAND = 24;
const OVERSCAN = 4;

export interface MatrixEvents {
  /** A cell was chosen (click or Enter). */
  open(from: Line, to: Line): void;
  /** A namespace's collapse toggle was pressed. */
  toggle(namespace: string): void;
}

export class MatrixView {
  readonly root: HTMLDivElement;
  private readonly scroller: HTMLDivElement;
  private readonly sizer: HTMLDivElement;
  private readonly colhead: HTMLDivElement;
  private readonly corner: HTMLDivElement;
  private readonly rowhead: HTMLDivElement;
  private readonly body: HTMLDivElement;
  private model?: MatrixModel;
  private lines: Line[] = [];
  private size = 22;
  private nsW = 100;
  private nameW = 140;
  private headH = 120;
  private active = { r: 0, c: 0 };
  private frame = 0;
  /** Cells a loaded AWS flow log fell on (`from\0to` → whether some flow there contradicts the engine). */
  private logMarks = new Map<string, boolean>();

  constructor(private readonly events: MatrixEvents) {
    this.corner = h('div', { class: 'mx-corner', 'aria-hidden': 'true' }, h('span', {}, 'from ↓  to →'));
    this.colhead = h('div', { class: 'mx-colhead', 'aria-hidden': 'true' }, this.corner);
    this.rowhead = h('div', { class: 'mx-rowhead', 'aria-hidden': 'true' });
    this.body = h('div', { class: 'mx-body', role: 'grid', 'aria-label': 'Reachability matrix: rows are sources, columns destinations' });
    this.sizer = h('div', { class: 'mx-sizer' }, this.colhead, this.rowhead, this.body);
    this.scroller = h('div', { class: 'mx-scroller' }, this.sizer);
    this.root = h('div', { class: 'matrix' }, this.scroller);
    this.scroller.addEventListener('scroll', () => this.schedule());
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
    this.body.addEventListener('keydown', (e) => this.onKey(e));
    this.body.addEventListener('click', (e) => {
      const cell = (e.target as Element).closest<HTMLElement>('.cell');
      if (!cell) return;
      this.active = { r: Number(cell.dataset.r), c: Number(cell.dataset.c) };
      this.render();
      this.openActive();
    });
    for (const head of [this.colhead, this.rowhead]) {
      head.addEventListener('click', (e) => {
        const button = (e.target as Element).closest<HTMLElement>('[data-toggle]');
        if (button) this.events.toggle(button.dataset.toggle!);
      });
    }
  }

  /** Marks the cells of a loaded AWS flow log; an empty list clears them. */
  setLogMarks(cells: readonly FlowLogCell[]): void {
    this.logMarks = new Map(cells.map((c) => [`${c.from}\u0000${c.to}`, c.mismatch]));
    this.schedule();
  }

  /** Shows a model's lines; keeps the active cell where it can. */
  show(model: MatrixModel, lines: Line[], cellSize: number): void {
    this.model = model;
    this.lines = lines;
    this.size = cellSize;
    const names = lines.map((l) => this.label(l));
    const longest = names.reduce((m, s) => Math.max(m, s.length), 4);
    const nsLongest = model.groups.reduce((m, g) => Math.max(m, g.name.length + 6), 6);
    this.nsW = Math.min(150, 16 + nsLongest * 7.5);
    this.nameW = Math.min(260, 20 + longest * 7.2);
    this.headH = NS_BAND + Math.min(200, 16 + longest * 7.2);
    this.active = { r: Math.min(this.active.r, Math.max(0, lines.length - 1)), c: Math.min(this.active.c, Math.max(0, lines.length - 1)) };
    const rowW = this.nsW + this.nameW;
    this.sizer.style.width = `${rowW + lines.length * cellSize}px`;
    this.sizer.style.height = `${this.headH + lines.length * cellSize}px`;
    this.colhead.style.height = `${this.headH}px`;
    this.corner.style.width = `${rowW}px`;
    this.rowhead.style.width = `${rowW}px`;
    this.rowhead.style.height = `${lines.length * cellSize}px`;
    this.body.style.left = `${rowW}px`;
    this.body.style.top = `${this.headH}px`;
    this.body.style.width = `${lines.length * cellSize}px`;
    this.body.style.height = `${lines.length * cellSize}px`;
    this.body.setAttribute('aria-rowcount', String(lines.length));
    this.body.setAttribute('aria-colcount', String(lines.length));
    this.root.classList.toggle('small', cellSize < 16);
    this.root.style.setProperty('--label-size', `${Math.min(12, cellSize - 2)}px`);
    this.render();
  }

  /** The visible name of a line: the endpoint's name (its namespace is the group), or the group's size. */
  private label(l: Line): string {
    const m = this.model!;
    if (l.kind === 'group') return `${m.groups[l.group].members.length} ${m.groups[l.group].external ? 'ranges' : 'endpoints'}`;
    const e = m.grid.endpoints[l.index];
    return 'name' in e ? e.name : e.id;
  }

  /** The full name of a line, for labels read aloud. */
  private fullName(l: Line): string {
    const m = this.model!;
    return l.kind === 'group' ? `namespace ${m.groups[l.group].name} (all ${m.groups[l.group].members.length})` : m.ids[l.index];
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const m = this.model;
    if (!m) return;
    const S = this.size;
    const rowW = this.nsW + this.nameW;
    const n = this.lines.length;
    const { scrollLeft, scrollTop, clientWidth, clientHeight } = this.scroller;
    const c0 = Math.max(0, Math.floor(scrollLeft / S) - OVERSCAN);
    const c1 = Math.min(n, Math.ceil((scrollLeft + clientWidth - rowW) / S) + OVERSCAN);
    const r0 = Math.max(0, Math.floor(scrollTop / S) - OVERSCAN);
    const r1 = Math.min(n, Math.ceil((scrollTop + clientHeight - this.headH) / S) + OVERSCAN);
    const hadFocus = this.body.contains(document.activeElement);

    // Column headers: a namespace band over each group's columns (its toggle sticks in view), then each column's name.
    const cols = document.createDocumentFragment();
    cols.append(this.corner);
    for (const [start, span] of this.groupSpans(c0, c1)) {
      const band = h('div', { class: 'mx-band', title: m.groups[this.lines[start].group].name }, this.toggleButton(this.lines[start]));
      place(band, rowW + start * S, 0, span * S, NS_BAND);
      cols.append(band);
    }
    for (let c = c0; c < c1; c++) {
      const line = this.lines[c];
      const first = c === 0 || this.lines[c - 1].group !== line.group;
      const col = h('div', { class: `mx-col${first ? ' first' : ''}${line.kind === 'group' ? ' group' : ''}${c === this.active.c ? ' active' : ''}`, title: this.fullName(line) }, h('span', {}, this.label(line)));
      place(col, rowW + c * S, NS_BAND, S, this.headH - NS_BAND);
      cols.append(col);
    }
    this.colhead.replaceChildren(cols);

    const rows = document.createDocumentFragment();
    for (const [start, span] of this.groupSpans(r0, r1)) {
      const band = h('div', { class: 'mx-rband', title: m.groups[this.lines[start].group].name }, this.toggleButton(this.lines[start]));
      place(band, 0, start * S, this.nsW, span * S);
      rows.append(band);
    }
    const cells = document.createDocumentFragment();
    for (let r = r0; r < r1; r++) {
      const line = this.lines[r];
      const first = r === 0 || this.lines[r - 1].group !== line.group;
      const head = h(
        'div',
        { class: `mx-row${first ? ' first' : ''}${line.kind === 'group' ? ' group' : ''}${r === this.active.r ? ' active' : ''}`, title: this.fullName(line) },
        h('span', { class: 'mx-name' }, this.label(line)),
      );
      place(head, this.nsW, r * S, this.nameW, S);
      rows.append(head);

      const row = h('div', { role: 'row', class: 'mx-cells', 'aria-rowindex': r + 1 });
      place(row, 0, r * S, n * S, S);
      for (let c = c0; c < c1; c++) {
        const col = this.lines[c];
        const { state, changed } = m.lineCell(line, col);
        const isActive = r === this.active.r && c === this.active.c;
        const logged = line.kind === 'endpoint' && col.kind === 'endpoint' ? this.logMarks.get(`${m.ids[line.index]}\u0000${m.ids[col.index]}`) : undefined;
        const logText = logged === undefined ? '' : logged ? ' (AWS flow log contradicts the engine)' : ' (in the AWS flow log, agrees)';
        const label = `${this.fullName(line)} to ${this.fullName(col)}: ${WORD[state]}${changed ? ' (changed by the edit)' : ''}${logText}`;
        const cell = h(
          'div',
          {
            role: 'gridcell',
            class: `cell s-${state}${changed ? ' changed' : ''}${logged === undefined ? '' : logged ? ' logged log-mismatch' : ' logged'}${c === c0 || this.lines[c - 1].group !== col.group ? ' gfirst' : ''}${first ? ' gtop' : ''}`,
            tabindex: isActive ? 0 : -1,
            'aria-colindex': c + 1,
            'aria-label': label,
            'data-r': r,
            'data-c': c,
            'data-state': state,
            ...(changed ? { 'data-changed': 'true' } : {}),
            ...(logged !== undefined ? { 'data-log': logged ? 'mismatch' : 'agrees' } : {}),
            ...(line.kind === 'endpoint' ? { 'data-from': m.ids[line.index] } : { 'data-from-group': m.groups[line.group].name }),
            ...(col.kind === 'endpoint' ? { 'data-to': m.ids[col.index] } : { 'data-to-group': m.groups[col.group].name }),
            title: line.kind === 'endpoint' && col.kind === 'endpoint' && state !== 'self' ? `${label} — ${describePorts(m.ports(line.index, col.index))}` : label,
          },
          S >= 16 ? SYMBOL[state] : '',
        );
        place(cell, c * S, 0, S, S);
        row.append(cell);
      }
      cells.append(row);
    }
    this.rowhead.replaceChildren(rows);
    this.body.replaceChildren(cells);
    if (hadFocus) this.focusActive();
  }

  /** `[firstLine, count]` of each group with a line in `[from, to)`, whole (a band spans its group). */
  private groupSpans(from: number, to: number): [number, number][] {
    const out: [number, number][] = [];
    let i = from;
    while (i < to) {
      const g = this.lines[i].group;
      let start = i;
      while (start > 0 && this.lines[start - 1].group === g) start--;
      let end = i;
      while (end < this.lines.length && this.lines[end].group === g) end++;
      out.push([start, end - start]);
      i = end;
    }
    return out;
  }

  private toggleButton(line: Line): HTMLElement {
    const g = this.model!.groups[line.group];
    const collapsed = line.kind === 'group';
    const button = h(
      'button',
      { type: 'button', class: 'mx-toggle', 'data-toggle': g.name, 'aria-expanded': String(!collapsed), title: `${collapsed ? 'Expand' : 'Collapse'} ${g.name}` },
      `${collapsed ? '▸' : '▾'} ${g.name}`,
    );
    // Stick in view while any of the group is: below the column headers, right of the row headers.
    button.style.top = `${this.headH}px`;
    button.style.left = `${this.nsW + this.nameW}px`;
    return button;
  }

  private focusActive(): void {
    const el = this.body.querySelector<HTMLElement>(`.cell[data-r="${this.active.r}"][data-c="${this.active.c}"]`);
    (el ?? this.body).focus({ preventScroll: true });
  }

  /** Moves the active cell, scrolling it into view. */
  private moveTo(r: number, c: number): void {
    const n = this.lines.length;
    if (n === 0) return;
    this.active = { r: Math.max(0, Math.min(n - 1, r)), c: Math.max(0, Math.min(n - 1, c)) };
    const S = this.size;
    const rowW = this.nsW + this.nameW;
    const s = this.scroller;
    const x = this.active.c * S;
    const y = this.active.r * S;
    if (x < s.scrollLeft) s.scrollLeft = x;
    else if (x + S > s.scrollLeft + s.clientWidth - rowW) s.scrollLeft = x + S - (s.clientWidth - rowW);
    if (y < s.scrollTop) s.scrollTop = y;
    else if (y + S > s.scrollTop + s.clientHeight - this.headH) s.scrollTop = y + S - (s.clientHeight - this.headH);
    this.render();
    this.focusActive();
  }

  private onKey(e: KeyboardEvent): void {
    const { r, c } = this.active;
    const page = Math.max(1, Math.floor((this.scroller.clientHeight - this.headH) / this.size) - 1);
    const moves: Record<string, [number, number]> = {
      ArrowUp: [r - 1, c],
      ArrowDown: [r + 1, c],
      ArrowLeft: [r, c - 1],
      ArrowRight: [r, c + 1],
      PageUp: [r - page, c],
      PageDown: [r + page, c],
      Home: e.ctrlKey ? [0, 0] : [r, 0],
      End: e.ctrlKey ? [this.lines.length - 1, this.lines.length - 1] : [r, this.lines.length - 1],
    };
    const to = moves[e.key];
    if (to) {
      e.preventDefault();
      this.moveTo(to[0], to[1]);
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.openActive();
    }
  }

  private openActive(): void {
    const from = this.lines[this.active.r];
    const to = this.lines[this.active.c];
    if (from && to) this.events.open(from, to);
  }

  /** Gives the keyboard to the grid (the active cell). */
  focus(): void {
    this.focusActive();
  }
}

function place(el: HTMLElement, left: number, top: number, width: number, height: number): void {
  el.style.left = `${left}px`;
  el.style.top = `${top}px`;
  el.style.width = `${width}px`;
  el.style.height = `${height}px`;
}
