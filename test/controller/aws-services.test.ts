/**
 * Service ClusterIPs next to domainNames peers of AWS's kinds: a domainNames peer of an ApplicationNetworkPolicy names
 * no pod, so it brings no Service of the namespace; a domainNames peer in a rule of AWS's ClusterNetworkPolicy leaves
 * the ClusterIPs of the rule's pod peers in place (only an upstream rule that fails closed covers every address).
 */
import { describe, expect, it } from 'vitest';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../../src/controller/resolve.js';
import { engineOf, ns, pod, svc, type Obj } from './fixtures.js';

const base: Obj[] = [
  ns('shop'),
  pod('shop', 'web', { labels: { app: 'web' }, ip: '10.0.0.1', hostIP: '192.0.2.1' }),
  pod('shop', 'db', { labels: { app: 'db' }, ip: '10.0.0.2', hostIP: '192.0.2.1', ports: [{ containerPort: 5432 }] }),
  svc('shop', 'db', { selector: { app: 'db' }, clusterIP: '10.96.0.10', ports: [{ port: 5432, targetPort: 5432 }] }),
];

const cidrs = (entries: readonly { cidr?: string }[] | undefined) => (entries ?? []).map((e) => e.cidr).sort();

describe("Service entries beside AWS's domainNames peers", () => {
  it('an ApplicationNetworkPolicy domainNames peer brings no Service ClusterIP', () => {
    const anp: Obj = {
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'ApplicationNetworkPolicy',
      metadata: { name: 'fqdn', namespace: 'shop' },
      spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ to: [{ domainNames: ['api.example.com'] }] }] },
    };
    const [pe] = resolvePolicyEndpoints(engineOf([...base, anp]));
    expect(pe.metadata.ownerReferences?.[0]).toMatchObject({ apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ApplicationNetworkPolicy' });
    expect(pe.spec.egress ?? []).toEqual([]);
  });

  it("an AWS ClusterNetworkPolicy rule with a domainNames peer keeps its pod peers' ClusterIPs", () => {
    const cnp: Obj = {
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'db-and-api' },
      spec: {
        tier: 'Admin',
        priority: 1,
        subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } } },
        egress: [{ action: 'Accept', to: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } } }, { domainNames: ['api.example.com'] }], ports: [{ portNumber: { port: 5432 } }] }],
      },
    };
    const [cpe] = resolveClusterPolicyEndpoints(engineOf([...base, cnp]));
    expect(cidrs(cpe.spec.egress)).toEqual(['10.0.0.2', '10.96.0.10']);
  });
});
