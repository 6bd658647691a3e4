/**
 * `POST /api/flowlog`: the UI's view of `palisade audit flowlogs`. The bundled AWS agent log against the example: each
 * flow's matrix cell (ids as the grid names endpoints and external ranges), the `except` bug's ACCEPT to
 * 169.254.169.254 marked as a mismatch, and an edited policy text evaluated instead of the loaded one.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditFlowLogs } from '../../src/audit/flowlog.js';
import { readCluster } from '../../src/model/read.js';
import type { FlowLogResponse, Grid, SourceResponse } from '../../src/web/protocol.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { Workspace } from '../../src/web/workspace.js';

const EXAMPLE = 'examples/eks-multi-team/';
const LOG = 'examples/eks-aws/network-policy-agent.log';

let web: WebServer;
let workspace: Workspace;

beforeAll(async () => {
  const read = readCluster([EXAMPLE]);
  const texts = new Map(read.documents.map((d) => [d.pos.file, readFileSync(d.pos.file, 'utf8')]));
  workspace = new Workspace([EXAMPLE], read, texts);
  web = await startWebServer({ workspace, port: 0, staticDir: '/nonexistent' });
});
afterAll(async () => {
  await web?.close();
});

async function post<T>(body: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(new URL('/api/flowlog', web.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

describe('POST /api/flowlog', () => {
  it('marks each logged flow on its matrix cell; the except bug line is the one mismatch', async () => {
    const log = readFileSync(LOG, 'utf8');
    const { status, body } = await post<FlowLogResponse>({ log, file: 'network-policy-agent.log' });
    expect(status).toBe(200);
    expect({ flows: body.flows, mismatches: body.mismatches, unparsed: body.unparsed, notCompared: body.notCompared }).toEqual({ flows: 7, mismatches: 1, unparsed: 1, notCompared: 1 });
    expect(body.cells.filter((c) => c.mismatch)).toEqual([{ from: 'a/client', to: '169.254.169.254-169.254.169.254', verdict: 'ACCEPT', mismatch: true }]);
    expect(body.mismatchLines).toEqual(['network-policy-agent.log:4: 10.0.1.12 -> 169.254.169.254 TCP/80 AWS ACCEPT; engine egress denied']);
    // The same answer as the CLI's audit, and every cell is one the grid draws.
    const cli = auditFlowLogs(workspace.engine(), [{ file: 'network-policy-agent.log', text: log }]);
    expect(body.cells).toEqual(cli.cells);
    const grid = (await (await fetch(new URL('/api/grid', web.url))).json()) as Grid;
    const ids = new Set(grid.endpoints.map((e) => e.id));
    for (const c of body.cells) expect(ids.has(c.from) && ids.has(c.to), `${c.from} -> ${c.to}`).toBe(true);
  });

  it('against an edited text: a policy that allows 169.254.169.254 makes the ACCEPT agree', async () => {
    const source = (await (await fetch(new URL('/api/source', web.url))).json()) as SourceResponse;
    const from = 'except: [169.254.169.254/32]';
    expect(source.yaml).toContain(from);
    const yaml = source.yaml.replaceAll(from, 'except: []').replaceAll('{cidr: 0.0.0.0/0, except: []}', '{cidr: 0.0.0.0/0}');
    const { status, body } = await post<FlowLogResponse>({ log: readFileSync(LOG, 'utf8'), yaml });
    expect(status).toBe(200);
    expect(body.mismatches).toBe(0);
  });

  it('rejects a body without the log with 400 and a message', async () => {
    const { status, body } = await post<{ error: string }>({ file: 'x.log' });
    expect(status).toBe(400);
    expect(body.error).toContain('log');
  });
});
