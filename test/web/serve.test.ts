/**
 * `palisade serve`: prints the URL, answers the API while running, stops when told, and reports input errors and a
 * busy port as input errors (exit 1), not stack traces.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import { serveCommand } from '../../src/cli/serve.js';
import { readCluster } from '../../src/model/read.js';
import { compile } from '../../src/engine/engine.js';

function capture(): Io & { outText: string[]; errText: string[] } {
  const outText: string[] = [];
  const errText: string[] = [];
  return { out: (t) => outText.push(t), err: (t) => errText.push(t), interactive: false, readStdin: () => '', outText, errText };
}

async function waitFor<T>(f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out');
}

describe('palisade serve', () => {
  it('serves the example on a free port until stopped', async () => {
    const io = capture();
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const exit = run(['serve', 'examples/eks-multi-team/', '--port', '0', '-q'], io, [serveCommand(() => stopped)]);
    const line = await waitFor(() => io.outText.find((l) => l.startsWith('Palisade UI: ')));
    const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(line)?.[0];
    expect(url).toBeDefined();
    const res = await fetch(new URL('/api/matrix', url));
    expect(await res.json()).toEqual(compile(readCluster(['examples/eks-multi-team/']).cluster).matrixJson());
    stop();
    expect(await exit).toBe(0);
    await expect(fetch(new URL('/api/matrix', url))).rejects.toThrow();
  });

  it('says so when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as AddressInfo;
    const io = capture();
    const exit = await run(['serve', 'examples/eks-multi-team/', '--port', String(port), '-q'], io, [serveCommand(() => Promise.resolve())]);
    blocker.close();
    expect(exit).toBe(1);
    expect(io.errText.join('\n')).toMatch(new RegExp(`port ${port} on 127.0.0.1 is in use`));
  });

  it('refuses input with errors, like every analysis command', async () => {
    const io = capture();
    const exit = await run(['serve', 'no/such/dir', '--port', '0'], io, [serveCommand(() => Promise.resolve())]);
    expect(exit).toBe(1);
    expect(io.errText.join('\n')).toMatch(/no such file or directory/);
  });

  it('shows an example in --help and rejects a bad port', async () => {
    const io = capture();
    expect(await run(['serve', '--help'], io, [serveCommand()])).toBe(0);
    expect(io.outText.join('\n')).toContain('palisade serve examples/eks-multi-team/');
    expect(io.outText.join('\n')).toContain('--host <host>');
    const bad = capture();
    expect(await run(['serve', 'x', '--port', '99999'], bad, [serveCommand()])).toBe(2);
    expect(bad.errText.join('\n')).toMatch(/port must be a number from 0 to 65535/);
  });
});
