/**
 * What every lint check reads: the cluster, the compiled engine, and where each object and field was written.
 */
import type { PathSegment, SourcePos } from '../api/diagnostics.js';
import { formatPath } from '../api/diagnostics.js';
import type { LoadedDocument } from '../api/load.js';
import type { NetworkPolicyPeer, NetworkPolicyPort } from '../api/types.js';
import type { CompiledNetworkPolicy, Direction } from '../engine/compile.js';
import { compile, type Engine } from '../engine/engine.js';
import type { Cluster, Endpoint } from '../model/types.js';
import { ruleById, type Finding, type LintProfile } from './findings.js';
import { policyKindLabel } from '../model/types.js';

/** Options of {@link lint}. */
export interface LintOptions {
  /** @default "generic" */
  readonly profile?: LintProfile;
  /** Pod network CIDRs for `ipblock-covers-pods`. @default inferred from the pod IPs in the input */
  readonly podCIDRs?: readonly string[];
  /** Rules that are off by default to turn on. */
  readonly enable?: readonly string[];
  /** Rules to turn off. */
  readonly disable?: readonly string[];
  /** The VPC CNI version for version-bound aws-vpc-cni rules, e.g. `1.14.0`. @default unknown: reported as possible */
  readonly awsVersion?: string;
}

/** What every check reads: the cluster, the compiled engine, and where each object was written. */
export class LintContext {
  readonly engine: Engine;
  private readonly docByPos = new Map<SourcePos, LoadedDocument>();

  constructor(
    readonly cluster: Cluster,
    documents: readonly LoadedDocument[],
    readonly options: LintOptions,
  ) {
    this.engine = compile(cluster);
    for (const d of documents) this.docByPos.set(d.pos, d);
  }

  /** A finding about `object` (its source) at `path`, with the rule's severity. */
  finding(ruleId: string, source: SourcePos | undefined, object: string, path: readonly PathSegment[], message: string, fix: string): Finding {
    const rule = ruleById(ruleId);
    if (!rule) throw new Error(`unknown lint rule ${ruleId}`);
    const doc = source ? this.docByPos.get(source) : undefined;
    const pos = doc ? doc.position(path) : source;
    return { ruleId, severity: rule.severity, message, fix, ...(pos ? { pos } : {}), object, ...(path.length > 0 ? { path: formatPath(path) } : {}) };
  }

  /** The document of a Namespace object, when one was loaded. */
  namespaceSource(name: string): SourcePos | undefined {
    for (const [pos, d] of this.docByPos) if (d.kind === 'Namespace' && d.name === name) return pos;
    return undefined;
  }

  endpointsOf(atom: number): Endpoint[] {
    return this.engine.compiled.atoms[atom].endpoints.map((i) => this.cluster.endpoints[i]);
  }

  /** True when some endpoint of the input lives in `namespace`: only then can "matches nothing" be trusted. */
  hasEndpoints(namespace: string): boolean {
    return this.cluster.endpoints.some((e) => e.namespace === namespace);
  }
}

export function policyName(p: CompiledNetworkPolicy): string {
  return `${policyKindLabel(p.source)} ${p.namespace}/${p.name}`;
}

export const PEERS: Record<Direction, 'from' | 'to'> = { ingress: 'from', egress: 'to' };

export interface SourceRule {
  readonly peers?: readonly NetworkPolicyPeer[];
  readonly ports?: readonly NetworkPolicyPort[];
}

/** The rules of a policy's direction as written. */
export function sourceRules(p: CompiledNetworkPolicy, dir: Direction): SourceRule[] {
  const spec = p.source.policy.spec;
  return dir === 'ingress' ? (spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })) : (spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
}

/** A short list of ids: the first few, then how many more. */
export function list(ids: readonly string[], shown = 4): string {
  if (ids.length <= shown) return ids.join(', ');
  return `${ids.slice(0, shown).join(', ')} and ${ids.length - shown} more`;
}
