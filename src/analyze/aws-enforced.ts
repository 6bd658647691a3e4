/**
 * "As AWS enforces it": the cluster rewritten into what the AWS network policy controller and agent effectively
 * enforce, one divergence at a time, so the engine (not a second evaluator) computes what each one changes. Each
 * divergence names the AWS source that decides it, verified against aws/amazon-network-policy-controller-k8s and
 * aws/aws-network-policy-agent at the commits Palisade read:
 *
 * - egress named ports towards an ipBlock or without `to` are dropped by the controller (`pkg/resolvers/endpoints.go`
 *   209–223 and 268–278: only numeric ports are written for CIDRs);
 * - every `except` of a pod's rules becomes a deny-all entry of that pod's map, whatever rule it came from
 *   (`pkg/fwruleprocessor/fw_rule_processor.go` 144–160), the rules of every policy selecting the pod merged
 *   (`controllers/policyendpoints_controller.go` 445–505);
 * - admin-tier rules are looked up per address with the lowest priority winning and, at equal priority, Deny (0) before
 *   Accept (1) before Pass (2): a policy's rule order is not used (`pkg/ebpf/c/tc.v4egress.bpf.c` 24–26 and 156–179;
 *   all of a ClusterPolicyEndpoint's rules share its priority, `controllers/clusterpolicyendpoints_controller.go`
 *   328–362, and broader CIDRs' rules are copied into narrower ones, `fw_rule_processor.go` 317–323);
 * - VPC CNI before v1.15.1 (agent before v1.0.4) ignores `except` on a 0.0.0.0/0 or ::/0 ipBlock;
 * - AWS ClusterNetworkPolicies of one tier and priority are one set of rules to the agent: every ClusterPolicyEndpoint
 *   of a pod adds its rules with its own priority (`controllers/clusterpolicyendpoints_controller.go` 306–364) and the
 *   lookup ranks them by priority, then Deny before Accept before Pass (`tc.v4egress.bpf.c` 156–179), so which policy
 *   "comes first" at a tie is decided per address by action (the API leaves the order undefined:
 *   kubernetes-sigs/network-policy-api `apis/v1alpha2/clusternetworkpolicy_types.go` 98–104);
 * - a peer that selects a hostNetwork pod is resolved to that pod's IP, which is its node's address
 *   (controller `pkg/resolvers/endpoints.go` 118–131 and 233–253 list every matching pod, hostNetwork ones included,
 *   and write `status.podIP`; only the policy's own pods skip hostNetwork ones, 300–305);
 * - the agent keys a pod's BPF maps by the pod's name without its last `-` segment plus its namespace
 *   (`pkg/utils/utils.go` 177–188): pods whose names collapse to one identifier share one map, filled from the
 *   PolicyEndpoints of every pod with that identifier (`controllers/policyendpoints_controller.go` 445–505, 636–657;
 *   ClusterPolicyEndpoints alike, `controllers/clusterpolicyendpoints_controller.go` 183–195, 436–450), and a pod that
 *   starts later is attached to it (`pkg/rpc/rpc_handler.go` 83–142).
 */
import { familyMax, parseCIDR, parseIP } from '../api/ip.js';
import type { NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort } from '../api/types.js';
import type { Cluster, Endpoint, HostNetworkPod, PolicyObject, TierPeer, TierPolicy, TierPort, TierRule } from '../model/types.js';
import { matchesSelector } from '../engine/selector.js';
import { effectivePolicyTypes, tierOrder } from '../engine/semantics.js';
import type { PathSegment, SourcePos } from '../api/diagnostics.js';

/** The AWS source locations each divergence rests on (repository, path, lines). */
export const AWS_EVIDENCE = {
  namedPorts: 'aws/amazon-network-policy-controller-k8s pkg/resolvers/endpoints.go:209-223,268-278',
  exceptAcrossRules: 'aws/aws-network-policy-agent pkg/fwruleprocessor/fw_rule_processor.go:144-160',
  exceptAcrossPolicies: 'aws/aws-network-policy-agent controllers/policyendpoints_controller.go:445-505; pkg/fwruleprocessor/fw_rule_processor.go:90-160',
  ruleOrder: 'aws/aws-network-policy-agent pkg/ebpf/c/tc.v4egress.bpf.c:24-26,156-179; controllers/clusterpolicyendpoints_controller.go:328-362',
  exceptOnDefaultRoute: 'aws/aws-network-policy-agent before v1.0.4 (VPC CNI before v1.15.1): except ignored on /0 blocks',
  priorityTie:
    'aws/aws-network-policy-agent controllers/clusterpolicyendpoints_controller.go:306-364, pkg/ebpf/c/tc.v4egress.bpf.c:156-179; kubernetes-sigs/network-policy-api apis/v1alpha2/clusternetworkpolicy_types.go:98-104',
  hostNetworkPeer: 'aws/amazon-network-policy-controller-k8s pkg/resolvers/endpoints.go:118-131,233-253,300-305; pkg/k8s/pod_utils.go:16-29',
  podIdentifier:
    'aws/aws-network-policy-agent pkg/utils/utils.go:177-188; controllers/policyendpoints_controller.go:445-505,636-657; pkg/rpc/rpc_handler.go:83-142',
  podIdentifierCluster:
    'aws/aws-network-policy-agent pkg/utils/utils.go:177-188; controllers/clusterpolicyendpoints_controller.go:183-195,301-369,436-450; pkg/rpc/rpc_handler.go:83-142',
} as const;

/** The VPC CNI version whose agent first applies `except` on a /0 block. */
export const EXCEPT_ON_DEFAULT_ROUTE_FIXED = '1.15.1';

/** One way AWS enforces a policy differently from the API, with the cluster rewritten as AWS enforces it. */
export interface Divergence {
  readonly ruleId:
    | 'aws-egress-named-port-dropped'
    | 'aws-except-across-rules'
    | 'aws-rule-order-ignored'
    | 'aws-except-on-default-route'
    | 'aws-priority-tie'
    | 'aws-host-network-peer'
    | 'aws-shared-pod-identifier';
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
  /**
   * What `enforced` is compared with, when not the input: the input with the other divergences of the same policies
   * already applied, so the flows that differ are this divergence's alone.
   */
  readonly baseline?: Cluster;
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

type Direction = 'ingress' | 'egress';

function peersOf(policy: NetworkPolicy, dir: Direction): (readonly NetworkPolicyPeer[] | undefined)[] {
  return dir === 'ingress' ? (policy.spec.ingress ?? []).map((r) => r.from) : (policy.spec.egress ?? []).map((r) => r.to);
}

/** The CIDRs a policy's rules of one direction write as entries. */
function blockCIDRs(policy: NetworkPolicy, dir: Direction): string[] {
  return peersOf(policy, dir).flatMap((peers) => (peers ?? []).flatMap((p) => (p.ipBlock ? [p.ipBlock.cidr] : [])));
}

/**
 * The policy with each of `denied` that lies inside one of its blocks (and is not already excepted there) added to that
 * block's except, and where the first change is.
 */
function addExcepts(policy: NetworkPolicy, dir: Direction, denied: readonly string[]): { policy: NetworkPolicy; changed?: { rule: number; peer: number; added: string[] } } {
  let changed: { rule: number; peer: number; added: string[] } | undefined;
  const rewrite = (peers: readonly NetworkPolicyPeer[], ruleIndex: number): NetworkPolicyPeer[] =>
    peers.map((p, k) => {
      if (!p.ipBlock) return p;
      const own = p.ipBlock.except ?? [];
      const added = denied.filter((x) => !own.includes(x) && inside(x, p.ipBlock!.cidr));
      if (added.length === 0) return p;
      changed ??= { rule: ruleIndex, peer: k, added };
      return { ipBlock: { cidr: p.ipBlock.cidr, except: [...own, ...added] } };
    });
  const spec = policy.spec;
  const out: NetworkPolicy =
    dir === 'ingress'
      ? { ...policy, spec: { ...spec, ingress: (spec.ingress ?? []).map((r, i) => ({ ...r, ...(r.from ? { from: rewrite(r.from, i) } : {}) })) } }
      : { ...policy, spec: { ...spec, egress: (spec.egress ?? []).map((r, i) => ({ ...r, ...(r.to ? { to: rewrite(r.to, i) } : {}) })) } };
  return { policy: out, ...(changed ? { changed } : {}) };
}

/** A policy's own excepts as the agent turns them into deny entries: those that are not themselves an entry's CIDR. */
function ownDenied(policy: NetworkPolicy, dir: Direction): string[] {
  const cidrs = new Set(blockCIDRs(policy, dir));
  return [...new Set(peersOf(policy, dir).flatMap(exceptsOf))].filter((x) => !cidrs.has(x));
}

function exceptDivergences(cluster: Cluster): Divergence[] {
  const out: Divergence[] = [];
  cluster.policies.forEach((o, index) => {
    for (const dir of ['ingress', 'egress'] as const) {
      const { policy, changed: c } = addExcepts(o.policy, dir, ownDenied(o.policy, dir));
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

/** The label the rewritten cluster gives the pods of one policy that get other policies' excepts. */
export const EXCEPT_GROUP_LABEL = 'palisade.aws/except-group';

/**
 * Excepts of other policies selecting the same pod: the agent merges the rules of every PolicyEndpoint of a pod
 * (`controllers/policyendpoints_controller.go` 445–505) before turning each except into a deny entry, so an except of
 * one policy is denied inside another policy's block, for the pods both select. The policy is split into its pods that
 * get other policies' excepts (one part per set of excepts, told apart by a label) and the rest; the baseline already
 * has the policy's own excepts applied (the divergence above).
 */
function crossPolicyExceptDivergences(cluster: Cluster): Divergence[] {
  const out: Divergence[] = [];
  const selects = (o: PolicyObject, ep: Endpoint) => ep.namespace === (o.policy.metadata.namespace ?? 'default') && matchesSelector(o.policy.spec.podSelector ?? {}, ep.labels);
  for (const dir of ['ingress', 'egress'] as const) {
    const applying = cluster.policies.map((o) => effectivePolicyTypes(o.policy.spec).includes(dir === 'ingress' ? 'Ingress' : 'Egress'));
    const selected = cluster.policies.map((o, i) => (applying[i] ? cluster.endpoints.filter((ep) => selects(o, ep)) : []));
    const selectedIds = selected.map((eps) => new Set(eps.map((ep) => ep.id)));
    // Only policies with an except can add one elsewhere; per pod, the indices of those selecting it.
    const withExcept = new Map<string, number[]>();
    cluster.policies.forEach((o, j) => {
      if (!applying[j] || peersOf(o.policy, dir).flatMap(exceptsOf).length === 0) return;
      for (const ep of selected[j]) withExcept.set(ep.id, [...(withExcept.get(ep.id) ?? []), j]);
    });
    if (withExcept.size === 0) continue;
    cluster.policies.forEach((o, index) => {
      if (!applying[index] || blockCIDRs(o.policy, dir).length === 0) return;
      const mine = new Set(peersOf(o.policy, dir).flatMap(exceptsOf));
      // Per pod of this policy: the excepts of the other policies selecting it that the agent makes deny entries.
      const groups = new Map<string, { denied: string[]; pods: Endpoint[]; from: Set<number> }>();
      for (const ep of selected[index]) {
        const others = (withExcept.get(ep.id) ?? []).filter((j) => j !== index);
        if (others.length === 0) continue;
        // Every CIDR the pod's rules write (of every policy selecting it) is an entry, and an except equal to one is not denied.
        const entries = new Set(cluster.policies.flatMap((q, j) => (selectedIds[j].has(ep.id) ? blockCIDRs(q.policy, dir) : [])));
        const from = new Set<number>();
        const found = new Set<string>();
        for (const j of others) {
          for (const x of peersOf(cluster.policies[j].policy, dir).flatMap(exceptsOf)) {
            if (mine.has(x) || entries.has(x) || !blockCIDRs(o.policy, dir).some((b) => inside(x, b))) continue;
            found.add(x);
            from.add(j);
          }
        }
        const denied = [...found].sort();
        if (denied.length === 0) continue;
        const key = denied.join(',');
        const g = groups.get(key) ?? { denied, pods: [], from: new Set<number>() };
        g.pods.push(ep);
        for (const j of from) g.from.add(j);
        groups.set(key, g);
      }
      if (groups.size === 0) return;
      const base = addExcepts(o.policy, dir, ownDenied(o.policy, dir)).policy;
      const baseline = replacePolicy(cluster, index, base);
      const parts: PolicyObject[] = [];
      const labelOf = new Map<string, string>();
      let n = 0;
      let first: { rule: number; peer: number; added: string[] } | undefined;
      for (const g of groups.values()) {
        const value = `${o.policy.metadata.name ?? ''}.${dir}.${n++}`;
        for (const ep of g.pods) labelOf.set(ep.id, value);
        const { policy, changed } = addExcepts(base, dir, g.denied);
        first ??= changed;
        const sel = base.spec.podSelector ?? {};
        parts.push({ ...o, policy: { ...policy, spec: { ...policy.spec, podSelector: { ...sel, matchLabels: { ...(sel.matchLabels ?? {}), [EXCEPT_GROUP_LABEL]: value } } } } });
      }
      const sel = base.spec.podSelector ?? {};
      const rest: PolicyObject = { ...o, policy: { ...base, spec: { ...base.spec, podSelector: { ...sel, matchExpressions: [...(sel.matchExpressions ?? []), { key: EXCEPT_GROUP_LABEL, operator: 'DoesNotExist' }] } } } };
      const label = (c: Cluster): Cluster => ({ ...c, endpoints: c.endpoints.map((ep) => (labelOf.has(ep.id) ? { ...ep, labels: { ...ep.labels, [EXCEPT_GROUP_LABEL]: labelOf.get(ep.id)! } } : ep)) });
      const labelledBaseline = label(baseline);
      const enforced: Cluster = { ...labelledBaseline, policies: [...labelledBaseline.policies.slice(0, index), rest, ...parts, ...labelledBaseline.policies.slice(index + 1)] };
      const all = [...groups.values()];
      const added = [...new Set(all.flatMap((g) => g.denied))];
      const owners = [...new Set(all.flatMap((g) => [...g.from]))].map((j) => npLabel(cluster.policies[j]));
      const pods = [...new Set(all.flatMap((g) => g.pods.map((p) => p.id)))];
      const c = first ?? { rule: 0, peer: 0, added };
      out.push({
        ruleId: 'aws-except-across-rules',
        object: npLabel(o),
        ...(o.source ? { source: o.source } : {}),
        path: ['spec', dir, c.rule, dir === 'ingress' ? 'from' : 'to', c.peer, 'ipBlock'],
        what: `the AWS agent merges the rules of every policy selecting a pod and applies every except to every block: ${added.join(', ')} (excepted by ${owners.join(', ')}) is denied inside this policy's blocks too, for ${pods.join(', ')}`,
        evidence: AWS_EVIDENCE.exceptAcrossPolicies,
        rewrite: `split the block so it does not contain ${added.join(', ')}, or allow ${added.join(', ')} with a block whose cidr is exactly it`,
        enforced,
        baseline: labelledBaseline,
      });
    });
  }
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

function sortedByAction(p: TierPolicy): TierPolicy {
  const sort = (rules: readonly TierRule[]) => [...rules].sort((a, b) => ACTION_RANK[a.action] - ACTION_RANK[b.action]);
  return { ...p, ingress: sort(p.ingress), egress: sort(p.egress) };
}

/**
 * AWS ClusterNetworkPolicies sharing a tier and a priority. The agent merges their rules per address and ranks Deny,
 * Accept, Pass; the engine's reading (by name at a tie) is rewritten into each policy split by action, the Deny parts
 * at the priority, the Accept parts just after and the Pass parts after those (fractional priorities only order them).
 * The baseline has each policy's rules already in AWS's order, so only the effect across policies is reported.
 */
function priorityTieDivergences(cluster: Cluster): Divergence[] {
  const groups = new Map<string, number[]>();
  cluster.tierPolicies.forEach((p, i) => {
    if (p.group === undefined) return;
    const key = `${p.tier}\u0000${p.priority}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const out: Divergence[] = [];
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const ordered = [...members].sort((a, b) => tierOrder(cluster.tierPolicies[a], cluster.tierPolicies[b]));
    const inGroup = new Set(members);
    const baseline: Cluster = { ...cluster, tierPolicies: cluster.tierPolicies.map((p, i) => (inGroup.has(i) ? sortedByAction(p) : p)) };
    const parts: TierPolicy[] = [];
    const steps: readonly [TierRule['action'], number][] = [['Deny', 0], ['Allow', 1 / 3], ['Pass', 2 / 3]];
    for (const i of ordered) {
      const p = cluster.tierPolicies[i];
      for (const [action, offset] of steps) {
        const ingress = p.ingress.filter((r) => r.action === action);
        const egress = p.egress.filter((r) => r.action === action);
        if (ingress.length + egress.length > 0) parts.push({ ...p, priority: p.priority + offset, ingress, egress });
      }
    }
    const enforced: Cluster = { ...cluster, tierPolicies: [...cluster.tierPolicies.filter((_, i) => !inGroup.has(i)), ...parts] };
    const first = cluster.tierPolicies[ordered[0]];
    const names = ordered.map((i) => cluster.tierPolicies[i].name);
    out.push({
      ruleId: 'aws-priority-tie',
      object: `ClusterNetworkPolicy (${first.group}) ${first.name}`,
      ...(first.source ? { source: first.source } : {}),
      path: ['spec', 'priority'],
      what: `${names.join(', ')} share priority ${first.priority} in the ${first.tier} tier, where the API leaves their order undefined (Palisade evaluates them by name); the AWS agent merges their rules and, per address, Deny wins over Accept and Accept over Pass whichever policy they come from`,
      evidence: AWS_EVIDENCE.priorityTie,
      rewrite: `give each of ${names.join(', ')} its own priority (a lower number for the policy whose rules must win)`,
      enforced,
      baseline,
    });
  }
  return out;
}

/** The host-route CIDR of an address. */
function hostCIDR(ip: string): string | undefined {
  const a = parseIP(ip);
  return a && `${ip}/${a.family === 4 ? 32 : 128}`;
}

/** The hostNetwork pods a NetworkPolicy peer of a policy in `namespace` selects, as AWS's controller lists them. */
function hostNetworkPodsOf(cluster: Cluster, namespace: string, peer: NetworkPolicyPeer): HostNetworkPod[] {
  if (peer.ipBlock || peer.domainNames || (!peer.podSelector && !peer.namespaceSelector)) return [];
  const namespaces = peer.namespaceSelector
    ? new Set([...cluster.namespaces.values()].filter((n) => matchesSelector(peer.namespaceSelector!, n.labels)).map((n) => n.name))
    : new Set([namespace]);
  return (cluster.hostNetworkPods ?? []).filter((h) => namespaces.has(h.namespace) && h.ips.length > 0 && matchesSelector(peer.podSelector ?? {}, h.labels));
}

/** An egress rule's ports for one destination pod, as the AWS controller resolves them (`getPortList`). */
function portsFor(h: HostNetworkPod, ports: readonly NetworkPolicyPort[]): NetworkPolicyPort[] {
  return ports.flatMap((p): NetworkPolicyPort[] => {
    if (typeof p.port !== 'string') return [p];
    const protocol = p.protocol ?? 'TCP';
    const hit = h.ports.find((c) => c.name === p.port && c.protocol === protocol);
    return hit ? [{ protocol, port: hit.port }] : [];
  });
}

function hostNetworkPeerDivergences(cluster: Cluster): Divergence[] {
  if ((cluster.hostNetworkPods ?? []).length === 0) return [];
  const out: Divergence[] = [];
  cluster.policies.forEach((o, index) => {
    const namespace = o.policy.metadata.namespace ?? 'default';
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = (dir === 'ingress' ? o.policy.spec.ingress : o.policy.spec.egress) ?? [];
      rules.forEach((rule, i) => {
        const peers = (dir === 'ingress' ? (rule as NetworkPolicyIngressRule).from : (rule as NetworkPolicyEgressRule).to) ?? [];
        const hits = peers.flatMap((peer, k) => hostNetworkPodsOf(cluster, namespace, peer).map((h) => ({ h, k })));
        if (hits.length === 0) return;
        const pods = [...new Map(hits.map(({ h }) => [`${h.namespace}/${h.name}`, h])).values()];
        // Ingress: the node addresses join the rule's peers with its ports. Egress: one rule per pod, with the
        // rule's ports resolved against that pod's containers (a pod none of whose named ports resolve is skipped).
        const added: (NetworkPolicyIngressRule | NetworkPolicyEgressRule)[] = [];
        const blocks = (h: HostNetworkPod) => h.ips.map(hostCIDR).filter((c): c is string => c !== undefined).map((cidr) => ({ ipBlock: { cidr } }));
        if (dir === 'ingress') added.push({ ...(rule.ports ? { ports: rule.ports } : {}), from: pods.flatMap(blocks) });
        else {
          for (const h of pods) {
            const ports = rule.ports ? portsFor(h, rule.ports) : undefined;
            if (rule.ports && rule.ports.length > 0 && ports!.length === 0) continue;
            added.push({ ...(ports && ports.length > 0 ? { ports } : {}), to: blocks(h) });
          }
        }
        if (added.length === 0) return;
        const spec = o.policy.spec;
        const policy: NetworkPolicy =
          dir === 'ingress'
            ? { ...o.policy, spec: { ...spec, ingress: [...(spec.ingress ?? []), ...(added as NetworkPolicyIngressRule[])] } }
            : { ...o.policy, spec: { ...spec, egress: [...(spec.egress ?? []), ...(added as NetworkPolicyEgressRule[])] } };
        const k = hits[0].k;
        const list = pods.map((h) => `${h.namespace}/${h.name} (${h.ips.join(', ')}${h.nodeName ? ` on ${h.nodeName}` : ''})`);
        out.push({
          ruleId: 'aws-host-network-peer',
          object: npLabel(o),
          ...(o.source ? { source: o.source } : {}),
          path: ['spec', dir, i, dir === 'ingress' ? 'from' : 'to', k],
          what: `${dir}[${i}] selects the hostNetwork pod${pods.length === 1 ? '' : 's'} ${list.join(', ')}, which Palisade matches to nothing, but AWS's controller writes ${pods.length === 1 ? 'its IP, the node address,' : 'their IPs, the node addresses,'} as an allowed CIDR, so everything that leaves that node from its own address (other hostNetwork pods, the kubelet, NodePort traffic SNATed by kube-proxy) is ${dir === 'ingress' ? 'admitted' : 'reachable'} too`,
          evidence: AWS_EVIDENCE.hostNetworkPeer,
          rewrite:
            dir === 'ingress'
              ? 'narrow the peer so it does not select hostNetwork pods (e.g. add a podSelector the hostNetwork pods do not match), and allow node addresses with an explicit ipBlock if they are meant'
              : 'narrow the peer so it does not select hostNetwork pods, and reach the node addresses with an explicit ipBlock if they are meant',
          enforced: replacePolicy(cluster, index, policy),
        });
      });
    }
  });
  cluster.tierPolicies.forEach((p, index) => {
    // AWS's controller resolves a ClusterNetworkPolicy's pods and namespaces peers with the NetworkPolicy resolver
    // (pkg/resolvers/clusternetworkpolicy_resolver.go 280-305 and 404-436), hostNetwork pods included.
    if (p.group === undefined) return;
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = p[dir];
      const at = rules.findIndex((r) => r.peers.some((peer) => tierHostNetworkPods(cluster, peer).length > 0));
      if (at < 0) continue;
      const rewritten = rules.flatMap((r): TierRule[] => {
        const pods = [...new Map(r.peers.flatMap((peer) => tierHostNetworkPods(cluster, peer)).map((h) => [`${h.namespace}/${h.name}`, h])).values()];
        if (pods.length === 0) return [r];
        const cidrs = (h: HostNetworkPod) => h.ips.map(hostCIDR).filter((c): c is string => c !== undefined);
        if (dir === 'ingress') return [r, { action: r.action, peers: [{ kind: 'networks', cidrs: pods.flatMap(cidrs) }], ...(r.ports ? { ports: r.ports } : {}) }];
        const extra = pods.flatMap((h): TierRule[] => {
          if (!r.ports) return [{ action: r.action, peers: [{ kind: 'networks', cidrs: cidrs(h) }] }];
          const ports = r.ports.flatMap((x): TierPort[] => {
            if (x.kind === 'range') return [x];
            const hit = h.ports.find((c) => c.name === x.name);
            return hit ? [{ kind: 'range', protocol: hit.protocol, from: hit.port, to: hit.port }] : [];
          });
          return ports.length > 0 ? [{ action: r.action, peers: [{ kind: 'networks', cidrs: cidrs(h) }], ports }] : [];
        });
        return [r, ...extra];
      });
      const pods = [...new Set(rules.flatMap((r) => r.peers.flatMap((peer) => tierHostNetworkPods(cluster, peer))).map((h) => `${h.namespace}/${h.name} (${h.ips.join(', ')}${h.nodeName ? ` on ${h.nodeName}` : ''})`))];
      const policy: TierPolicy = { ...p, [dir]: rewritten };
      out.push({
        ruleId: 'aws-host-network-peer',
        object: `ClusterNetworkPolicy (${p.group}) ${p.name}`,
        ...(p.source ? { source: p.source } : {}),
        path: ['spec', dir, at, dir === 'ingress' ? 'from' : 'to'],
        what: `${dir} rules select the hostNetwork pod${pods.length === 1 ? '' : 's'} ${pods.join(', ')}, which Palisade matches to nothing, but AWS's controller writes their IPs (node addresses) with the rule's action, so everything that uses that node's address is matched too`,
        evidence: `${AWS_EVIDENCE.hostNetworkPeer}; pkg/resolvers/clusternetworkpolicy_resolver.go:280-305,404-436`,
        rewrite: 'narrow the peer so it does not select hostNetwork pods, and name node addresses in a networks peer if they are meant',
        enforced: { ...cluster, tierPolicies: cluster.tierPolicies.map((q, i) => (i === index ? policy : q)) },
      });
    }
  });
  return out;
}

/** The hostNetwork pods an AWS ClusterNetworkPolicy pods or namespaces peer selects. */
function tierHostNetworkPods(cluster: Cluster, peer: TierPeer): HostNetworkPod[] {
  if (peer.kind !== 'pods') return [];
  const namespaces = new Set([...cluster.namespaces.values()].filter((n) => matchesSelector(peer.selector.namespaceSelector, n.labels)).map((n) => n.name));
  return (cluster.hostNetworkPods ?? []).filter((h) => namespaces.has(h.namespace) && h.ips.length > 0 && matchesSelector(peer.selector.podSelector ?? {}, h.labels));
}

/** The label the rewritten cluster gives pods so that one selector picks every pod of an identifier. */
export const POD_IDENTIFIER_LABEL = 'palisade.aws/pod-identifier';

/**
 * The AWS agent's identifier of a pod, which names its BPF maps: `.` becomes `_`, the last `-` segment is dropped,
 * then `@namespace`.
 * @example awsPodIdentifier('web-7d9f8c5b4-x2x9k', 'shop') // "web-7d9f8c5b4@shop"
 */
export function awsPodIdentifier(name: string, namespace: string): string {
  const n = name.replace(/\./g, '_');
  const cut = n.lastIndexOf('-');
  return `${cut >= 0 ? n.slice(0, cut) : n}@${namespace}`;
}

/**
 * The identifier of an endpoint's pods: a Pod's own; a workload's from how its controller names pods (`<name>-<suffix>`
 * for StatefulSet, DaemonSet, ReplicaSet, ReplicationController and Job, so `<name>`); none for a Deployment or CronJob,
 * whose pods carry a hash of the template or a schedule time no other object shares.
 */
/** A pod by its name, a workload as `the pods of Kind name`. */
function podsName(ep: Endpoint): string {
  return ep.kind === 'Pod' ? ep.name : `the pods of ${ep.kind} ${ep.name}`;
}

function identifierOf(ep: Endpoint): string | undefined {
  if (ep.kind === 'Pod') return awsPodIdentifier(ep.name, ep.namespace);
  if (ep.kind === 'Deployment' || ep.kind === 'CronJob') return undefined;
  return `${ep.name.replace(/\./g, '_')}@${ep.namespace}`;
}

function sharedIdentifierDivergences(cluster: Cluster): Divergence[] {
  const groups = new Map<string, Endpoint[]>();
  for (const ep of cluster.endpoints) {
    const id = identifierOf(ep);
    if (id !== undefined) groups.set(id, [...(groups.get(id) ?? []), ep]);
  }
  const shared = [...groups].filter(([, eps]) => eps.length > 1);
  if (shared.length === 0) return [];
  const labelled = (ids: ReadonlySet<string>): Cluster => ({
    ...cluster,
    endpoints: cluster.endpoints.map((ep) => {
      const id = identifierOf(ep);
      return id !== undefined && ids.has(id) ? { ...ep, labels: { ...ep.labels, [POD_IDENTIFIER_LABEL]: id } } : ep;
    }),
  });
  const describe = (id: string, eps: readonly Endpoint[], picked: readonly Endpoint[]) => {
    const others = eps.filter((e) => !picked.includes(e));
    const nodes = new Set(eps.map((e) => e.nodeName));
    const where = nodes.size > 1 && !nodes.has(undefined) ? ' (on different nodes: a pod gets the shared rules when it is the first of its identifier to start on its node after the policy)' : '';
    return {
      text: `the AWS agent keys BPF maps by the pod name without its last "-" segment: ${[...picked, ...others].map(podsName).join(', ')} share the identifier ${id}, so the rules meant for ${picked.map(podsName).join(', ')} also apply to ${others.map(podsName).join(', ')}${where}`,
      others,
    };
  };
  const out: Divergence[] = [];
  for (const [id, eps] of shared) {
    const namespace = eps[0].namespace;
    cluster.policies.forEach((o, index) => {
      if ((o.policy.metadata.namespace ?? 'default') !== namespace) return;
      const picked = eps.filter((e) => matchesSelector(o.policy.spec.podSelector ?? {}, e.labels));
      if (picked.length === 0 || picked.length === eps.length) return;
      const base = labelled(new Set([id]));
      const copy: PolicyObject = { ...o, policy: { ...o.policy, spec: { ...o.policy.spec, podSelector: { matchLabels: { [POD_IDENTIFIER_LABEL]: id } } } } };
      const { text, others } = describe(id, eps, picked);
      out.push({
        ruleId: 'aws-shared-pod-identifier',
        object: npLabel(o),
        ...(o.source ? { source: o.source } : {}),
        path: ['spec', 'podSelector'],
        what: text,
        evidence: AWS_EVIDENCE.podIdentifier,
        rewrite: `rename ${others.map(podsName).join(', ')} (or run ${others.length === 1 ? 'it' : 'them'} from its own controller) so that no pod outside the policy's selection shares the identifier ${id}`,
        enforced: { ...base, policies: [...base.policies.slice(0, index + 1), copy, ...base.policies.slice(index + 1)] },
        baseline: base,
      });
    });
    cluster.tierPolicies.forEach((p, index) => {
      if (p.group === undefined) return;
      const nsInfo = cluster.namespaces.get(namespace);
      if (!nsInfo || !matchesSelector(p.subject.namespaceSelector, nsInfo.labels)) return;
      const picked = eps.filter((e) => matchesSelector(p.subject.podSelector ?? {}, e.labels));
      if (picked.length === 0 || picked.length === eps.length) return;
      const base = labelled(new Set([id]));
      const copy: TierPolicy = { ...p, subject: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } }, podSelector: { matchLabels: { [POD_IDENTIFIER_LABEL]: id } } } };
      const { text, others } = describe(id, eps, picked);
      out.push({
        ruleId: 'aws-shared-pod-identifier',
        object: `ClusterNetworkPolicy (${p.group}) ${p.name}`,
        ...(p.source ? { source: p.source } : {}),
        path: ['spec', 'subject'],
        what: text,
        evidence: AWS_EVIDENCE.podIdentifierCluster,
        rewrite: `rename ${others.map(podsName).join(', ')} so that no pod outside the policy's subject shares the identifier ${id}`,
        enforced: { ...base, tierPolicies: [...base.tierPolicies.slice(0, index + 1), copy, ...base.tierPolicies.slice(index + 1)] },
        baseline: base,
      });
    });
  }
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
    ...crossPolicyExceptDivergences(cluster),
    ...ruleOrderDivergences(cluster),
    ...(old ? defaultRouteDivergences(cluster) : []),
    ...priorityTieDivergences(cluster),
    ...hostNetworkPeerDivergences(cluster),
    ...sharedIdentifierDivergences(cluster),
  ];
}
