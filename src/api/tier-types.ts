/**
 * Admin-tier policy objects as the API defines them, field for field, before normalisation into the model's `TierPolicy`.
 *
 * - `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy and BaselineAdminNetworkPolicy: the last v1alpha1 release of
 *   kubernetes-sigs/network-policy-api (v0.1.x, with the experimental `nodes`, `networks`, `domainNames` and `namedPort`).
 * - `policy.networking.k8s.io/v1alpha2` ClusterNetworkPolicy: `apis/v1alpha2/clusternetworkpolicy_types.go` at commit
 *   066a9454c5585568d99b22723b847bcf13df6b41 (the newest stored version, the one with `protocols`).
 *
 * Limits (MaxItems, ranges, CEL rules) are stated where each field is declared; `validate-tiers.ts` enforces them.
 */
import type { LabelSelector, Protocol } from './types.js';

export const POLICY_API_GROUP = 'policy.networking.k8s.io';
export const TIER_V1ALPHA1 = 'policy.networking.k8s.io/v1alpha1';
export const TIER_V1ALPHA2 = 'policy.networking.k8s.io/v1alpha2';

/** Limits of the CRDs' schemas, by name, so validation and documentation say the same numbers. */
export const TIER_LIMITS = {
  /** ANP and CNP priority: 0 to 1000 inclusive. */
  minPriority: 0,
  maxPriority: 1000,
  /** v1alpha1: rules per direction, peers per rule, ports per rule. */
  v1alpha1MaxRules: 100,
  v1alpha1MaxPeers: 100,
  v1alpha1MaxPorts: 100,
  /** v1alpha2: rules per direction, peers per rule, protocols per rule. */
  v1alpha2MaxRules: 25,
  v1alpha2MaxPeers: 25,
  v1alpha2MaxProtocols: 25,
  /** CIDRs in one `networks` peer; domain names in one `domainNames` peer (both versions). */
  maxNetworks: 25,
  maxDomainNames: 25,
  /** A CIDR string's MaxLength. */
  maxCIDRLength: 43,
  /** A rule's `name` MaxLength. */
  maxRuleName: 100,
} as const;

/** The one name a BaselineAdminNetworkPolicy may have (a CEL rule on the v1alpha1 CRD). */
export const BANP_NAME = 'default';

/** The metadata tier objects carry (cluster-scoped: no namespace). */
export interface TierObjectMeta {
  readonly name?: string;
  readonly generateName?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** `NamespacedPod`: pods selected by namespace AND pod selectors (both versions). */
export interface NamespacedPod {
  /** Empty: every namespace. Optional in v1alpha2 (absent: every namespace), required in v1alpha1. */
  readonly namespaceSelector?: LabelSelector;
  /** Empty: every pod of the selected namespaces. */
  readonly podSelector: LabelSelector;
}

/** Who a tier policy applies to. Exactly one field set. Host-network pods are never subjects. */
export interface TierSubject {
  readonly namespaces?: LabelSelector;
  readonly pods?: NamespacedPod;
}

/** A CIDR, IPv4 or IPv6, at most 43 characters; the CRD checks it with CEL `isCIDR(self)`. */
export type CIDR = string;

/**
 * A domain name peer entry: exact, or `*.` prefix wildcard matching one or more whole labels. Pattern (from the CRD):
 * `^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$`.
 */
export type DomainName = string;

// ---------------------------------------------------------------- v1alpha1

export type AdminNetworkPolicyRuleAction = 'Allow' | 'Deny' | 'Pass';
export const ANP_ACTIONS: readonly AdminNetworkPolicyRuleAction[] = ['Allow', 'Deny', 'Pass'];

export type BaselineAdminNetworkPolicyRuleAction = 'Allow' | 'Deny';
export const BANP_ACTIONS: readonly BaselineAdminNetworkPolicyRuleAction[] = ['Allow', 'Deny'];

/** `Port`: one port number of one protocol. */
export interface AdminNetworkPolicyPortNumber {
  /** @default "TCP" */
  readonly protocol?: Protocol;
  /** 1–65535. */
  readonly port: number;
}

/** `PortRange`: ports start..end inclusive of one protocol; start must be less than end. */
export interface AdminNetworkPolicyPortRange {
  /** @default "TCP" */
  readonly protocol?: Protocol;
  /** 1–65535. */
  readonly start: number;
  /** 1–65535. */
  readonly end: number;
}

/** `AdminNetworkPolicyPort`: exactly one field set. */
export interface AdminNetworkPolicyPort {
  readonly portNumber?: AdminNetworkPolicyPortNumber;
  /** A container port name of the destination pod (experimental); not allowed with `networks`/`nodes` peers. */
  readonly namedPort?: string;
  readonly portRange?: AdminNetworkPolicyPortRange;
}

/** `AdminNetworkPolicyIngressPeer` (also used by BANP ingress): exactly one field set. */
export interface AdminNetworkPolicyIngressPeer {
  readonly namespaces?: LabelSelector;
  readonly pods?: NamespacedPod;
}

/** `AdminNetworkPolicyEgressPeer`: exactly one field set. */
export interface AdminNetworkPolicyEgressPeer {
  readonly namespaces?: LabelSelector;
  readonly pods?: NamespacedPod;
  /** Experimental: node IPs of the selected nodes. */
  readonly nodes?: LabelSelector;
  /** 1–25 CIDRs, a set. */
  readonly networks?: readonly CIDR[];
  /** Experimental, Allow rules only: 1–25 domain names, a set. */
  readonly domainNames?: readonly DomainName[];
}

/** `BaselineAdminNetworkPolicyEgressPeer`: like the ANP one without `domainNames`. */
export interface BaselineAdminNetworkPolicyEgressPeer {
  readonly namespaces?: LabelSelector;
  readonly pods?: NamespacedPod;
  readonly nodes?: LabelSelector;
  readonly networks?: readonly CIDR[];
}

export interface AdminNetworkPolicyIngressRule {
  /** At most 100 characters. */
  readonly name?: string;
  readonly action: AdminNetworkPolicyRuleAction;
  /** 1–100 peers, OR-ed. */
  readonly from: readonly AdminNetworkPolicyIngressPeer[];
  /** 1–100 ports when present. Absent: every port. */
  readonly ports?: readonly AdminNetworkPolicyPort[];
}

export interface AdminNetworkPolicyEgressRule {
  /** At most 100 characters. */
  readonly name?: string;
  readonly action: AdminNetworkPolicyRuleAction;
  /** 1–100 peers, OR-ed. */
  readonly to: readonly AdminNetworkPolicyEgressPeer[];
  /** 1–100 ports when present. Absent: every port. */
  readonly ports?: readonly AdminNetworkPolicyPort[];
}

export interface AdminNetworkPolicySpec {
  /** 0–1000; lower is checked first. */
  readonly priority: number;
  readonly subject: TierSubject;
  /** At most 100 rules, in precedence order. */
  readonly ingress?: readonly AdminNetworkPolicyIngressRule[];
  /** At most 100 rules, in precedence order. */
  readonly egress?: readonly AdminNetworkPolicyEgressRule[];
}

export interface AdminNetworkPolicy {
  readonly apiVersion: typeof TIER_V1ALPHA1;
  readonly kind: 'AdminNetworkPolicy';
  readonly metadata: TierObjectMeta;
  readonly spec: AdminNetworkPolicySpec;
}

export interface BaselineAdminNetworkPolicyIngressRule {
  readonly name?: string;
  readonly action: BaselineAdminNetworkPolicyRuleAction;
  readonly from: readonly AdminNetworkPolicyIngressPeer[];
  readonly ports?: readonly AdminNetworkPolicyPort[];
}

export interface BaselineAdminNetworkPolicyEgressRule {
  readonly name?: string;
  readonly action: BaselineAdminNetworkPolicyRuleAction;
  readonly to: readonly BaselineAdminNetworkPolicyEgressPeer[];
  readonly ports?: readonly AdminNetworkPolicyPort[];
}

export interface BaselineAdminNetworkPolicySpec {
  readonly subject: TierSubject;
  /** At most 100 rules. */
  readonly ingress?: readonly BaselineAdminNetworkPolicyIngressRule[];
  /** At most 100 rules. */
  readonly egress?: readonly BaselineAdminNetworkPolicyEgressRule[];
}

/** A BaselineAdminNetworkPolicy: a singleton, `metadata.name` must be `default`. */
export interface BaselineAdminNetworkPolicy {
  readonly apiVersion: typeof TIER_V1ALPHA1;
  readonly kind: 'BaselineAdminNetworkPolicy';
  readonly metadata: TierObjectMeta;
  readonly spec: BaselineAdminNetworkPolicySpec;
}

// ---------------------------------------------------------------- v1alpha2

export type ClusterNetworkPolicyTier = 'Admin' | 'Baseline';
export const CNP_TIERS: readonly ClusterNetworkPolicyTier[] = ['Admin', 'Baseline'];

export type ClusterNetworkPolicyRuleAction = 'Accept' | 'Deny' | 'Pass';
export const CNP_ACTIONS: readonly ClusterNetworkPolicyRuleAction[] = ['Accept', 'Deny', 'Pass'];

/** `PortRange`: start..end inclusive; start must be less than end (CEL). */
export interface ClusterNetworkPolicyPortRange {
  /** 1–65535. */
  readonly start: number;
  /** 1–65535. */
  readonly end: number;
}

/** `Port`: exactly one of a number or a range. */
export interface ClusterNetworkPolicyPort {
  /** 1–65535. */
  readonly number?: number;
  readonly range?: ClusterNetworkPolicyPortRange;
}

/** TCP, UDP and SCTP matches have the same shape; at least one field set. */
export interface ClusterNetworkPolicyProtocolMatch {
  readonly destinationPort?: ClusterNetworkPolicyPort;
}

/** `ClusterNetworkPolicyProtocol`: exactly one field set. */
export interface ClusterNetworkPolicyProtocol {
  readonly tcp?: ClusterNetworkPolicyProtocolMatch;
  readonly udp?: ClusterNetworkPolicyProtocolMatch;
  readonly sctp?: ClusterNetworkPolicyProtocolMatch;
  /** Experimental: a container port name of the destination; not allowed with `networks`/`nodes`/`domainNames` peers. */
  readonly destinationNamedPort?: string;
}

/** `ClusterNetworkPolicyIngressPeer`: exactly one field set. */
export interface ClusterNetworkPolicyIngressPeer {
  readonly namespaces?: LabelSelector;
  readonly pods?: NamespacedPod;
}

/** `ClusterNetworkPolicyEgressPeer`: exactly one field set. */
export interface ClusterNetworkPolicyEgressPeer {
  readonly namespaces?: LabelSelector;
  readonly pods?: NamespacedPod;
  /** Experimental. */
  readonly nodes?: LabelSelector;
  /** 1–25 CIDRs, a set. */
  readonly networks?: readonly CIDR[];
  /** Experimental, Accept rules only: 1–25 domain names, a set. */
  readonly domainNames?: readonly DomainName[];
}

export interface ClusterNetworkPolicyIngressRule {
  /** At most 100 characters. */
  readonly name?: string;
  readonly action: ClusterNetworkPolicyRuleAction;
  /** 1–25 peers, OR-ed. */
  readonly from: readonly ClusterNetworkPolicyIngressPeer[];
  /** 1–25 entries when present. Absent: every protocol and port. */
  readonly protocols?: readonly ClusterNetworkPolicyProtocol[];
}

export interface ClusterNetworkPolicyEgressRule {
  /** At most 100 characters. */
  readonly name?: string;
  readonly action: ClusterNetworkPolicyRuleAction;
  /** 1–25 peers, OR-ed. */
  readonly to: readonly ClusterNetworkPolicyEgressPeer[];
  /** 1–25 entries when present. Absent: every protocol and port. */
  readonly protocols?: readonly ClusterNetworkPolicyProtocol[];
}

export interface ClusterNetworkPolicySpec {
  readonly tier: ClusterNetworkPolicyTier;
  /** 0–1000 within the tier; lower is checked first. */
  readonly priority: number;
  readonly subject: TierSubject;
  /** At most 25 rules, in precedence order. */
  readonly ingress?: readonly ClusterNetworkPolicyIngressRule[];
  /** At most 25 rules, in precedence order. */
  readonly egress?: readonly ClusterNetworkPolicyEgressRule[];
}

export interface ClusterNetworkPolicy {
  readonly apiVersion: typeof TIER_V1ALPHA2;
  readonly kind: 'ClusterNetworkPolicy';
  readonly metadata: TierObjectMeta;
  readonly spec: ClusterNetworkPolicySpec;
}

/** Any admin-tier object of either version. */
export type TierObject = AdminNetworkPolicy | BaselineAdminNetworkPolicy | ClusterNetworkPolicy;

/** The kinds `TierObject` covers. */
export const TIER_KINDS = ['AdminNetworkPolicy', 'BaselineAdminNetworkPolicy', 'ClusterNetworkPolicy'] as const;
export type TierKind = (typeof TIER_KINDS)[number];
