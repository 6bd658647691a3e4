/**
 * The web server's JSON API over the bundled example: the matrix is the engine's contract, the grid says the same,
 * why matches the engine's verdict and points at the deciding rule's lines, and an edit is evaluated with diagnostics
 * at their lines and the changed cells listed.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCluster } from '../../src/model/read.js';
import { compile } from '../../src/engine/engine.js';
import { gridToMatrix } from '../../src/web/grid.js';
import type { EvaluateResponse, Grid, PoliciesResponse, SourceResponse, WhyResponse } from '../../src/web/protocol.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { EDITED_FILE, Workspace } from '../../src/web/workspace.js';

const EXAMPLE = 'examples/eks-multi-team/';

function workspaceOf(paths: string[]): { workspace: Workspace; read: ReturnType<typeof readCluster> } {
  const read = readCluster(paths);
  const texts = new Map(read.documents.map((d) => [d.pos.file, readFileSync(d.pos.file, 'utf8')]));
  return { workspace: new Workspace(paths, read, texts), read };
}

let web: WebServer;
let read: ReturnType<typeof readCluster>;
let workspace: Workspace;

beforeAll(async () => {
  ({ workspace, read } = workspaceOf([EXAMPLE]));
  web = await startWebServer({ workspace, port: 0, staticDir: '/nonexistent' });
});
afterAll(async () => {
  await web?.close();
});

async function get<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(new URL(path, web.url));
  return { status: res.status, body: (await res.json()) as T };
}

async function post<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(new URL(path, web.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

/** A change to one line of the loaded policy text. */
function edit(yaml: string, from: string, to: string): string {
  expect(yaml).toContain(from);
  return yaml.replace(from, to);
}

describe('GET /api/matrix', () => {
  it('is compile(cluster).matrixJson() of the example', async () => {
    const { status, body } = await get('/api/matrix');
    expect(status).toBe(200);
    expect(body).toEqual(compile(read.cluster).matrixJson());
  });

  it('passes protocol, port and namespace through', async () => {
    const { body } = await get('/api/matrix?protocol=udp&port=53&namespace=a');
    expect(body).toEqual(compile(read.cluster).matrixJson({ protocol: 'UDP', port: 53, namespace: 'a' }));
  });

  it('rejects a bad port with 400 and a message', async () => {
    const { status, body } = await get<{ error: string }>('/api/matrix?port=70000');
    expect(status).toBe(400);
    expect(body.error).toMatch(/port must be a number/);
  });
});

describe('GET /api/grid', () => {
  it('expands to exactly the matrix contract', async () => {
    const { body } = await get<Grid>('/api/grid');
    expect(gridToMatrix(body)).toEqual(compile(read.cluster).matrixJson());
  });
});

describe('GET /api/why', () => {
  it('gives the engine verdict both ways, and the deciding rule with its lines', async () => {
    const { status, body } = await get<WhyResponse>('/api/why?from=a/client&to=a/nginx&port=80&protocol=TCP');
    expect(status).toBe(200);
    const engine = compile(read.cluster);
    expect(body.forward.verdict).toEqual(engine.verdict({ from: 'a/client', to: 'a/nginx', port: 80, protocol: 'TCP' }));
    expect(body.reverse.verdict).toEqual(engine.verdict({ from: 'a/nginx', to: 'a/client', port: 80, protocol: 'TCP' }));
    const ingress = body.forward.verdict.ingress;
    expect(ingress.allowed).toBe(true);
    expect(ingress.rules[0]).toMatchObject({ policy: 'a/access-nginx', index: 0 });
    const src = body.forward.ingress.ruleSources[0]!;
    expect(src.key).toBe('NetworkPolicy a/access-nginx');
    const { yaml } = (await get<SourceResponse>('/api/source')).body;
    const lines = yaml.split('\n');
    // The policy text is the editor's lines, and the highlight covers the rule's `from:` and its port.
    expect(src.text.split('\n')[0]).toBe(lines[src.firstLine - 1]);
    const rule = lines.slice(src.highlight!.start - 1, src.highlight!.end).join('\n');
    expect(rule).toContain('from:');
    expect(rule).toContain('port: http');
    expect(body.forward.allowed.tcp).toBe('80');
  });

  it('names the isolating policies when no rule allows', async () => {
    const { body } = await get<WhyResponse>('/api/why?from=a/stranger&to=a/nginx&port=80');
    expect(body.forward.verdict.allowed).toBe(false);
    expect(body.forward.ingress.isolatedBy.map((s) => s.key).sort()).toEqual(['NetworkPolicy a/access-nginx', 'NetworkPolicy a/default-deny']);
  });

  it('chooses a container port of the destination when none is given', async () => {
    const { body } = await get<WhyResponse>('/api/why?from=a/client&to=kube-system/coredns');
    expect(body.forward.verdict.flow.port).toBe(53);
    expect(body.forward.portReason).toMatch(/container port of kube-system\/coredns/);
    expect(body.forward.verdict.allowed).toBe(true);
  });

  it('answers 400 for an unknown endpoint', async () => {
    const { status, body } = await get<{ error: string }>('/api/why?from=a/nobody&to=a/nginx&port=80');
    expect(status).toBe(400);
    expect(body.error).toMatch(/no endpoint/);
  });
});

describe('GET /api/policies', () => {
  it('explains each policy with its peers, what it selects, its YAML and its PolicyEndpoints', async () => {
    const { body } = await get<PoliciesResponse>('/api/policies');
    expect(body.policies.length).toBe(read.cluster.policies.length);
    const egress = body.policies.find((p) => p.key === 'NetworkPolicy a/allow-egress')!;
    expect(egress.selects).toEqual(['a/client', 'a/nginx', 'a/stranger']);
    expect(egress.lines.filter((l) => l.kind === 'rule')).toHaveLength(3);
    expect(egress.lines.some((l) => l.kind === 'peer' && l.text.includes(' AND '))).toBe(true);
    expect(egress.source?.text).toContain('name: allow-egress');
    expect(egress.policyEndpoints?.[0]?.spec.policyRef).toEqual({ name: 'allow-egress', namespace: 'a' });
  });
});

describe('POST /api/evaluate', () => {
  it('reports no change for the loaded text, and the matrix when asked', async () => {
    const { body } = await post<EvaluateResponse>('/api/evaluate', { yaml: workspace.yaml, matrix: true });
    expect(body.ok).toBe(true);
    expect(body.changedCount).toBe(0);
    expect(body.matrix).toEqual(compile(read.cluster).matrixJson());
  });

  it('returns the error at its line for broken YAML, and no matrix', async () => {
    const lines = workspace.yaml.split('\n');
    const at = lines.findIndex((l) => l.includes('port: http')) + 1;
    lines[at - 1] = lines[at - 1].replace('{protocol: TCP, port: http}', '{protocol: TCP, port: http');
    const { status, body } = await post<EvaluateResponse>('/api/evaluate', { yaml: lines.join('\n') });
    expect(status).toBe(200);
    expect(body.ok).toBe(false);
    expect(body.grid).toBeUndefined();
    const error = body.diagnostics.find((d) => d.severity === 'error')!;
    expect(error.text).toMatch(/invalid YAML/);
    expect(error.line).toBeGreaterThanOrEqual(at);
    expect(error.line).toBeLessThanOrEqual(at + 1);
  });

  it('returns a validation error at the field line', async () => {
    const yaml = edit(workspace.yaml, '{protocol: TCP, port: http}', '{protocol: TCPX, port: http}');
    const at = yaml.split('\n').findIndex((l) => l.includes('TCPX')) + 1;
    const { body } = await post<EvaluateResponse>('/api/evaluate', { yaml });
    expect(body.ok).toBe(false);
    const error = body.diagnostics.find((d) => d.severity === 'error')!;
    expect(error).toMatchObject({ line: at });
    expect(error.text).toContain(`${EDITED_FILE}:${at}:`);
    expect(error.text).toContain('NetworkPolicy a/access-nginx');
  });

  it('lists the cells an edit changes, and matches the engine on the edited cluster', async () => {
    // access-nginx on port 80 instead of the named port: same cells; on 8443: a/client -> a/nginx changes.
    const yaml = edit(workspace.yaml, '{protocol: TCP, port: http}', '{protocol: TCP, port: 8443}');
    const { body } = await post<EvaluateResponse>('/api/evaluate', { yaml, matrix: true });
    expect(body.ok).toBe(true);
    expect(body.changed).toEqual([{ from: 'a/client', to: 'a/nginx', before: { tcp: '80', udp: '', sctp: '' }, after: { tcp: '8443', udp: '', sctp: '' } }]);
    expect(body.changedCount).toBe(1);
    expect(gridToMatrix(body.grid!)).toEqual(body.matrix);
    // The edited set answers why too.
    const why = await post<WhyResponse>('/api/why', { yaml, from: 'a/client', to: 'a/nginx', port: 8443 });
    expect(why.body.forward.verdict.allowed).toBe(true);
  });

  it('compares split external ranges with the ranges that held them', async () => {
    // A new ipBlock for c/report splits the external space; only the new range's cells change.
    const yaml = `${workspace.yaml}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: extra, namespace: d}\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 198.51.100.0/24}\n`;
    const { body } = await post<EvaluateResponse>('/api/evaluate', { yaml });
    expect(body.ok).toBe(true);
    expect(body.changed!.length).toBeGreaterThan(0);
    expect(body.changed!.every((c) => c.from === '198.51.100.0-198.51.100.255' && c.to === 'd/monitor')).toBe(true);
  });
});

describe('lint findings', () => {
  it('are placed at their line in the edited text and on their policy', async () => {
    const extra = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ghost, namespace: a}\nspec:\n  podSelector: {matchLabels: {app: nobody}}\n';
    const yaml = `${workspace.yaml}---\n${extra}`;
    const { body } = await post<EvaluateResponse>('/api/evaluate', { yaml });
    const finding = body.findings?.find((f) => f.ruleId === 'policy-selects-nothing');
    expect(finding).toMatchObject({ object: 'NetworkPolicy a/ghost' });
    expect(finding!.line).toBeGreaterThan(workspace.yaml.split('\n').length);
    const policies = await post<PoliciesResponse>('/api/policies', { yaml });
    expect(policies.body.policies.find((p) => p.key === 'NetworkPolicy a/ghost')!.findings.map((f) => f.ruleId)).toContain('policy-selects-nothing');
  });
});

describe('the server', () => {
  it('refuses requests addressed to another host name', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(new URL('/api/matrix', web.url), { headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it('takes POST bodies only as JSON', async () => {
    const res = await fetch(new URL('/api/evaluate', web.url), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(res.status).toBe(415);
  });

  it('says how to build the UI when the bundle is missing', async () => {
    const res = await fetch(web.url);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/build:web/);
  });
});

describe('GET /api/policies with admin tiers', () => {
  it('shows each tier policy with the ClusterPolicyEndpoints the controller would write', () => {
    const { workspace: ws } = workspaceOf(['examples/eks-multi-team/', 'test/fixtures/lab/admin-tiers.yaml']);
    const views = ws.policies().policies;
    const tier = views.find((p) => p.name === 'monitoring-scrapes');
    expect(tier?.tier).toBe('Admin');
    expect(tier?.policyEndpoints?.map((o) => o.kind)).toEqual(['ClusterPolicyEndpoint']);
    const np = views.find((p) => p.kind === 'NetworkPolicy' && p.name === 'access-nginx');
    expect(np?.policyEndpoints?.every((o) => o.kind === 'PolicyEndpoint')).toBe(true);
  });
});

describe("GET /api/policies with AWS's kinds beside upstream policies of the same name", () => {
  it('shows each apart, with its own source and its own PolicyEndpoints or ClusterPolicyEndpoints', () => {
    const { workspace: ws } = workspaceOf(['test/fixtures/aws/same-names.yaml']);
    const views = ws.policies().policies;
    expect(views.map((v) => v.key).sort()).toEqual([
      'ApplicationNetworkPolicy (networking.k8s.aws) shop/web',
      'ClusterNetworkPolicy (networking.k8s.aws) guard',
      'ClusterNetworkPolicy guard',
      'NetworkPolicy shop/web',
    ]);
    const view = (key: string) => views.find((v) => v.key === key)!;
    expect(view('ApplicationNetworkPolicy (networking.k8s.aws) shop/web').source?.text).toContain('8.8.8.8/32');
    expect(view('NetworkPolicy shop/web').source?.text).not.toContain('8.8.8.8/32');
    expect(view('ClusterNetworkPolicy (networking.k8s.aws) guard').source?.text).toContain('name: dns');
    expect(view('ClusterNetworkPolicy (networking.k8s.aws) guard').source?.text).not.toContain('name: imds');
    expect(view('ClusterNetworkPolicy guard').source?.text).toContain('name: imds');
    const owners = (key: string) => (view(key).policyEndpoints ?? []).map((o) => o.metadata.ownerReferences?.[0]?.apiVersion);
    expect(owners('ApplicationNetworkPolicy (networking.k8s.aws) shop/web')).toEqual(['networking.k8s.aws/v1alpha1']);
    expect(owners('NetworkPolicy shop/web')).toEqual(['networking.k8s.io/v1']);
    expect(owners('ClusterNetworkPolicy (networking.k8s.aws) guard').length).toBeGreaterThan(0);
    expect(owners('ClusterNetworkPolicy (networking.k8s.aws) guard').every((v) => v === 'networking.k8s.aws/v1alpha1')).toBe(true);
    expect(owners('ClusterNetworkPolicy guard').every((v) => v === 'policy.networking.k8s.io/v1alpha2')).toBe(true);
  });
});
