/**
 * `--lenient`: what an API server rejects is analysed as a Go client decodes it, with a warning at each place; what
 * cannot be read fails closed. `check` stays strict.
 */
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';

async function palisade(args: string[], stdin: string): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => stdin };
  const code = await run(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const PODS = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80, name: http}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.2}
---
`;

function ingressPolicy(rule: string): string {
  return `${PODS}apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
${rule}
`;
}

async function allowed(input: string, port = 80): Promise<{ allowed: boolean; err: string }> {
  const r = await palisade(['why', 'a/client', 'a/web', '--port', String(port), '--lenient', '-', '-o', 'json'], input);
  expect(r.code, r.err).toBe(0);
  return { allowed: (JSON.parse(r.out) as { allowed: boolean }).allowed, err: r.err };
}

describe('--lenient reads what the API server rejects as the Go types decode it', () => {
  const cases: [name: string, rule: string, port: number, want: boolean, warning: RegExp][] = [
    [
      'a port above 65535 is kept as written and matches no port (networking/v1 types.go: port is an intstr, validation.go rejects the range)',
      '  - ports: [{port: 70000}]',
      80,
      false,
      /spec\.ingress\[0\]\.ports\[0\]\.port: Invalid value: 70000.*--lenient/,
    ],
    [
      'endPort below port is kept and matches no port (validation.go ValidateNetworkPolicyPort rejects it)',
      '  - ports: [{port: 90, endPort: 80}]',
      85,
      false,
      /endPort: .*must be greater than or equal to `port`.*--lenient/,
    ],
    [
      'an unparseable CIDR fails closed: the peer matches nothing (net.ParseCIDR fails in every evaluator)',
      '  - from: [{ipBlock: {cidr: 10.0.0.0/33}}]',
      80,
      false,
      /cannot be read: the ipBlock CIDR cannot be parsed: the peer matches nothing/,
    ],
    [
      'an unknown operator fails closed: the peer matches nothing (metav1.LabelSelectorAsSelector returns an error)',
      '  - from: [{podSelector: {matchExpressions: [{key: app, operator: Equals, values: [client]}]}}]',
      80,
      false,
      /matches nothing \(fails closed\)/,
    ],
    [
      'an unknown protocol fails closed: the entry matches no port (validation.go rejects it; no evaluator matches it)',
      '  - ports: [{protocol: ICMP, port: 80}]',
      80,
      false,
      /protocol "ICMP" is unknown: the entry matches no port/,
    ],
    [
      'an empty peer is rejected by the server (validation.go: must specify a peer) and matches nothing leniently',
      '  - from: [{}]',
      80,
      false,
      /must specify a peer.*--lenient/,
    ],
    [
      'an invalid label value in a selector is kept and matched literally (validation.go ValidateLabelSelector)',
      '  - from: [{podSelector: {matchLabels: {app: "client!"}}}]',
      80,
      false,
      /matchLabels.*--lenient/,
    ],
  ];
  for (const [name, rule, port, want, warning] of cases) {
    it(name, async () => {
      const strict = await palisade(['why', 'a/client', 'a/web', '--port', String(port), '-'], ingressPolicy(rule));
      expect(strict.code).toBe(1);
      const r = await allowed(ingressPolicy(rule), port);
      expect(r.allowed).toBe(want);
      expect(r.err).toMatch(warning);
    });
  }

  it('an unreadable pod selector of the policy isolates its namespace and allows nothing (fails closed)', async () => {
    const input = `${PODS}apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchExpressions: [{key: app, operator: Is}]}
  ingress: [{}]
`;
    const r = await allowed(input);
    expect(r.allowed).toBe(false);
    expect(r.err).toMatch(/applies to every pod of its namespace and allows nothing/);
  });

  it('the valid parts of a policy keep their meaning: an allowed rule beside an unreadable one still allows', async () => {
    const r = await allowed(ingressPolicy('  - from: [{ipBlock: {cidr: nope}}]\n  - from: [{podSelector: {matchLabels: {app: client}}}]'));
    expect(r.allowed).toBe(true);
  });

  it('check stays strict: it has no --lenient', async () => {
    const r = await palisade(['check', '--lenient', '-'], ingressPolicy('  - ports: [{port: 70000}]'));
    expect(r.code).toBe(2);
  });

  it('every analysis command takes --lenient', async () => {
    for (const cmd of ['matrix', 'why', 'explain', 'lint', 'diff', 'endpoints', 'serve']) {
      const r = await palisade([cmd, '--help'], '');
      expect(r.out, cmd).toMatch(/--lenient/);
    }
  });
});
