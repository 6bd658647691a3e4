/** The matrix contract for external endpoints: pod IPs are never external, never split a range, and `why` names pods. */
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/api/load.js';
import { compile } from '../../src/engine/engine.js';
import { readDocuments } from '../../src/model/read.js';

function cluster(policyPeers: string): ReturnType<typeof compile> {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.2.236}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.2.10}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to:
${policyPeers}
`;
  const { documents, diagnostics } = parseManifests(text, 'c.yaml');
  expect(diagnostics).toEqual([]);
  const read = readDocuments(documents);
  expect(read.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return compile(read.cluster);
}

describe('external endpoints never contain or are split by pod IPs (issue 2 and 12 matrix contract)', () => {
  it('a /32 ipBlock equal to a pod IP yields no External endpoint and does not split the space', () => {
    const engine = cluster('    - ipBlock: {cidr: 10.0.2.236/32}');
    const ids = engine.externals.map((x) => x.id);
    expect(ids).not.toContain('10.0.2.236-10.0.2.236');
    expect(ids).toEqual(['0.0.0.0-255.255.255.255']);
    // The block still allows the pod it names, and nothing external.
    expect(engine.verdict({ from: 'a/client', to: 'a/web', protocol: 'TCP', port: 80 }).allowed).toBe(true);
    expect(engine.verdict({ from: 'a/client', to: '8.8.8.8', protocol: 'TCP', port: 80 }).allowed).toBe(false);
  });

  it('a block made of a pod IP and external addresses is still a range (the pod IP in its span is not a member)', () => {
    const engine = cluster('    - ipBlock: {cidr: 10.0.2.236/31}');
    const ids = engine.externals.map((x) => x.id);
    expect(ids).toEqual(['0.0.0.0-10.0.2.235', '10.0.2.236-10.0.2.237', '10.0.2.238-255.255.255.255']);
    expect(engine.verdict({ from: 'a/client', to: '10.0.2.237', protocol: 'TCP', port: 80 }).allowed).toBe(true);
  });

  it('a pod IP resolves to the pod, not an external range', () => {
    const engine = cluster('    - ipBlock: {cidr: 10.0.2.236/32}');
    const to = engine.resolve('10.0.2.236');
    expect(to.kind === 'endpoint' ? to.endpoint.id : to.kind).toBe('a/web');
    expect(engine.verdict({ from: '10.0.2.10', to: '10.0.2.236', protocol: 'TCP', port: 80 }).allowed).toBe(true);
  });

  it('an except equal to a pod IP does not split the external range around it', () => {
    const engine = cluster('    - ipBlock: {cidr: 10.0.0.0/16, except: [10.0.2.236/32]}');
    expect(engine.externals.map((x) => x.id)).toEqual(['0.0.0.0-9.255.255.255', '10.0.0.0-10.0.255.255', '10.1.0.0-255.255.255.255']);
    expect(engine.verdict({ from: 'a/client', to: 'a/web', protocol: 'TCP', port: 80 }).allowed).toBe(false);
    expect(engine.verdict({ from: 'a/client', to: '10.0.2.237', protocol: 'TCP', port: 80 }).allowed).toBe(true);
  });
});
