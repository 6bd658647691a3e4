/** `palisade endpoints`: YAML, JSON and the table, through the real program with captured output. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

import { registerEndpoints } from '../../src/cli/endpoints.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import { np, ns, pod } from './fixtures.js';

function capture(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => '' }, out, err };
}

function manifests(): string {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-endpoints-'));
  const objs = [
    ns('shop'),
    pod('shop', 'web', { labels: { app: 'web' }, ip: '10.0.0.2', hostIP: '192.0.2.1' }),
    pod('shop', 'api', { labels: { app: 'api' }, ip: '10.0.0.3', hostIP: '192.0.2.1' }),
    np('shop', 'web-in', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }, { ipBlock: { cidr: '10.8.0.0/16', except: ['10.8.1.0/24'] } }], ports: [{ port: 80 }] }] }),
  ];
  const file = join(dir, 'all.json');
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));
  return file;
}

describe('palisade endpoints', () => {
  it('prints the PolicyEndpoints as YAML', async () => {
    const { io, out } = capture();
    expect(await run(['endpoints', manifests(), '-o', 'yaml', '-q'], io, [registerEndpoints])).toBe(0);
    const docs = parseAllDocuments(out.join('\n')).map((d) => d.toJS());
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ kind: 'PolicyEndpoint', metadata: { namespace: 'shop' }, spec: { podIsolation: ['Ingress', 'Egress'] } });
    expect(docs[0].spec.ingress).toEqual([
      { cidr: '10.0.0.3', ports: [{ protocol: 'TCP', port: 80 }] },
      { cidr: '10.8.0.0/16', except: ['10.8.1.0/24'], ports: [{ protocol: 'TCP', port: 80 }] },
    ]);
  });

  it('prints a List as JSON, chunked as asked', async () => {
    const { io, out } = capture();
    expect(await run(['endpoints', manifests(), '-o', 'json', '--endpoint-chunk-size', '1', '-q'], io, [registerEndpoints])).toBe(0);
    const list = JSON.parse(out.join('\n'));
    expect(list.kind).toBe('List');
    expect(list.items).toHaveLength(2);
  });

  it('shows which IPs each policy applies to, and per rule the peers and ports', async () => {
    const { io, out } = capture();
    expect(await run(['endpoints', manifests(), '-q'], io, [registerEndpoints])).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/^POLICY\s+RULE\s+PEERS\s+PORTS/);
    expect(text).toMatch(/shop\/web-in\s+applies to\s+10\.0\.0\.2/);
    expect(text).toMatch(/ingress\[0\]\s+10\.0\.0\.3, 10\.8\.0\.0\/16 except 10\.8\.1\.0\/24\s+TCP 80/);
    expect(text).toMatch(/egress\s+\(isolated, no rules: nothing allowed\)/);
  });

  it('lists a pod that two peers of one rule match once (examples/eks-multi-team: b/allow-team-and-monitoring)', async () => {
    const { io, out } = capture();
    expect(await run(['endpoints', 'examples/eks-multi-team/', '-q'], io, [registerEndpoints])).toBe(0);
    const rows = out.join('\n').split('\n');
    const at = rows.findIndex((r) => r.startsWith('b/allow-team-and-monitoring'));
    const rule = rows[at + 1];
    expect(rule).toMatch(/ingress\[0\]/);
    const ips = rule.match(/\d+\.\d+\.\d+\.\d+/g) ?? [];
    expect(ips).toContain('10.0.2.15');
    expect(new Set(ips).size).toBe(ips.length);
  });

  it('rejects a chunk size of 0 as a usage error', async () => {
    const { io, err } = capture();
    expect(await run(['endpoints', manifests(), '--endpoint-chunk-size', '0'], io, [registerEndpoints])).toBe(2);
    expect(err.join('\n')).toContain('--endpoint-chunk-size');
  });

  it('has help with an example', async () => {
    const { io, out } = capture();
    expect(await run(['endpoints', '--help'], io, [registerEndpoints])).toBe(0);
    expect(out.join('\n')).toContain('palisade endpoints examples/');
  });
});
