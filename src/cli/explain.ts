/**
 * `palisade explain PATH...`: every policy in plain words. Each peer is printed as one unit, exactly as the API groups
 * it, so a podSelector AND namespaceSelector peer never reads like two OR'ed peers; each line says which endpoints and
 * ranges it covers, as the engine compiled it.
 */
import { Option } from 'commander';
import type { LabelSelector, NetworkPolicyPeer, NetworkPolicyPort } from '../api/types.js';
import type { CompiledRule, Direction } from '../engine/compile.js';
import { compile, type Engine } from '../engine/engine.js';
import { describeSelector } from '../engine/selector.js';
import { effectivePolicyTypes } from '../engine/semantics.js';
import type { TierPeer, TierPort } from '../model/types.js';
import { inputOptions, readInput } from './input.js';
import { action, type Register } from './program.js';

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
      return `${peer.what} (not evaluated by Palisade: the rule fails closed)`;
  }
}

function describeTierPort(p: TierPort): string {
  if (p.kind === 'named') return `port named "${p.name}"`;
  return p.from === p.to ? `${p.protocol} ${p.from}` : `${p.protocol} ${p.from}-${p.to}`;
}

function peerLines(engine: Engine, rule: CompiledRule, texts: readonly string[], indent: string): string[] {
  if (rule.peers === null) return [`${indent}everyone (no peers listed): every pod and every address`];
  return rule.peers.map((atom, k) => `${indent}peer ${k}: ${texts[k] ?? '?'} → ${list(atomMembers(engine, atom))}`);
}

/** The plain-words explanation of every policy, admin tier first, in evaluation order. */
export function explain(engine: Engine): string {
  const out: string[] = [];
  const { tierPolicies, networkPolicies, atoms } = engine.compiled;
  const tiers = (tier: 'Admin' | 'Baseline') => tierPolicies.filter((p) => p.source.tier === tier);
  const renderTier = (tier: 'Admin' | 'Baseline') => {
    for (const p of tiers(tier)) {
      const src = p.source;
      const at = src.source ? `  (${src.source.file}:${src.source.line})` : '';
      out.push(`${src.kind} ${src.name} — ${tier} tier, priority ${src.priority}${at}`);
      const subj = src.subject.podSelector
        ? `${selectorText(src.subject.podSelector, 'pod')} AND in namespaces with ${describeSelector(src.subject.namespaceSelector)}`
        : `every pod in namespaces with ${describeSelector(src.subject.namespaceSelector)}`;
      out.push(`  applies to: ${subj} → ${list(atoms[p.subject].endpoints.map((i) => engine.endpoints[i].id))}`);
      for (const dir of ['ingress', 'egress'] as const) {
        src[dir].forEach((rule, i) => {
          const name = rule.name ? ` "${rule.name}"` : '';
          const ports = rule.ports && rule.ports.length > 0 ? rule.ports.map(describeTierPort).join(', ') : 'all ports';
          out.push(`  ${dir} rule ${i}${name}: ${rule.action.toUpperCase()} ${dir === 'ingress' ? 'from' : 'to'} any of (on ${ports}):`);
          const compiled = p.rules[dir][i];
          if (compiled.peers === null) out.push(`    every peer (a peer Palisade does not evaluate makes this rule deny everything)`);
          else compiled.peers.forEach((atom, k) => out.push(`    peer ${k}: ${describeTierPeer(rule.peers.filter((x) => x.kind !== 'unsupported')[k])} → ${list(atomMembers(engine, atom))}`));
          if (compiled.never) out.push('    (a peer Palisade does not evaluate: this Allow rule matches nothing)');
        });
      }
      out.push('');
    }
  };
  renderTier('Admin');
  for (const p of [...networkPolicies].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`))) {
    const { policy, source } = p.source;
    const at = source ? `  (${source.file}:${source.line})` : '';
    out.push(`NetworkPolicy ${p.namespace}/${p.name}${at}`);
    out.push(`  applies to: ${selectorText(policy.spec.podSelector, 'pod')} in namespace ${p.namespace} → ${list(atoms[p.subject].endpoints.map((i) => engine.endpoints[i].id))}`);
    const types = effectivePolicyTypes(policy.spec);
    out.push(`  isolates: ${types.map((t) => t.toLowerCase()).join(' and ')}${policy.spec.policyTypes ? '' : ' (policyTypes not set: defaulted)'}`);
    for (const dir of ['ingress', 'egress'] as const satisfies readonly Direction[]) {
      if (!p.isolates[dir]) continue;
      const rules = dir === 'ingress' ? (policy.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })) : (policy.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
      if (rules.length === 0) out.push(`  ${dir}: no rules — denies all ${dir} of the pods it applies to`);
      rules.forEach((r, i) => {
        const ports = r.ports && r.ports.length > 0 ? r.ports.map(describePort).join(', ') : 'all ports and protocols';
        out.push(`  ${dir} rule ${i}: allow ${dir === 'ingress' ? 'from' : 'to'} any of (on ${ports}):`);
        out.push(...peerLines(engine, p.rules[dir][i], (r.peers ?? []).map((peer) => describePeer(peer, p.namespace)), '    '));
      });
    }
    out.push('');
  }
  renderTier('Baseline');
  if (out.length === 0) out.push('No policies: every pod accepts and sends everything.');
  return out.join('\n').trimEnd();
}

export const registerExplain: Register = (program, io, setExit) => {
  inputOptions(
    program
      .command('explain')
      .description('every policy in plain words: what it applies to, and each rule with its peers as the API groups them')
      .argument('[paths...]', 'files, directories or - for stdin (or --kubeconfig for a live cluster)')
      .addOption(new Option('-o, --output <format>', 'output format').choices(['text']).default('text')),
  )
    .addHelpText('after', '\nExample:\n  palisade explain examples/eks-multi-team/')
    .action(
      action(io, setExit, (paths: string[], opts: { defaultNamespace: string; quiet?: boolean }) => {
        const { cluster } = readInput(paths, io, opts);
        io.out(explain(compile(cluster)));
      }),
    );
};
