/**
 * The controller's probe and metrics ports (issue 14, point 5): they open before the first list, `/healthz` answers
 * 200 and `/readyz` 503 while the API server has not answered the lists yet; `--metrics-bind-address` picks the
 * address; `--leader-elect=false` runs the one instance. The API server here is a stub that holds every request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { registerController } from '../../src/cli/controller.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import { runController } from '../../src/controller/live.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** An API server that answers nothing until `release`, then 404 to everything (no PolicyEndpoint CRD). */
async function stallingApiServer() {
  const held: ServerResponse[] = [];
  let released = false;
  const answer = (res: ServerResponse) => res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 404 }));
  const server = createServer((_req: IncomingMessage, res) => (released ? answer(res) : held.push(res)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.length,
    release: () => {
      released = true;
      for (const res of held.splice(0)) answer(res);
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function kubeConfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server, skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  return kc;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function status(url: string): Promise<number> {
  return (await fetch(url)).status;
}

describe('controller probes and metrics before the first list', () => {
  it('/healthz 200 and /readyz 503 while the lists hang; then it stops cleanly on a missing CRD', async () => {
    const api = await stallingApiServer();
    cleanups.push(api.close);
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const running = runController({ kubeConfig: kubeConfig(api.url), leaderElect: false, metricsPort, metricsHost: '127.0.0.1', healthPort });
    const outcome = running.then(() => 'started', (e: Error) => e.message);
    for (let i = 0; i < 100 && api.held() === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(api.held()).toBeGreaterThan(0);
    expect(await status(`http://127.0.0.1:${healthPort}/healthz`)).toBe(200);
    expect(await status(`http://127.0.0.1:${healthPort}/readyz`)).toBe(503);
    expect(await status(`http://127.0.0.1:${metricsPort}/readyz`)).toBe(503);
    expect(await status(`http://127.0.0.1:${metricsPort}/metrics`)).toBe(200);
    api.release();
    expect(await outcome).toMatch(/PolicyEndpoint CRD is not installed/);
    // The ports are closed again: nothing is left listening.
    await expect(fetch(`http://127.0.0.1:${healthPort}/healthz`)).rejects.toThrow();
  });
});

function capture(): { io: Io; err: string[] } {
  const err: string[] = [];
  return { io: { out: () => undefined, err: (t) => err.push(t), interactive: false, readStdin: () => '' }, err };
}

describe('palisade controller flags', () => {
  it('takes --leader-elect=false and --metrics-bind-address (then fails on the missing kubeconfig, not the flags)', async () => {
    const { io, err } = capture();
    expect(await run(['controller', '--leader-elect=false', '--metrics-bind-address', '127.0.0.1:9000', '--kubeconfig', '/nonexistent/kubeconfig'], io, [registerController])).toBe(1);
    expect(err.join('\n')).toContain('cannot load the kubeconfig');
  });

  it.each([
    [['--leader-elect=maybe'], /--leader-elect takes true or false/],
    [['--metrics-bind-address', '8080'], /--metrics-bind-address must be HOST:PORT or :PORT/],
    [['--metrics-bind-address', ':0x50'], /--metrics-bind-address must be HOST:PORT/],
  ])('refuses %j as a usage error', async (args, message) => {
    const { io, err } = capture();
    expect(await run(['controller', ...args], io, [registerController])).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });
});
