/**
 * Apiserver-equivalent validation of one decoded manifest document: for each kind Palisade reads, the rules the
 * apiserver (or, for the admin tiers, the CRD schema and CEL rules) would apply, reported as field errors with paths
 * in the apiserver's form. Never throws; kinds Palisade does not read yield no errors.
 *
 * One concern per file: field errors and typed reads (validate-fields), name formats (validate-names), IPs and CIDRs
 * (validate-ip), metadata and selectors (validate-meta), NetworkPolicy (validate-networkpolicy), core and workload
 * kinds (validate-core), admin tiers (validate-tiers), AWS's own kinds (validate-aws).
 */
import { WORKLOAD_KINDS, type WorkloadKind } from './types.js';
import { TIER_KINDS, TIER_V1ALPHA1, TIER_V1ALPHA2, type TierKind } from './tier-types.js';
import { isObject, notSupported, readString, required, type FieldError } from './validate-fields.js';
import { validateNamespace, validateNode, validatePod, validateService, validateWorkload } from './validate-core.js';
import { validateNetworkPolicy } from './validate-networkpolicy.js';
import { validateTierPolicy } from './validate-tiers.js';
import { AWS_V1ALPHA1, isAwsPolicyKind } from './aws-types.js';
import { validateAwsPolicy } from './validate-aws.js';

export type { FieldError } from './validate-fields.js';
export { validateLabels, validateLabelSelector, validateObjectMeta } from './validate-meta.js';
export { validateCIDR, validateIP } from './validate-ip.js';
export {
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
} from './validate-names.js';

/** The apiVersions each kind is read in. */
const API_VERSIONS: Readonly<Record<string, readonly string[]>> = {
  NetworkPolicy: ['networking.k8s.io/v1'],
  Pod: ['v1'],
  Service: ['v1'],
  Namespace: ['v1'],
  Node: ['v1'],
  ReplicationController: ['v1'],
  Deployment: ['apps/v1'],
  StatefulSet: ['apps/v1'],
  DaemonSet: ['apps/v1'],
  ReplicaSet: ['apps/v1'],
  Job: ['batch/v1'],
  CronJob: ['batch/v1'],
  AdminNetworkPolicy: [TIER_V1ALPHA1],
  BaselineAdminNetworkPolicy: [TIER_V1ALPHA1],
  ClusterNetworkPolicy: [TIER_V1ALPHA2],
};

/** The API group of an apiVersion: `networking.k8s.io` for `networking.k8s.io/v1`, `''` (core) for `v1`. */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Groups that once served the Kubernetes kind and no longer do (so a 1.30 server has no match for it: an error). */
const REMOVED_GROUPS: Readonly<Record<string, readonly string[]>> = {
  NetworkPolicy: ['extensions'],
  Deployment: ['extensions'],
  DaemonSet: ['extensions'],
  ReplicaSet: ['extensions'],
};

function isWorkloadKind(kind: string): kind is WorkloadKind {
  return (WORKLOAD_KINDS as readonly string[]).includes(kind);
}

function isTierKind(kind: string): kind is TierKind {
  return (TIER_KINDS as readonly string[]).includes(kind);
}

/**
 * Validates one decoded object (JSON value) of any kind Palisade reads.
 *
 * @param obj one manifest document, parsed from YAML or JSON
 * @returns errors (severity absent or `error`: the apiserver would reject the object) and warnings; empty when valid
 * @example validateObject({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'x' },
 *   spec: { policyTypes: ['Sideways'] } }) // [{ path: ['spec', 'policyTypes', 0], message: 'Unsupported value: …' }]
 */
export function validateObject(obj: unknown): FieldError[] {
  if (!isObject(obj)) return [{ path: [], message: 'must be an object' }];
  const out: FieldError[] = [];
  const apiVersion = readString(obj.apiVersion, ['apiVersion'], out);
  const kind = readString(obj.kind, ['kind'], out);
  if (obj.apiVersion == null) out.push(required(['apiVersion']));
  if (obj.kind == null) out.push(required(['kind']));
  if (!apiVersion || !kind) return out;
  // AWS's own kinds share names with upstream ones (ClusterNetworkPolicy), so the group decides first.
  if (isAwsPolicyKind(apiVersion, kind)) {
    return apiVersion === AWS_V1ALPHA1 ? validateAwsPolicy(obj, kind) : [notSupported(['apiVersion'], apiVersion, [AWS_V1ALPHA1])];
  }
  const versions = API_VERSIONS[kind];
  if (!versions) return out;
  // Kinds are told apart by API group: Calico's projectcalico.org/v3 NetworkPolicy or Antrea's crd.antrea.io one is
  // another kind that happens to share the name, not a wrong version of this one.
  const group = apiGroup(apiVersion);
  if (!versions.some((v) => apiGroup(v) === group) && !(REMOVED_GROUPS[kind] ?? []).includes(group)) return out;
  if (!versions.includes(apiVersion)) return [notSupported(['apiVersion'], apiVersion, versions)];
  if (kind === 'NetworkPolicy') return validateNetworkPolicy(obj);
  if (isTierKind(kind)) return validateTierPolicy(obj, kind);
  if (isWorkloadKind(kind)) return validateWorkload(obj, kind);
  switch (kind) {
    case 'Pod':
      return validatePod(obj);
    case 'Service':
      return validateService(obj);
    case 'Namespace':
      return validateNamespace(obj);
    case 'Node':
      return validateNode(obj);
  }
  return out;
}
