/**
 * Every policy in plain words (the text of `palisade explain`), with each rule's peers drawn as separate units joined
 * by OR, and the AND inside a peer marked, so the API's grouping is what the reader sees. Each card also lists the
 * endpoints the policy selects, its YAML and the PolicyEndpoints the controller would write.
 */
import type { ExplainLine, FindingView, PoliciesResponse, PolicyView } from '../../src/web/protocol.js';
import { fill, h } from './dom.js';
import { codeBlock } from './why.js';

/** A peer's text with each ` AND ` made visible. */
function withAnd(text: string): (Node | string)[] {
  const parts = text.split(' AND ');
  return parts.flatMap((p, i) => (i === 0 ? [p] : [h('strong', { class: 'and' }, ' AND '), p]));
}

function rules(lines: readonly ExplainLine[]): HTMLElement {
  const out = h('div', { class: 'rules' });
  let peers: HTMLElement | undefined;
  for (const line of lines) {
    if (line.kind === 'rule') {
      const rule = h('div', { class: 'rule' }, h('div', { class: 'rule-head' }, line.text));
      peers = h('div', { class: 'peers' });
      rule.append(peers);
      out.append(rule);
    } else if (line.kind === 'peer' && peers) {
      if (peers.childElementCount > 0) peers.append(h('div', { class: 'or', 'aria-hidden': 'true' }, 'OR'));
      const [what, members] = line.text.split(' → ');
      peers.append(h('div', { class: 'peer', role: 'group', 'aria-label': `peer: ${line.text}` }, h('div', {}, ...withAnd(what)), members ? h('div', { class: 'members' }, '→ ', members) : null));
    } else {
      out.append(h('p', { class: `line ${line.kind}` }, ...withAnd(line.text)));
    }
  }
  return out;
}

/** Lint findings, each with its fix. */
export function findingList(findings: readonly FindingView[]): HTMLElement | null {
  if (findings.length === 0) return null;
  return h(
    'ul',
    { class: 'findings', 'aria-label': 'Lint findings' },
    ...findings.map((f) =>
      h('li', { class: `finding ${f.severity}` }, h('span', { class: `badge sev-${f.severity}` }, f.severity), ' ', h('code', {}, f.ruleId), f.path ? h('span', { class: 'muted' }, ` ${f.path}`) : null, ': ', f.message, h('div', { class: 'fix' }, 'Fix: ', f.fix)),
    ),
  );
}

function card(p: PolicyView): HTMLElement {
  const [title, where] = p.header.split(/ {2}\(/);
  return h(
    'article',
    { class: `policy tier-${p.tier.toLowerCase()}`, 'data-policy': p.key },
    h('h3', {}, title, where ? h('span', { class: 'muted where' }, ` (${where}`) : null),
    findingList(p.findings),
    rules(p.lines),
    h('details', {}, h('summary', {}, `Selects ${p.selects.length} endpoint${p.selects.length === 1 ? '' : 's'}`), h('ul', { class: 'chips' }, ...p.selects.map((id) => h('li', {}, id)))),
    p.source ? h('details', {}, h('summary', {}, 'YAML'), codeBlock(p.source)) : null,
    p.policyEndpoints
      ? h('details', {}, h('summary', {}, `${p.tier === 'NetworkPolicy' ? 'PolicyEndpoints' : 'ClusterPolicyEndpoints'} (${p.policyEndpoints.length})`), h('pre', { class: 'code json', tabindex: 0 }, JSON.stringify(p.policyEndpoints, null, 2)))
      : null,
  );
}

export class PoliciesView {
  readonly root: HTMLDivElement;
  private readonly filter: HTMLInputElement;
  private readonly list: HTMLDivElement;
  private data?: PoliciesResponse;

  constructor() {
    this.filter = h('input', { type: 'search', placeholder: 'Filter policies…', 'aria-label': 'Filter policies', class: 'search' });
    this.filter.addEventListener('input', () => this.render());
    this.list = h('div', { class: 'policy-list' });
    this.root = h('div', { class: 'policies' }, h('div', { class: 'toolbar' }, this.filter), this.list);
  }

  show(data: PoliciesResponse): void {
    this.data = data;
    this.render();
  }

  showError(message: string): void {
    fill(this.list, h('p', { class: 'error' }, message));
  }

  private render(): void {
    if (!this.data) return;
    const f = this.filter.value.trim().toLowerCase();
    const shown = this.data.policies.filter((p) => !f || p.header.toLowerCase().includes(f) || p.lines.some((l) => l.text.toLowerCase().includes(f)));
    fill(
      this.list,
      this.data.lintError ? h('p', { class: 'error' }, `lint failed: ${this.data.lintError}`) : null,
      this.data.otherFindings.length > 0 ? h('section', { class: 'policy other-findings' }, h('h3', {}, 'Lint findings about the cluster'), findingList(this.data.otherFindings)) : null,
      this.data.policyEndpointsError ? h('p', { class: 'error' }, `PolicyEndpoints could not be resolved: ${this.data.policyEndpointsError}`) : null,
      shown.length === 0 ? h('p', { class: 'muted' }, this.data.policies.length === 0 ? 'No policies: every pod accepts and sends everything.' : 'No policy matches the filter.') : null,
      ...shown.map(card),
    );
  }
}
