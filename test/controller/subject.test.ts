/**
 * The controller writes ClusterPolicyEndpoints AWS's CRD accepts (issue 15, point 2): `subject` is required there
 * (aws/amazon-network-policy-controller-k8s config/crd/bases/networking.k8s.aws_clusterpolicyendpoints.yaml), copied
 * from the policy's subject — `namespaces`, or `pods` with both selectors.
 */
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { validateClusterPolicyEndpoint } from '../../src/api/validate-policyendpoint.js';
import { resolveClusterPolicyEndpoints } from '../../src/controller/resolve.js';
import { compile } from '../../src/engine/engine.js';
import { buildCluster } from '../../src/model/cluster.js';
import { parseManifests } from '../../src/api/load.js';
import { validateDocuments } from '../../src/model/read.js';

function cpesOf(yaml: string) {
  const parsed = parseManifests(yaml, 'test.yaml');
  const checked = validateDocuments(parsed.documents, 'default');
  expect(checked.diagnostics.filter((d) => d.severity === "error").map((d) => d.message)).toEqual([]);
  return resolveClusterPolicyEndpoints(compile(buildCluster(checked.valid, { defaultNamespace: 'default' }).cluster));
}

const POD = `apiVersion: v1
kind: Pod
metadata: {name: a, namespace: default, labels: {app: a}}
spec: {nodeName: n1, containers: [{name: c, image: x}]}
status: {podIP: 10.0.1.1, hostIP: 10.99.0.1}
`;

describe('clusterPolicyEndpointsFor writes the subject (AWS CRD: spec.subject required)', () => {
  it.each([
    ['namespaces', '{namespaces: {matchLabels: {team: a}}}', { namespaces: { matchLabels: { team: 'a' } } }],
    ['pods', '{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}', { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'a' } } } }],
  ])('subject %s, as the policy wrote it', (_kind, subject, expected) => {
    const yaml = `${POD}---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: guard}
spec:
  priority: 10
  subject: ${subject}
  ingress:
  - {name: deny-all, action: Deny, from: [{namespaces: {}}]}
`;
    expect(parseAllDocuments(yaml).every((d) => d.errors.length === 0)).toBe(true);
    const cpes = cpesOf(yaml);
    expect(cpes.length).toBeGreaterThan(0);
    for (const cpe of cpes) {
      expect(cpe.spec.subject).toEqual(expected);
      // The object as the API server (with AWS's CRD) would take it.
      expect(validateClusterPolicyEndpoint(JSON.parse(JSON.stringify(cpe))).errors).toEqual([]);
    }
  });
});
