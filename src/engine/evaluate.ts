/**
 * The tier pipeline for one direction of a class pair, as the stages of pipeline.ts: admin tier → NetworkPolicy →
 * baseline tier → default allow. Each tier decides some ports and hands the rest on; a rule decides only the
 * (protocol, port) it lists.
 */
import type { Protocol } from '../api/types.js';
import { hasAtom, type CompiledRule, type CompiledTierPolicy, type Direction, type PeerClass, type RulePorts } from './compile.js';
import { EVERYTHING, NOTHING, containsPort, intersectAll, isNothing, only, range, subtractAll, unionAll } from './ports.js';
import { runPipeline, runPortPipeline, type PortAlgebra, type StageAnswer } from './pipeline.js';
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

const PORTS: PortAlgebra<PortsByProtocol> = { all: EVERYTHING, none: NOTHING, union: unionAll, empty: isNothing };

/**
 * The ports allowed in direction `dir` for `subject` talking with `peer` (egress: subject → peer; ingress: peer →
 * subject), through the stages of pipeline.ts. External subjects have no policies: everything.
 */
export function evaluateDirection(subject: PeerClass, peer: PeerClass, dir: Direction): PortsByProtocol {
  if (subject.external) return EVERYTHING;
  const dst = dir === 'egress' ? peer : subject;
  const untouched = (pool: PortsByProtocol) => ({ allowed: NOTHING, rest: pool });
  return runPortPipeline(PORTS, {
    Admin: (pool) => (subject.admin.length > 0 ? evaluateTier(subject.admin, dir, peer, dst, pool) : untouched(pool)),
    // An isolating NetworkPolicy decides every port that reaches it.
    NetworkPolicy: (pool) => (subject.networkPolicies[dir].length > 0 ? { allowed: intersectAll(pool, networkPolicyAllowed(subject, dir, peer, dst)), rest: NOTHING } : untouched(pool)),
    Baseline: (pool) => (subject.baseline.length > 0 ? evaluateTier(subject.baseline, dir, peer, dst, pool) : untouched(pool)),
    Default: (pool) => pool,
  });
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

/** One direction of one flow, with the tier, policies and rules that decided it, through the stages of pipeline.ts. */
export function traceDirection(subject: PeerClass | undefined, peer: PeerClass, dir: Direction, protocol: Protocol, port: number): DirectionVerdict {
  const base = { direction: dir, isolated: false } as const;
  if (!subject || subject.external) {
    return { ...base, allowed: true, tier: 'Default', rules: [], summary: 'external address: no policy applies on this side' };
  }
  const dst = dir === 'egress' ? peer : subject;
  const isolating = subject.networkPolicies[dir];
  type Step = { readonly rules: readonly RuleRef[]; readonly summary: string };
  const tier = (name: 'Admin' | 'Baseline', policies: readonly CompiledTierPolicy[]) => (): StageAnswer<Step> => {
    const r = firstTierMatch(policies, dir, peer, dst, protocol, port);
    if (!r) return { answer: 'Next' };
    if (r.action === 'Pass') return { answer: 'Next', detail: { rules: [r], summary: `Pass by ${name} tier ${describeRule(r)}, then ` } };
    return { answer: r.action === 'Allow' ? 'Accept' : 'Deny', detail: { rules: [r], summary: `${name} tier, ${describeRule(r)} ${r.action}` } };
  };
  const result = runPipeline<Step>({
    Admin: tier('Admin', subject.admin),
    NetworkPolicy: () => {
      if (isolating.length === 0) return { answer: 'Next' };
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
      return matched.length > 0
        ? { answer: 'Accept', detail: { rules: matched, summary: `${[...new Set(matched.map((m) => m.kind))].join(', ')} ${matched.map((m) => `${m.policy} rule ${m.index}`).join(', ')} allows` } }
        : { answer: 'Deny', detail: { rules: [], summary: `isolated by ${labelled ? '' : 'NetworkPolicy '}${names}; no rule allows it` } };
    },
    Baseline: tier('Baseline', subject.baseline),
    Default: () => ({ answer: 'Accept', detail: { rules: [], summary: 'not isolated: allowed by default' } }),
  });
  const prefix = result.passed.map((p) => p.summary).join('');
  const rules = [...result.passed.flatMap((p) => p.rules), ...(result.detail?.rules ?? [])];
  const tierName = result.stage === 'Admin' ? 'Admin' : result.stage === 'Baseline' ? 'Baseline' : result.stage === 'NetworkPolicy' ? 'NetworkPolicy' : 'Default';
  // The Admin tier decides before NetworkPolicy, yet whether a NetworkPolicy isolates the pod is still worth saying.
  return { ...base, isolated: isolating.length > 0, allowed: result.allowed, tier: tierName, rules, summary: prefix + (result.detail?.summary ?? '') };
}
