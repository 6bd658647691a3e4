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
  /**
   * Only in newer AWS controller versions; a PolicyEndpoint (NetworkPolicy) entry always allows, and Palisade's agent
   * treats it so. Admin tiers carry their actions in {@link ClusterPolicyEndpoint}s.
   */
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

/**
 * An ingress or egress entry as AWS's CRD allows it (`EndpointInfo` of `policyendpoint_types.go`): neither field is
 * required, and `domainName` (egress only, mutually exclusive with `cidr`) names a DNS name instead of addresses. What
 * the agent reads from a source has this shape; it enforces only the entries with a `cidr` ({@link EndpointInfo}) and
 * drops the others with a warning and the metric `palisade_agent_unenforceable_entries`, as AWS's agent does.
 */
export interface EndpointInfoObject extends Omit<EndpointInfo, 'cidr'> {
  readonly cidr?: NetworkAddress;
  /** A DNS name, egress only; a leading `*.` matches subdomains. */
  readonly domainName?: string;
}

/** A PolicyEndpoint as AWS's CRD allows it: entries may lack `cidr` ({@link EndpointInfoObject}). */
export interface PolicyEndpointObject extends Omit<PolicyEndpoint, 'spec'> {
  readonly spec: Omit<PolicyEndpointSpec, 'ingress' | 'egress'> & {
    readonly ingress?: readonly EndpointInfoObject[];
    readonly egress?: readonly EndpointInfoObject[];
  };
}

// ---------------------------------------------------------------- ClusterPolicyEndpoint

/**
 * A cluster policy rule's action as the AWS ClusterPolicyEndpoint spells it: `Accept` (the tier model's `Allow`),
 * `Deny`, or `Pass` (hand the packet on to the next stage: NetworkPolicy after the Admin tier, the default after Baseline).
 */
export type ClusterRuleAction = 'Accept' | 'Deny' | 'Pass';

/** The tier of a cluster policy: `Admin` is evaluated before NetworkPolicy, `Baseline` after it. */
export type ClusterTier = 'Admin' | 'Baseline';

/** One peer of a cluster policy rule: an address or CIDR (or a DNS name, egress only) with ports and the rule's action. */
export interface ClusterEndpointInfo {
  /** An address or CIDR. Absent when the entry is a `domainName`. */
  readonly cidr?: NetworkAddress;
  /** A DNS name, egress only; a leading `*.` matches subdomains. Palisade's agent does not enforce these yet. */
  readonly domainName?: string;
  /** Absent or empty: every port of every protocol. */
  readonly ports?: readonly PolicyEndpointPort[];
  readonly action: ClusterRuleAction;
}

/** The cluster policy a ClusterPolicyEndpoint was resolved from (cluster policies have no namespace). */
export interface ClusterPolicyReference {
  readonly name: string;
}

/** Pods of the namespaces a selector selects, optionally narrowed by a pod selector (AWS's `NamespacedPod`). */
export interface ClusterSubjectPods {
  /** Empty: every namespace. */
  readonly namespaceSelector: LabelSelector;
  /** Empty: every pod of those namespaces. */
  readonly podSelector: LabelSelector;
}

/** Who a cluster policy applies to, copied from the policy: exactly one of `namespaces` and `pods` (AWS's CRD). */
export type ClusterSubject = { readonly namespaces: LabelSelector; readonly pods?: never } | { readonly pods: ClusterSubjectPods; readonly namespaces?: never };

export interface ClusterPolicyEndpointSpec {
  readonly policyRef: ClusterPolicyReference;
  readonly tier: ClusterTier;
  /** Lower is evaluated first; Baseline policies of v1alpha1 have none and get 0. */
  readonly priority: number;
  /** The policy's subject as written; required by AWS's CRD. The agent enforces `podSelectorEndpoints`, not this. */
  readonly subject: ClusterSubject;
  /** The subject pods, across all namespaces. */
  readonly podSelectorEndpoints?: readonly PodEndpoint[];
  /** Peers in rule order: the first entry that matches a packet decides. */
  readonly ingress?: readonly ClusterEndpointInfo[];
  readonly egress?: readonly ClusterEndpointInfo[];
}

/**
 * The cluster-scoped counterpart of PolicyEndpoint (`networking.k8s.aws/v1alpha1`, kind `ClusterPolicyEndpoint`,
 * `deploy/crds/clusterpolicyendpoints.networking.k8s.aws.yaml`): one admin-tier policy (AdminNetworkPolicy,
 * BaselineAdminNetworkPolicy or ClusterNetworkPolicy) with its subjects and peers resolved to addresses, as the AWS
 * network policy controller writes it for its ClusterNetworkPolicy.
 */
export interface ClusterPolicyEndpoint {
  readonly apiVersion: 'networking.k8s.aws/v1alpha1';
  readonly kind: 'ClusterPolicyEndpoint';
  readonly metadata: ObjectMeta;
  readonly spec: ClusterPolicyEndpointSpec;
  readonly status?: Readonly<Record<string, never>>;
}

/** Type guard for objects read from the API or files: checks apiVersion and kind only. */
export function isClusterPolicyEndpoint(o: unknown): o is ClusterPolicyEndpoint {
  if (typeof o !== 'object' || o === null) return false;
  const r = o as { apiVersion?: unknown; kind?: unknown };
  return r.apiVersion === 'networking.k8s.aws/v1alpha1' && r.kind === 'ClusterPolicyEndpoint';
}

// ---------------------------------------------------------------- one policy, many objects

/** The label that splits one policy's objects into groups of subject pods with their own rules. */
export const SUBJECT_GROUP_LABEL = 'palisade.dev/subject-group';

function subjectGroup(o: { readonly metadata: ObjectMeta }): string {
  return o.metadata.labels?.[SUBJECT_GROUP_LABEL] ?? '';
}

/** What the PolicyEndpoint kinds share: the lists a controller splits across objects. */
interface Chunked<E> {
  readonly metadata: ObjectMeta;
  readonly spec: { readonly podSelectorEndpoints?: readonly PodEndpoint[]; readonly ingress?: readonly E[]; readonly egress?: readonly E[] };
}

/** Groups objects by policy and concatenates their lists in object-name order (for ClusterPolicyEndpoints, rule order). */
function mergeChunks<E, T extends Chunked<E>>(objects: readonly T[], policyOf: (o: T) => string, extra: (parts: readonly T[]) => Partial<T['spec']> = () => ({})): T[] {
  const byPolicy = new Map<string, T[]>();
  for (const o of objects) {
    const key = policyOf(o);
    const list = byPolicy.get(key);
    if (list) list.push(o);
    else byPolicy.set(key, [o]);
  }
  return [...byPolicy.values()].map((parts) => {
    if (parts.length === 1) return parts[0];
    const sorted = [...parts].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
    const { podSelectorEndpoints: _pods, ingress: _ingress, egress: _egress, ...rest } = sorted[0].spec;
    const spec = {
      ...rest,
      ...extra(sorted),
      ...nonEmpty('podSelectorEndpoints', sorted.flatMap((p) => p.spec.podSelectorEndpoints ?? [])),
      ...nonEmpty('ingress', sorted.flatMap((p) => p.spec.ingress ?? [])),
      ...nonEmpty('egress', sorted.flatMap((p) => p.spec.egress ?? [])),
    };
    return { ...sorted[0], spec } as T;
  });
}

/**
 * The objects of one policy as one whole. A controller splits a policy into objects of at most N entries per list, and
 * splits each list on its own (the pods of chunk 2 may have their rules in chunk 1), so an agent must read every object
 * of a policy together: a pod selected by any of them gets the isolation and the rules of all of them. Objects merge
 * by `policyRef` and {@link SUBJECT_GROUP_LABEL} (Palisade writes a policy as several groups when its ingress named
 * ports resolve differently on different pods; each group is a whole of its own).
 */
export function mergePolicyEndpoints(pes: readonly PolicyEndpoint[]): PolicyEndpoint[] {
  return mergeChunks<EndpointInfo, PolicyEndpoint>(
    pes,
    policyEndpointGroup,
    (parts) => {
      const isolation = [...new Set(parts.flatMap((p) => p.spec.podIsolation ?? []))];
      return isolation.length > 0 ? { podIsolation: isolation } : {};
    },
  );
}

/** {@link mergePolicyEndpoints} for ClusterPolicyEndpoints: pieces merge by policy (kind and name), in name order. */
export function mergeClusterPolicyEndpoints(cpes: readonly ClusterPolicyEndpoint[]): ClusterPolicyEndpoint[] {
  return mergeChunks<ClusterEndpointInfo, ClusterPolicyEndpoint>(cpes, clusterPolicyEndpointGroup);
}

/**
 * `networking.k8s.aws` when an object's owner is one of AWS's own policy kinds (ApplicationNetworkPolicy, AWS's
 * ClusterNetworkPolicy), else empty: such a policy is a whole of its own beside an upstream one of the same name.
 */
export function ownerAwsGroup(o: { readonly metadata: { readonly ownerReferences?: readonly { readonly apiVersion?: string }[] } }): string {
  const group = (o.metadata.ownerReferences?.[0]?.apiVersion ?? '').split('/')[0];
  return group === 'networking.k8s.aws' ? group : '';
}

/** The whole a PolicyEndpoint is a piece of: its policy and subject group (see {@link mergePolicyEndpoints}). */
export function policyEndpointGroup(pe: PolicyEndpoint): string {
  const aws = ownerAwsGroup(pe);
  return `${aws ? `${aws}:` : ''}${pe.spec.policyRef.namespace}/${pe.spec.policyRef.name}|${subjectGroup(pe)}`;
}

/** The whole a ClusterPolicyEndpoint is a piece of: its policy's kind (and AWS's group) and name and its subject group. */
export function clusterPolicyEndpointGroup(c: ClusterPolicyEndpoint): string {
  const aws = ownerAwsGroup(c);
  return `${c.metadata.ownerReferences?.[0]?.kind ?? ''}${aws ? `.${aws}` : ''}/${c.spec.policyRef.name}|${subjectGroup(c)}`;
}

/** `{ [key]: list }` when the list has entries, else nothing: merged objects keep the shape of a single one. */
function nonEmpty<K extends string, T>(key: K, list: readonly T[]): { [k in K]?: readonly T[] } {
  return (list.length > 0 ? { [key]: list } : {}) as { [k in K]?: readonly T[] };
}

/**
 * The order an agent evaluates ClusterPolicyEndpoints in: priority, then the policy's name, kind and group (upstream
 * before AWS's own: the engine's tier order), then the object's name (chunks of one policy, whose names end in their
 * slot).
 */
export function clusterPolicyEndpointOrder(a: ClusterPolicyEndpoint, b: ClusterPolicyEndpoint): number {
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return (
    a.spec.priority - b.spec.priority ||
    cmp(a.spec.policyRef.name, b.spec.policyRef.name) ||
    cmp(a.metadata.ownerReferences?.[0]?.kind ?? '', b.metadata.ownerReferences?.[0]?.kind ?? '') ||
    cmp(ownerAwsGroup(a), ownerAwsGroup(b)) ||
    cmp(a.metadata.name ?? '', b.metadata.name ?? '')
  );
}
