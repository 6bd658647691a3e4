import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCluster } from '../../src/model/read.js';
import { diffClusters, type ReachabilityDiff } from '../../src/analyze/diff.js';
import { cli, tempDir } from './support.js';

const EXAMPLE = 'examples/eks-multi-team';

/** A copy of the example with `edit` applied to one file's text, and extra files added. */
function variant(edit: { file: string; from: string | RegExp; to: string } | undefined, extra: Record<string, string> = {}): string {
  const dir = join(tempDir(), 'example');
  cpSync(EXAMPLE, dir, { recursive: true });
  if (edit) {
    const path = join(dir, edit.file);
    const text = readFileSync(path, 'utf8');
    const changed = text.replace(edit.from, edit.to);
    if (changed === text) throw new Error(`edit of ${edit.file} changed nothing`);
    writeFileSync(path, changed);
  }
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

function diffOf(oldDir: string, newDir: string): ReachabilityDiff {
  return diffClusters(readCluster([oldDir]).cluster, readCluster([newDir]).cluster);
}

const NO_EXCEPT_B = { file: 'policies-team-b.yaml', from: /ipBlock: \{cidr: 0\.0\.0\.0\/0, except: \[169\.254\.169\.254\/32\]\}/g, to: 'ipBlock: {cidr: 0.0.0.0/0}' };

const DNS_ONLY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-only, namespace: kube-system}
spec:
  podSelector: {matchLabels: {k8s-app: kube-dns}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: a}}
    ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
`;

const DB_FROM_MONITOR = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-monitor, namespace: c}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: d}}
      podSelector: {matchLabels: {role: monitor}}
    ports:
    - {protocol: TCP, port: 9187}
`;

const NEW_POD = `apiVersion: v1
kind: Pod
metadata: {name: newcomer, namespace: f, labels: {app: worker}}
spec: {containers: [{name: c}]}
status: {phase: Running, podIP: 10.0.1.30}
`;

describe('diff on real changes of the example', () => {
  it('removing the except of team B opens the metadata address to team B, and nothing else', () => {
    const d = diffOf(EXAMPLE, variant(NO_EXCEPT_B));
    expect(d.closed).toEqual([]);
    expect(d.endpoints).toEqual({ added: [], removed: [] });
    expect(d.opened.map((c) => `${c.from} -> ${c.to}`)).toEqual(['d/monitor -> 169.254.169.254', 'e/checkout -> 169.254.169.254', 'e/shop -> 169.254.169.254', 'f/worker -> 169.254.169.254']);
    const shop = d.opened.find((c) => c.from === 'e/shop')!;
    expect([shop.tcp, shop.udp, shop.sctp]).toEqual(['1-65535', '1-65535', '1-65535']);
    expect(shop.toNamespace).toBe('external');
    expect(shop.causes).toEqual([{ direction: 'egress', summary: 'NetworkPolicy e/allow-team rule 2 allows', policies: ['e/allow-team'] }]);
  });

  it('adding a policy that isolates CoreDNS closes it to team B and to outside addresses, blamed on that policy', () => {
    const d = diffOf(EXAMPLE, variant(undefined, { 'dns-only.yaml': DNS_ONLY }));
    expect(d.opened).toEqual([]);
    expect(new Set(d.closed.map((c) => c.to))).toEqual(new Set(['kube-system/coredns']));
    for (const c of d.closed) expect(c.causes).toEqual([{ direction: 'ingress', summary: 'isolated by NetworkPolicy kube-system/dns-only; no rule allows it', policies: [] }]);
    // Team A keeps DNS; only its other ports close.
    const client = d.closed.find((c) => c.from === 'a/client')!;
    expect([client.tcp, client.udp]).toEqual(['1-52,54-65535', '1-52,54-65535']);
    expect(d.closed.find((c) => c.from === 'e/shop')).toMatchObject({ tcp: '1-65535', udp: '1-65535', sctp: '1-65535' });
    // Every outside address, merged back into ranges, but CoreDNS's own node (192.168.10.1): it always reaches its pods.
    expect(d.closed.filter((c) => c.fromNamespace === 'external').map((c) => c.from)).toEqual(['0.0.0.0-192.168.10.0', '192.168.10.2-255.255.255.255']);
  });

  it('a rule in the new version that opens a port names that rule', () => {
    const d = diffOf(EXAMPLE, variant(undefined, { 'db.yaml': DB_FROM_MONITOR }));
    expect(d.closed).toEqual([]);
    expect(d.opened).toHaveLength(1);
    expect(d.opened[0]).toMatchObject({ from: 'd/monitor', to: 'c/db', tcp: '9187', udp: '', sctp: '', probe: { protocol: 'TCP', port: 9187 } });
    expect(d.opened[0].causes).toEqual([{ direction: 'ingress', summary: 'NetworkPolicy c/db-from-monitor rule 0 allows', policies: ['c/db-from-monitor'] }]);
  });

  it('endpoints that appear are listed apart, not as opened connections', () => {
    const d = diffOf(EXAMPLE, variant(undefined, { 'pod.yaml': NEW_POD }));
    expect(d.endpoints.added).toEqual([{ id: 'f/newcomer', kind: 'Pod', namespace: 'f' }]);
    expect(d.opened).toEqual([]);
    expect(d.closed).toEqual([]);
    const back = diffOf(variant(undefined, { 'pod.yaml': NEW_POD }), EXAMPLE);
    expect(back.endpoints.removed).toEqual([{ id: 'f/newcomer', kind: 'Pod', namespace: 'f' }]);
  });

  it('the same manifests: no change', () => {
    const d = diffOf(EXAMPLE, EXAMPLE);
    expect(d).toEqual({ opened: [], closed: [], endpoints: { added: [], removed: [] } });
  });
});

describe('diff command', () => {
  it('table grouped by namespaces and ports; --exit-code exits 1 on a change', async () => {
    const r = await cli(['diff', EXAMPLE, variant(NO_EXCEPT_B), '--exit-code', '-q']);
    expect(r.code).toBe(1);
    expect(r.out.split('\n')).toEqual([
      'Opened (4):',
      '  d → external: all ports',
      '    + d/monitor -> 169.254.169.254  egress: NetworkPolicy d/allow-team rule 2 allows (TCP/1)',
      '  e → external: all ports',
      '    + e/checkout -> 169.254.169.254  egress: NetworkPolicy e/allow-team rule 2 allows (TCP/1)',
      '    + e/shop -> 169.254.169.254      egress: NetworkPolicy e/allow-team rule 2 allows (TCP/1)',
      '  f → external: all ports',
      '    + f/worker -> 169.254.169.254  egress: NetworkPolicy f/allow-team rule 2 allows (TCP/1)',
    ]);
  });

  it('exit 0 without --exit-code, and with it when nothing changed', async () => {
    expect((await cli(['diff', EXAMPLE, variant(NO_EXCEPT_B), '-q'])).code).toBe(0);
    const same = await cli(['diff', EXAMPLE, EXAMPLE, '--exit-code', '-q']);
    expect(same.code).toBe(0);
    expect(same.out).toBe('No change in reachability.');
  });

  it('json and markdown; one side from stdin', async () => {
    const dir = variant(undefined, { 'db.yaml': DB_FROM_MONITOR });
    const stdin = readFileSync(join(EXAMPLE, 'namespaces.yaml'), 'utf8') + '\n---\n' + ['policies-team-a.yaml', 'policies-team-b.yaml', 'workloads.yaml'].map((f) => readFileSync(join(EXAMPLE, f), 'utf8')).join('\n---\n');
    const json = await cli(['diff', '-', dir, '-o', 'json', '-q'], stdin);
    expect(json.code).toBe(0);
    const d = JSON.parse(json.out) as ReachabilityDiff;
    expect(d.opened.map((c) => [c.from, c.to, c.tcp])).toEqual([['d/monitor', 'c/db', '9187']]);
    const md = await cli(['diff', EXAMPLE, dir, '-o', 'md', '-q']);
    expect(md.out).toContain('| `d/monitor` | `c/db` | TCP 9187 | ingress: NetworkPolicy c/db-from-monitor rule 0 allows |');
  });

  it('refuses - for both sides', async () => {
    const r = await cli(['diff', '-', '-']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('only one of OLD and NEW can be -');
  });

  it('has --help with an example', async () => {
    const r = await cli(['diff', '--help']);
    expect(r.out).toContain('palisade diff main/manifests/ manifests/');
  });
});
