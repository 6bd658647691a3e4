/**
 * Palisade's PolicyEndpoint and ClusterPolicyEndpoint CRDs against AWS's, field by field (issue 15, point 2). The facts
 * below were read from aws/amazon-network-policy-controller-k8s at commit ecc7e6a79394528bdb397e1fbd927dae64383bec:
 * `config/crd/bases/networking.k8s.aws_policyendpoints.yaml`, `…_clusterpolicyendpoints.yaml` and
 * `api/v1alpha1/{policyendpoint,clusterpolicyendpoint,clusternetworkpolicy}_types.go`. Every field path AWS's schema has,
 * with its type, format, enum, pattern, default, required fields and property bounds, must be in ours with the same
 * values, and ours may have no field AWS's lacks. The one allowed difference: ports carry `minimum: 0` and
 * `maximum: 65535` (issue 14, point 2).
 */
import { describe, expect, it } from 'vitest';
import { deployObjects } from './manifests.js';

interface Node {
  readonly type?: string;
  readonly format?: string;
  readonly enum?: readonly string[];
  readonly pattern?: string;
  readonly default?: unknown;
  readonly required?: readonly string[];
  readonly minProperties?: number;
  readonly maxProperties?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly properties?: Record<string, Node>;
  readonly items?: Node;
  readonly additionalProperties?: Node;
  readonly 'x-kubernetes-map-type'?: string;
  readonly 'x-kubernetes-list-type'?: string;
}

/** The facts of one field: what AWS's CRD says at that path. */
type Fact = Omit<Node, 'properties' | 'items' | 'additionalProperties'>;

const DOMAIN = '^(\\*\\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\\.?$';

const selector = (at: string): Record<string, Fact> => ({
  [at]: { type: 'object', 'x-kubernetes-map-type': 'atomic' },
  [`${at}.matchExpressions`]: { type: 'array', 'x-kubernetes-list-type': 'atomic' },
  [`${at}.matchExpressions[]`]: { type: 'object', required: ['key', 'operator'] },
  [`${at}.matchExpressions[].key`]: { type: 'string' },
  [`${at}.matchExpressions[].operator`]: { type: 'string' },
  [`${at}.matchExpressions[].values`]: { type: 'array', 'x-kubernetes-list-type': 'atomic' },
  [`${at}.matchExpressions[].values[]`]: { type: 'string' },
  [`${at}.matchLabels`]: { type: 'object' },
  [`${at}.matchLabels{}`]: { type: 'string' },
});

const ports = (at: string): Record<string, Fact> => ({
  [`${at}.ports`]: { type: 'array' },
  [`${at}.ports[]`]: { type: 'object' },
  [`${at}.ports[].protocol`]: { type: 'string', default: 'TCP' },
  [`${at}.ports[].port`]: { type: 'integer', format: 'int32' },
  [`${at}.ports[].endPort`]: { type: 'integer', format: 'int32' },
});

const podEndpoints: Record<string, Fact> = {
  'spec.podSelectorEndpoints': { type: 'array' },
  'spec.podSelectorEndpoints[]': { type: 'object', required: ['hostIP', 'name', 'namespace', 'podIP'] },
  'spec.podSelectorEndpoints[].hostIP': { type: 'string' },
  'spec.podSelectorEndpoints[].podIP': { type: 'string' },
  'spec.podSelectorEndpoints[].name': { type: 'string' },
  'spec.podSelectorEndpoints[].namespace': { type: 'string' },
};

const top: Record<string, Fact> = {
  '': { type: 'object' },
  apiVersion: { type: 'string' },
  kind: { type: 'string' },
  metadata: { type: 'object' },
  status: { type: 'object' },
};

/** AWS's networking.k8s.aws_policyendpoints.yaml. */
const AWS_POLICY_ENDPOINT: Record<string, Fact> = {
  ...top,
  spec: { type: 'object', required: ['policyRef'] },
  ...selector('spec.podSelector'),
  'spec.policyRef': { type: 'object', required: ['name', 'namespace'] },
  'spec.policyRef.name': { type: 'string' },
  'spec.policyRef.namespace': { type: 'string' },
  'spec.podIsolation': { type: 'array' },
  'spec.podIsolation[]': { type: 'string' },
  ...podEndpoints,
  ...Object.fromEntries(
    ['ingress', 'egress'].flatMap((d) =>
      Object.entries({
        [`spec.${d}`]: { type: 'array' },
        // No `required`: EndpointInfo's cidr is `omitempty`, a domainName entry has none.
        [`spec.${d}[]`]: { type: 'object' },
        [`spec.${d}[].cidr`]: { type: 'string' },
        [`spec.${d}[].domainName`]: { type: 'string', pattern: DOMAIN },
        [`spec.${d}[].except`]: { type: 'array' },
        [`spec.${d}[].except[]`]: { type: 'string' },
        ...ports(`spec.${d}[]`),
      }),
    ),
  ),
};

/** AWS's networking.k8s.aws_clusterpolicyendpoints.yaml. */
const AWS_CLUSTER_POLICY_ENDPOINT: Record<string, Fact> = {
  ...top,
  spec: { type: 'object', required: ['policyRef', 'priority', 'subject', 'tier'] },
  'spec.policyRef': { type: 'object', required: ['name'] },
  'spec.policyRef.name': { type: 'string' },
  'spec.tier': { type: 'string', enum: ['Admin', 'Baseline'] },
  'spec.priority': { type: 'integer', format: 'int32' },
  'spec.subject': { type: 'object', minProperties: 1, maxProperties: 1 },
  ...selector('spec.subject.namespaces'),
  'spec.subject.pods': { type: 'object', required: ['namespaceSelector', 'podSelector'] },
  ...selector('spec.subject.pods.namespaceSelector'),
  ...selector('spec.subject.pods.podSelector'),
  ...podEndpoints,
  ...Object.fromEntries(
    ['ingress', 'egress'].flatMap((d) =>
      Object.entries({
        [`spec.${d}`]: { type: 'array' },
        [`spec.${d}[]`]: { type: 'object', required: ['action'] },
        [`spec.${d}[].action`]: { type: 'string', enum: ['Accept', 'Deny', 'Pass'] },
        [`spec.${d}[].cidr`]: { type: 'string' },
        [`spec.${d}[].domainName`]: { type: 'string', pattern: DOMAIN },
        ...ports(`spec.${d}[]`),
      }),
    ),
  ),
};

/** Every field of a schema by path (`a.b`, `a[]` for items, `a{}` for additionalProperties), without descriptions. */
function flatten(node: Node, at = '', out: Record<string, Fact> = {}): Record<string, Fact> {
  const { properties, items, additionalProperties, ...rest } = node as Node & { description?: string };
  const { description: _d, ...fact } = rest as Fact & { description?: string };
  out[at] = fact;
  for (const [k, v] of Object.entries(properties ?? {})) flatten(v, at === '' ? k : `${at}.${k}`, out);
  if (items) flatten(items, `${at}[]`, out);
  if (additionalProperties) flatten(additionalProperties, `${at}{}`, out);
  return out;
}

function ours(name: string): Record<string, Fact> {
  // As written (wire names), not the client's typed model, which renames `enum` and the x-kubernetes fields.
  const found = deployObjects().filter((m) => m.file.startsWith('crds/') && m.object.metadata?.name === name);
  expect(found).toHaveLength(1);
  const crd = found[0].object as unknown as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } };
  return flatten(crd.spec.versions[0].schema.openAPIV3Schema);
}

/** Our fact minus the one allowed addition (port bounds). */
function comparable(path: string, f: Fact): Fact {
  if (!/\.ports\[\]\.(port|endPort)$/.test(path)) return f;
  expect(f, path).toMatchObject({ minimum: 0, maximum: 65535 });
  const { minimum: _min, maximum: _max, ...rest } = f;
  return rest;
}

describe.each([
  ['policyendpoints.networking.k8s.aws', AWS_POLICY_ENDPOINT],
  ['clusterpolicyendpoints.networking.k8s.aws', AWS_CLUSTER_POLICY_ENDPOINT],
])('%s equals AWS controller ecc7e6a config/crd/bases', (name, aws) => {
  const mine = ours(name);

  it('has every field AWS has, and no other', () => {
    expect(Object.keys(mine).sort()).toEqual(Object.keys(aws).sort());
  });

  it.each(Object.keys(aws))('field %j: same type, format, enum, pattern, default, required and bounds', (path) => {
    expect(mine[path], path).toBeDefined();
    expect(comparable(path, mine[path])).toEqual(aws[path]);
  });
});
