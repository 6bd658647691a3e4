/**
 * Small facts of the APIs that both the engine and the reference evaluator rely on.
 */
import type { NetworkPolicySpec, PolicyType } from '../api/types.js';
import type { TierPolicy } from '../model/types.js';

/**
 * The policy types a NetworkPolicy applies, as the API defaults them: Ingress always, Egress when egress rules are
 * present, unless `policyTypes` says otherwise.
 */
export function effectivePolicyTypes(spec: NetworkPolicySpec): readonly PolicyType[] {
  if (spec.policyTypes && spec.policyTypes.length > 0) return spec.policyTypes;
  return spec.egress && spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

/**
 * The order tier policies are evaluated in: ascending priority; equal priorities are undefined upstream, so Palisade
 * breaks ties by name, then by kind (ClusterNetworkPolicy before the v1alpha1 kinds), then by group (upstream before
 * AWS's own networking.k8s.aws ClusterNetworkPolicy), and says so in `check`.
 */
export function tierOrder(a: TierPolicy, b: TierPolicy): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.kind !== b.kind) return a.kind < b.kind ? -1 : 1;
  // An upstream ClusterNetworkPolicy before AWS's own of the same priority and name.
  const ga = a.group ?? '';
  const gb = b.group ?? '';
  return ga < gb ? -1 : ga > gb ? 1 : 0;
}
