/** `palisade agent` (root): enforces PolicyEndpoints from a directory on a lab node, follows changes, stops on SIGTERM. */
import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentCommand } from '../../src/cli/agent.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import { labLeftovers, labUp, type Lab } from '../../src/lab/lab.js';
import { podByName, policyEndpoint, skipNetns, sleep } from '../lab/support.js';

const PREFIX = 'plg-';

describe('palisade agent --help', () => {
  it('names the options and shows an example', async () => {
    const out: string[] = [];
    const io: Io = { out: (t) => out.push(t), err: (t) => out.push(t), interactive: false, readStdin: () => '' };
    expect(await run(['agent', '--help'], io, [agentCommand(new EventEmitter() as unknown as NodeJS.Process)])).toBe(0);
    const text = out.join('\n');
    for (const o of ['--node', '--policy-endpoints', '--enforcing-mode', '--flow-logs', '--metrics-port']) expect(text).toContain(o);
    expect(text).toContain('Examples:');
    expect(text).toContain('--kubeconfig');
  });
});

describe.skipIf(skipNetns('agent-cli'))('palisade agent (root)', () => {
  let lab: Lab;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'palisade-agent-cli-'));
    lab = await labUp({ nodes: ['n1'], pods: [{ name: 'a' }, { name: 'b' }] }, { prefix: PREFIX, agents: false });
  });

  afterAll(async () => {
    await lab?.down();
    if (dir) await rm(dir, { recursive: true, force: true });
    expect(await labLeftovers(PREFIX)).toEqual([]);
  });

  it('enforces the directory, follows a change, serves /healthz, writes flow logs, stops on SIGTERM', async () => {
    const [a, b] = [podByName(lab.pods, 'a'), podByName(lab.pods, 'b')];
    const flows = join(dir, 'flows.log');
    await writeFile(join(dir, 'pe.json'), JSON.stringify(policyEndpoint('deny-b', [b], { isolation: ['Ingress'] })));
    const signals = new EventEmitter();
    const err: string[] = [];
    const io: Io = { out: () => undefined, err: (t) => err.push(t), interactive: false, readStdin: () => '' };
    const port = 20000 + Math.floor(Math.random() * 20000);
    const done = run(
      ['agent', '--node', 'n1', '--policy-endpoints', dir, '--netns', `${PREFIX}n1`, '--pod-interfaces', `${PREFIX}v*`, '--flow-logs', flows, '--metrics-port', String(port)],
      io,
      [agentCommand(signals as unknown as NodeJS.Process)],
    );
    const ha = await lab.helper(a.id);
    const reach = async () => (await ha.probe([{ host: b.ip, port: 80, protocol: 'TCP' }], 500))[0];
    let healthy = false;
    for (let i = 0; i < 50 && !healthy; i++) {
      healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (!healthy) await sleep(100);
    }
    expect(healthy).toBe(true);
    expect(await reach()).toBe(false);
    await writeFile(join(dir, 'pe.json'), JSON.stringify(policyEndpoint('deny-b', [b], { isolation: ['Ingress'], ingress: [{ cidr: `${a.ip}/32` }] })));
    let open = false;
    for (let i = 0; i < 30 && !open; i++) {
      open = await reach();
      if (!open) await sleep(100);
    }
    expect(open).toBe(true);
    signals.emit('SIGTERM');
    expect(await done).toBe(0);
    expect(err.filter((l) => l.startsWith('error'))).toEqual([]);
    expect(await readFile(flows, 'utf8')).toMatch(/"verdict":"DENY".*default\/deny-b/);
  });
});
