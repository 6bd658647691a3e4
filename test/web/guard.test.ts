/**
 * The local UI's guard against DNS rebinding and cross-site pages (issue 14, points 1 and 9): only loopback names
 * and literals pass the Host check, a foreign Origin is refused, and ports in the API are digits only.
 */
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCluster } from '../../src/model/read.js';
import { isLoopbackHost, startWebServer, type WebServer } from '../../src/web/server.js';
import { Workspace } from '../../src/web/workspace.js';

let web: WebServer;
beforeAll(async () => {
  const read = readCluster(['examples/eks-multi-team/']);
  const texts = new Map(read.documents.map((d) => [d.pos.file, readFileSync(d.pos.file, 'utf8')]));
  web = await startWebServer({ workspace: new Workspace(['examples/eks-multi-team/'], read, texts), port: 0, staticDir: '/nonexistent' });
});
afterAll(async () => {
  await web?.close();
});

function status(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = request(new URL(path, web.url), { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['LOCALHOST', true],
    ['[::1]', true],
    ['127.0.0.1', true],
    ['127.255.3.4', true],
    ['127.0.0.1.attacker.example', false],
    ['127.attacker.example', false],
    ['127.0.0.256', false],
    ['127.0.0', false],
    ['0x7f.0.0.1', false],
    ['localhost.attacker.example', false],
    ['[::2]', false],
    ['10.0.0.1', false],
  ])('RFC 1122 §3.2.1.3 / RFC 6761 §6.3 loopback: %s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('the Host and Origin guard', () => {
  it('refuses a name that only starts with 127. (the rebinding bypass)', async () => {
    const port = new URL(web.url).port;
    expect(await status('/api/source', { host: `127.0.0.1.attacker.example:${port}` })).toBe(403);
    expect(await status('/api/policies', { host: `127.1.attacker.example` })).toBe(403);
  });

  it('answers loopback names', async () => {
    const port = new URL(web.url).port;
    expect(await status('/api/source', { host: `localhost:${port}` })).toBe(200);
    expect(await status('/api/source', { host: `127.0.0.1:${port}` })).toBe(200);
  });

  it('refuses a foreign Origin, takes its own', async () => {
    const host = new URL(web.url).host;
    expect(await status('/api/source', { host, origin: 'http://attacker.example' })).toBe(403);
    expect(await status('/api/source', { host, origin: `http://127.0.0.1.attacker.example:${new URL(web.url).port}` })).toBe(403);
    expect(await status('/api/source', { host, origin: 'null' })).toBe(403);
    expect(await status('/api/source', { host, origin: `http://${host}` })).toBe(200);
  });
});

describe('ports in the API', () => {
  it.each(['0x50', '1e2', '80.0', ' 80', '+80', '-1', '0', '65536'])('refuses %j: digits from 1 to 65535 only', async (port) => {
    const res = await fetch(new URL(`/api/matrix?port=${encodeURIComponent(port)}`, web.url));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/port must be a number from 1 to 65535/);
  });

  it('takes plain digits', async () => {
    expect((await fetch(new URL('/api/matrix?port=80', web.url))).status).toBe(200);
  });
});

describe('palisade serve --host beyond loopback', () => {
  it('warns loudly that the policies are exposed', async () => {
    const { run } = await import('../../src/cli/main.js');
    const { serveCommand } = await import('../../src/cli/serve.js');
    const err: string[] = [];
    const io = { out: () => undefined, err: (t: string) => err.push(t), interactive: false, readStdin: () => '' };
    expect(await run(['serve', 'examples/eks-multi-team/', '--host', '0.0.0.0', '--port', '0', '-q'], io, [serveCommand(() => Promise.resolve())])).toBe(0);
    expect(err.join('\n')).toMatch(/WARNING: --host 0\.0\.0\.0 is not loopback: anyone who can reach this address reads every policy/);
    const quiet: string[] = [];
    await run(['serve', 'examples/eks-multi-team/', '--port', '0', '-q'], { ...io, err: (t: string) => quiet.push(t) }, [serveCommand(() => Promise.resolve())]);
    expect(quiet.join('\n')).not.toMatch(/WARNING/);
  });
});
