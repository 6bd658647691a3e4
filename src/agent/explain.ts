/**
 * Flow-log explanations from the engine. The kernel knows which policy decided a connection but not which rule (a
 * policy's entries share one set); the engine knows both. The agent asks it, and compares verdicts: the engine explains,
 * the kernel enforces, and a difference is a bug to report, never something the agent resolves itself.
 */
import type { Protocol } from '../api/types.js';
import type { Engine } from '../engine/engine.js';
import type { DirectionVerdict } from '../engine/types.js';
import type { FlowExplainer, FlowExplanation, FlowTuple } from './flowlog.js';

/** Options of {@link engineExplainer}. */
export interface EngineExplainerOptions {
  /** Explanations remembered, by source and destination IP, protocol, destination port and direction. @default 4096 */
  readonly cacheSize?: number;
}

const TIER: Record<DirectionVerdict['tier'], string> = { Admin: 'ADMIN', NetworkPolicy: 'NETWORK_POLICY', Baseline: 'BASELINE', Default: 'DEFAULT' };

/**
 * An explainer backed by `engine.verdict` on the flow's IP addresses. Flows whose deciding pod (the destination for
 * ingress, the source for egress) is not an endpoint of the engine, and protocols the engine does not model (ICMP), are
 * not explained. Answers are cached with a bounded size: resolving an address that is no pod scans the external ranges.
 * @example
 * const engine = compile(readCluster(['manifests/']).cluster);
 * await runAgent({ ..., flowLogs: true, explain: engineExplainer(engine) });
 */
export function engineExplainer(engine: Engine, opts: EngineExplainerOptions = {}): FlowExplainer {
  const limit = Math.max(1, opts.cacheSize ?? 4096);
  const cache = new Map<string, FlowExplanation | undefined>();
  return (flow) => {
    const key = `${flow.direction} ${flow.protocol} ${flow.srcIP} ${flow.dstIP} ${flow.dstPort}`;
    if (cache.has(key)) return cache.get(key);
    const e = explain(engine, flow);
    // Oldest first out: a Map iterates in insertion order.
    if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
    cache.set(key, e);
    return e;
  };
}

function explain(engine: Engine, flow: FlowTuple): FlowExplanation | undefined {
  if (flow.protocol !== 'TCP' && flow.protocol !== 'UDP' && flow.protocol !== 'SCTP') return undefined;
  const protocol: Protocol = flow.protocol;
  let subject;
  try {
    subject = engine.resolve(flow.direction === 'ingress' ? flow.dstIP : flow.srcIP);
  } catch {
    return undefined;
  }
  if (subject.kind !== 'endpoint') return undefined;
  const v = engine.verdict({ from: flow.srcIP, to: flow.dstIP, protocol, port: flow.dstPort })[flow.direction];
  return fromDirectionVerdict(v, subject.cls.networkPolicies[flow.direction].map((p) => `${p.namespace}/${p.name}`));
}

/**
 * The flow-log fields of one direction's verdict. The deciding rule is the first of the deciding tier that is not a Pass
 * (the rules list holds the Pass rules first); a NetworkPolicy denial has none, and names the isolating policies.
 */
export function fromDirectionVerdict(v: DirectionVerdict, isolating: readonly string[]): FlowExplanation {
  const base = { verdict: v.allowed ? 'ACCEPT' : 'DENY', tier: TIER[v.tier], summary: v.summary } as const;
  if (v.tier === 'Default') return base;
  const rule = v.rules.find((r) => r.tier === v.tier && r.action !== 'Pass');
  if (!rule) return isolating.length > 0 ? { ...base, policy: isolating.join(', ') } : base;
  return { ...base, policy: rule.policy, rule: { index: rule.index, ...(rule.name !== undefined ? { name: rule.name } : {}) } };
}
