/**
 * The AWS VPC CNI PolicyEndpoint (`networking.k8s.aws/v1alpha1`, kind `PolicyEndpoint`): a NetworkPolicy resolved by the
 * network policy controller into pod IPs and CIDRs, which the node agent enforces. Field names and optionality follow
 * `api/v1alpha1/policyendpoint_types.go` of aws/amazon-network-policy-controller-k8s (`omitempty` → optional).
 */
import type { LabelSelector, ObjectMeta, Protocol } from './types.js';

/** An IPv4 or IPv6 address or CIDR, e.g. `10.0.0.0/16`, `10.0.1.5`, `fd00::/64`. */
export type NetworkAddress = string;

/** `Ingress` or `Egress`, as in NetworkPolicy `spec.policyTypes`. */
export type TrafficDirection = 'Ingress' | 'Egress';

/** The NetworkPolicy a PolicyEndpoint was resolved from. */
export interface PolicyReference {
  readonly name: string;
  readonly namespace: string;
}

/** A transport port match. */
export interface PolicyEndpointPort {
  /** @default "TCP" */
  readonly protocol?: Protocol;
  /** Absent: every port of the protocol. */
  readonly port?: number;
  /** With `port`: the inclusive range `port`–`endPort`. */
  readonly endPort?: number;
}

/** One allowed peer of an ingress or egress list: a CIDR minus its exceptions, on some ports. */
export interface EndpointInfo {
  readonly cidr: NetworkAddress;
  readonly except?: readonly NetworkAddress[];
  /** Absent or empty: every port of every protocol. */
  readonly ports?: readonly PolicyEndpointPort[];
  /** Only in newer controller versions (admin tiers): `Allow`, `Deny` or `Pass`. Palisade's agent treats it as Allow. */
  readonly action?: string;
}

/** A pod selected by the policy's podSelector. */
export interface PodEndpoint {
  readonly hostIP: NetworkAddress;
  readonly podIP: NetworkAddress;
  readonly name: string;
  readonly namespace: string;
}

export interface PolicyEndpointSpec {
  /** The podSelector of the NetworkPolicy. */
  readonly podSelector?: LabelSelector;
  readonly policyRef: PolicyReference;
  /** The directions the selected pods are isolated in (NetworkPolicy `policyTypes`). */
  readonly podIsolation?: readonly TrafficDirection[];
  readonly podSelectorEndpoints?: readonly PodEndpoint[];
  readonly ingress?: readonly EndpointInfo[];
  readonly egress?: readonly EndpointInfo[];
  /** Newer controller versions only (cluster-wide policies). */
  readonly isGlobal?: boolean;
  /** Newer controller versions only. */
  readonly priority?: number;
}

export interface PolicyEndpoint {
  readonly apiVersion: 'networking.k8s.aws/v1alpha1';
  readonly kind: 'PolicyEndpoint';
  readonly metadata: ObjectMeta;
  readonly spec: PolicyEndpointSpec;
  readonly status?: Readonly<Record<string, never>>;
}

/** Type guard for objects read from files: checks apiVersion and kind only. */
export function isPolicyEndpoint(o: unknown): o is PolicyEndpoint {
  if (typeof o !== 'object' || o === null) return false;
  const r = o as { apiVersion?: unknown; kind?: unknown };
  return r.apiVersion === 'networking.k8s.aws/v1alpha1' && r.kind === 'PolicyEndpoint';
}
