/**
 * The explanation panel: for a pair of ends, the flow and its reverse, each direction with the tier, policy and rule
 * that decided, and the policy's YAML with the deciding rule highlighted.
 */
import type { DirectionDetail, FlowExplanation, PolicySource, WhyResponse } from '../../src/web/protocol.js';
import { describePorts, type Protocol } from './cells.js';
import { fill, h } from './dom.js';

export interface WhyQuestion {
  readonly from: string;
  readonly to: string;
  readonly port?: number;
  readonly protocol?: Protocol;
  /** Shown above the answer, e.g. that the cell stood for a whole namespace. */
  readonly note?: string;
}

/** A policy's YAML with line numbers; the highlighted lines marked. */
export function codeBlock(src: PolicySource): HTMLElement {
  const lines = src.text.split('\n');
  const pre = h('pre', { class: 'code', tabindex: 0, 'aria-label': `YAML of ${src.key}` });
  lines.forEach((text, i) => {
    const n = src.firstLine + i;
    const hl = src.highlight && n >= src.highlight.start && n <= src.highlight.end;
    pre.append(h('span', { class: `ln${hl ? ' hl' : ''}`, ...(hl ? { 'data-highlight': 'true' } : {}) }, h('span', { class: 'num', 'aria-hidden': 'true' }, String(n)), `${text}\n`));
  });
  return pre;
}

function direction(verdict: FlowExplanation['verdict']['egress'], detail: DirectionDetail, end: string): HTMLElement {
  const box = h(
    'div',
    { class: `dir ${verdict.allowed ? 'ok' : 'no'}` },
    h(
      'div',
      { class: 'dir-head' },
      h('span', { class: 'dir-name' }, `${verdict.direction} (${end})`),
      h('span', { class: `badge ${verdict.allowed ? 'ok' : 'no'}` }, verdict.allowed ? 'allowed' : 'denied'),
      h('span', { class: 'badge tier' }, verdict.tier === 'Default' ? 'default' : `${verdict.tier} tier`),
    ),
    h('p', { class: 'summary' }, verdict.summary),
  );
  verdict.rules.forEach((r, i) => {
    const src = detail.ruleSources[i];
    box.append(
      h('div', { class: 'rule-ref' }, `${r.kind} ${r.policy} — ${verdict.direction} rule ${r.index}${r.name ? ` “${r.name}”` : ''}: ${r.action === 'Allow' ? 'allow' : r.action.toLowerCase()}`),
      src ? codeBlock(src) : h('p', { class: 'muted' }, '(the policy text is not in the editor)'),
    );
  });
  if (detail.isolatedBy.length > 0) {
    box.append(h('p', { class: 'muted' }, 'Selected by these policies, and no rule of theirs allows this flow:'));
    for (const src of detail.isolatedBy) box.append(h('div', { class: 'rule-ref' }, src.key), codeBlock(src));
  }
  return box;
}

function flow(title: string, x: FlowExplanation): HTMLElement {
  const { verdict } = x;
  const f = verdict.flow;
  return h(
    'section',
    { class: 'flow', 'data-allowed': String(verdict.allowed) },
    h('h3', {}, `${title}: ${f.from} → ${f.to}`, ' ', h('span', { class: `badge ${verdict.allowed ? 'ok' : 'no'}` }, `${f.protocol}/${f.port} ${verdict.allowed ? 'ALLOWED' : 'DENIED'}`)),
    x.portReason ? h('p', { class: 'muted' }, `Port ${f.protocol}/${f.port}: ${x.portReason}.`) : null,
    h('p', {}, h('strong', {}, 'All allowed ports: '), describePorts(x.allowed)),
    direction(verdict.egress, x.egress, `${f.from} sending`),
    direction(verdict.ingress, x.ingress, `${f.to} receiving`),
  );
}

export class WhyPanel {
  readonly root: HTMLElement;
  private readonly content: HTMLDivElement;
  private question?: WhyQuestion;
  private returnFocus?: HTMLElement | null;

  constructor(private readonly ask: (q: WhyQuestion) => Promise<WhyResponse>) {
    this.content = h('div', { class: 'why-content' });
    this.root = h(
      'aside',
      { class: 'why', id: 'why', 'aria-label': 'Explanation', hidden: true, tabindex: -1 },
      h('button', { type: 'button', class: 'close', 'aria-label': 'Close the explanation', onclick: () => this.close() }, '×'),
      this.content,
    );
    this.root.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.close();
    });
  }

  get isOpen(): boolean {
    return !this.root.hidden;
  }

  /** Explains a pair; focus moves to the panel and returns where it was on close. */
  async open(q: WhyQuestion): Promise<void> {
    this.question = q;
    if (this.root.hidden) this.returnFocus = document.activeElement as HTMLElement | null;
    this.root.hidden = false;
    fill(this.content, h('p', { class: 'muted' }, `Asking the engine about ${q.from} → ${q.to}…`));
    try {
      const answer = await this.ask(q);
      if (this.question !== q) return;
      this.showAnswer(q, answer);
    } catch (e) {
      fill(this.content, h('p', { class: 'error' }, e instanceof Error ? e.message : String(e)));
    }
    this.content.querySelector<HTMLElement>('h2')?.focus();
  }

  /** Asks again (after an edit). */
  refresh(): void {
    if (this.question && this.isOpen) void this.open(this.question);
  }

  close(): void {
    this.root.hidden = true;
    this.question = undefined;
    this.returnFocus?.focus();
  }

  private showAnswer(q: WhyQuestion, a: WhyResponse): void {
    const protocol = h('select', { 'aria-label': 'Protocol' }, ...(['TCP', 'UDP', 'SCTP'] as const).map((p) => h('option', { value: p, selected: p === a.forward.verdict.flow.protocol }, p)));
    const port = h('input', { type: 'number', min: 1, max: 65535, value: a.forward.verdict.flow.port, 'aria-label': 'Port', class: 'port' });
    const form = h(
      'form',
      {
        class: 'why-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const n = Number(port.value);
          void this.open({ from: q.from, to: q.to, protocol: protocol.value as Protocol, ...(Number.isInteger(n) && n >= 1 && n <= 65535 ? { port: n } : {}) });
        },
      },
      protocol,
      port,
      h('button', { type: 'submit' }, 'Check'),
    );
    fill(
      this.content,
      h('h2', { tabindex: -1 }, `${a.from.id} ⇄ ${a.to.id}`),
      q.note ? h('p', { class: 'muted' }, q.note) : null,
      form,
      flow('Forward', a.forward),
      flow('Reverse', a.reverse),
    );
  }
}
