/**
 * "As AWS enforces it": the cluster rewritten into what the AWS network policy controller and agent effectively
 * enforce, one divergence at a time, so the engine (not a second evaluator) computes what each one changes. Each
 * divergence names the AWS source that decides it, verified against aws/amazon-network-policy-controller-k8s and
 * aws/aws-network-policy-agent at the commits Palisade read:
 *
 * - egress named ports towards an ipBlock or without `to` are dropped by the controller (`pkg/resolvers/endpoints.go`
 *   209–223 and 268–278: only numeric ports are written for CIDRs);
 * - every `except` of a pod's rules becomes a deny-all entry of that pod's map, whatever rule it came from
 *   (`pkg/fwruleprocessor/fw_rule_processor.go` 144–160); Palisade models the part inside one policy;
 * - admin-tier rules are looked up per address with the lowest priority winning and, at equal priority, Deny (0) before
 *   Accept (1) before Pass (2): a policy's rule order is not used (`pkg/ebpf/c/tc.v4egress.bpf.c` 24–26 and 156–179;
 *   all of a ClusterPolicyEndpoint's rules share its priority, `controllers/clusterpolicyendpoints_controller.go`
 *   328–362, and broader CIDRs' rules are copied into narrower ones, `fw_rule_processor.go` 317–323);
 * - VPC CNI before v1.15.1 (agent before v1.0.4) ignores `except` on a 0.0.0.0/0 or ::/0 ipBlock.
 */
import { parseCIDR } from '../api/ip.js';
import type { NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer } from '../api/types.js';
import { familyMax } from '../api/ip.js';
import type { Cluster, PolicyObject, TierPolicy, TierRule } from '../model/types.js';
import type { PathSegment, SourcePos } from '../api/diagnostics.js';

/** The AWS source locations each divergence rests on (repository, path, lines). */
export const AWS_EVIDENCE = {
  namedPorts: 'aws/amazon-network-policy-controller-k8s pkg/resolvers/endpoints.go:209-223,268-278',
  exceptAcrossRules: 'aws/aws-network-policy-agent pkg/fwruleprocessor/fw_rule_processor.go:144-160',
  ruleOrder: 'aws/aws-network-policy-agent pkg/ebpf/c/tc.v4egress.bpf.c:24-26,156-179; controllers/clusterpolicyendpoints_controller.go:328-362',
  exceptOnDefaultRoute: 'aws/aws-network-policy-agent before v1.0.4 (VPC CNI before v1.15.1): except ignored on /0 blocks',
} as const;

/** The VPC CNI version whose agent first applies `except` on a /0 block. */
export const EXCEPT_ON_DEFAULT_ROUTE_FIXED = '1.15.1';

/** One way AWS enforces a policy differently from the API, with the cluster rewritten as AWS enforces it. */
export interface Divergence {
  readonly ruleId: 'aws-egress-named-port-dropped' | 'aws-except-across-rules' | 'aws-rule-order-ignored' | 'aws-except-on-default-route';
  /** `Kind namespace/name` as lint names it. */
  readonly object: string;
  readonly source?: SourcePos;
  readonly path: readonly PathSegment[];
  /** What AWS does, in one sentence (without the flows). */
  readonly what: string;
  readonly evidence: string;
  /** A rewrite that means the same on both. */
  readonly rewrite: string;
  /** The whole cluster with only this policy rewritten as AWS enforces it. */
  readonly enforced: Cluster;
}

export interface EnforcedOptions {
  /** The VPC CNI version, e.g. `1.14.0`; absent: unknown (version-bound divergences are reported as possible). */
  readonly awsVersion?: string;
}

/** Compares dotted versions (`v` prefix allowed). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.replace(/^v/, '').split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function npLabel(o: PolicyObject): string {
  const kind = o.group ? `${o.kind ?? 'NetworkPolicy'} (${o.group})` : 'NetworkPolicy';
  return `${kind} ${o.policy.metadata.namespace ?? 'default'}/${o.policy.metadata.name ?? ''}`;
}

function replacePolicy(cluster: Cluster, index: number, policy: NetworkPolicy): Cluster {
  return { ...cluster, policies: cluster.policies.map((p, i) => (i === index ? { ...p, policy } : p)) };
}

function withEgress(policy: NetworkPolicy, egress: readonly NetworkPolicyEgressRule[]): NetworkPolicy {
  return { ...policy, spec: { ...policy.spec, egress } };
}

/** A peer that matches nothing (the model's empty domainNames peer). */
const NOTHING: NetworkPolicyPeer = { domainNames: [] };

/** The numbers the cluster's container ports give a name, for the rewrite. */
function namedNumbers(cluster: Cluster, name: string, protocol: string): number[] {
  const out = new Set<number>();
  for (const ep of cluster.endpoints) for (const p of ep.ports) if (p.name === name && p.protocol === protocol) out.add(p.port);
  return [...out].sort((a, b) => a - b);
}

function namedPortDivergences(cluster: Cluster): Divergence[] {
  const out: Divergence[] = [];
  cluster.policies.forEach((o, index) => {
    const egress = o.policy.spec.egress ?? [];
    egress.forEach((rule, i) => {
      const ports = rule.ports ?? [];
      const named = ports.filter((p) => typeof p.port === 'string');
      if (named.length === 0) return;
      const numeric = ports.filter((p) => typeof p.port !== 'string');
      const to = rule.to ?? [];
      const blocks = to.filter((p) => p.ipBlock);
      if (to.length > 0 && blocks.length === 0) return;
      // AWS writes CIDR entries with the numeric ports only; with none left, no entry at all.
      const cidrRule = (peers: readonly NetworkPolicyPeer[] | undefined): NetworkPolicyEgressRule =>
        numeric.length > 0 ? { ...(peers ? { to: peers } : {}), ports: numeric } : { to: [NOTHING] };
      const rewritten: NetworkPolicyEgressRule[] =
        to.length === 0
          ? [cidrRule(undefined)]
          : [{ ...rule, to: to.filter((p) => !p.ipBlock).length > 0 ? to.filter((p) => !p.ipBlock) : [NOTHING] }, cidrRule(blocks)];
      const newEgress = [...egress.slice(0, i), ...rewritten, ...egress.slice(i + 1)];
      const names = named.map((p) => `${p.protocol ?? 'TCP'}/${String(p.port)}`);
      const numbers = named.map((p) => {
        const n = namedNumbers(cluster, String(p.port), p.protocol ?? 'TCP');
        return n.length > 0 ? `${p.protocol ?? 'TCP'} ${n.join(', ')}` : `(no container port is named ${String(p.port)})`;
      });
      out.push({
        ruleId: 'aws-egress-named-port-dropped',
        object: npLabel(o),
        ...(o.source ? { source: o.source } : {}),
        path: ['spec', 'egress', i, 'ports'],
        what: `AWS's controller writes no named port for ${to.length === 0 ? 'a rule without `to`' : 'ipBlock peers'}, so egress[${i}]'s ${names.join(', ')} ${to.length === 0 ? 'is' : 'are'} dropped${to.length === 0 ? '' : ' towards its ipBlocks'}`,
        evidence: AWS_EVIDENCE.namedPorts,
        rewrite: `write the port number instead of the name: ${numbers.join('; ')}`,
        enforced: replacePolicy(cluster, index, withEgress(o.policy, newEgress)),
      });
    });
  });
  return out;
}

function exceptsOf(peers: readonly NetworkPolicyPeer[] | undefined): string[] {
  return (peers ?? []).flatMap((p) => p.ipBlock?.except ?? []);
}

function inside(inner: string, outer: string): boolean {
  const a = parseCIDR(inner);
  const b = parseCIDR(outer);
  return a !== undefined && b !== undefined && a.family === b.family && a.first >= b.first && a.last <= b.last && !(a.first === b.first && a.last === b.last);
}

function exceptDivergences(cluster: Cluster): Divergence[] {
  const out: Divergence[] = [];
  cluster.policies.forEach((o, index) => {
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = dir === 'ingress' ? (o.policy.spec.ingress ?? []).map((r) => r.from) : (o.policy.spec.egress ?? []).map((r) => r.to);
      const all = [...new Set(rules.flatMap(exceptsOf))];
      const cidrs = new Set(rules.flatMap((peers) => (peers ?? []).flatMap((p) => (p.ipBlock ? [p.ipBlock.cidr] : []))));
      // An except that is itself some entry's CIDR is not added as a deny-all entry.
      const denied = all.filter((x) => !cidrs.has(x));
      let changed: { rule: number; peer: number; added: string[] } | undefined;
      const rewrite = (peers: readonly NetworkPolicyPeer[] | undefined, ruleIndex: number): NetworkPolicyPeer[] | undefined =>
        peers?.map((p, k) => {
          if (!p.ipBlock) return p;
          const own = p.ipBlock.except ?? [];
          const added = denied.filter((x) => !own.includes(x) && inside(x, p.ipBlock!.cidr));
          if (added.length === 0) return p;
          changed ??= { rule: ruleIndex, peer: k, added };
          return { ipBlock: { cidr: p.ipBlock.cidr, except: [...own, ...added] } };
        });
      const spec = o.policy.spec;
      const policy: NetworkPolicy =
        dir === 'ingress'
          ? { ...o.policy, spec: { ...spec, ingress: (spec.ingress ?? []).map((r, i) => ({ ...r, ...(r.from ? { from: rewrite(r.from, i) } : {}) })) } }
          : { ...o.policy, spec: { ...spec, egress: (spec.egress ?? []).map((r, i) => ({ ...r, ...(r.to ? { to: rewrite(r.to, i) } : {}) })) } };
      const c = changed as { rule: number; peer: number; added: string[] } | undefined;
      if (!c) continue;
      out.push({
        ruleId: 'aws-except-across-rules',
        object: npLabel(o),
        ...(o.source ? { source: o.source } : {}),
        path: ['spec', dir, c.rule, dir === 'ingress' ? 'from' : 'to', c.peer, 'ipBlock'],
        what: `the AWS agent applies every except of the pod's rules to every block: ${c.added.join(', ')} (an except of another rule) is denied inside this block too`,
        evidence: AWS_EVIDENCE.exceptAcrossRules,
        rewrite: `split the block so it does not contain ${c.added.join(', ')}, or allow ${c.added.join(', ')} with a block whose cidr is exactly it`,
        enforced: replacePolicy(cluster, index, policy),
      });
    }
  });
  return out;
}

const ACTION_RANK: Readonly<Record<TierRule['action'], number>> = { Deny: 0, Allow: 1, Pass: 2 };

function ruleOrderDivergences(cluster: Cluster): Divergence[] {
  const out: Divergence[] = [];
  cluster.tierPolicies.forEach((p, index) => {
    // AWS's agent enforces AWS's own ClusterNetworkPolicy (ClusterPolicyEndpoints); upstream kinds are not its input.
    if (p.group === undefined) return;
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = p[dir];
      const sorted = [...rules].sort((a, b) => ACTION_RANK[a.action] - ACTION_RANK[b.action]);
      if (sorted.every((r, i) => r === rules[i])) continue;
      const first = rules.findIndex((r, i) => r !== sorted[i]);
      const policy: TierPolicy = { ...p, [dir]: sorted };
      out.push({
        ruleId: 'aws-rule-order-ignored',
        object: `ClusterNetworkPolicy (${p.group}) ${p.name}`,
        ...(p.source ? { source: p.source } : {}),
        path: ['spec', dir, first],
        what: `the AWS agent does not use rule order: at one priority Deny wins over Accept, Accept over Pass, so ${dir}[${first}] (${rules[first].action}) is not evaluated before the ${sorted[first].action} rules after it`,
        evidence: AWS_EVIDENCE.ruleOrder,
        rewrite: `order ${dir} as AWS evaluates it (Deny rules, then Accept, then Pass), or move the rules that must win into a policy of lower priority`,
        enforced: { ...cluster, tierPolicies: cluster.tierPolicies.map((q, i) => (i === index ? policy : q)) },
      });
    }
  });
  return out;
}

function defaultRouteDivergences(cluster: Cluster): Divergence[] {
  const out: Divergence[] = [];
  cluster.policies.forEach((o, index) => {
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = dir === 'ingress' ? o.policy.spec.ingress ?? [] : o.policy.spec.egress ?? [];
      let at: [number, number] | undefined;
      const strip = (peers: readonly NetworkPolicyPeer[] | undefined, i: number) =>
        peers?.map((p, k) => {
          const r = p.ipBlock ? parseCIDR(p.ipBlock.cidr) : undefined;
          if (!p.ipBlock || !r || r.first !== 0n || r.last !== familyMax(r.family) || (p.ipBlock.except ?? []).length === 0) return p;
          at ??= [i, k];
          return { ipBlock: { cidr: p.ipBlock.cidr } };
        });
      const spec = o.policy.spec;
      const policy: NetworkPolicy =
        dir === 'ingress'
          ? { ...o.policy, spec: { ...spec, ingress: (spec.ingress ?? []).map((r, i) => ({ ...r, ...(r.from ? { from: strip(r.from, i) } : {}) })) } }
          : { ...o.policy, spec: { ...spec, egress: (spec.egress ?? []).map((r, i) => ({ ...r, ...(r.to ? { to: strip(r.to, i) } : {}) })) } };
      const where = at as [number, number] | undefined;
      if (!where || rules.length === 0) continue;
      out.push({
        ruleId: 'aws-except-on-default-route',
        object: npLabel(o),
        ...(o.source ? { source: o.source } : {}),
        path: ['spec', dir, where[0], dir === 'ingress' ? 'from' : 'to', where[1], 'ipBlock', 'except'],
        what: `VPC CNI before v${EXCEPT_ON_DEFAULT_ROUTE_FIXED} (network policy agent before v1.0.4) ignores except on a /0 block`,
        evidence: AWS_EVIDENCE.exceptOnDefaultRoute,
        rewrite: `run VPC CNI v${EXCEPT_ON_DEFAULT_ROUTE_FIXED} or later, or replace the /0 block with CIDRs that leave the excepted addresses out`,
        enforced: replacePolicy(cluster, index, policy),
      });
    }
  });
  return out;
}

/**
 * Every divergence of the cluster's policies between their API meaning and AWS's enforcement, each with the cluster
 * rewritten as AWS enforces that one policy. Divergences that change no flow are returned too; the caller diffs.
 */
export function awsDivergences(cluster: Cluster, opts: EnforcedOptions = {}): Divergence[] {
  // Without a version the agent may be an old one: version-bound divergences are reported as possible.
  const old = opts.awsVersion === undefined || compareVersions(opts.awsVersion, EXCEPT_ON_DEFAULT_ROUTE_FIXED) < 0;
  return [
    ...namedPortDivergences(cluster),
    ...exceptDivergences(cluster),
    ...ruleOrderDivergences(cluster),
    ...(old ? defaultRouteDivergences(cluster) : []),
  ];
}
