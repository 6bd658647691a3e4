/**
 * The generator's clusters written as manifests: AWS's kinds in their own apiVersion and field shapes, DNS answers as
 * `--resolve` pairs (manifests carry none).
 */
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/api/load.js';
import { readDocuments } from '../../src/model/read.js';
import type { Cluster } from '../../src/model/types.js';
import { clusterDnsAnswers, clusterObjects, clusterYaml } from '../../src/scenarios/manifests.js';

const cluster: Cluster = {
  namespaces: new Map([['x', { name: 'x', implicit: false, labels: { 'kubernetes.io/metadata.name': 'x' } }]]),
  endpoints: [{ id: 'x/p0', kind: 'Pod', namespace: 'x', name: 'p0', labels: { app: 'a' }, ips: ['10.0.0.1'], ports: [], nodeName: 'node0', hostIP: '192.168.0.1' }],
  nodes: [{ name: 'node0', labels: {}, addresses: ['192.168.0.1'] }],
  services: [],
  policies: [
    {
      kind: 'ApplicationNetworkPolicy',
      group: 'networking.k8s.aws',
      policy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'anp', namespace: 'x' }, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ domainNames: ['api.example.com'] }] }] } },
    },
  ],
  tierPolicies: [
    {
      tier: 'Baseline',
      name: 'cnp',
      priority: 7,
      kind: 'ClusterNetworkPolicy',
      group: 'networking.k8s.aws',
      subject: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'a' } } },
      ingress: [{ action: 'Pass', peers: [{ kind: 'pods', selector: { namespaceSelector: {} } }], ports: [{ kind: 'named', name: 'http' }] }],
      egress: [
        { action: 'Allow', peers: [{ kind: 'unsupported', what: 'domainNames', domainNames: ['*.example.com'] }], ports: [{ kind: 'range', protocol: 'TCP', from: 443, to: 443 }] },
        { action: 'Deny', peers: [{ kind: 'networks', cidrs: ['0.0.0.0/0'] }], ports: [{ kind: 'range', protocol: 'UDP', from: 1, to: 1024 }] },
      ],
    },
  ],
  dns: new Map([['api.example.com', ['203.0.113.7', '203.0.113.8']]]),
};

describe('clusterObjects with AWS kinds', () => {
  it("writes AWS's ClusterNetworkPolicy and ApplicationNetworkPolicy in networking.k8s.aws/v1alpha1", () => {
    const objects = clusterObjects(cluster);
    expect(objects.find((o) => o.kind === 'ApplicationNetworkPolicy')).toEqual({
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'ApplicationNetworkPolicy',
      metadata: { name: 'anp', namespace: 'x' },
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ domainNames: ['api.example.com'] }] }] },
    });
    expect(objects.find((o) => o.kind === 'ClusterNetworkPolicy')).toEqual({
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'cnp' },
      spec: {
        tier: 'Baseline',
        priority: 7,
        subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'a' } } } },
        ingress: [{ name: 'ingress-0', action: 'Pass', from: [{ namespaces: {} }], ports: [{ namedPort: 'http' }] }],
        egress: [
          { name: 'egress-0', action: 'Accept', to: [{ domainNames: ['*.example.com'] }], ports: [{ portNumber: { protocol: 'TCP', port: 443 } }] },
          { name: 'egress-1', action: 'Deny', to: [{ networks: ['0.0.0.0/0'] }], ports: [{ portRange: { protocol: 'UDP', start: 1, end: 1024 } }] },
        ],
      },
    });
  });

  it('reads back through validation without errors as the same AWS policies', () => {
    const { documents, diagnostics } = parseManifests(clusterYaml(cluster), 'aws.yaml');
    const read = readDocuments(documents, diagnostics);
    expect(read.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(read.cluster.tierPolicies.map((p) => [p.group, p.kind, p.tier, p.egress.map((r) => r.action)])).toEqual([['networking.k8s.aws', 'ClusterNetworkPolicy', 'Baseline', ['Allow', 'Deny']]]);
    expect(read.cluster.policies.map((p) => [p.group, p.kind])).toEqual([['networking.k8s.aws', 'ApplicationNetworkPolicy']]);
    expect(read.cluster.dns).toBeUndefined();
  });

  it('gives the DNS answers as --resolve NAME=IP pairs', () => {
    expect(clusterDnsAnswers(cluster)).toEqual([['api.example.com', '203.0.113.7'], ['api.example.com', '203.0.113.8']]);
  });
});
