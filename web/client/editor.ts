/**
 * The policy editor: a textarea with line numbers, diagnostics marked at their lines, and Export. Every change is
 * sent (debounced) for evaluation; the caller updates the matrix.
 */
import type { DiagnosticView, FindingView } from '../../src/web/protocol.js';
import { fill, h } from './dom.js';

const DEBOUNCE_MS = 350;

export class Editor {
  readonly root: HTMLDivElement;
  readonly textarea: HTMLTextAreaElement;
  private readonly gutter: HTMLDivElement;
  private readonly problems: HTMLDivElement;
  readonly status: HTMLParagraphElement;
  private timer = 0;
  private marks = new Map<number, DiagnosticView[]>();

  constructor(
    private readonly initial: string,
    private readonly file: string,
    private readonly changed: (yaml: string) => void,
  ) {
    this.textarea = h('textarea', { class: 'editor-text', spellcheck: 'false', wrap: 'off', 'aria-label': 'Policies (YAML)', autocapitalize: 'off', autocomplete: 'off' });
    this.textarea.value = initial;
    this.gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
    this.problems = h('div', { class: 'problems', 'aria-live': 'polite' });
    this.status = h('p', { class: 'edit-status', role: 'status' }, 'Edit the policies: the matrix recomputes as you type.');
    const exportButton = h('button', { type: 'button', onclick: () => this.export() }, 'Export YAML');
    const reset = h('button', { type: 'button', onclick: () => this.reset() }, 'Reset to loaded');
    this.root = h('div', { class: 'editor' }, h('div', { class: 'toolbar' }, exportButton, reset, this.status), h('div', { class: 'editor-box' }, this.gutter, this.textarea), this.problems);
    this.textarea.addEventListener('input', () => {
      this.renderGutter();
      clearTimeout(this.timer);
      this.timer = window.setTimeout(() => this.changed(this.textarea.value), DEBOUNCE_MS);
    });
    this.textarea.addEventListener('scroll', () => {
      this.gutter.scrollTop = this.textarea.scrollTop;
    });
    this.textarea.addEventListener('keydown', (e) => {
      // Tab indents (YAML wants spaces); Escape then Tab leaves the editor, as in most code editors.
      if (e.key === 'Tab' && !e.shiftKey && !this.escaped) {
        e.preventDefault();
        this.textarea.setRangeText('  ', this.textarea.selectionStart, this.textarea.selectionEnd, 'end');
        this.textarea.dispatchEvent(new Event('input'));
      }
      this.escaped = e.key === 'Escape';
    });
    this.renderGutter();
  }

  private escaped = false;

  get value(): string {
    return this.textarea.value;
  }

  /** True when the text differs from what was loaded. */
  get edited(): boolean {
    return this.textarea.value !== this.initial;
  }

  /** Marks diagnostics (and lint findings, as warnings) at their lines and lists them. */
  showDiagnostics(diagnostics: readonly DiagnosticView[], findings: readonly FindingView[] = []): void {
    const linted = findings.map((f): DiagnosticView => ({
      severity: 'warning',
      message: `${f.ruleId}: ${f.message}`,
      text: `lint ${f.ruleId}${f.object ? ` (${f.object})` : ''}: ${f.message}. Fix: ${f.fix}`,
      ...(f.line !== undefined ? { line: f.line, column: f.column ?? 1 } : {}),
    }));
    diagnostics = [...diagnostics, ...linted];
    this.marks = new Map();
    for (const d of diagnostics) {
      if (d.line === undefined) continue;
      const list = this.marks.get(d.line);
      if (list) list.push(d);
      else this.marks.set(d.line, [d]);
    }
    this.renderGutter();
    fill(
      this.problems,
      ...diagnostics.map((d) =>
        h(
          'button',
          { type: 'button', class: `problem ${d.severity}`, 'data-line': d.line ?? '', onclick: () => d.line !== undefined && this.goToLine(d.line, d.column ?? 1) },
          d.line !== undefined ? `${this.file}:${d.line}:${d.column ?? 1} ` : '',
          h('strong', {}, d.severity),
          `: ${d.text.replace(/^[^:]+:\d+:\d+: \w+: /, '')}`,
        ),
      ),
    );
  }

  private renderGutter(): void {
    const count = this.textarea.value.split('\n').length;
    const frag = document.createDocumentFragment();
    for (let i = 1; i <= count; i++) {
      const marks = this.marks.get(i);
      const sev = marks?.some((d) => d.severity === 'error') ? 'error' : marks ? 'warning' : '';
      frag.append(h('div', { class: `gl${sev ? ` ${sev}` : ''}`, ...(marks ? { title: marks.map((d) => d.message).join('\n'), 'data-line': i } : {}) }, String(i)));
    }
    this.gutter.replaceChildren(frag, h('div', { class: 'gl pad' }, ' '));
    this.gutter.scrollTop = this.textarea.scrollTop;
  }

  /** Puts the caret at a line and column and shows it. */
  goToLine(line: number, column: number): void {
    const lines = this.textarea.value.split('\n');
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(0, column - 1);
    this.textarea.focus();
    this.textarea.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(this.textarea).lineHeight) || 18;
    this.textarea.scrollTop = Math.max(0, (line - 5) * lineHeight);
  }

  private export(): void {
    const blob = new Blob([this.textarea.value], { type: 'application/yaml' });
    const a = h('a', { href: URL.createObjectURL(blob), download: 'palisade-policies.yaml' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  private reset(): void {
    this.textarea.value = this.initial;
    this.renderGutter();
    this.changed(this.initial);
  }
}
