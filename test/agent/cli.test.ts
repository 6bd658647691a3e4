/** `palisade agent` (root): enforces PolicyEndpoints from a directory on a lab node, follows changes, stops on SIGTERM. */
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentCommand } from '../../src/cli/agent.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import { labLeftovers, labUp, type Lab } from '../../src/lab/lab.js';
import { podByName, policyEndpoint, skipNetns, sleep } from '../lab/support.js';
import { namespace, pod } from '../support/cluster.js';

const PREFIX = 'plg-';

describe('palisade agent --help', () => {
  it('names the options and shows an example', async () => {
    const out: string[] = [];
    const io: Io = { out: (t) => out.push(t), err: (t) => out.push(t), interactive: false, readStdin: () => '' };
    expect(await run(['agent', '--help'], io, [agentCommand(new EventEmitter() as unknown as NodeJS.Process)])).toBe(0);
    const text = out.join('\n');
    for (const o of ['--node', '--policy-endpoints', '--enforcing-mode', '--flow-logs', '--metrics-port', '--manifests']) expect(text).toContain(o);
    expect(text).toMatch(/In a live cluster this is optional/);
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

  it('enforces the directory, follows a change, serves /healthz, writes explained flow logs, stops on SIGTERM', async () => {
    const [a, b] = [podByName(lab.pods, 'a'), podByName(lab.pods, 'b')];
    const flows = join(dir, 'flows.log');
    // The manifests the PolicyEndpoint comes from, for --manifests: b isolated for ingress, no rule.
    const manifests = join(dir, 'manifests');
    await mkdir(manifests);
    await writeFile(
      join(manifests, 'cluster.yaml'),
      namespace('default') + pod('default', 'a', a.ip, { app: 'a' }, ['80/TCP']) + pod('default', 'b', b.ip, { app: 'b' }, ['80/TCP']) +
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-b, namespace: default}\nspec: {podSelector: {matchLabels: {app: b}}, policyTypes: [Ingress]}\n',
    );
    const peDir = join(dir, 'pe');
    await mkdir(peDir);
    await writeFile(join(peDir, 'pe.json'), JSON.stringify(policyEndpoint('deny-b', [b], { isolation: ['Ingress'] })));
    const signals = new EventEmitter();
    const err: string[] = [];
    const io: Io = { out: () => undefined, err: (t) => err.push(t), interactive: false, readStdin: () => '' };
    const port = 20000 + Math.floor(Math.random() * 20000);
    const done = run(
      ['agent', '--node', 'n1', '--policy-endpoints', peDir, '--netns', `${PREFIX}n1`, '--pod-interfaces', `${PREFIX}v*`, '--flow-logs', flows, '--metrics-port', String(port), '--manifests', manifests],
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
    await writeFile(join(peDir, 'pe.json'), JSON.stringify(policyEndpoint('deny-b', [b], { isolation: ['Ingress'], ingress: [{ cidr: `${a.ip}/32` }] })));
    let open = false;
    for (let i = 0; i < 30 && !open; i++) {
      open = await reach();
      if (!open) await sleep(100);
    }
    expect(open).toBe(true);
    signals.emit('SIGTERM');
    expect(await done).toBe(0);
    expect(err.filter((l) => l.startsWith('error'))).toEqual([]);
    const lines = (await readFile(flows, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.verdict === 'DENY')).toMatchObject({ policies: ['default/deny-b'], policy: 'default/deny-b', engineVerdict: 'DENY', engineTier: 'NETWORK_POLICY' });
    expect(lines.filter((l) => l.mismatch)).toEqual([]);
  });
});
