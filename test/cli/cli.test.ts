/** The analysis commands end to end, in process: exit codes, output contracts, and clear errors for bad input. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import type { MatrixJson } from '../../src/engine/types.js';

const EXAMPLE = 'examples/eks-multi-team/';

async function palisade(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => stdin };
  const code = await run(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('palisade check', () => {
  it('accepts the bundled example', async () => {
    const r = await palisade(['check', EXAMPLE]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/36 objects checked: 0 errors, 0 warnings — valid/);
  });
  it('reports each error with file:line:column, object, field path and what is wrong, exit 1', async () => {
    const r = await palisade(['check', 'test/fixtures/cli/invalid.yaml']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/test\/fixtures\/cli\/invalid\.yaml:13:11: error: NetworkPolicy shop\/bad-except: spec\.ingress\[0\]\.from\[0\]\.ipBlock\.except\[0\]: .*strict subset/);
    expect(r.out).toMatch(/invalid\.yaml:17:\d+: error: NetworkPolicy shop\/bad-except: spec\.ingress\[0\]\.ports\[0\]\.endPort: .*must be greater than or equal to `port`/);
    expect(r.out).toMatch(/2 errors/);
  });
  it('malformed YAML is an error with a position, never a stack trace', async () => {
    const r = await palisade(['check', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: x\n');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/<stdin>:\d+:\d+: error: /);
    expect(r.out + r.err).not.toMatch(/\n\s+at /);
  });
  it('a missing path is an error naming it', async () => {
    const r = await palisade(['check', 'no/such/dir']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no\/such\/dir/);
  });
  it('no arguments is a usage error, exit 2', async () => {
    const r = await palisade(['check']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing required argument/);
  });
  it('warns about admin-tier policies sharing a priority', async () => {
    const cnp = (name: string) => `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: ${name}}
spec: {tier: Admin, priority: 5, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}]}]}
---
`;
    const r = await palisade(['check', '-'], cnp('one') + cnp('two'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/warning: Admin tier policies one, two share priority 5; their order is undefined upstream/);
  });
});

function conn0(m: { connections: readonly { from: string; to: string }[] }, from: string, to: string) {
  return m.connections.find((c) => c.from === from && c.to === to);
}

describe('palisade matrix', () => {
  it('-o json follows the contract', async () => {
    const r = await palisade(['matrix', EXAMPLE, '-o', 'json']);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.out) as MatrixJson;
    expect(m.endpoints).toContainEqual({ id: 'a/client', kind: 'Pod', namespace: 'a', name: 'client' });
    expect(m.endpoints).toContainEqual({ id: 'e/checkout', kind: 'Deployment', namespace: 'e', name: 'checkout' });
    expect(m.endpoints).toContainEqual({ id: 'c/report', kind: 'CronJob', namespace: 'c', name: 'report' });
    const externals = m.endpoints.filter((e) => e.kind === 'External').map((e) => e.id);
    // The nodes' addresses (the pods' host IPs) are ranges of their own: each reaches its own pods on every port.
    expect(externals).toEqual(['0.0.0.0-169.254.169.253', '169.254.169.254-169.254.169.254', '169.254.169.255-192.168.10.0', '192.168.10.1-192.168.10.1', '192.168.10.2-192.168.10.2', '192.168.10.3-203.0.112.255', '203.0.113.0-203.0.113.255', '203.0.114.0-255.255.255.255']);
    expect(conn0(m, '192.168.10.1-192.168.10.1', 'a/nginx')).toEqual({ from: '192.168.10.1-192.168.10.1', to: 'a/nginx', tcp: '1-65535', udp: '1-65535', sctp: '1-65535' });
    expect(conn0(m, '192.168.10.2-192.168.10.2', 'a/nginx')).toBeUndefined();
    const conn = (from: string, to: string) => m.connections.find((c) => c.from === from && c.to === to);
    expect(conn('a/client', 'a/nginx')).toEqual({ from: 'a/client', to: 'a/nginx', tcp: '80', udp: '', sctp: '' });
    expect(conn('a/stranger', 'a/nginx')).toBeUndefined();
    expect(conn('a/client', 'd/monitor')).toBeUndefined();
    expect(conn('d/monitor', 'a/client')).toBeUndefined();
    expect(conn('a/client', '169.254.169.254-169.254.169.254')).toBeUndefined();
    expect(conn('a/client', '203.0.114.0-255.255.255.255')).toEqual({ from: 'a/client', to: '203.0.114.0-255.255.255.255', tcp: '1-65535', udp: '1-65535', sctp: '1-65535' });
    expect(conn('a/client', 'b/api')?.tcp).toBe('8000-8100');
    expect(conn('203.0.113.0-203.0.113.255', 'c/db')).toEqual({ from: '203.0.113.0-203.0.113.255', to: 'c/db', tcp: '5432', udp: '', sctp: '' });
    expect(m.connections.some((c) => c.from === c.to)).toBe(false);
    const ext = new Set(externals);
    expect(m.connections.some((c) => ext.has(c.from) && ext.has(c.to))).toBe(false);
  });
  it('reads stdin, and the table marks allowed and blocked for one port', async () => {
    const yaml = ['namespaces.yaml', 'workloads.yaml', 'policies-team-a.yaml', 'policies-team-b.yaml'].map((f) => readFileSync(`${EXAMPLE}${f}`, 'utf8')).join('\n---\n');
    const r = await palisade(['matrix', '-', '--port', '80', '--protocol', 'TCP', '-n', 'a'], yaml);
    expect(r.code).toBe(0);
    const rows = r.out.split('\n');
    const client = rows.find((l) => /^\s*1 a\/client/.test(l))!;
    const stranger = rows.find((l) => /^\s*3 a\/stranger/.test(l))!;
    // Columns: a/client, a/nginx, a/stranger, then the external ranges.
    expect(client.replace(/^.*a\/client\s+/, '').split(' ').slice(0, 3)).toEqual(['-', '✓', '✓']);
    expect(stranger.replace(/^.*a\/stranger\s+/, '').split(' ').slice(0, 3)).toEqual(['✓', '✗', '-']);
  });
  it('csv lists one row per allowed pair', async () => {
    const r = await palisade(['matrix', EXAMPLE, '-o', 'csv']);
    const json = JSON.parse((await palisade(['matrix', EXAMPLE, '-o', 'json'])).out) as MatrixJson;
    expect(r.out.split('\n')[0]).toBe('from,to,tcp,udp,sctp');
    expect(r.out.split('\n')).toHaveLength(json.connections.length + 1);
    expect(r.out).toContain('a/client,a/nginx,80,,');
  });
  it('a bad port is a usage error', async () => {
    const r = await palisade(['matrix', EXAMPLE, '--port', '70000']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/port must be a number from 1 to 65535/);
  });
  it('input with errors stops the analysis with exit 1 and the errors', async () => {
    const r = await palisade(['matrix', 'test/fixtures/cli/invalid.yaml']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/ipBlock\.except\[0\]/);
    expect(r.err).toMatch(/2 errors in the input/);
  });
});

describe('palisade why', () => {
  it('names the isolating policies when nothing allows', async () => {
    const r = await palisade(['why', 'a/stranger', 'a/nginx', '--port', '80', EXAMPLE]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/a\/stranger -> a\/nginx TCP\/80: DENIED/);
    expect(r.out).toMatch(/ingress \(a\/nginx receiving\): DENIED — isolated by NetworkPolicy a\/default-deny, a\/access-nginx; no rule allows it/);
  });
  it('names the rule that allows, and takes IP addresses', async () => {
    const r = await palisade(['why', '10.0.1.12', '10.0.1.11', '--port', '80', EXAMPLE, '-o', 'json']);
    const v = JSON.parse(r.out) as { allowed: boolean; ingress: { rules: { policy: string; index: number }[] } };
    expect(v.allowed).toBe(true);
    expect(v.ingress.rules).toEqual([expect.objectContaining({ policy: 'a/access-nginx', index: 0 })]);
  });
  it('an IP that belongs to a pod names the pod (matrix contract: pod IPs are endpoints, not external addresses)', async () => {
    const r = await palisade(['why', '10.0.1.12', '10.0.1.11', '--port', '80', EXAMPLE]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\(10\.0\.1\.12 is the IP of a\/client\)\n\(10\.0\.1\.11 is the IP of a\/nginx\)\na\/client -> a\/nginx TCP\/80: ALLOWED/);
    const json = JSON.parse((await palisade(['why', '10.0.1.12', '10.0.1.11', '--port', '80', EXAMPLE, '-o', 'json'])).out) as { flow: { from: string; to: string } };
    expect(json.flow).toMatchObject({ from: 'a/client', to: 'a/nginx' });
  });
  it('the metadata address is denied by the except, the internet allowed', async () => {
    expect((await palisade(['why', 'b/web', '169.254.169.254', '--port', '80', EXAMPLE])).out).toMatch(/DENIED/);
    expect((await palisade(['why', 'b/web', '1.1.1.1', '--port', '443', EXAMPLE])).out).toMatch(/ALLOWED/);
  });
  it('an unknown endpoint is a clear error', async () => {
    const r = await palisade(['why', 'nginx', 'a/client', '--port', '80', EXAMPLE]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no endpoint, external range or IP address named "nginx" \(did you mean a\/nginx\?\)/);
  });
});

describe('palisade explain', () => {
  it('shows AND peers as one unit and lists what each rule admits', async () => {
    const r = await palisade(['explain', EXAMPLE]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/NetworkPolicy c\/db-access/);
    expect(r.out).toMatch(/peer 0: pods with role=api AND in namespaces with team=a → b\/api/);
    expect(r.out).toMatch(/peer 1: addresses in 203\.0\.113\.0\/24 → 203\.0\.113\.0-203\.0\.113\.255/);
    expect(r.out).toMatch(/ingress: no rules — denies all ingress/);
  });
});

describe('--help', () => {
  for (const cmd of ['check', 'matrix', 'why', 'explain', 'conformance']) {
    it(`${cmd} --help has an example`, async () => {
      const r = await palisade([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/Example/);
    });
  }
});
