/**
 * Admin tiers → ClusterPolicyEndpoint (the cluster-scoped object the AWS controller writes for its
 * ClusterNetworkPolicy): same resolution as NetworkPolicies, with tier, priority and each entry's action.
 */
import { describe, expect, it } from 'vitest';

import { resolveClusterPolicyEndpoints, resolveTierPolicy } from '../../src/controller/resolve.js';
import type { ClusterEndpointInfo } from '../../src/api/policyendpoint.js';
import { engineOf, ns, pod, svc, type Obj } from './fixtures.js';

const V1 = 'policy.networking.k8s.io/v1alpha1';
const V2 = 'policy.networking.k8s.io/v1alpha2';

const base: Obj[] = [
  ns('shop', { team: 'shop' }),
  ns('ops', { team: 'ops' }),
  pod('shop', 'web', { labels: { app: 'web' }, ip: '10.0.0.2', hostIP: '192.0.2.1', ports: [{ name: 'http', containerPort: 8080 }] }),
  pod('shop', 'db', { labels: { app: 'db' }, ip: '10.0.0.4', hostIP: '192.0.2.2', ports: [{ name: 'pg', containerPort: 5432 }] }),
  pod('ops', 'mon', { labels: { app: 'mon' }, ip: '10.0.1.5', hostIP: '192.0.2.3', ports: [{ name: 'http', containerPort: 9090 }] }),
  { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { role: 'worker' } }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.1' }] } },
];

const cnp = (spec: Obj, name = 'c'): Obj => ({ apiVersion: V2, kind: 'ClusterNetworkPolicy', metadata: { name }, spec: { tier: 'Admin', priority: 5, subject: { namespaces: {} }, ...spec } });
const anp = (spec: Obj, name = 'a'): Obj => ({ apiVersion: V1, kind: 'AdminNetworkPolicy', metadata: { name }, spec: { priority: 10, subject: { namespaces: {} }, ...spec } });
const banp = (spec: Obj): Obj => ({ apiVersion: V1, kind: 'BaselineAdminNetworkPolicy', metadata: { name: 'default' }, spec: { subject: { namespaces: {} }, ...spec } });

interface Case {
  name: string;
  policy: Obj;
  extra?: Obj[];
  ingress?: ClusterEndpointInfo[];
  egress?: ClusterEndpointInfo[];
}

const opsNs = { namespaceSelector: { matchLabels: { team: 'ops' } } };

const cases: Case[] = [
  {
    name: 'CNP Accept from a namespace: its pod IPs, action Accept',
    policy: cnp({ ingress: [{ action: 'Accept', from: [{ namespaces: opsNs.namespaceSelector }] }] }),
    ingress: [{ cidr: '10.0.1.5', action: 'Accept' }],
  },
  {
    name: 'rules keep their order and actions; the same pod under two actions is two entries',
    policy: cnp({
      ingress: [
        { action: 'Deny', from: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'mon' } } } }], protocols: [{ tcp: { destinationPort: { number: 22 } } }] },
        { action: 'Pass', from: [{ namespaces: {} }] },
      ],
    }),
    ingress: [
      { cidr: '10.0.1.5', ports: [{ protocol: 'TCP', port: 22 }], action: 'Deny' },
      { cidr: '10.0.0.2', action: 'Pass' },
      { cidr: '10.0.0.4', action: 'Pass' },
      { cidr: '10.0.1.5', action: 'Pass' },
    ],
  },
  {
    name: 'networks peers are copied; a port range becomes port..endPort',
    policy: cnp({ egress: [{ action: 'Deny', to: [{ networks: ['169.254.169.254/32', 'fd00:ec2::254/128'] }], protocols: [{ tcp: { destinationPort: { range: { start: 80, end: 90 } } } }] }] }),
    egress: [
      { cidr: '169.254.169.254/32', ports: [{ protocol: 'TCP', port: 80, endPort: 90 }], action: 'Deny' },
      { cidr: 'fd00:ec2::254/128', ports: [{ protocol: 'TCP', port: 80, endPort: 90 }], action: 'Deny' },
    ],
  },
  {
    name: 'a whole protocol is a port entry without a number',
    policy: cnp({ egress: [{ action: 'Accept', to: [{ networks: ['10.50.0.0/16'] }], protocols: [{ udp: {} }] }] }),
    egress: [{ cidr: '10.50.0.0/16', ports: [{ protocol: 'UDP' }], action: 'Accept' }],
  },
  {
    name: 'ANP nodes peer: the node addresses, bare',
    policy: anp({ egress: [{ action: 'Allow', to: [{ nodes: { matchLabels: { role: 'worker' } } }] }] }),
    egress: [{ cidr: '192.0.2.1', action: 'Accept' }],
  },
  {
    name: 'ingress named port resolves against the subject pods with their own protocol',
    policy: anp({ subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'mon' } } } }, ingress: [{ action: 'Allow', from: [{ namespaces: { matchLabels: { team: 'shop' } } }], ports: [{ namedPort: 'http' }] }] }),
    ingress: [
      { cidr: '10.0.0.2', ports: [{ protocol: 'TCP', port: 9090 }], action: 'Accept' },
      { cidr: '10.0.0.4', ports: [{ protocol: 'TCP', port: 9090 }], action: 'Accept' },
    ],
  },
  {
    name: 'egress named port per destination pod, and the Service ClusterIP the peer names',
    policy: cnp({ egress: [{ action: 'Accept', to: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } } }], protocols: [{ destinationNamedPort: 'pg' }] }] }),
    extra: [svc('shop', 'db', { selector: { app: 'db' }, clusterIP: '10.96.0.10', ports: [{ port: 5432, targetPort: 'pg' }] })],
    egress: [
      { cidr: '10.0.0.4', ports: [{ protocol: 'TCP', port: 5432 }], action: 'Accept' },
      { cidr: '10.96.0.10', ports: [{ protocol: 'TCP', port: 5432 }], action: 'Accept' },
    ],
  },
  {
    name: 'a Deny with a peer Palisade does not evaluate fails closed: every address',
    policy: cnp({ egress: [{ action: 'Deny', to: [{ domainNames: ['example.com'] }] }] }),
    egress: [
      { cidr: '0.0.0.0/0', action: 'Deny' },
      { cidr: '::/0', action: 'Deny' },
    ],
  },
  {
    name: 'BANP Deny from everyone in the cluster',
    policy: banp({ ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] }),
    ingress: [
      { cidr: '10.0.0.2', action: 'Deny' },
      { cidr: '10.0.0.4', action: 'Deny' },
      { cidr: '10.0.1.5', action: 'Deny' },
    ],
  },
];

describe('resolveTierPolicy', () => {
  it.each(cases)('$name', (c) => {
    const r = resolveTierPolicy(engineOf([...base, ...(c.extra ?? []), c.policy]), 0);
    expect(r.groups).toHaveLength(1);
    expect(r.groups[0].ingress).toEqual(c.ingress ?? []);
    expect(r.groups[0].egress).toEqual(c.egress ?? []);
  });
});

describe('ClusterPolicyEndpoint objects', () => {
  it('carry tier, priority, policyRef, subject pods across namespaces and an owner reference', () => {
    const cpes = resolveClusterPolicyEndpoints(engineOf([...base, cnp({ tier: 'Baseline', priority: 7, ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] }, 'floor')]), {
      uidOf: (kind, name) => (kind === 'ClusterNetworkPolicy' && name === 'floor' ? 'uid-9' : undefined),
    });
    expect(cpes).toHaveLength(1);
    const [c] = cpes;
    expect(c.apiVersion).toBe('networking.k8s.aws/v1alpha1');
    expect(c.kind).toBe('ClusterPolicyEndpoint');
    expect(c.metadata.namespace).toBeUndefined();
    expect(c.metadata.name).toMatch(/^floor-[0-9a-f]{10}-000$/);
    expect(c.metadata.ownerReferences).toEqual([{ apiVersion: V2, kind: 'ClusterNetworkPolicy', name: 'floor', uid: 'uid-9', controller: true, blockOwnerDeletion: true }]);
    expect(c.spec.policyRef).toEqual({ name: 'floor' });
    expect(c.spec.tier).toBe('Baseline');
    expect(c.spec.priority).toBe(7);
    expect(c.spec.podSelectorEndpoints?.map((p) => `${p.namespace}/${p.name}`)).toEqual(['ops/mon', 'shop/db', 'shop/web']);
  });

  it('an ANP and a CNP of the same name get different objects', () => {
    const cpes = resolveClusterPolicyEndpoints(engineOf([...base, anp({}, 'x'), cnp({}, 'x')]));
    expect(new Set(cpes.map((c) => c.metadata.name)).size).toBe(2);
    expect(cpes.map((c) => c.metadata.ownerReferences?.[0].apiVersion).sort()).toEqual([V1, V2]);
  });
});
