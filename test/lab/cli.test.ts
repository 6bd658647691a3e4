/** `palisade lab` end to end (root): verify the example, up/probe/down, and down after a crash left things behind. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { registerLab } from '../../src/cli/lab.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import { labDown, labLeftovers } from '../../src/lab/lab.js';
import { skipNetns } from './support.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/eks-multi-team', import.meta.url));

async function palisade(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => '' };
  const code = await run(argv, io, [registerLab]);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('palisade lab --help', () => {
  it('explains the requirements and shows examples', async () => {
    const r = await palisade('lab', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('apt-get install -y nftables iproute2 tcpdump');
    expect(r.out).toMatch(/palisade lab verify examples\/eks-multi-team/);
    const v = await palisade('lab', 'verify', '--help');
    expect(v.out).toContain('exits 1');
  });
});

describe.skipIf(skipNetns('lab-cli'))('palisade lab (root)', () => {
  afterAll(async () => {
    await labDown({ prefix: 'plc-' });
    await labDown({ prefix: 'plv-' });
    expect(await labLeftovers('plc-')).toEqual([]);
    expect(await labLeftovers('plv-')).toEqual([]);
  });

  it('verify: the example agrees with the engine, exit 0, nothing left behind; quiet in a pipe', async () => {
    const r = await palisade('lab', 'verify', '-q', EXAMPLE);
    expect(r.err).toBe('');
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^\d+ connections probed: all agree with the engine$/);
    // Then the proof of every node's kernel table, against its PolicyEndpoints and the engine.
    for (const node of ['node-1', 'node-2']) {
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${node}: table = PolicyEndpoints: proved on \\d+ cells \\(\\d+ local pods\\)$`)));
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${node}: table = engine: proved on \\d+ cells`)));
    }
    expect(lines[lines.length - 1]).toMatch(/^kernel tables of 2 nodes: proved equal to their PolicyEndpoints and to the engine on \d+ cells$/);
    expect(r.code).toBe(0);
    expect(await labLeftovers('plv-')).toEqual([]);
  });

  it('up, probe (rows = sources, one port), down', async () => {
    const up = await palisade('lab', 'up', '-q', '--prefix', 'plc-', EXAMPLE);
    expect(up.code).toBe(0);
    expect(up.out).toContain('a/nginx');
    const probe = await palisade('lab', 'probe', '--prefix', 'plc-', '--port', '80', '--protocol', 'tcp');
    expect(probe.code).toBe(0);
    const row = (id: string) => probe.out.split('\n').find((l) => l.startsWith(`${id} `))!;
    const header = probe.out.split('\n')[0];
    const cell = (from: string, to: string) => row(from)[header.indexOf(` ${to}`) + 1];
    expect(cell('a/client', 'a/nginx')).toBe('Y');
    expect(cell('a/stranger', 'a/nginx')).toBe('.');
    expect(cell('a/client', 'metadata')).toBe('.');
    const down = await palisade('lab', 'down', '--prefix', 'plc-');
    expect(down.out).toMatch(/removed lab plc-: \d+ network namespaces/);
    expect(await labLeftovers('plc-')).toEqual([]);
    expect((await palisade('lab', 'probe', '--prefix', 'plc-')).code).toBe(1);
  });

  it('down removes what a crashed run left, even without a state file', async () => {
    execFileSync('ip', ['netns', 'add', 'plc-p7']);
    execFileSync('ip', ['netns', 'add', 'plc-n1']);
    const r = await palisade('lab', 'down', '--prefix', 'plc-');
    expect(r.code).toBe(0);
    expect(await labLeftovers('plc-')).toEqual([]);
  });
});
