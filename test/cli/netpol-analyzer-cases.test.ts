/**
 * A few facts of netpol-analyzer's connectivity goldens, as Palisade's own cases (manifests written here; only the
 * expected connections are netpol-analyzer's). The whole golden suite runs in test/conformance/netpol-analyzer.test.ts
 * when a checkout is given.
 */
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import type { MatrixJson } from '../../src/engine/types.js';

async function matrix(manifests: string, lenient = false): Promise<{ code: number; lines: string[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => manifests };
  const code = await run(['matrix', '-', '-o', 'json', ...(lenient ? ['--lenient'] : [])], io);
  if (code !== 0) return { code, lines: [], err: err.join('\n') };
  const m = JSON.parse(out.join('\n')) as MatrixJson;
  const text = (c: MatrixJson['connections'][number]) =>
    c.tcp === '1-65535' && c.udp === '1-65535' && c.sctp === '1-65535' ? 'all' : [c.sctp && `SCTP ${c.sctp}`, c.tcp && `TCP ${c.tcp}`, c.udp && `UDP ${c.udp}`].filter(Boolean).join(',');
  return { code, lines: m.connections.map((c) => `${c.from} => ${c.to} : ${text(c)}`).sort(), err: err.join('\n') };
}

const deployment = (name: string, app: string, ports: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {matchLabels: {app: ${app}}}
  template:
    metadata: {labels: {app: ${app}}}
    spec:
      containers:
      - name: c
        image: example/app
        ports: ${ports}
---
`;

describe('facts of netpol-analyzer goldens', () => {
  it('an ingress rule from the own namespace on TCP 8050 opens only that port, and only from inside (golden: tests/minimal_test_in_ns)', async () => {
    const r = await matrix(`apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
${deployment('front', 'front', '[{containerPort: 8050}]')}${deployment('back', 'back', '[{containerPort: 8000}, {containerPort: 8050}]')}apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {matchLabels: {app: back}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}}]
    ports: [{port: 8050, protocol: TCP}]
`);
    expect(r.code, r.err).toBe(0);
    expect(r.lines).toEqual([
      '0.0.0.0-255.255.255.255 => shop/front : all',
      'shop/back => 0.0.0.0-255.255.255.255 : all',
      'shop/back => shop/front : all',
      'shop/front => 0.0.0.0-255.255.255.255 : all',
      'shop/front => shop/back : TCP 8050',
    ]);
  });

  it('a named port whose protocol differs from the container port matches nothing, and Egress in policyTypes isolates egress (golden: tests/netpol_named_port_test)', async () => {
    const r = await matrix(`${deployment('a', 'a', '[{name: newport, containerPort: 8956, protocol: SCTP}]')}${deployment('b', 'b', '[{containerPort: 80}]')}apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: newport, protocol: UDP}]
`);
    expect(r.code, r.err).toBe(0);
    expect(r.lines).toEqual(['0.0.0.0-255.255.255.255 => shop/b : all', 'shop/b => 0.0.0.0-255.255.255.255 : all']);
  });

  it('a misspelt field (containerport) is rejected by the API server but read by Go clients: --lenient analyses it (golden: tests/netpol_named_port_test)', async () => {
    const input = deployment('a', 'a', '[{name: udps, containerport: 3535, protocol: UDP}]');
    const strict = await matrix(input);
    expect(strict.code).toBe(1);
    expect(strict.err).toMatch(/containers\[0\]\.ports\[0\]\.containerPort/);
    const lenient = await matrix(input, true);
    expect(lenient.code, lenient.err).toBe(0);
    expect(lenient.lines).toEqual(['0.0.0.0-255.255.255.255 => shop/a : all', 'shop/a => 0.0.0.0-255.255.255.255 : all']);
  });
});
