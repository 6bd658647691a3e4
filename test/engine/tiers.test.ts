/**
 * Admin and baseline tiers, as table tests: every action in each tier, Pass falling through to NetworkPolicy and then to
 * baseline, precedence between priorities, rules deciding only the ports they list, and `why` naming who decided.
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/engine/engine.js';
import type { Protocol } from '../../src/api/types.js';
import { withDnsAnswers } from '../../src/model/aws.js';
import { clusterFromYaml, namespace, pod } from '../support/cluster.js';

const TOPOLOGY =
  namespace('red', { team: 'red' }) +
  namespace('blue', { team: 'blue' }) +
  pod('red', 'web', '10.0.0.1', { app: 'web' }, ['http:80/TCP']) +
  pod('red', 'db', '10.0.0.2', { app: 'db' }, ['pg:5432/TCP']) +
  pod('blue', 'web', '10.0.1.1', { app: 'web' }, ['http:8080/TCP']);

function cnp(name: string, tier: 'Admin' | 'Baseline', priority: number, body: string): string {
  return `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: ${name}}
spec:
  tier: ${tier}
  priority: ${priority}
${body
  .trim()
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
---
`;
}

const subjectRed = 'subject: {namespaces: {matchLabels: {team: red}}}';
const fromBlue = 'from: [{namespaces: {matchLabels: {team: blue}}}]';
const denyRedIngressNP = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: red}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
`;
const allowBlueNP = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-blue, namespace: red}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}]}]
---
`;

type Expect = readonly [from: string, to: string, proto: Protocol, port: number, allowed: boolean, summary?: RegExp];

const CASES: { name: string; input: string; expect: Expect[] }[] = [
  {
    name: 'Admin Accept wins over a NetworkPolicy that denies',
    input: denyRedIngressNP + cnp('accept-blue', 'Admin', 10, `${subjectRed}\ningress: [{name: blue-in, action: Accept, ${fromBlue}}]`),
    expect: [
      ['blue/web', 'red/web', 'TCP', 80, true, /Admin tier, accept-blue rule 0 \(blue-in\) Allow/],
      ['red/db', 'red/web', 'TCP', 80, false, /isolated by NetworkPolicy red\/deny-all/],
    ],
  },
  {
    name: 'Admin Deny wins over a NetworkPolicy that allows',
    input: allowBlueNP + cnp('deny-blue', 'Admin', 10, `${subjectRed}\ningress: [{action: Deny, ${fromBlue}}]`),
    expect: [['blue/web', 'red/web', 'TCP', 80, false, /Admin tier, deny-blue rule 0 Deny/]],
  },
  {
    name: 'Admin Pass hands the decision to NetworkPolicy',
    input: allowBlueNP + cnp('pass-blue', 'Admin', 10, `${subjectRed}\ningress: [{action: Pass, ${fromBlue}}]`) + cnp('deny-all', 'Admin', 20, `${subjectRed}\ningress: [{action: Deny, from: [{namespaces: {}}]}]`),
    expect: [
      ['blue/web', 'red/web', 'TCP', 80, true, /^Pass by Admin tier pass-blue rule 0, then NetworkPolicy red\/allow-blue rule 0 allows/],
      ['red/db', 'red/web', 'TCP', 80, false, /Admin tier, deny-all rule 0 Deny/],
    ],
  },
  {
    name: 'Pass with no NetworkPolicy goes on to the baseline tier',
    input: cnp('pass-blue', 'Admin', 10, `${subjectRed}\ningress: [{action: Pass, ${fromBlue}}]`) + cnp('baseline-deny', 'Baseline', 0, `${subjectRed}\ningress: [{action: Deny, ${fromBlue}}]`),
    expect: [['blue/web', 'red/web', 'TCP', 80, false, /^Pass by Admin tier pass-blue rule 0, then Baseline tier, baseline-deny rule 0 Deny/]],
  },
  {
    name: 'a NetworkPolicy that selects the pod overrides the baseline tier',
    input: allowBlueNP + cnp('baseline-deny', 'Baseline', 0, `${subjectRed}\ningress: [{action: Deny, ${fromBlue}}]`),
    expect: [['blue/web', 'red/web', 'TCP', 80, true, /NetworkPolicy red\/allow-blue rule 0 allows/]],
  },
  {
    name: 'Baseline Accept and Pass',
    input: cnp('b', 'Baseline', 0, `${subjectRed}\ningress: [{action: Pass, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}]}, {action: Accept, ${fromBlue}}, {action: Deny, from: [{namespaces: {}}]}]`),
    expect: [
      ['blue/web', 'red/web', 'TCP', 80, true, /Baseline tier, b rule 1 Allow/],
      ['red/db', 'red/web', 'TCP', 80, true, /Pass by Baseline tier b rule 0, then not isolated: allowed by default/],
      ['red/web', 'red/db', 'TCP', 5432, false, /Baseline tier, b rule 2 Deny/],
    ],
  },
  {
    name: 'lower priority value wins; rule order decides within a policy',
    input: cnp('first', 'Admin', 1, `${subjectRed}\ningress: [{action: Accept, ${fromBlue}}, {action: Deny, ${fromBlue}}]`) + cnp('second', 'Admin', 2, `${subjectRed}\ningress: [{action: Deny, ${fromBlue}}]`),
    expect: [['blue/web', 'red/web', 'TCP', 80, true, /Admin tier, first rule 0 Allow/]],
  },
  {
    name: 'a rule decides only the ports it lists; other ports go on',
    input: denyRedIngressNP + cnp('web-only', 'Admin', 5, `${subjectRed}\ningress: [{action: Accept, ${fromBlue}, protocols: [{tcp: {destinationPort: {number: 80}}}]}]`),
    expect: [
      ['blue/web', 'red/web', 'TCP', 80, true, /Admin tier, web-only rule 0 Allow/],
      ['blue/web', 'red/web', 'TCP', 81, false, /isolated by NetworkPolicy red\/deny-all/],
      ['blue/web', 'red/web', 'UDP', 80, false],
    ],
  },
  {
    name: 'egress Deny to a network, with a port range',
    input: cnp('no-metadata', 'Admin', 0, `${subjectRed}\negress: [{action: Deny, to: [{networks: [169.254.169.254/32]}], protocols: [{tcp: {destinationPort: {range: {start: 80, end: 443}}}}]}]`),
    expect: [
      ['red/web', '169.254.169.254', 'TCP', 80, false, /Admin tier, no-metadata rule 0 Deny/],
      ['red/web', '169.254.169.254', 'TCP', 444, true],
      ['red/web', '169.254.169.253', 'TCP', 80, true],
      ['blue/web', '169.254.169.254', 'TCP', 80, true],
    ],
  },
  {
    name: 'a named port matches the destination container port of that name',
    input: cnp('named', 'Admin', 0, `${subjectRed}\ningress: [{action: Deny, ${fromBlue}, protocols: [{destinationNamedPort: http}]}]`),
    expect: [
      ['blue/web', 'red/web', 'TCP', 80, false],
      ['blue/web', 'red/web', 'TCP', 81, true],
      ['blue/web', 'red/db', 'TCP', 80, true],
    ],
  },
];

describe('admin and baseline tiers', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const engine = compile(clusterFromYaml(TOPOLOGY + c.input));
      for (const [from, to, protocol, port, allowed, summary] of c.expect) {
        const flow = { from, to, protocol, port };
        const v = engine.verdict(flow);
        expect({ flow, allowed: v.allowed }).toEqual({ flow, allowed });
        expect({ flow, allowed: engine.allows(flow) }).toEqual({ flow, allowed });
        if (summary) {
          const decided = [v.egress, v.ingress].find((d) => !d.allowed) ?? (v.ingress.rules.length > 0 ? v.ingress : v.egress);
          expect(decided.summary).toMatch(summary);
        }
      }
    });
  }
});

describe('domainNames peers of the upstream kinds (network-policy-api DomainName: egress only, Allow/Accept rules)', () => {
  const input = (kind: 'AdminNetworkPolicy' | 'ClusterNetworkPolicy') =>
    kind === 'ClusterNetworkPolicy'
      ? cnp('fqdn', 'Admin', 10, `${subjectRed}\negress: [{action: Accept, to: [{domainNames: ["*.example.com"]}]}, {action: Deny, to: [{networks: [0.0.0.0/0]}]}]`)
      : `apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: fqdn}
spec:
  priority: 10
  ${subjectRed}
  egress: [{action: Allow, to: [{domainNames: ["*.example.com"]}]}, {action: Deny, to: [{networks: [0.0.0.0/0]}]}]
---
`;
  for (const kind of ['AdminNetworkPolicy', 'ClusterNetworkPolicy'] as const) {
    it(`${kind}: without a DNS answer the Allow rule matches nothing; with one (--resolve) it matches the answered address only`, () => {
      const cluster = clusterFromYaml(TOPOLOGY + input(kind));
      const flow = { from: 'red/web', to: '203.0.113.7', protocol: 'TCP', port: 443 } as const;
      expect(compile(cluster).allows(flow)).toBe(false);
      const answered = compile(withDnsAnswers(cluster, [['api.example.com', '203.0.113.7']]));
      expect(answered.verdict(flow).egress.summary).toMatch(/Admin tier, fqdn rule 0 Allow/);
      expect(answered.allows(flow)).toBe(true);
      expect(answered.allows({ ...flow, to: '203.0.113.8' })).toBe(false);
    });
  }
});
