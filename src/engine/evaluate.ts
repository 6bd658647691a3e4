/**
 * The tier pipeline for one direction of a class pair: admin tier → NetworkPolicy → baseline tier → default allow.
 * Each tier decides some ports and hands the rest on; a rule decides only the (protocol, port) it lists.
 */
import type { Protocol } from '../api/types.js';
import { hasAtom, type CompiledRule, type CompiledTierPolicy, type Direction, type PeerClass, type RulePorts } from './compile.js';
import { EVERYTHING, NOTHING, containsPort, intersectAll, isNothing, only, range, subtractAll, unionAll } from './ports.js';
import type { DirectionVerdict, PortsByProtocol, RuleRef } from './types.js';
import { policyKindLabel } from '../model/types.js';

export function ruleMatchesPeer(rule: CompiledRule, peer: PeerClass): boolean {
  if (rule.never) return false;
  if (rule.peers === null) return true;
  for (const a of rule.peers) if (hasAtom(peer, a)) return true;
  return false;
}

/** The ports a rule names, resolved against the destination's container ports. */
export function resolvePorts(ports: RulePorts, dst: PeerClass): PortsByProtocol {
  if (ports.named.length === 0) return ports.fixed;
  let out = ports.fixed;
  for (const n of ports.named) {
    for (const cp of dst.ports) {
      if (cp.name === n.name && (n.protocol === undefined || n.protocol === cp.protocol)) out = unionAll(out, only(cp.protocol, range(cp.port, cp.port)));
    }
  }
  return out;
}

interface TierOutcome {
  readonly allowed: PortsByProtocol;
  /** Ports no rule of the tier decided, or that a Pass rule handed on. */
  readonly rest: PortsByProtocol;
}

function evaluateTier(policies: readonly CompiledTierPolicy[], dir: Direction, peer: PeerClass, dst: PeerClass, pool: PortsByProtocol): TierOutcome {
  let undecided = pool;
  let allowed = NOTHING;
  let passed = NOTHING;
  for (const policy of policies) {
    for (const rule of policy.rules[dir]) {
      if (!ruleMatchesPeer(rule, peer)) continue;
      const ports = intersectAll(resolvePorts(rule.ports, dst), undecided);
      if (isNothing(ports)) continue;
      if (rule.action === 'Allow') allowed = unionAll(allowed, ports);
      else if (rule.action === 'Pass') passed = unionAll(passed, ports);
      undecided = subtractAll(undecided, ports);
      if (isNothing(undecided)) return { allowed, rest: passed };
    }
  }
  return { allowed, rest: unionAll(undecided, passed) };
}

function networkPolicyAllowed(subject: PeerClass, dir: Direction, peer: PeerClass, dst: PeerClass): PortsByProtocol {
  let allowed = NOTHING;
  for (const policy of subject.networkPolicies[dir]) {
    for (const rule of policy.rules[dir]) {
      if (ruleMatchesPeer(rule, peer)) allowed = unionAll(allowed, resolvePorts(rule.ports, dst));
    }
  }
  return allowed;
}

/**
 * The ports allowed in direction `dir` for `subject` talking with `peer` (egress: subject → peer; ingress: peer →
 * subject). External subjects have no policies: everything.
 */
export function evaluateDirection(subject: PeerClass, peer: PeerClass, dir: Direction): PortsByProtocol {
  if (subject.external) return EVERYTHING;
  const dst = dir === 'egress' ? peer : subject;
  let pool = EVERYTHING;
  let allowed = NOTHING;
  if (subject.admin.length > 0) {
    const admin = evaluateTier(subject.admin, dir, peer, dst, pool);
    allowed = admin.allowed;
    pool = admin.rest;
  }
  if (subject.networkPolicies[dir].length > 0) return unionAll(allowed, intersectAll(pool, networkPolicyAllowed(subject, dir, peer, dst)));
  if (subject.baseline.length > 0) {
    const baseline = evaluateTier(subject.baseline, dir, peer, dst, pool);
    // A Pass in the baseline tier goes on to the default, which allows.
    return unionAll(unionAll(allowed, baseline.allowed), baseline.rest);
  }
  return unionAll(allowed, pool);
}

function ref(policy: CompiledTierPolicy, rule: CompiledRule): RuleRef {
  return {
    tier: policy.source.tier,
    policy: policy.source.name,
    kind: policyKindLabel(policy.source),
    index: rule.index,
    ...(rule.name ? { name: rule.name } : {}),
    action: rule.action,
  };
}

function describeRule(r: RuleRef): string {
  const name = r.name ? ` (${r.name})` : '';
  // AWS's ClusterNetworkPolicy shares its kind name with the upstream one: name its group.
  const kind = r.kind.includes('(') ? `${r.kind} ` : '';
  return `${kind}${r.policy} rule ${r.index}${name}`;
}

function firstTierMatch(policies: readonly CompiledTierPolicy[], dir: Direction, peer: PeerClass, dst: PeerClass, protocol: Protocol, port: number): RuleRef | undefined {
  for (const policy of policies) {
    for (const rule of policy.rules[dir]) {
      if (ruleMatchesPeer(rule, peer) && containsPort(resolvePorts(rule.ports, dst), protocol, port)) return ref(policy, rule);
    }
  }
  return undefined;
}

/** One direction of one flow, with the tier, policies and rules that decided it. */
export function traceDirection(subject: PeerClass | undefined, peer: PeerClass, dir: Direction, protocol: Protocol, port: number): DirectionVerdict {
  const base = { direction: dir, isolated: false } as const;
  if (!subject || subject.external) {
    return { ...base, allowed: true, tier: 'Default', rules: [], summary: 'external address: no policy applies on this side' };
  }
  const dst = dir === 'egress' ? peer : subject;
  const rules: RuleRef[] = [];
  const prefix: string[] = [];
  const admin = firstTierMatch(subject.admin, dir, peer, dst, protocol, port);
  if (admin && admin.action !== 'Pass') {
    return { ...base, isolated: subject.networkPolicies[dir].length > 0, allowed: admin.action === 'Allow', tier: 'Admin', rules: [admin], summary: `Admin tier, ${describeRule(admin)} ${admin.action}` };
  }
  if (admin) {
    rules.push(admin);
    prefix.push(`Pass by Admin tier ${describeRule(admin)}, then `);
  }
  const isolating = subject.networkPolicies[dir];
  if (isolating.length > 0) {
    const matched: RuleRef[] = [];
    for (const policy of isolating) {
      for (const rule of policy.rules[dir]) {
        if (ruleMatchesPeer(rule, peer) && containsPort(resolvePorts(rule.ports, dst), protocol, port)) {
          matched.push({ tier: 'NetworkPolicy', policy: `${policy.namespace}/${policy.name}`, kind: policyKindLabel(policy.source), index: rule.index, action: 'Allow' });
        }
      }
    }
    // Name the kind of each policy once any is not a plain NetworkPolicy (AWS's ApplicationNetworkPolicy).
    const labelled = isolating.some((p) => p.source.kind !== undefined);
    const names = isolating.map((p) => `${labelled ? `${policyKindLabel(p.source)} ` : ''}${p.namespace}/${p.name}`).join(', ');
    const summary = matched.length > 0
      ? `${[...new Set(matched.map((m) => m.kind))].join(', ')} ${matched.map((m) => `${m.policy} rule ${m.index}`).join(', ')} allows`
      : `isolated by ${labelled ? '' : 'NetworkPolicy '}${names}; no rule allows it`;
    return { ...base, isolated: true, allowed: matched.length > 0, tier: 'NetworkPolicy', rules: [...rules, ...matched], summary: prefix.join('') + summary };
  }
  const baseline = firstTierMatch(subject.baseline, dir, peer, dst, protocol, port);
  if (baseline && baseline.action !== 'Pass') {
    return { ...base, allowed: baseline.action === 'Allow', tier: 'Baseline', rules: [...rules, baseline], summary: `${prefix.join('')}Baseline tier, ${describeRule(baseline)} ${baseline.action}` };
  }
  if (baseline) {
    rules.push(baseline);
    prefix.push(`Pass by Baseline tier ${describeRule(baseline)}, then `);
  }
  return { ...base, allowed: true, tier: 'Default', rules, summary: `${prefix.join('')}not isolated: allowed by default` };
}

