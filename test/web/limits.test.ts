/**
 * `palisade serve`'s cost limits (issue 14, point 8): edits are evaluated in a worker thread, so other requests are
 * answered while a big edit is computed; an edit over its time budget is stopped with a clear error (and the next one
 * is served by a fresh worker); edits over the byte or document caps are refused before they are parsed; the cache of
 * compiled edits is bounded by bytes.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readCluster } from '../../src/model/read.js';
import type { EvaluateResponse } from '../../src/web/protocol.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { MAX_EDIT_BYTES, MAX_EDIT_DOCUMENTS, Workspace } from '../../src/web/workspace.js';

const EXAMPLE = 'examples/eks-multi-team/';

function setup() {
  const read = readCluster([EXAMPLE]);
  const texts = new Map(read.documents.map((d) => [d.pos.file, readFileSync(d.pos.file, 'utf8')]));
  return { read, texts, workspace: new Workspace([EXAMPLE], read, texts) };
}

/** An edit of `n` NetworkPolicies, each with a few rules: costly to compile, lint and grid. */
function bigEdit(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p${i}, namespace: ns${i % 7}}
spec:
  podSelector: {matchLabels: {app: a${i % 13}}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: b${i % 11}}}}, {ipBlock: {cidr: 10.${i % 250}.0.0/16, except: [10.${i % 250}.1.0/24]}}]
    ports: [{port: ${1000 + (i % 500)}}, {port: ${2000 + (i % 300)}, endPort: ${2100 + (i % 300)}}]
  egress:
  - to: [{namespaceSelector: {matchLabels: {team: t${i % 5}}}}]
`);
  }
  return out.join('---\n');
}

const servers: WebServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(budgetMs: number): Promise<WebServer> {
  const { workspace, texts } = setup();
  const web = await startWebServer({ workspace, port: 0, staticDir: '/nonexistent', evaluator: { inputs: [EXAMPLE], texts: [...texts], defaultNamespace: 'default', budgetMs } });
  servers.push(web);
  return web;
}

const post = (web: WebServer, body: unknown) => fetch(new URL('/api/evaluate', web.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('edits off the request loop', () => {
  it('answers other requests while a big edit is evaluated, then the edit itself', async () => {
    const web = await serve(120_000);
    // Warm the worker up, so what follows measures the edit, not the thread's start.
    expect((await post(web, { yaml: 'kind: List\napiVersion: v1\nitems: []\n' })).status).toBe(200);
    let editDone = 0;
    const edit = post(web, { yaml: bigEdit(1500) }).then(async (r) => {
      editDone = performance.now();
      return { status: r.status, body: (await r.json()) as EvaluateResponse };
    });
    await new Promise((r) => setTimeout(r, 50));
    const answered: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(new URL('/api/source', web.url));
      expect(r.status).toBe(200);
      answered.push(performance.now());
    }
    const { status, body } = await edit;
    expect(status).toBe(200);
    expect(body.ok).toBe(true);
    // Every other request was answered before the edit was.
    for (const t of answered) expect(t).toBeLessThan(editDone);
  });

  it('stops an edit over its time budget with a clear error, and serves the next edit', async () => {
    const web = await serve(200);
    expect((await post(web, { yaml: 'kind: List\napiVersion: v1\nitems: []\n' })).status).toBe(200);
    const res = await post(web, { yaml: bigEdit(1500) });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/took longer than 0\.2 s and was stopped: make the edit smaller/);
    const next = await post(web, { yaml: 'kind: List\napiVersion: v1\nitems: []\n' });
    expect(next.status).toBe(200);
    expect(((await next.json()) as EvaluateResponse).ok).toBe(true);
  });
});

describe('caps', () => {
  it(`refuses an edit over ${MAX_EDIT_BYTES / 1048576} MiB at once, with the size in the message`, () => {
    const { workspace } = setup();
    const yaml = `# ${'x'.repeat(MAX_EDIT_BYTES)}\n`;
    const t0 = performance.now();
    const r = workspace.evaluate({ yaml });
    expect(r.ok).toBe(false);
    expect(r.diagnostics[0].message).toMatch(/the edit is 4\.0 MiB; the limit is 4 MiB/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it(`refuses an edit of more than ${MAX_EDIT_DOCUMENTS} documents`, () => {
    const { workspace } = setup();
    const r = workspace.evaluate({ yaml: 'a: 1\n---\n'.repeat(MAX_EDIT_DOCUMENTS) });
    expect(r.ok).toBe(false);
    expect(r.diagnostics[0].message).toBe(`the edit has ${MAX_EDIT_DOCUMENTS + 1} documents; the limit is ${MAX_EDIT_DOCUMENTS}`);
  });

  it('keeps the cache of compiled edits under its byte bound', () => {
    const { read, texts } = setup();
    const workspace = new Workspace([EXAMPLE], read, texts, 'default', { cacheBytes: 3000 });
    const edits = [1, 2, 3].map((i) => `${bigEdit(3).replace(/p(\d)/g, `q${i}$1`)}`);
    for (const e of edits) expect(Buffer.byteLength(e)).toBeGreaterThan(1000);
    for (const e of edits) workspace.evaluate({ yaml: e });
    const stats = workspace.cacheStats();
    expect(stats.bytes).toBeLessThanOrEqual(3000);
    expect(stats.entries).toBe(Math.floor(3000 / Buffer.byteLength(edits[0])));
  });
});
