/**
 * AWS's own policy kinds, `networking.k8s.aws/v1alpha1`, field for field as the AWS network policy controller defines
 * them (aws/amazon-network-policy-controller-k8s `api/v1alpha1/clusternetworkpolicy_types.go` and
 * `applicationnetworkpolicy_types.go`; the CRDs in `config/crd/bases/`), before normalisation into the model.
 *
 * - `ClusterNetworkPolicy` (cluster-scoped): `tier: Admin|Baseline`, `priority` 0–1000, a subject, ingress/egress
 *   rules with `action: Accept|Deny|Pass`, ports `portNumber`/`portRange`/`namedPort`; egress peers add `networks` and
 *   `domainNames` (Accept rules only, a CEL rule).
 * - `ApplicationNetworkPolicy` (namespaced): a NetworkPolicy whose egress peers may be `domainNames` instead.
 *
 * The CRDs check only their OpenAPI schema and CEL rules: CIDRs, label keys and selector operators are plain strings to
 * them (unlike NetworkPolicy, which the apiserver checks in Go). `validate-aws.ts` enforces the CRDs' rules.
 */
import type { IPBlock, LabelSelector, NetworkPolicyIngressRule, NetworkPolicyPort, PolicyType } from './types.js';

export const AWS_API_GROUP = 'networking.k8s.aws';
export const AWS_V1ALPHA1 = 'networking.k8s.aws/v1alpha1';

/** The kinds of `networking.k8s.aws/v1alpha1` that are policies (PolicyEndpoints are the controller's output). */
export const AWS_POLICY_KINDS = ['ClusterNetworkPolicy', 'ApplicationNetworkPolicy'] as const;
export type AwsPolicyKind = (typeof AWS_POLICY_KINDS)[number];

/** Limits of AWS's CRD schemas (kubebuilder markers of the types). */
export const AWS_LIMITS = {
  minPriority: 0,
  maxPriority: 1000,
  /** ClusterNetworkPolicy: rules per direction, peers per rule, ports per rule. */
  maxRules: 100,
  maxPeers: 100,
  maxPorts: 100,
  /** CIDRs in one `networks` peer, names in one `domainNames` peer (ClusterNetworkPolicy). */
  maxNetworks: 25,
  maxDomainNames: 25,
  /** `CIDR` MaxLength. */
  maxCIDRLength: 43,
  /** A rule's `name` MaxLength. */
  maxRuleName: 100,
} as const;

/**
 * `DomainName`: exact, or a `*.` prefix matching one or more whole labels. The CRDs' pattern, as written (its `A-z`
 * ranges also admit `[ \ ] ^ _` and the backtick, and the apiserver applies it as written).
 */
export const AWS_DOMAIN_NAME_PATTERN = '^(\\*\\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\\.?$';

export interface AwsObjectMeta {
  readonly name?: string;
  readonly generateName?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------- ClusterNetworkPolicy

export type AwsTier = 'Admin' | 'Baseline';
export const AWS_TIERS: readonly AwsTier[] = ['Admin', 'Baseline'];

export type AwsRuleAction = 'Accept' | 'Deny' | 'Pass';
export const AWS_ACTIONS: readonly AwsRuleAction[] = ['Accept', 'Deny', 'Pass'];

/** `NamespacedPod`: both selectors required; empty selects all. */
export interface AwsNamespacedPod {
  readonly namespaceSelector: LabelSelector;
  readonly podSelector: LabelSelector;
}

/** `ClusterNetworkPolicySubject`: exactly one field set (MinProperties=1, MaxProperties=1). */
export interface AwsSubject {
  readonly namespaces?: LabelSelector;
  readonly pods?: AwsNamespacedPod;
}

/** `ClusterNetworkPolicyIngressPeer`: exactly one field set. */
export interface AwsIngressPeer {
  readonly namespaces?: LabelSelector;
  readonly pods?: AwsNamespacedPod;
}

/** `ClusterNetworkPolicyEgressPeer`: exactly one field set. */
export interface AwsEgressPeer {
  readonly namespaces?: LabelSelector;
  readonly pods?: AwsNamespacedPod;
  /** 1–25 CIDRs (each at most 43 characters, not otherwise checked by the CRD), a set. */
  readonly networks?: readonly string[];
  /** 1–25 domain names, a set; only in Accept rules (CEL). */
  readonly domainNames?: readonly string[];
}

/** `CNPPort`: protocol (default TCP, any string to the CRD) and a port 1–65535. */
export interface AwsPortNumber {
  /** @default "TCP" */
  readonly protocol?: string;
  readonly port: number;
}

/** `CNPPortRange`: start < end (CEL), both 1–65535. */
export interface AwsPortRange {
  /** @default "TCP" */
  readonly protocol?: string;
  readonly start: number;
  readonly end: number;
}

/**
 * `ClusterNetworkPolicyPort`: the CRD does not require exactly one field (no Min/MaxProperties); AWS's controller
 * applies every field that is set (`convertCNPPortsToNPPorts`).
 */
export interface AwsPort {
  readonly portNumber?: AwsPortNumber;
  readonly portRange?: AwsPortRange;
  readonly namedPort?: string;
}

export interface AwsIngressRule {
  /** At most 100 characters. */
  readonly name?: string;
  readonly action: AwsRuleAction;
  /** 1–100 peers. */
  readonly from: readonly AwsIngressPeer[];
  /** 1–100 entries when present; absent: every port. */
  readonly ports?: readonly AwsPort[];
}

export interface AwsEgressRule {
  readonly name?: string;
  readonly action: AwsRuleAction;
  /** 1–100 peers. */
  readonly to: readonly AwsEgressPeer[];
  readonly ports?: readonly AwsPort[];
}

export interface AwsClusterNetworkPolicySpec {
  readonly tier: AwsTier;
  /** 0–1000, lower first. */
  readonly priority: number;
  readonly subject: AwsSubject;
  /** At most 100. */
  readonly ingress?: readonly AwsIngressRule[];
  /** At most 100. */
  readonly egress?: readonly AwsEgressRule[];
}

export interface AwsClusterNetworkPolicy {
  readonly apiVersion: typeof AWS_V1ALPHA1;
  readonly kind: 'ClusterNetworkPolicy';
  readonly metadata: AwsObjectMeta;
  readonly spec: AwsClusterNetworkPolicySpec;
}

// ---------------------------------------------------------------- ApplicationNetworkPolicy

/**
 * `ApplicationNetworkPolicyPeer`: NetworkPolicyPeer plus `domainNames`, which excludes the other three (CEL). Any
 * combination of podSelector, namespaceSelector and ipBlock passes the CRD.
 */
export interface ApplicationNetworkPolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: IPBlock;
  /** At least one, a set. */
  readonly domainNames?: readonly string[];
}

export interface ApplicationNetworkPolicyEgressRule {
  readonly ports?: readonly NetworkPolicyPort[];
  readonly to?: readonly ApplicationNetworkPolicyPeer[];
}

export interface ApplicationNetworkPolicySpec {
  readonly podSelector: LabelSelector;
  readonly policyTypes?: readonly PolicyType[];
  /** networking/v1 NetworkPolicyIngressRule, as the CRD embeds it. */
  readonly ingress?: readonly NetworkPolicyIngressRule[];
  readonly egress?: readonly ApplicationNetworkPolicyEgressRule[];
}

export interface ApplicationNetworkPolicy {
  readonly apiVersion: typeof AWS_V1ALPHA1;
  readonly kind: 'ApplicationNetworkPolicy';
  readonly metadata: AwsObjectMeta;
  readonly spec: ApplicationNetworkPolicySpec;
}

/** True when `apiVersion` is of AWS's group and `kind` one of its policy kinds. */
export function isAwsPolicyKind(apiVersion: string, kind: string): kind is AwsPolicyKind {
  return apiVersion.startsWith(`${AWS_API_GROUP}/`) && (AWS_POLICY_KINDS as readonly string[]).includes(kind);
}

/**
 * Whether a domain name pattern of a `domainNames` peer matches a name, as the types' doc defines it: exact (case
 * insensitive, a trailing dot ignored), or `*.suffix` matching one or more whole labels before `suffix` (never `suffix`
 * itself).
 * @example domainMatches('*.example.com', 'a.b.example.com') // true
 * @example domainMatches('*.example.com', 'example.com') // false
 */
export function domainMatches(pattern: string, name: string): boolean {
  const norm = (s: string): string => s.toLowerCase().replace(/\.$/, '');
  const p = norm(pattern);
  const n = norm(name);
  if (!p.startsWith('*.')) return p === n;
  const suffix = p.slice(1); // ".example.com"
  return n.length > suffix.length && n.endsWith(suffix) && !n.slice(0, -suffix.length).split('.').includes('');
}
