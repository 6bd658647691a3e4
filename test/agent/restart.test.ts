/**
 * An agent process SIGKILLed in the middle of a sync, then restarted: the kernel table is all-old or all-new (one nft
 * transaction, from a fully written file `include`d by the agent's nft session), established connections live on,
 * and the restart rebuilds the right state.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labLeftovers, labUp, type Lab } from '../../src/lab/lab.js';
import { podByName, policyEndpoint, skipNetns, sleep } from '../lab/support.js';

const PREFIX = 'plk-';
const exec = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

/** Children of `pid` (from /proc): the agent's long-lived `nft -i`. */
async function children(pid: number): Promise<{ pid: number; name: string }[]> {
  const out: { pid: number; name: string }[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const st = await readFile(`/proc/${p}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) \S (\d+)/.exec(st);
      if (m && Number(m[2]) === pid) out.push({ pid: Number(p), name: m[1] });
    } catch { /* gone */ }
  }
  return out;
}

/** The transaction file a process has open (nft reading an `include`d transaction), if any. */
async function openTransaction(pid: number): Promise<string | undefined> {
  try {
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (/\/tx-\d+\.nft$/.test(target)) return target;
    }
  } catch { /* gone */ }
  return undefined;
}

describe.skipIf(skipNetns('agent-restart'))('agent killed mid-sync and restarted', () => {
  let lab: Lab;
  let build: string;
  let peDir: string;
  let agent: ChildProcess | undefined;
  /** What the agent started last printed. */
  let logs = '';

  const startAgent = async () => {
    const p = spawn(process.execPath, [join(build, 'cli/main.js'), 'agent', '--node', 'n1', '--policy-endpoints', peDir, '--netns', `${PREFIX}n1`, '--pod-interfaces', `${PREFIX}v*`], { stdio: ['ignore', 'pipe', 'pipe'] });
    logs = '';
    p.stdout!.on('data', (d: Buffer) => { logs += d.toString(); });
    p.stderr!.on('data', (d: Buffer) => { logs += d.toString(); });
    for (let i = 0; i < 300 && !logs.includes('"synced"'); i++) await sleep(100);
    if (!logs.includes('"synced"')) {
      p.kill('SIGKILL');
      throw new Error(`agent did not sync: ${logs}`);
    }
    return p;
  };
  const table = async () => JSON.parse((await exec('ip', ['netns', 'exec', `${PREFIX}n1`, 'nft', '-j', 'list', 'table', 'inet', 'palisade'])).stdout) as { nftables: Record<string, { name?: string; elem?: unknown[] }>[] };
  const setSize = (t: Awaited<ReturnType<typeof table>>, prefix: string) => {
    const sets = t.nftables.filter((o) => o.set?.name?.startsWith(prefix)).map((o) => o.set!.elem?.length ?? 0);
    return sets.length === 0 ? undefined : sets.reduce((x, y) => x + y, 0);
  };

  beforeAll(async () => {
    build = await mkdtemp(join(tmpdir(), 'palisade-agent-build-'));
    peDir = await mkdtemp(join(tmpdir(), 'palisade-pe-'));
    // Build the agent entry as the real process it is (imports resolve through a node_modules link), with the
    // self-check's process, which the agent starts by path.
    await exec(join(root, 'node_modules/.bin/tsc'), ['--outDir', build, '--rootDir', join(root, 'src'), '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--strict', '--types', 'node', join(root, 'src/cli/main.ts'), join(root, 'src/agent/verify-child.ts')], { cwd: root });
    await writeFile(join(build, 'package.json'), '{"type":"module"}');
    await symlink(join(root, 'node_modules'), join(build, 'node_modules'));
    lab = await labUp({ nodes: ['n1', 'n2'], pods: [{ name: 'a', node: 'n1' }, { name: 'b', node: 'n1' }, { name: 'c', node: 'n2' }] }, { prefix: PREFIX, agents: false });
  }, 120_000);

  afterAll(async () => {
    agent?.kill('SIGKILL');
    await lab?.down();
    if (build) await rm(build, { recursive: true, force: true });
    if (peDir) await rm(peDir, { recursive: true, force: true });
    expect(await labLeftovers(PREFIX)).toEqual([]);
  });

  it('leaves a consistent table and live connections; the restart converges', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => podByName(lab.pods, n));
    const base = policyEndpoint('b-from-a', [b], { isolation: ['Ingress'], ingress: [{ cidr: `${a.ip}/32`, ports: [{ port: 80 }] }] });
    await writeFile(join(peDir, 'base.json'), JSON.stringify(base));
    agent = await startAgent();
    const ha = await lab.helper(a.id);
    expect(await ha.open('long', b.ip, 80)).toBe(true);
    expect((await ha.probe([{ host: b.ip, port: 80, protocol: 'TCP' }, { host: c.ip, port: 80, protocol: 'TCP' }]))).toEqual([true, true]);

    // A big change (20 000 non-adjacent peers → 20 000 elements) so the sync takes a while; kill the agent mid-way.
    const big = policyEndpoint('a-big', [a], {
      isolation: ['Ingress'],
      ingress: [{ cidr: `${c.ip}/32` }, ...Array.from({ length: 20_000 }, (_, i) => ({ cidr: `10.100.${(i * 2) >> 8}.${(i * 2) & 255}/32`, ports: [{ port: 80 }] }))],
    });
    await writeFile(join(peDir, 'big.json'), JSON.stringify(big));
    const pid = agent.pid!;
    let killedDuring = '';
    const until = Date.now() + 30_000;
    const nft = (await children(pid)).find((k) => k.name === 'nft');
    expect(nft).toBeDefined();
    while (!killedDuring && Date.now() < until) {
      // Kill while its nft reads the big transaction (the agent's session has sent `include "…/tx-N.nft"`).
      const tx = await openTransaction(nft!.pid);
      if (tx) { agent.kill('SIGKILL'); killedDuring = `nft reading ${tx}`; }
      else await sleep(1);
    }
    expect(killedDuring).not.toBe('');
    await sleep(1500); // the orphaned nft finishes the transaction it read, then sees the end of its input

    // All-or-nothing: the big policy's sets hold every element or do not exist.
    const t = await table();
    const size = setSize(t, 'pe_');
    // base: 1 element; a-big: 1 (all ports from c) + 20 000 (port cells).
    expect([1, 20_002]).toContain(size);
    expect(await ha.echo('long')).toBe(true);

    agent = await startAgent(); // full rebuild
    const after = await table();
    expect(setSize(after, 'pe_')).toBe(20_002);
    expect(await ha.echo('long')).toBe(true);
    const hc = await lab.helper(c.id);
    expect(await hc.probe([{ host: a.ip, port: 80, protocol: 'TCP' }, { host: b.ip, port: 80, protocol: 'TCP' }])).toEqual([true, false]);
    // Its self-check would test 20 000 entries per cell: skipped with a warning, never run.
    for (let i = 0; i < 100 && !logs.includes('self-check'); i++) await sleep(100);
    expect(logs).toContain('self-check skipped');
    // SIGTERM stops it, promptly.
    const running = agent;
    const exited = new Promise<boolean>((resolve) => {
      if (running.exitCode !== null) resolve(true);
      running.once('exit', () => resolve(true));
      setTimeout(() => resolve(false), 10_000);
    });
    running.kill('SIGTERM');
    expect(await exited, `the agent stops on SIGTERM: ${logs}`).toBe(true);
    agent = undefined;
    console.log(`agent killed while running: ${killedDuring}; table after kill had ${size ?? 0} peer elements`);
  }, 120_000);
});
