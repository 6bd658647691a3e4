/**
 * Resolution rules of NetworkPolicy → PolicyEndpoint, each a table case on a small cluster: the objects, the policy,
 * and the entries the AWS controller would write.
 */
import { describe, expect, it } from 'vitest';

import type { EndpointInfo } from '../../src/api/policyendpoint.js';
import { resolveNetworkPolicy, resolvePolicyEndpoints, mergeEntries } from '../../src/controller/resolve.js';
import { engineOf, np, ns, pod, svc, type Obj } from './fixtures.js';

const base: Obj[] = [
  ns('shop', { team: 'shop' }),
  ns('ops', { team: 'ops' }),
  pod('shop', 'web', { labels: { app: 'web' }, ip: '10.0.0.2', hostIP: '192.0.2.1', ports: [{ name: 'http', containerPort: 8080 }] }),
  pod('shop', 'api', { labels: { app: 'api' }, ip: '10.0.0.3', hostIP: '192.0.2.2', ports: [{ name: 'http', containerPort: 9090 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] }),
  pod('shop', 'db', { labels: { app: 'db' }, ip: '10.0.0.4', hostIP: '192.0.2.2', ports: [{ name: 'pg', containerPort: 5432 }] }),
  pod('ops', 'mon', { labels: { app: 'mon' }, ip: 'fd00::5', hostIP: '192.0.2.3' }),
];

interface Case {
  name: string;
  spec: Obj;
  extra?: Obj[];
  ingress?: EndpointInfo[];
  egress?: EndpointInfo[];
  isolation?: string[];
  dropped?: string[];
}

const web = { matchLabels: { app: 'web' } };
const tcp = (port?: number, endPort?: number) => ({ protocol: 'TCP' as const, ...(port !== undefined ? { port } : {}), ...(endPort !== undefined ? { endPort } : {}) });

const cases: Case[] = [
  {
    name: 'a pod peer is its bare pod IP, with the rule ports',
    spec: { podSelector: web, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 80 }] }] },
    ingress: [{ cidr: '10.0.0.3', ports: [tcp(80)] }],
    isolation: ['Ingress'],
  },
  {
    name: 'an IPv6 pod peer in another namespace is bare too',
    spec: { podSelector: web, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }] }] },
    ingress: [{ cidr: 'fd00::5' }],
  },
  {
    name: 'namespaceSelector and podSelector in one peer are ANDed (by the engine)',
    spec: { podSelector: web, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } }] }] },
    ingress: [{ cidr: '10.0.0.4' }],
  },
  {
    name: 'an ipBlock is copied with its except',
    spec: { podSelector: web, ingress: [{ from: [{ ipBlock: { cidr: '172.16.0.0/12', except: ['172.16.1.0/24'] } }], ports: [{ protocol: 'UDP', port: 53 }] }] },
    ingress: [{ cidr: '172.16.0.0/12', except: ['172.16.1.0/24'], ports: [{ protocol: 'UDP', port: 53 }] }],
  },
  {
    name: 'a rule without from is every IPv4 and IPv6 address, with its ports',
    spec: { podSelector: web, ingress: [{ ports: [{ port: 443 }] }] },
    ingress: [
      { cidr: '0.0.0.0/0', ports: [tcp(443)] },
      { cidr: '::/0', ports: [tcp(443)] },
    ],
  },
  {
    name: 'a rule without to and without ports is every address on every port',
    spec: { podSelector: web, policyTypes: ['Egress'], egress: [{}] },
    egress: [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }],
    isolation: ['Egress'],
  },
  {
    name: 'directions isolated with no rules: isolation only, no entries',
    spec: { podSelector: web, policyTypes: ['Ingress', 'Egress'] },
    isolation: ['Ingress', 'Egress'],
  },
  {
    name: 'egress rules make Egress effective when policyTypes is absent',
    spec: { podSelector: web, egress: [{ to: [{ ipBlock: { cidr: '8.8.8.8/32' } }] }] },
    egress: [{ cidr: '8.8.8.8/32' }],
    isolation: ['Ingress', 'Egress'],
  },
  {
    name: 'ingress named port resolves against the selected pods, for pod and CIDR peers alike',
    spec: { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] }, ingress: [{ from: [{ ipBlock: { cidr: '10.1.0.0/16' } }, { podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 'http' }] }] },
    ingress: [
      { cidr: '10.0.0.4', ports: [tcp(8080), tcp(9090)] },
      { cidr: '10.1.0.0/16', ports: [tcp(8080), tcp(9090)] },
    ],
  },
  {
    name: 'ingress named port that no selected pod has: the rule is dropped',
    spec: { podSelector: web, ingress: [{ from: [{ ipBlock: { cidr: '10.1.0.0/16' } }], ports: [{ port: 'metrics' }] }] },
    dropped: ['ingress[0]'],
  },
  {
    name: 'ingress named port needs the right protocol',
    spec: { podSelector: { matchLabels: { app: 'api' } }, ingress: [{ ports: [{ port: 'dns' }] }] },
    dropped: ['ingress[0]'],
  },
  {
    name: 'egress named port resolves per destination pod; a pod without it is left out',
    spec: { podSelector: { matchLabels: { app: 'db' } }, egress: [{ to: [{ podSelector: {} }], ports: [{ port: 'http' }] }] },
    egress: [
      { cidr: '10.0.0.2', ports: [tcp(8080)] },
      { cidr: '10.0.0.3', ports: [tcp(9090)] },
    ],
  },
  {
    name: 'egress CIDR peer with only named ports keeps no CIDR entry; with mixed ports keeps the numeric ones',
    spec: {
      podSelector: web,
      egress: [
        { to: [{ ipBlock: { cidr: '192.168.0.0/16' } }], ports: [{ port: 'http' }] },
        { to: [{ ipBlock: { cidr: '192.168.1.0/24' } }], ports: [{ port: 'http' }, { port: 8443 }] },
      ],
    },
    egress: [{ cidr: '192.168.1.0/24', ports: [tcp(8443)] }],
    dropped: ['egress[0]'],
  },
  {
    name: 'egress named port to every destination, or to an ipBlock over pods: each pod that has it, at its number',
    spec: {
      podSelector: { matchLabels: { app: 'db' } },
      egress: [{ ports: [{ port: 'http' }] }, { to: [{ ipBlock: { cidr: '10.0.0.3/32' } }], ports: [{ port: 'http' }, { protocol: 'UDP', port: 53 }] }],
    },
    egress: [
      { cidr: '10.0.0.2', ports: [tcp(8080)] },
      { cidr: '10.0.0.3/32', ports: [{ protocol: 'UDP', port: 53 }] },
      { cidr: '10.0.0.3', ports: [tcp(9090)] },
    ],
  },
  {
    name: 'a port without a number is every port of its protocol',
    spec: { podSelector: web, ingress: [{ from: [{ ipBlock: { cidr: '10.9.0.0/16' } }], ports: [{ protocol: 'UDP' }] }] },
    ingress: [{ cidr: '10.9.0.0/16', ports: [{ protocol: 'UDP' }] }],
  },
  {
    name: 'endPort is carried as a range (offline only: API 1.20 drops it)',
    spec: { podSelector: web, ingress: [{ from: [{ ipBlock: { cidr: '10.9.0.0/16' } }], ports: [{ port: 8000, endPort: 8100 }] }] },
    ingress: [{ cidr: '10.9.0.0/16', ports: [tcp(8000, 8100)] }],
  },
  {
    name: 'the same cidr from two rules merges, ports unioned into canonical ranges',
    spec: { podSelector: web, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 80 }] }, { from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 81 }, { port: 80 }] }] },
    ingress: [{ cidr: '10.0.0.3', ports: [{ protocol: 'TCP', port: 80, endPort: 81 }] }],
  },
  {
    name: 'a merge with an all-ports entry is all ports',
    spec: { podSelector: web, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 80 }] }, { from: [{ podSelector: {} }] }] },
    ingress: [{ cidr: '10.0.0.2' }, { cidr: '10.0.0.3' }, { cidr: '10.0.0.4' }],
  },
  {
    name: 'the same cidr with different excepts stays two entries',
    spec: { podSelector: web, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }] }] },
    ingress: [{ cidr: '10.0.0.0/8' }, { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }],
  },
  {
    name: 'egress to pods also lists the ClusterIP of the Service the peer names',
    spec: { podSelector: web, egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 5432 }] }] },
    extra: [
      svc('shop', 'db', { selector: { app: 'db' }, clusterIP: '10.96.0.10', ports: [{ port: 5432, targetPort: 5432 }] }),
      svc('shop', 'db-headless', { selector: { app: 'db' }, clusterIP: 'None', ports: [{ port: 5432 }] }),
      svc('shop', 'web', { selector: { app: 'web' }, clusterIP: '10.96.0.11', ports: [{ port: 80 }] }),
      svc('ops', 'db', { selector: { app: 'db' }, clusterIP: '10.96.0.12', ports: [{ port: 5432 }] }),
    ],
    egress: [
      { cidr: '10.0.0.4', ports: [tcp(5432)] },
      { cidr: '10.96.0.10', ports: [tcp(5432)] },
    ],
  },
  {
    name: 'a Service port is found through its targetPort and written as the Service port',
    spec: { podSelector: web, egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 'pg' }] }] },
    extra: [svc('shop', 'db', { selector: { app: 'db' }, clusterIP: '10.96.0.10', ports: [{ port: 15432, targetPort: 'pg' }] })],
    egress: [
      { cidr: '10.0.0.4', ports: [tcp(5432)] },
      { cidr: '10.96.0.10', ports: [tcp(15432)] },
    ],
  },
  {
    name: 'a Service whose named targetPort reaches a port the policy does not allow gets no entry',
    spec: { podSelector: web, egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 80 }] }] },
    extra: [svc('shop', 'db', { selector: { app: 'db' }, clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 'pg' }] })],
    egress: [{ cidr: '10.0.0.4', ports: [tcp(80)] }],
  },
  {
    name: 'egress to a whole namespace lists its non-headless Services, selector or not',
    spec: { podSelector: web, egress: [{ to: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }] }] },
    extra: [svc('ops', 'prom', { selector: { app: 'mon' }, clusterIP: '10.96.1.1', ports: [{ port: 9090 }] }), svc('ops', 'ext', { clusterIP: '10.96.1.2', ports: [{ port: 443 }] })],
    egress: [{ cidr: '10.96.1.1' }, { cidr: '10.96.1.2' }, { cidr: 'fd00::5' }],
  },
  {
    name: 'a pod without an IP yet, a finished pod and a workload are not peers',
    spec: { podSelector: web, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'new' } } }] }] },
    extra: [
      pod('shop', 'pending', { labels: { app: 'new' } }),
      pod('shop', 'done', { labels: { app: 'new' }, ip: '10.0.0.99', phase: 'Succeeded' }),
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'new', namespace: 'shop' }, spec: { selector: { matchLabels: { app: 'new' } }, template: { metadata: { labels: { app: 'new' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } },
    ],
  },
];

describe('resolveNetworkPolicy', () => {
  it.each(cases)('$name', (c) => {
    const engine = engineOf([...base, ...(c.extra ?? []), np('shop', 'p', c.spec)]);
    const r = resolveNetworkPolicy(engine, 0);
    expect(r.ingress).toEqual(c.ingress ?? []);
    expect(r.egress).toEqual(c.egress ?? []);
    if (c.isolation) expect(r.podIsolation).toEqual(c.isolation);
    expect(r.rules.filter((x) => x.dropped).map((x) => `${x.direction}[${x.index}]`)).toEqual(c.dropped ?? []);
  });
});

describe('podSelectorEndpoints', () => {
  it('lists the selected pods that have an IP, with host IP, name and namespace', () => {
    const engine = engineOf([...base, pod('shop', 'web-2', { labels: { app: 'web' } }), np('shop', 'p', { podSelector: web })]);
    const [pe] = resolvePolicyEndpoints(engine);
    expect(pe.spec.podSelectorEndpoints).toEqual([{ hostIP: '192.0.2.1', podIP: '10.0.0.2', name: 'web', namespace: 'shop' }]);
  });

  it('writes an empty host IP when the pod has none yet', () => {
    const engine = engineOf([ns('a'), pod('a', 'x', { ip: '10.0.0.1' }), np('a', 'p', { podSelector: {} })]);
    expect(resolvePolicyEndpoints(engine)[0].spec.podSelectorEndpoints).toEqual([{ hostIP: '', podIP: '10.0.0.1', name: 'x', namespace: 'a' }]);
  });
});

describe('the PolicyEndpoint object', () => {
  it('carries podSelector, policyRef, podIsolation and an owner reference to the NetworkPolicy', () => {
    const spec = { podSelector: web, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }] }] };
    const engine = engineOf([...base, np('shop', 'allow-api', spec, 'uid-1')]);
    const pes = resolvePolicyEndpoints(engine);
    expect(pes).toHaveLength(1);
    const [pe] = pes;
    expect(pe.apiVersion).toBe('networking.k8s.aws/v1alpha1');
    expect(pe.kind).toBe('PolicyEndpoint');
    expect(pe.metadata.name).toMatch(/^allow-api-[0-9a-f]{10}$/);
    expect(pe.metadata.namespace).toBe('shop');
    expect(pe.metadata.ownerReferences).toEqual([
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', name: 'allow-api', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
    ]);
    expect(pe.spec).toEqual({
      podSelector: web,
      policyRef: { name: 'allow-api', namespace: 'shop' },
      podIsolation: ['Ingress'],
      podSelectorEndpoints: [{ hostIP: '192.0.2.1', podIP: '10.0.0.2', name: 'web', namespace: 'shop' }],
      ingress: [{ cidr: '10.0.0.3' }],
    });
  });

  it('leaves the owner uid out when it is not known (manifests)', () => {
    const engine = engineOf([...base, np('shop', 'p', { podSelector: web })]);
    expect(resolvePolicyEndpoints(engine)[0].metadata.ownerReferences?.[0]).not.toHaveProperty('uid');
  });

  it('writes one object for a policy that selects nothing', () => {
    const engine = engineOf([...base, np('shop', 'p', { podSelector: { matchLabels: { app: 'none' } } })]);
    const pes = resolvePolicyEndpoints(engine);
    expect(pes).toHaveLength(1);
    expect(pes[0].spec).toEqual({ podSelector: { matchLabels: { app: 'none' } }, policyRef: { name: 'p', namespace: 'shop' }, podIsolation: ['Ingress'] });
  });

  it('is deterministic: the same cluster gives the same objects', () => {
    const objs = [...base, np('shop', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })];
    expect(resolvePolicyEndpoints(engineOf(objs))).toEqual(resolvePolicyEndpoints(engineOf([...objs].reverse())));
  });
});

describe('mergeEntries', () => {
  it.each([
    { name: 'UDP and TCP on one cidr', in: [{ cidr: '1.1.1.1', ports: [{ protocol: 'UDP' as const, port: 53 }] }, { cidr: '1.1.1.1', ports: [{ protocol: 'TCP' as const, port: 53 }] }], out: [{ cidr: '1.1.1.1', ports: [tcp(53), { protocol: 'UDP', port: 53 }] }] },
    { name: 'all-ports first', in: [{ cidr: '1.1.1.1' }, { cidr: '1.1.1.1', ports: [tcp(1)] }], out: [{ cidr: '1.1.1.1' }] },
    { name: 'numeric address order', in: [{ cidr: '10.0.0.10' }, { cidr: '10.0.0.9' }, { cidr: '::1' }], out: [{ cidr: '10.0.0.9' }, { cidr: '10.0.0.10' }, { cidr: '::1' }] },
    { name: 'except order does not matter', in: [{ cidr: '10.0.0.0/8', except: ['10.2.0.0/16', '10.1.0.0/16'] }, { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.0.0/16'], ports: [tcp(1)] }], out: [{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.0.0/16'] }] },
  ])('$name', (c) => {
    expect(mergeEntries(c.in)).toEqual(c.out);
  });
});
