/**
 * The examples of the Kubernetes NetworkPolicy documentation, as table tests: each case a name, the policies, and the
 * verdicts the documentation states for them.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/engine/engine.js';
import { referenceAllowed } from '../../src/engine/reference.js';
import { parseIP } from '../../src/api/ip.js';
import type { Protocol } from '../../src/api/types.js';
import { clusterFromYaml, namespace, pod } from '../support/cluster.js';

const TOPOLOGY =
  namespace('default') +
  namespace('myproject', { project: 'myproject' }) +
  namespace('other', { user: 'alice' }) +
  pod('default', 'db', '172.17.0.10', { role: 'db' }, ['redis:6379/TCP']) +
  pod('default', 'frontend', '172.17.0.11', { role: 'frontend' }, ['http:80/TCP']) +
  pod('default', 'plain', '172.17.1.5', {}, ['80/TCP']) +
  pod('myproject', 'client', '10.8.0.2', { role: 'client' }) +
  pod('other', 'alice-client', '10.9.0.1', { role: 'client' }) +
  pod('other', 'alice-web', '10.9.0.2', { role: 'web' });

type Expect = readonly [from: string, to: string, proto: Protocol, port: number, allowed: boolean];

interface Case {
  readonly name: string;
  readonly policies: string;
  readonly expect: readonly Expect[];
}

const np = (name: string, ns: string, spec: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
---
`;

const CASES: Case[] = [
  {
    name: 'no policy: everything is allowed',
    policies: '',
    expect: [
      ['default/frontend', 'default/db', 'TCP', 6379, true],
      ['8.8.8.8', 'default/db', 'UDP', 53, true],
      ['default/db', '8.8.8.8', 'TCP', 443, true],
    ],
  },
  {
    name: 'default deny all ingress traffic',
    policies: np('default-deny-ingress', 'default', 'podSelector: {}\npolicyTypes: [Ingress]'),
    expect: [
      ['default/frontend', 'default/db', 'TCP', 6379, false],
      ['myproject/client', 'default/plain', 'TCP', 80, false],
      ['default/db', 'myproject/client', 'TCP', 80, true],
      ['default/db', '8.8.8.8', 'TCP', 443, true],
      ['default/db', 'default/db', 'TCP', 6379, true],
    ],
  },
  {
    name: 'allow all ingress traffic',
    policies: np('allow-all-ingress', 'default', 'podSelector: {}\ningress: [{}]\npolicyTypes: [Ingress]'),
    expect: [
      ['default/frontend', 'default/db', 'TCP', 6379, true],
      ['8.8.8.8', 'default/db', 'SCTP', 9, true],
    ],
  },
  {
    name: 'default deny all egress traffic',
    policies: np('default-deny-egress', 'default', 'podSelector: {}\npolicyTypes: [Egress]'),
    expect: [
      ['default/frontend', 'default/db', 'TCP', 6379, false],
      ['default/db', '8.8.8.8', 'UDP', 53, false],
      ['myproject/client', 'default/db', 'TCP', 6379, true],
    ],
  },
  {
    name: 'allow all egress traffic',
    policies: np('allow-all-egress', 'default', 'podSelector: {}\negress: [{}]\npolicyTypes: [Egress]'),
    expect: [['default/db', '8.8.8.8', 'UDP', 53, true]],
  },
  {
    name: 'default deny all ingress and all egress traffic',
    policies: np('default-deny-all', 'default', 'podSelector: {}\npolicyTypes: [Ingress, Egress]'),
    expect: [
      ['default/frontend', 'default/db', 'TCP', 6379, false],
      ['default/db', '8.8.8.8', 'TCP', 443, false],
      ['myproject/client', 'other/alice-web', 'TCP', 80, true],
    ],
  },
  {
    name: 'the documentation example: ipBlock with except, namespaceSelector and podSelector peers, ports',
    policies: np(
      'test-network-policy',
      'default',
      `podSelector: {matchLabels: {role: db}}
policyTypes: [Ingress, Egress]
ingress:
- from:
  - ipBlock: {cidr: 172.17.0.0/16, except: [172.17.1.0/24]}
  - namespaceSelector: {matchLabels: {project: myproject}}
  - podSelector: {matchLabels: {role: frontend}}
  ports: [{protocol: TCP, port: 6379}]
egress:
- to: [{ipBlock: {cidr: 10.0.0.0/24}}]
  ports: [{protocol: TCP, port: 5978}]`,
    ),
    expect: [
      ['default/frontend', 'default/db', 'TCP', 6379, true],
      ['default/frontend', 'default/db', 'TCP', 6380, false],
      ['default/frontend', 'default/db', 'UDP', 6379, false],
      ['myproject/client', 'default/db', 'TCP', 6379, true],
      ['other/alice-client', 'default/db', 'TCP', 6379, false],
      ['172.17.3.3', 'default/db', 'TCP', 6379, true],
      ['172.17.1.7', 'default/db', 'TCP', 6379, false],
      // A pod inside the except range is not admitted by the ipBlock, and no selector admits it either.
      ['default/plain', 'default/db', 'TCP', 6379, false],
      ['default/db', '10.0.0.5', 'TCP', 5978, true],
      ['default/db', '10.0.0.5', 'TCP', 5979, false],
      ['default/db', '10.0.1.5', 'TCP', 5978, false],
      ['default/db', 'default/frontend', 'TCP', 80, false],
      // The pods the policy does not select are not isolated.
      ['default/plain', 'default/frontend', 'TCP', 80, true],
    ],
  },
  {
    name: 'a range of ports with endPort',
    policies: np('multi-port-egress', 'default', `podSelector: {matchLabels: {role: db}}
policyTypes: [Egress]
egress:
- to: [{ipBlock: {cidr: 10.0.0.0/24}}]
  ports: [{protocol: TCP, port: 32000, endPort: 32768}]`),
    expect: [
      ['default/db', '10.0.0.9', 'TCP', 31999, false],
      ['default/db', '10.0.0.9', 'TCP', 32000, true],
      ['default/db', '10.0.0.9', 'TCP', 32768, true],
      ['default/db', '10.0.0.9', 'TCP', 32769, false],
    ],
  },
  {
    name: 'one peer with namespaceSelector AND podSelector',
    policies: np('and', 'default', `podSelector: {matchLabels: {role: db}}
ingress:
- from:
  - namespaceSelector: {matchLabels: {user: alice}}
    podSelector: {matchLabels: {role: client}}`),
    expect: [
      ['other/alice-client', 'default/db', 'TCP', 6379, true],
      ['other/alice-web', 'default/db', 'TCP', 6379, false],
      ['myproject/client', 'default/db', 'TCP', 6379, false],
    ],
  },
  {
    name: 'two peers, namespaceSelector OR podSelector',
    policies: np('or', 'default', `podSelector: {matchLabels: {role: db}}
ingress:
- from:
  - namespaceSelector: {matchLabels: {user: alice}}
  - podSelector: {matchLabels: {role: client}}`),
    expect: [
      ['other/alice-client', 'default/db', 'TCP', 6379, true],
      ['other/alice-web', 'default/db', 'TCP', 6379, true],
      // podSelector alone means pods of the policy's own namespace: myproject/client is not one.
      ['myproject/client', 'default/db', 'TCP', 6379, false],
    ],
  },
  {
    name: 'targeting a namespace by its name label',
    policies: np('by-name', 'default', `podSelector: {}
policyTypes: [Egress]
egress:
- to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: myproject}}}]`),
    expect: [
      ['default/db', 'myproject/client', 'UDP', 53, true],
      ['default/db', 'other/alice-web', 'TCP', 80, false],
    ],
  },
  {
    name: 'named ports resolve against the destination pod, with protocol',
    policies: np('named', 'default', `podSelector: {}
policyTypes: [Ingress]
ingress:
- ports: [{port: http}, {protocol: TCP, port: redis}]`),
    expect: [
      ['myproject/client', 'default/frontend', 'TCP', 80, true],
      ['myproject/client', 'default/frontend', 'TCP', 6379, false],
      ['myproject/client', 'default/db', 'TCP', 6379, true],
      ['myproject/client', 'default/db', 'TCP', 80, false],
      ['myproject/client', 'default/plain', 'TCP', 80, false],
    ],
  },
];

describe('Kubernetes documentation examples', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const cluster = clusterFromYaml(TOPOLOGY + c.policies);
      const engine = compile(cluster);
      for (const [from, to, protocol, port, allowed] of c.expect) {
        const flow = { from, to, protocol, port };
        expect({ flow, allowed: engine.verdict(flow).allowed }).toEqual({ flow, allowed });
        expect({ flow, allowed: engine.allows(flow) }).toEqual({ flow, allowed });
        const end = (x: string) => {
          const ep = cluster.endpoints.find((e) => e.id === x);
          return ep ? { endpoint: ep } : { address: parseIP(x)! };
        };
        expect({ flow, reference: referenceAllowed(cluster, end(from), end(to), protocol, port) }).toEqual({ flow, reference: allowed });
      }
    });
  }
});
