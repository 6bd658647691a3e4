/**
 * The cluster-scoped counterpart of PolicyEndpoint that the AWS network policy controller writes for its
 * ClusterNetworkPolicy (`networking.k8s.aws/v1alpha1`, kind `ClusterPolicyEndpoint`, `api/v1alpha1` of
 * aws/amazon-network-policy-controller-k8s). Palisade writes one for every admin-tier policy it reads.
 */
import type { ObjectMeta } from '../api/types.js';
import type { PodEndpoint, PolicyEndpointPort } from '../api/policyendpoint.js';

/** A rule's action as the AWS ClusterPolicyEndpoint spells it (`Accept`, where the tier model says `Allow`). */
export type ClusterRuleAction = 'Accept' | 'Deny' | 'Pass';

/** One peer of a cluster policy rule: an address or CIDR (or a DNS name, egress only) with ports and the rule's action. */
export interface ClusterEndpointInfo {
  readonly cidr?: string;
  readonly domainName?: string;
  /** Absent or empty: every port of every protocol. */
  readonly ports?: readonly PolicyEndpointPort[];
  readonly action: ClusterRuleAction;
}

export interface ClusterPolicyEndpointSpec {
  /** The cluster policy (by name; cluster policies have no namespace). */
  readonly policyRef: { readonly name: string };
  readonly tier: 'Admin' | 'Baseline';
  /** Lower is evaluated first; Baseline policies of v1alpha1 have none and get 0. */
  readonly priority: number;
  /** The subject pods, across all namespaces. */
  readonly podSelectorEndpoints?: readonly PodEndpoint[];
  /** Peers in rule order: the first entry that matches a packet decides. */
  readonly ingress?: readonly ClusterEndpointInfo[];
  readonly egress?: readonly ClusterEndpointInfo[];
}

export interface ClusterPolicyEndpoint {
  readonly apiVersion: 'networking.k8s.aws/v1alpha1';
  readonly kind: 'ClusterPolicyEndpoint';
  readonly metadata: ObjectMeta;
  readonly spec: ClusterPolicyEndpointSpec;
}

/** Type guard for objects read from the API or files: checks apiVersion and kind only. */
export function isClusterPolicyEndpoint(o: unknown): o is ClusterPolicyEndpoint {
  if (typeof o !== 'object' || o === null) return false;
  const r = o as { apiVersion?: unknown; kind?: unknown };
  return r.apiVersion === 'networking.k8s.aws/v1alpha1' && r.kind === 'ClusterPolicyEndpoint';
}
