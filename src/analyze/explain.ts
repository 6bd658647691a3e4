/**
 * Every policy in plain words. Each peer is one unit, exactly as the API groups it, so a podSelector AND
 * namespaceSelector peer never reads like two OR'ed peers; each line says which endpoints and ranges it covers, as the
 * engine compiled it. `palisade explain` prints it; the web UI shows the same structure.
 */
import type { LabelSelector, NetworkPolicyPeer, NetworkPolicyPort } from '../api/types.js';
import type { CompiledRule, Direction } from '../engine/compile.js';
import type { Engine } from '../engine/engine.js';
import { describeSelector } from '../engine/selector.js';
import { effectivePolicyTypes } from '../engine/semantics.js';
import { policyKindLabel, type TierPeer, type TierPort } from '../model/types.js';

/** One line of a policy's explanation: what it says, and how deep it sits (1: policy level, 2: a rule's peer). */
export interface ExplainLine {
  readonly kind: 'applies' | 'isolates' | 'rule' | 'peer' | 'note';
  readonly depth: 1 | 2;
  readonly text: string;
}

/** One policy explained. */
export interface PolicyExplanation {
  /**
   * `NetworkPolicy`, `ClusterNetworkPolicy`, `AdminNetworkPolicy` or `BaselineAdminNetworkPolicy`; AWS's kinds with their
   * group: `ApplicationNetworkPolicy (networking.k8s.aws)`, `ClusterNetworkPolicy (networking.k8s.aws)`.
   */
  readonly kind: string;
  readonly tier: 'Admin' | 'NetworkPolicy' | 'Baseline';
  readonly name: string;
  readonly namespace?: string;
  /** The first line, with where the policy was written. */
  readonly header: string;
  readonly lines: readonly ExplainLine[];
  /** Every endpoint the policy applies to. */
  readonly selects: readonly string[];
}

const SHOWN = 8;

function list(ids: readonly string[]): string {
  if (ids.length === 0) return 'nothing loaded';
  const shown = ids.slice(0, SHOWN).join(', ');
  return ids.length > SHOWN ? `${shown}, … (+${ids.length - SHOWN} more)` : shown;
}

/** Endpoint ids and external range ids an atom holds. */
function atomMembers(engine: Engine, atom: number): string[] {
  const { atoms, atomClasses, classes, externals } = engine.compiled;
  const ids = atoms[atom].endpoints.map((i) => engine.endpoints[i].id);
  const shown = new Set(engine.externals.map((x) => x.id));
  for (const c of atomClasses[atom]) {
    if (classes[c].external) for (const m of classes[c].members) if (shown.has(externals[m].id)) ids.push(externals[m].id);
  }
  return ids;
}

function selectorText(sel: LabelSelector, what: string): string {
  const d = describeSelector(sel);
  return d === '{} (all)' ? `every ${what}` : `${what}s with ${d}`;
}

export function describePeer(peer: NetworkPolicyPeer, policyNamespace: string): string {
  if (peer.domainNames) return peer.domainNames.length > 0 ? `domain names ${peer.domainNames.join(', ')}` : 'nothing (a peer AWS accepts but cannot resolve)';
  if (peer.ipBlock) {
    const except = peer.ipBlock.except && peer.ipBlock.except.length > 0 ? ` except ${peer.ipBlock.except.join(', ')}` : '';
    return `addresses in ${peer.ipBlock.cidr}${except}`;
  }
  const pods = peer.podSelector ? selectorText(peer.podSelector, 'pod') : 'every pod';
  if (!peer.namespaceSelector) return `${pods} in namespace ${policyNamespace}`;
  const ns = describeSelector(peer.namespaceSelector);
  const where = ns === '{} (all)' ? 'in every namespace' : `in namespaces with ${ns}`;
  return peer.podSelector ? `${pods} AND ${where}` : `${pods} ${where}`;
}

function describePort(p: NetworkPolicyPort): string {
  const proto = p.protocol ?? 'TCP';
  if (p.port === undefined) return `${proto} all ports`;
  if (typeof p.port === 'string') return `${proto} port named "${p.port}"`;
  return p.endPort !== undefined ? `${proto} ${p.port}-${p.endPort}` : `${proto} ${p.port}`;
}

function describeTierPeer(peer: TierPeer): string {
  switch (peer.kind) {
    case 'pods': {
      const ns = describeSelector(peer.selector.namespaceSelector);
      const where = ns === '{} (all)' ? 'in every namespace' : `in namespaces with ${ns}`;
      return peer.selector.podSelector ? `${selectorText(peer.selector.podSelector, 'pod')} AND ${where}` : `every pod ${where}`;
    }
    case 'networks':
      return `addresses in ${peer.cidrs.join(', ')}`;
    case 'nodes':
      return `${selectorText(peer.nodeSelector, 'node')} (their addresses)`;
    case 'unsupported':
      if (peer.domainNames) return `domain names ${peer.domainNames.join(', ')} (the addresses of --resolve answers; without one, none)`;
      return `${peer.what} (not evaluated by Palisade: the rule fails closed)`;
  }
}

function describeTierPort(p: TierPort): string {
  if (p.kind === 'named') return `port named "${p.name}"`;
  return p.from === p.to ? `${p.protocol} ${p.from}` : `${p.protocol} ${p.from}-${p.to}`;
}

function peerLines(engine: Engine, rule: CompiledRule, texts: readonly string[]): ExplainLine[] {
  if (rule.peers === null) return [{ kind: 'peer', depth: 2, text: 'everyone (no peers listed): every pod and every address' }];
  return rule.peers.map((atom, k) => ({ kind: 'peer', depth: 2, text: `peer ${k}: ${texts[k] ?? '?'} → ${list(atomMembers(engine, atom))}` }));
}

/** Every policy explained, admin tier first, then NetworkPolicies by namespace/name, then the baseline tier. */
export function explainPolicies(engine: Engine): PolicyExplanation[] {
  const out: PolicyExplanation[] = [];
  const { tierPolicies, networkPolicies, atoms } = engine.compiled;
  const members = (atom: number) => atoms[atom].endpoints.map((i) => engine.endpoints[i].id);
  const renderTier = (tier: 'Admin' | 'Baseline') => {
    for (const p of tierPolicies.filter((x) => x.source.tier === tier)) {
      const src = p.source;
      const at = src.source ? `  (${src.source.file}:${src.source.line})` : '';
      const lines: ExplainLine[] = [];
      const subj = src.subject.podSelector
        ? `${selectorText(src.subject.podSelector, 'pod')} AND in namespaces with ${describeSelector(src.subject.namespaceSelector)}`
        : `every pod in namespaces with ${describeSelector(src.subject.namespaceSelector)}`;
      lines.push({ kind: 'applies', depth: 1, text: `applies to: ${subj} → ${list(members(p.subject))}` });
      for (const dir of ['ingress', 'egress'] as const) {
        src[dir].forEach((rule, i) => {
          const name = rule.name ? ` "${rule.name}"` : '';
          const ports = rule.ports && rule.ports.length > 0 ? rule.ports.map(describeTierPort).join(', ') : 'all ports';
          lines.push({ kind: 'rule', depth: 1, text: `${dir} rule ${i}${name}: ${rule.action.toUpperCase()} ${dir === 'ingress' ? 'from' : 'to'} any of (on ${ports}):` });
          const compiled = p.rules[dir][i];
          if (compiled.peers === null) lines.push({ kind: 'peer', depth: 2, text: 'every peer (a peer Palisade does not evaluate makes this rule deny everything)' });
          else {
            // domainNames peers of AWS's kinds (or with DNS answers) compile to an address set of their own.
            const evaluated = compiled.peers.length === rule.peers.length ? rule.peers : rule.peers.filter((x) => x.kind !== 'unsupported');
            compiled.peers.forEach((atom, k) => lines.push({ kind: 'peer', depth: 2, text: `peer ${k}: ${describeTierPeer(evaluated[k])} → ${list(atomMembers(engine, atom))}` }));
          }
          if (compiled.never) lines.push({ kind: 'note', depth: 2, text: '(a peer Palisade does not evaluate: this Allow rule matches nothing)' });
        });
      }
      out.push({ kind: policyKindLabel(src), tier, name: src.name, header: `${policyKindLabel(src)} ${src.name} — ${tier} tier, priority ${src.priority}${at}`, lines, selects: members(p.subject) });
    }
  };
  renderTier('Admin');
  for (const p of [...networkPolicies].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`))) {
    const { policy, source } = p.source;
    const at = source ? `  (${source.file}:${source.line})` : '';
    const lines: ExplainLine[] = [];
    lines.push({ kind: 'applies', depth: 1, text: `applies to: ${selectorText(policy.spec.podSelector, 'pod')} in namespace ${p.namespace} → ${list(members(p.subject))}` });
    const types = effectivePolicyTypes(policy.spec);
    lines.push({ kind: 'isolates', depth: 1, text: `isolates: ${types.map((t) => t.toLowerCase()).join(' and ')}${policy.spec.policyTypes ? '' : ' (policyTypes not set: defaulted)'}` });
    for (const dir of ['ingress', 'egress'] as const satisfies readonly Direction[]) {
      if (!p.isolates[dir]) continue;
      const rules = dir === 'ingress' ? (policy.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })) : (policy.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
      if (rules.length === 0) lines.push({ kind: 'rule', depth: 1, text: `${dir}: no rules — denies all ${dir} of the pods it applies to` });
      rules.forEach((r, i) => {
        const ports = r.ports && r.ports.length > 0 ? r.ports.map(describePort).join(', ') : 'all ports and protocols';
        lines.push({ kind: 'rule', depth: 1, text: `${dir} rule ${i}: allow ${dir === 'ingress' ? 'from' : 'to'} any of (on ${ports}):` });
        lines.push(...peerLines(engine, p.rules[dir][i], (r.peers ?? []).map((peer) => describePeer(peer, p.namespace))));
      });
    }
    out.push({ kind: policyKindLabel(p.source), tier: 'NetworkPolicy', name: p.name, namespace: p.namespace, header: `${policyKindLabel(p.source)} ${p.namespace}/${p.name}${at}`, lines, selects: members(p.subject) });
  }
  renderTier('Baseline');
  return out;
}

/** The explanations as text: a header per policy, its lines indented by depth, a blank line between policies. */
export function renderExplanations(list: readonly PolicyExplanation[]): string {
  if (list.length === 0) return 'No policies: every pod accepts and sends everything.';
  return list.map((p) => [p.header, ...p.lines.map((l) => `${'  '.repeat(l.depth)}${l.text}`)].join('\n')).join('\n\n');
}

/** The plain-words explanation of every policy, admin tier first, in evaluation order. */
export function explain(engine: Engine): string {
  return renderExplanations(explainPolicies(engine));
}
