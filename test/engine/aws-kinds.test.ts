/**
 * AWS's own kinds in the engine's one tier pipeline. Expected answers from aws/amazon-network-policy-controller-k8s:
 * `api/v1alpha1/clusternetworkpolicy_types.go` (tier, priority, actions), `applicationnetworkpolicy_types.go` (ANP
 * is NetworkPolicy-shaped; DomainName matching), `pkg/resolvers/applicationnetworkpolicy_resolver.go` (an ANP is
 * resolved as a NetworkPolicy), and `tests/cnp/06-cnp-egress-mixed.yaml` (networks and domainNames in one rule).
 */
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/engine/engine.js';
import { withDnsAnswers } from '../../src/model/aws.js';
import { clusterFromYaml, namespace, pod } from '../support/cluster.js';
import { cli } from '../analyze/support.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PODS = namespace('shop') + pod('shop', 'web', '10.0.1.1', { app: 'web' }, ['8080/TCP']) + pod('shop', 'db', '10.0.1.2', { app: 'db' }, ['5432/TCP']);

const CNP = `apiVersion: networking.k8s.aws/v1alpha1
kind: ClusterNetworkPolicy
metadata: {name: egress-mixed}
spec:
  tier: Admin
  priority: 100
  subject: {namespaces: {}}
  egress:
  - name: allow-internal-and-apis
    action: Accept
    to:
    - networks: [10.0.0.0/8]
    - domainNames: [api.github.com, "*.example.com"]
    ports: [{portNumber: {protocol: TCP, port: 443}}]
  - name: deny-external
    action: Deny
    to: [{networks: [0.0.0.0/0]}]
---
`;

const ANP = `apiVersion: networking.k8s.aws/v1alpha1
kind: ApplicationNetworkPolicy
metadata: {name: fqdn, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{domainNames: [api.example.com]}]
    ports: [{protocol: TCP, port: 443}]
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{protocol: TCP, port: 5432}]
---
`;

/**
 * `why shop/web 203.0.113.7 --port 443` on `yaml`: denied and failed closed without an answer, allowed with
 * `--resolve api.example.com=203.0.113.7`. Returns the file written.
 */
async function expectResolveDecides(yaml: string): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'pl-resolve-')), 'in.yaml');
  writeFileSync(file, yaml);
  const without = await cli(['why', 'shop/web', '203.0.113.7', '--port', '443', file]);
  expect(without.out).toContain('DENIED');
  expect(without.out).toContain('no --resolve answer, so it matches no address (fail closed)');
  const answered = await cli(['why', 'shop/web', '203.0.113.7', '--port', '443', '--resolve', 'api.example.com=203.0.113.7', file]);
  expect(answered.out).toContain('ALLOWED');
  return file;
}

describe("AWS ClusterNetworkPolicy in the Admin tier (clusternetworkpolicy_types.go)", () => {
  const cluster = clusterFromYaml(PODS + CNP);
  it('reads it as a tier policy of group networking.k8s.aws, named so in why', () => {
    expect(cluster.tierPolicies.map((p) => [p.kind, p.group, p.tier, p.priority])).toEqual([['ClusterNetworkPolicy', 'networking.k8s.aws', 'Admin', 100]]);
    const v = compile(cluster).verdict({ from: 'shop/web', to: '8.8.8.8', protocol: 'TCP', port: 80 });
    expect(v.allowed).toBe(false);
    expect(v.egress.summary).toBe('Admin tier, ClusterNetworkPolicy (networking.k8s.aws) egress-mixed rule 1 (deny-external) Deny');
    expect(v.egress.rules[0].kind).toBe('ClusterNetworkPolicy (networking.k8s.aws)');
  });
  it('tests/cnp/06: an unanswered domainNames peer matches nothing, the networks peer of the same Accept rule still does', () => {
    const e = compile(cluster);
    expect(e.allows({ from: 'shop/web', to: '10.9.9.9', protocol: 'TCP', port: 443 })).toBe(true);
    expect(e.allows({ from: 'shop/web', to: '203.0.113.7', protocol: 'TCP', port: 443 })).toBe(false);
  });
  it('--resolve: a domainNames peer matches the answered addresses, wildcards by whole labels (DomainName doc)', () => {
    const e = compile(withDnsAnswers(cluster, [['a.b.example.com', '203.0.113.7'], ['example.com', '203.0.113.8']]));
    expect(e.allows({ from: 'shop/web', to: '203.0.113.7', protocol: 'TCP', port: 443 })).toBe(true);
    // `*.example.com` does not match example.com itself.
    expect(e.allows({ from: 'shop/web', to: '203.0.113.8', protocol: 'TCP', port: 443 })).toBe(false);
    expect(e.allows({ from: 'shop/web', to: '203.0.113.7', protocol: 'TCP', port: 80 })).toBe(false);
  });
  it('shares its name with an upstream ClusterNetworkPolicy without a duplicate error (another API group)', () => {
    const upstream = `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: egress-mixed}
spec: {tier: Baseline, priority: 1, subject: {namespaces: {}}}
---
`;
    expect(clusterFromYaml(PODS + CNP + upstream).tierPolicies.map((p) => p.group ?? 'policy.networking.k8s.io')).toEqual(['networking.k8s.aws', 'policy.networking.k8s.io']);
  });
});

describe('AWS ApplicationNetworkPolicy in the NetworkPolicy tier (applicationnetworkpolicy_resolver.go)', () => {
  const cluster = clusterFromYaml(PODS + ANP);
  it('isolates its pods like a NetworkPolicy; why names the kind and rule', () => {
    const e = compile(cluster);
    const v = e.verdict({ from: 'shop/web', to: 'shop/db', protocol: 'TCP', port: 5432 });
    expect(v.allowed).toBe(true);
    expect(v.egress.summary).toBe('ApplicationNetworkPolicy (networking.k8s.aws) shop/fqdn rule 1 allows');
    expect(e.allows({ from: 'shop/web', to: 'shop/db', protocol: 'TCP', port: 80 })).toBe(false);
  });
  it('its domainNames peer fails closed without an answer and matches the answer with one', () => {
    expect(compile(cluster).allows({ from: 'shop/web', to: '203.0.113.7', protocol: 'TCP', port: 443 })).toBe(false);
    expect(compile(withDnsAnswers(cluster, [['api.example.com', '203.0.113.7']])).allows({ from: 'shop/web', to: '203.0.113.7', protocol: 'TCP', port: 443 })).toBe(true);
  });
  it('adds up with a NetworkPolicy selecting the same pod (both are PolicyEndpoints to AWS)', () => {
    const np = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 8.8.8.8/32}}]}]
---
`;
    const e = compile(clusterFromYaml(PODS + ANP + np));
    expect(e.allows({ from: 'shop/web', to: '8.8.8.8', protocol: 'UDP', port: 53 })).toBe(true);
    expect(e.allows({ from: 'shop/web', to: 'shop/db', protocol: 'TCP', port: 5432 })).toBe(true);
    expect(e.allows({ from: 'shop/web', to: '8.8.4.4', protocol: 'UDP', port: 53 })).toBe(false);
  });
  it('palisade why --resolve: the answer decides, and without one why says it failed closed', async () => {
    const file = await expectResolveDecides(PODS + ANP);
    const bad = await cli(['why', 'shop/web', '203.0.113.7', '--port', '443', '--resolve', 'api.example.com', file]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('expected NAME=IP');
  });
});

describe('an upstream ClusterNetworkPolicy (v1alpha2) domainNames peer, read from a file', () => {
  const UPSTREAM = `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: fqdn}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  egress:
  - name: apis
    action: Accept
    to: [{domainNames: ["*.example.com"]}]
  - name: rest
    action: Deny
    to: [{networks: [0.0.0.0/0]}]
---
`;
  it('keeps its names, so why --resolve answers reach it as they reach AWS kinds', async () => {
    const peer = clusterFromYaml(PODS + UPSTREAM).tierPolicies[0].egress[0].peers[0];
    expect(peer).toEqual({ kind: 'unsupported', what: 'domainNames', domainNames: ['*.example.com'] });
    await expectResolveDecides(PODS + UPSTREAM);
  });
});
