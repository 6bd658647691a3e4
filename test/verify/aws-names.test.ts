/**
 * AWS's kinds under the names of upstream ones: an ApplicationNetworkPolicy named as a NetworkPolicy of its namespace,
 * and AWS's ClusterNetworkPolicy named as an upstream ClusterNetworkPolicy of the same priority. Each keeps its own
 * objects (names, owners) and is a whole of its own for the agent, so the objects and each node's table still mean what
 * the engine decides: merged, the deny-all of one would reach the pods of the other.
 */
import { describe, expect, it } from 'vitest';
import { policyEndpointGroup, clusterPolicyEndpointGroup } from '../../src/api/policyendpoint.js';
import type { Cluster, Endpoint } from '../../src/model/types.js';
import { objectsDisagreement, rulesetDisagreement, translate } from './support.js';

const pod = (name: string, app: string, ip: string, node: number): Endpoint => ({
  id: `x/${name}`, kind: 'Pod', namespace: 'x', name, labels: { app }, ips: [ip], ports: [], nodeName: `node${node}`, hostIP: `192.168.0.${node + 1}`,
});

const cluster: Cluster = {
  namespaces: new Map([['x', { name: 'x', implicit: false, labels: { 'kubernetes.io/metadata.name': 'x' } }]]),
  endpoints: [pod('a', 'a', '10.0.0.1', 0), pod('b', 'b', '10.0.0.2', 0), pod('c', 'c', '10.0.0.3', 1)],
  nodes: [
    { name: 'node0', labels: {}, addresses: ['192.168.0.1'] },
    { name: 'node1', labels: {}, addresses: ['192.168.0.2'] },
  ],
  services: [],
  policies: [
    // a: no ingress at all; b: every ingress.
    { policy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'same', namespace: 'x' }, spec: { podSelector: { matchLabels: { app: 'a' } }, policyTypes: ['Ingress'] } } },
    {
      kind: 'ApplicationNetworkPolicy',
      group: 'networking.k8s.aws',
      policy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'same', namespace: 'x' }, spec: { podSelector: { matchLabels: { app: 'b' } }, policyTypes: ['Ingress'], ingress: [{}] } },
    },
  ],
  tierPolicies: [
    // c's egress: the upstream policy denies TCP/80 to a, AWS's (same priority and name, later) accepts it to b.
    { tier: 'Admin', name: 'same', priority: 1, kind: 'ClusterNetworkPolicy', subject: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'c' } } }, ingress: [], egress: [{ action: 'Deny', peers: [{ kind: 'pods', selector: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'a' } } } }], ports: [{ kind: 'range', protocol: 'TCP', from: 80, to: 80 }] }] },
    { tier: 'Admin', name: 'same', priority: 1, kind: 'ClusterNetworkPolicy', group: 'networking.k8s.aws', subject: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'a' } } }, ingress: [{ action: 'Deny', peers: [{ kind: 'pods', selector: { namespaceSelector: {} } }], ports: [{ kind: 'range', protocol: 'UDP', from: 53, to: 53 }] }], egress: [] },
  ],
};

describe("AWS's kinds named as upstream ones", () => {
  const t = translate(cluster);

  it('each policy has objects of its own, and each is a whole of its own', () => {
    const byOwner = (kind: string) => t.policyEndpoints.filter((p) => p.metadata.ownerReferences?.[0]?.kind === kind);
    const [np] = byOwner('NetworkPolicy');
    const [anp] = byOwner('ApplicationNetworkPolicy');
    expect(np.metadata.name).not.toBe(anp.metadata.name);
    expect(anp.metadata.ownerReferences?.[0]?.apiVersion).toBe('networking.k8s.aws/v1alpha1');
    expect(policyEndpointGroup(np)).not.toBe(policyEndpointGroup(anp));
    expect(t.clusterPolicyEndpoints).toHaveLength(2);
    const [u, a] = t.clusterPolicyEndpoints;
    expect([u.metadata.ownerReferences?.[0]?.apiVersion, a.metadata.ownerReferences?.[0]?.apiVersion].sort()).toEqual(['networking.k8s.aws/v1alpha1', 'policy.networking.k8s.io/v1alpha2']);
    expect(u.metadata.name).not.toBe(a.metadata.name);
    expect(clusterPolicyEndpointGroup(u)).not.toBe(clusterPolicyEndpointGroup(a));
  });

  it('the engine decides each pod by its own policy', () => {
    expect(t.engine.verdict({ from: 'x/c', to: 'x/a', protocol: 'TCP', port: 80 }).allowed).toBe(false);
    expect(t.engine.verdict({ from: 'x/c', to: 'x/b', protocol: 'TCP', port: 80 }).allowed).toBe(true);
    expect(t.engine.verdict({ from: 'x/c', to: 'x/b', protocol: 'UDP', port: 53 }).allowed).toBe(true);
  });

  it('the objects and every node table mean what the engine decides', () => {
    const objects = objectsDisagreement(t);
    expect(objects, objects).toBeUndefined();
    const table = rulesetDisagreement(t);
    expect(table, table).toBeUndefined();
  });
});
