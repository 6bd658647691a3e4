/**
 * The cluster state the engine works on: namespaces with their labels, endpoints (pods and workload representatives),
 * NetworkPolicies, and admin-tier policies normalised from either API version into one model.
 */
import type { SourcePos } from '../api/diagnostics.js';
import type { LabelSelector, NetworkPolicy, Protocol, WorkloadKind } from '../api/types.js';

/** A namespace as selectors see it; `labels` always holds `kubernetes.io/metadata.name`. */
export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** True when no Namespace object was loaded and it exists only because something referenced it. */
  readonly implicit: boolean;
}

/** A container port as named-port resolution sees it. */
export interface EndpointPort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: Protocol;
}

export type EndpointKind = 'Pod' | WorkloadKind;

/**
 * A pod, or one workload's representative endpoint (carrying its pod template's labels and ports). Only endpoints that
 * take part in pod networking exist here: no hostNetwork pods, no Succeeded/Failed pods.
 */
export interface Endpoint {
  /** `namespace/name`, or `namespace/name[Kind]` when two objects would share an id. */
  readonly id: string;
  readonly kind: EndpointKind;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Pod IPs (IPv4 and/or IPv6), canonical text form; empty when unknown (workloads, pending pods). */
  readonly ips: readonly string[];
  readonly ports: readonly EndpointPort[];
  readonly nodeName?: string;
  readonly hostIP?: string;
  /** True for a Pod with no ownerReferences. */
  readonly standalone?: boolean;
  readonly source?: SourcePos;
}

/**
 * A Running (or Pending) Pod with `hostNetwork: true`. It is not an endpoint: no policy selects it and Palisade's peers
 * never match it. It is kept for the AWS profile, whose controller writes such a pod's IP (its node's address) for a
 * peer that selects it.
 */
export type HostNetworkPod = Pick<Endpoint, 'namespace' | 'name' | 'labels' | 'ports' | 'nodeName' | 'source'> & {
  /** `status.podIPs` (the node's addresses), canonical; empty when the status has none. */
  readonly ips: readonly string[];
};

/** A NetworkPolicy with where it came from. */
export interface PolicyObject {
  /** For an AWS ApplicationNetworkPolicy: its spec read as a NetworkPolicy's (egress peers may carry `domainNames`). */
  readonly policy: NetworkPolicy;
  readonly source?: SourcePos;
  /** The object's kind when it is not a networking.k8s.io NetworkPolicy. @default "NetworkPolicy" */
  readonly kind?: 'ApplicationNetworkPolicy';
  /** The object's API group when it is not networking.k8s.io. @default "networking.k8s.io" */
  readonly group?: 'networking.k8s.aws';
}

// ---------------------------------------------------------------- admin tiers, one model for both API versions

export type TierName = 'Admin' | 'Baseline';

/** Accept is ClusterNetworkPolicy's word, Allow the v1alpha1 word; both mean the same. */
export type TierAction = 'Allow' | 'Deny' | 'Pass';

/** Which pods a tier policy applies to, or which pods a peer names. Host-network pods never match. */
export interface TierPodSelector {
  readonly namespaceSelector: LabelSelector;
  /** Absent: every pod of the selected namespaces. */
  readonly podSelector?: LabelSelector;
}

export type TierPeer =
  | { readonly kind: 'pods'; readonly selector: TierPodSelector }
  | { readonly kind: 'networks'; readonly cidrs: readonly string[] }
  | { readonly kind: 'nodes'; readonly nodeSelector: LabelSelector }
  /**
   * A peer of a kind Palisade does not evaluate by itself (e.g. domainNames): the rule fails closed as the API says.
   * `domainNames` holds the names of a domainNames peer, which match the addresses `Cluster.dns` gives them.
   */
  | { readonly kind: 'unsupported'; readonly what: string; readonly domainNames?: readonly string[] };

/** A port match: a numeric range of a protocol, or a named container port of the destination. */
export type TierPort =
  | { readonly kind: 'range'; readonly protocol: Protocol; readonly from: number; readonly to: number }
  | { readonly kind: 'named'; readonly name: string };

export interface TierRule {
  /** The rule's `name` field when set. */
  readonly name?: string;
  readonly action: TierAction;
  readonly peers: readonly TierPeer[];
  /** Absent: every port of every protocol. */
  readonly ports?: readonly TierPort[];
}

/** An AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy, normalised. */
export interface TierPolicy {
  readonly tier: TierName;
  readonly name: string;
  /** Baseline policies of v1alpha1 have no priority: 0. */
  readonly priority: number;
  /** `AdminNetworkPolicy`, `BaselineAdminNetworkPolicy` or `ClusterNetworkPolicy`. */
  readonly kind: string;
  readonly subject: TierPodSelector;
  readonly ingress: readonly TierRule[];
  readonly egress: readonly TierRule[];
  readonly source?: SourcePos;
  /** The API group when it is not policy.networking.k8s.io: AWS's own ClusterNetworkPolicy. */
  readonly group?: 'networking.k8s.aws';
}

/**
 * How outputs name a policy's kind: the kind, with AWS's group when the policy is one of AWS's own kinds (whose
 * ClusterNetworkPolicy shares its name with the upstream one).
 * @example policyKindLabel({ kind: 'ClusterNetworkPolicy', group: 'networking.k8s.aws' }) // "ClusterNetworkPolicy (networking.k8s.aws)"
 */
export function policyKindLabel(p: { readonly kind?: string; readonly group?: string }): string {
  const kind = p.kind ?? 'NetworkPolicy';
  return p.group ? `${kind} (${p.group})` : kind;
}

/** A node, for `nodes` peers of the tier policies. */
export interface NodeInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Internal and external addresses of the node. */
  readonly addresses: readonly string[];
}

/** A Service, for the controller (ClusterIPs of egress peers) and lint. */
export interface ServiceInfo {
  readonly namespace: string;
  readonly name: string;
  readonly selector?: Readonly<Record<string, string>>;
  readonly clusterIPs: readonly string[];
  readonly ports: readonly { readonly name?: string; readonly port: number; readonly protocol: Protocol; readonly targetPort?: number | string }[];
  readonly source?: SourcePos;
}

/** Everything loaded, resolved into one cluster. */
export interface Cluster {
  readonly namespaces: ReadonlyMap<string, NamespaceInfo>;
  readonly endpoints: readonly Endpoint[];
  readonly policies: readonly PolicyObject[];
  readonly tierPolicies: readonly TierPolicy[];
  readonly nodes: readonly NodeInfo[];
  readonly services: readonly ServiceInfo[];
  /**
   * DNS answers the user supplies (`--resolve NAME=IP`): name (lower case, no trailing dot) → addresses. A domainNames
   * peer matches the addresses of the names it matches; without an answer for any of its names it fails closed.
   */
  readonly dns?: ReadonlyMap<string, readonly string[]>;
  /** The hostNetwork Pods read (absent when there are none); see {@link HostNetworkPod}. */
  readonly hostNetworkPods?: readonly HostNetworkPod[];
}
