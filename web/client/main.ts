/**
 * Palisade's web UI: matrix, graph, policies and editor over the server's engine. The page decides nothing about
 * traffic; it asks the server and draws the answers.
 */
import './style.css';
import type { SourceResponse } from '../../src/web/protocol.js';
import { api } from './api.js';
import type { Protocol, View } from './cells.js';
import { fill, h } from './dom.js';
import { Editor } from './editor.js';
import { GraphView } from './graph.js';
import { MatrixView } from './matrix.js';
import { MatrixModel, type Line } from './model.js';
import { PoliciesView } from './policies.js';
import { WhyPanel, type WhyQuestion } from './why.js';

type Tab = 'matrix' | 'graph' | 'policies' | 'edit';
const TABS: readonly { id: Tab; label: string }[] = [
  { id: 'matrix', label: 'Matrix' },
  { id: 'graph', label: 'Graph' },
  { id: 'policies', label: 'Policies' },
  { id: 'edit', label: 'Edit' },
];

class App {
  private source!: SourceResponse;
  private base!: MatrixModel;
  private model!: MatrixModel;
  /** The edited text when it differs from the loaded one and has no errors. */
  private yaml?: string;
  private view: View = {};
  private collapsed = new Set<string>();
  private filterText = '';
  private cellSize = 22;
  private tab: Tab = 'matrix';
  private evaluation = 0;
  private policiesFor?: string | null;

  private readonly matrix = new MatrixView({ open: (a, b) => this.explain(a, b), toggle: (ns) => this.toggle(ns) });
  private readonly graph = new GraphView({ open: (a, b) => this.explain(a, b) });
  private readonly policies = new PoliciesView();
  private readonly why = new WhyPanel((q) => api.why({ ...q, ...(this.yaml !== undefined ? { yaml: this.yaml } : {}) }));
  private editor!: Editor;
  private readonly panels = new Map<Tab, HTMLElement>();
  private readonly tabButtons = new Map<Tab, HTMLButtonElement>();
  private readonly counts = h('p', { class: 'counts', role: 'status' });
  private readonly matrixHome = h('div', { class: 'matrix-home' });
  private readonly editMatrix = h('div', { class: 'edit-matrix' });

  async start(): Promise<void> {
    this.applyTheme(localStorage.getItem('palisade-theme') as 'light' | 'dark' | null);
    const [source, grid] = await Promise.all([api.source(), api.grid()]);
    this.source = source;
    this.base = new MatrixModel(grid);
    this.model = this.base;
    this.cellSize = grid.endpoints.length > 400 ? 12 : grid.endpoints.length > 60 ? 16 : 22;
    if (grid.endpoints.length > 400) for (const g of this.base.groups) if (g.members.length > 1) this.collapsed.add(g.name);
    this.editor = new Editor(source.yaml, source.file, (yaml) => void this.evaluate(yaml));
    this.build();
    this.refresh();
    // Lint findings of the loaded text, placed at their lines in the editor.
    void api.evaluate(source.yaml).then((r) => {
      if (this.evaluation === 0) this.editor.showDiagnostics(r.diagnostics, r.findings ?? []);
    }, () => undefined);
  }

  private build(): void {
    const themeButton = h('button', { type: 'button', class: 'theme', id: 'theme-toggle', 'aria-pressed': String(this.isDark()), onclick: () => this.toggleTheme() }, 'Dark mode');
    const tablist = h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Views' });
    for (const t of TABS) {
      const b = h('button', { type: 'button', role: 'tab', id: `tab-${t.id}`, 'aria-controls': `panel-${t.id}`, 'aria-selected': String(t.id === this.tab), tabindex: t.id === this.tab ? 0 : -1, onclick: () => this.select(t.id) }, t.label);
      b.addEventListener('keydown', (e) => {
        const i = TABS.findIndex((x) => x.id === t.id);
        const next = e.key === 'ArrowRight' ? TABS[(i + 1) % TABS.length] : e.key === 'ArrowLeft' ? TABS[(i + TABS.length - 1) % TABS.length] : undefined;
        if (next) {
          e.preventDefault();
          this.select(next.id);
          this.tabButtons.get(next.id)?.focus();
        }
      });
      this.tabButtons.set(t.id, b);
      tablist.append(b);
    }

    const protocol = h('select', { 'aria-label': 'Protocol', id: 'filter-protocol' }, h('option', { value: '' }, 'All protocols'), ...['TCP', 'UDP', 'SCTP'].map((p) => h('option', { value: p }, p)));
    const port = h('input', { type: 'number', min: 1, max: 65535, placeholder: 'any port', 'aria-label': 'Port', id: 'filter-port', class: 'port' });
    const onView = () => {
      const n = Number(port.value);
      this.view = { ...(protocol.value ? { protocol: protocol.value as Protocol } : {}), ...(port.value !== '' && Number.isInteger(n) && n >= 1 && n <= 65535 ? { port: n } : {}) };
      this.base.setView(this.view);
      if (this.model !== this.base) this.model.setView(this.view);
      this.refresh();
    };
    protocol.addEventListener('change', onView);
    port.addEventListener('input', onView);
    const search = h('input', { type: 'search', placeholder: 'Find endpoints…', 'aria-label': 'Find endpoints', class: 'search' });
    search.addEventListener('input', () => {
      this.filterText = search.value;
      this.refresh();
    });
    const zoom = h('input', { type: 'range', min: 10, max: 30, value: this.cellSize, 'aria-label': 'Cell size' });
    zoom.addEventListener('input', () => {
      this.cellSize = Number(zoom.value);
      this.refresh();
    });
    const collapseAll = h('button', { type: 'button', onclick: () => ((this.collapsed = new Set(this.base.groups.map((g) => g.name))), this.refresh()) }, 'Collapse all');
    const expandAll = h('button', { type: 'button', onclick: () => (this.collapsed.clear(), this.refresh()) }, 'Expand all');
    const legend = h(
      'ul',
      { class: 'legend', 'aria-label': 'Legend' },
      h('li', {}, h('span', { class: 'cell s-allowed sw' }, '✓'), 'allowed'),
      h('li', {}, h('span', { class: 'cell s-partial sw' }, '~'), 'some ports'),
      h('li', {}, h('span', { class: 'cell s-blocked sw' }, '✗'), 'blocked'),
      h('li', {}, h('span', { class: 'cell changed sw s-blocked' }, ''), 'changed by the edit'),
      h('li', {}, h('span', { class: 'cell logged sw s-allowed' }, ''), 'in the AWS flow log'),
      h('li', {}, h('span', { class: 'cell logged log-mismatch sw s-blocked' }, ''), 'AWS contradicts the engine'),
    );
    // An AWS node agent log (network-policy-agent.log, or a CloudWatch export) shown as marks on the matrix.
    const logStatus = h('span', { class: 'log-status', role: 'status', id: 'flowlog-status' });
    const logInput = h('input', { type: 'file', id: 'flowlog-file', 'aria-label': 'Load an AWS flow log', accept: '.log,.txt,.json,text/plain' });
    logInput.addEventListener('change', () => void this.loadLog(logInput, logStatus));
    const toolbar = h('div', { class: 'toolbar view-toolbar' }, protocol, port, search, collapseAll, expandAll, h('label', { class: 'zoom' }, 'Size ', zoom), h('label', { class: 'log-load' }, 'AWS flow log ', logInput), logStatus, legend);

    this.matrixHome.append(this.matrix.root);
    this.panels.set('matrix', h('section', { role: 'tabpanel', id: 'panel-matrix', 'aria-labelledby': 'tab-matrix', class: 'panel' }, this.matrixHome));
    this.panels.set('graph', h('section', { role: 'tabpanel', id: 'panel-graph', 'aria-labelledby': 'tab-graph', class: 'panel', hidden: true }, this.graph.root));
    this.panels.set('policies', h('section', { role: 'tabpanel', id: 'panel-policies', 'aria-labelledby': 'tab-policies', class: 'panel', hidden: true }, this.policies.root));
    this.panels.set('edit', h('section', { role: 'tabpanel', id: 'panel-edit', 'aria-labelledby': 'tab-edit', class: 'panel edit-panel', hidden: true }, this.editor.root, this.editMatrix));

    const app = document.getElementById('app')!;
    fill(
      app,
      h(
        'header',
        { class: 'top' },
        h('h1', {}, 'Palisade'),
        h('span', { class: 'inputs', title: this.source.inputs.join(' ') }, this.source.inputs.join(' ')),
        tablist,
        themeButton,
      ),
      toolbar,
      this.counts,
      h('div', { class: 'workarea' }, h('main', { class: 'views' }, ...this.panels.values()), this.why.root),
    );
  }

  /** Sends a chosen log file to the server and marks the cells its flows fell on. */
  private async loadLog(input: HTMLInputElement, status: HTMLElement): Promise<void> {
    const file = input.files?.[0];
    if (!file) return;
    status.textContent = `reading ${file.name}…`;
    try {
      const r = await api.flowlog(await file.text(), file.name, this.yaml);
      this.matrix.setLogMarks(r.cells);
      status.textContent = `${file.name}: ${r.flows} flow${r.flows === 1 ? '' : 's'}, ${r.mismatches} contradict${r.mismatches === 1 ? 's' : ''} the engine, ${r.unparsed} line${r.unparsed === 1 ? '' : 's'} not read`;
      status.title = r.mismatchLines.join('\n');
    } catch (e) {
      status.textContent = `${file.name}: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  private select(tab: Tab): void {
    this.tab = tab;
    for (const [id, b] of this.tabButtons) {
      b.setAttribute('aria-selected', String(id === tab));
      b.tabIndex = id === tab ? 0 : -1;
    }
    for (const [id, p] of this.panels) p.hidden = id !== tab;
    (tab === 'edit' ? this.editMatrix : this.matrixHome).append(this.matrix.root);
    document.body.dataset.tab = tab;
    this.refresh();
  }

  private refresh(): void {
    const lines = this.model.lines(this.collapsed, this.filterText);
    if (this.tab === 'matrix' || this.tab === 'edit') this.matrix.show(this.model, lines, this.cellSize);
    if (this.tab === 'graph') this.graph.show(this.model, this.collapsed);
    if (this.tab === 'policies') void this.loadPolicies();
    let allowed = 0;
    let partial = 0;
    const n = this.model.n;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const st = this.model.state(i, j);
      if (st === 'allowed') allowed++;
      else if (st === 'partial') partial++;
    }
    const what = [this.view.protocol ?? 'all protocols', this.view.port !== undefined ? `port ${this.view.port}` : 'all ports'].join(', ');
    const changed = this.model.changed.size;
    this.counts.textContent = `${n} endpoints and ranges · ${allowed} allowed, ${partial} partly allowed pairs (${what})${this.yaml !== undefined ? ` · edited: ${changed} cell${changed === 1 ? '' : 's'} changed` : ''}`;
  }

  private async loadPolicies(): Promise<void> {
    const key = this.yaml ?? null;
    if (this.policiesFor === key) return;
    this.policiesFor = key;
    try {
      this.policies.show(await api.policies(this.yaml));
    } catch (e) {
      this.policiesFor = undefined;
      this.policies.showError(e instanceof Error ? e.message : String(e));
    }
  }

  private toggle(ns: string): void {
    if (this.collapsed.has(ns)) this.collapsed.delete(ns);
    else this.collapsed.add(ns);
    this.refresh();
  }

  private explain(a: Line, b: Line): void {
    const pair = this.model.representative(a, b);
    if (!pair) return;
    const [i, j] = pair;
    const aggregated = a.kind === 'group' || b.kind === 'group';
    const q: WhyQuestion = {
      from: this.model.ids[i],
      to: this.model.ids[j],
      ...(this.view.port !== undefined ? { port: this.view.port } : {}),
      ...(this.view.protocol ? { protocol: this.view.protocol } : {}),
      ...(aggregated ? { note: 'This cell stands for a collapsed namespace; showing its first pair. Expand the namespace to pick another.' } : {}),
    };
    void this.why.open(q);
  }

  private async evaluate(yaml: string): Promise<void> {
    const seq = ++this.evaluation;
    if (yaml === this.source.yaml) {
      this.yaml = undefined;
      delete document.body.dataset.stale;
      this.model = this.base;
      this.base.setChanged([]);
      void api.evaluate(yaml).then((r) => seq === this.evaluation && this.editor.showDiagnostics(r.diagnostics, r.findings ?? []), () => undefined);
      this.editor.status.textContent = 'As loaded: no changes.';
      this.refresh();
      this.why.refresh();
      return;
    }
    this.editor.status.textContent = 'Evaluating…';
    try {
      const r = await api.evaluate(yaml);
      if (seq !== this.evaluation) return;
      this.editor.showDiagnostics(r.diagnostics, r.findings ?? []);
      if (!r.ok || !r.grid) {
        const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
        this.editor.status.textContent = `${errors} error${errors === 1 ? '' : 's'}: the matrix shows the last valid version.`;
        document.body.dataset.stale = 'true';
        return;
      }
      delete document.body.dataset.stale;
      this.yaml = yaml;
      const model = new MatrixModel(r.grid);
      model.setView(this.view);
      model.setChanged(r.changed ?? []);
      this.model = model;
      const more = (r.changedCount ?? 0) > (r.changed?.length ?? 0) ? ` (${r.changed?.length} marked)` : '';
      this.editor.status.textContent = `${r.changedCount ?? 0} cell${r.changedCount === 1 ? '' : 's'} changed${more}.`;
      this.refresh();
      this.why.refresh();
    } catch (e) {
      if (seq === this.evaluation) this.editor.status.textContent = `Could not evaluate: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  private isDark(): boolean {
    const t = document.documentElement.dataset.theme;
    return t ? t === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
  }

  private applyTheme(theme: 'light' | 'dark' | null): void {
    if (theme) document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  }

  private toggleTheme(): void {
    const next = this.isDark() ? 'light' : 'dark';
    this.applyTheme(next);
    localStorage.setItem('palisade-theme', next);
    document.getElementById('theme-toggle')?.setAttribute('aria-pressed', String(next === 'dark'));
  }
}

new App().start().catch((e: unknown) => {
  const app = document.getElementById('app');
  if (app) fill(app, h('p', { class: 'error' }, `Palisade could not start: ${e instanceof Error ? e.message : String(e)}`));
});
