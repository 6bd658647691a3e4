/**
 * The vocabulary of `lint`: rules with stable ids, and findings that say where (file:line:column and field path), what
 * is wrong in one sentence, and how to fix it.
 */
import type { SourcePos } from '../api/diagnostics.js';

export type FindingSeverity = 'error' | 'warning' | 'note';

/** Which set of rules a rule belongs to: every cluster, or clusters running the AWS VPC CNI network policy agent. */
export type LintProfile = 'generic' | 'aws-vpc-cni';

/** A lint rule's description, shared by every finding it reports and by the SARIF `rules` list. */
export interface LintRule {
  /** Stable: never renamed, so suppressions and code-scanning alerts keep working. */
  readonly id: string;
  readonly severity: FindingSeverity;
  readonly profile: LintProfile;
  /** Off unless named with `--enable`. @default true */
  readonly enabledByDefault: boolean;
  /** One line: what the rule finds. */
  readonly summary: string;
}

export interface Finding {
  readonly ruleId: string;
  readonly severity: FindingSeverity;
  /** What is wrong, in one sentence. */
  readonly message: string;
  /** How to fix it. */
  readonly fix: string;
  readonly pos?: SourcePos;
  /** `Kind namespace/name`. */
  readonly object?: string;
  /** The field path, e.g. `spec.ingress[0].from[1]`. */
  readonly path?: string;
}

const rule = (id: string, severity: FindingSeverity, summary: string, extra: Partial<LintRule> = {}): LintRule => ({
  id,
  severity,
  profile: 'generic',
  enabledByDefault: true,
  summary,
  ...extra,
});

const aws = { profile: 'aws-vpc-cni' } as const;

/** Every rule, generic first. */
export const RULES: readonly LintRule[] = [
  rule('dns-egress-blocked', 'error', 'Egress is isolated but DNS (UDP and TCP 53 to kube-dns) is not allowed.'),
  rule('policy-selects-nothing', 'warning', 'The podSelector matches no pod or workload in the input.'),
  rule('peer-matches-nothing', 'warning', 'A from/to peer matches no pod or namespace in the input.'),
  rule('named-port-unknown', 'warning', 'A named port that no destination pod declares.'),
  rule('peer-or-meant-and', 'warning', 'A lone namespaceSelector item and a lone podSelector item (OR) where one peer (AND) was probably meant.'),
  rule('peer-and-meant-or', 'warning', 'One peer with namespaceSelector AND podSelector that matches nothing, while each half alone matches pods.'),
  rule('rule-split-by-dash', 'error', 'A rule with only ports next to a rule with only from/to: a `-` before `ports` split one rule in two.'),
  rule('namespace-without-default-deny', 'warning', 'A namespace with pods that are not isolated in both directions.', { enabledByDefault: false }),
  rule('rule-allows-everything', 'warning', 'A rule that admits every pod and every address on every port.'),
  rule('rule-shadowed', 'warning', 'A rule whose peers and ports are all admitted by another rule for the same pods.'),
  rule('ipblock-covers-pods', 'warning', 'An ipBlock that covers pod IPs (pods are meant to be selected by labels).'),
  rule('aws-except-on-default-route', 'warning', 'A 0.0.0.0/0 or ::/0 ipBlock with except, ignored by VPC CNI before v1.15.1 (agent v1.0.4).', aws),
  rule('aws-egress-named-port-dropped', 'warning', 'An egress named port towards an ipBlock or every destination, which the AWS controller drops.', aws),
  rule('aws-except-across-rules', 'warning', "An except of one rule that the AWS agent also applies to the pod's other blocks.", aws),
  rule('aws-rule-order-ignored', 'warning', 'An AWS ClusterNetworkPolicy whose rule order matters: the AWS agent ranks Deny, Accept, Pass instead.', aws),
  rule('aws-priority-tie', 'warning', 'AWS ClusterNetworkPolicies sharing a tier and priority whose outcome depends on the tie, which the AWS agent breaks per address by action.', aws),
  rule('aws-host-network-peer', 'warning', "A peer that selects hostNetwork pods, which the AWS controller resolves to their nodes' addresses.", aws),
  rule('aws-shared-pod-identifier', 'warning', 'Pods whose names collapse to one AWS agent identifier, so they share one set of BPF rules.', aws),
  rule('aws-too-many-ports', 'warning', 'More than 24 port/protocol combinations for one CIDR, beyond what the AWS agent enforces.', aws),
  rule('aws-standalone-pod', 'warning', 'A pod without ownerReferences selected by a policy: AWS supports policies only on pods of a controller.', aws),
  rule('aws-service-port-mismatch', 'warning', 'An egress rule allows a Service targetPort but not the Service port the client connects to.', aws),
  rule('aws-ipv6-in-ipv4-cluster', 'warning', 'An IPv6 ipBlock in a cluster whose pods are IPv4: the AWS agent ignores it.', aws),
  rule('aws-policyendpoint-chunks', 'note', 'A policy whose PolicyEndpoints span more than one 200-entry chunk.', aws),
];

export function ruleById(id: string): LintRule | undefined {
  return RULES.find((r) => r.id === id);
}

/** The rules that run for a profile, with `--enable`d ones added and `--disable`d ones removed. */
export function activeRules(profile: LintProfile, enable: readonly string[] = [], disable: readonly string[] = []): LintRule[] {
  return RULES.filter(
    (r) => (r.profile === 'generic' || r.profile === profile) && (r.enabledByDefault || enable.includes(r.id)) && !disable.includes(r.id),
  );
}
