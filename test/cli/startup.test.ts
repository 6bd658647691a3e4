/** Start-up and terminal behaviour: commands load lazily, a closed pipe ends quietly, control characters are escaped. */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { commandTable } from '../../src/cli/commands.js';
import { escapeControl, run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';

function capture(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => '' }, out, err };
}

describe('lazy command table', () => {
  it('lists every command in --help without loading it, with the description its module gives', async () => {
    const { io, out } = capture();
    expect(await run(['--help'], io)).toBe(0);
    for (const entry of commandTable) expect(out.join('\n')).toContain(entry.name);
    for (const entry of commandTable) {
      const program = new Command();
      (await entry.load())(program, io, () => undefined);
      const cmd = program.commands.find((c) => c.name() === entry.name);
      expect(cmd?.description(), entry.name).toBe(entry.description);
    }
  });

  it('loads the named command for its own help, also as `help NAME`', async () => {
    for (const argv of [['why', '--help'], ['help', 'why']]) {
      const { io, out } = capture();
      expect(await run(argv, io)).toBe(0);
      expect(out.join('\n')).toMatch(/Usage: palisade why \[options\] <from> <to>/);
      expect(out.join('\n')).toMatch(/Example/);
    }
  });
});

describe('terminal output', () => {
  const cases: [string, string, string][] = [
    ['an escape sequence', 'pod-\u001b[2Jx', 'pod-\\u001b[2Jx'],
    ['a carriage return', 'a\rb', 'a\\u000db'],
    ['a C1 control', 'a\u009bb', 'a\\u009bb'],
    ['a bidirectional override', 'evil\u202egnp', 'evil\\u202egnp'],
    ['newlines and tabs stay', 'a\tb\nc', 'a\tb\nc'],
    ['unicode names stay', 'café-☕', 'café-☕'],
  ];
  for (const [what, raw, shown] of cases) {
    it(`escapes control characters of names: ${what}`, () => {
      expect(escapeControl(raw)).toBe(shown);
    });
  }
});

describe('the built program', () => {
  const bundle = join('node_modules', '.cache', 'palisade-test', 'main.mjs');
  beforeAll(async () => {
    mkdirSync(join('node_modules', '.cache', 'palisade-test'), { recursive: true });
    await build({ entryPoints: ['src/cli/main.ts'], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: bundle, logLevel: 'silent' });
  }, 60_000);

  it('`palisade why --help | head -1` exits quietly when the reader closes the pipe (no EPIPE trace)', async () => {
    const child = spawn(process.execPath, [bundle, 'why', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Read one chunk, then close the pipe as `head -1` does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(err).not.toMatch(/EPIPE|at \w+ \(/);
    expect(code).toBe(0);
  }, 30_000);

  it('prints a name with an escape sequence escaped in a real terminal stream', async () => {
    const manifest = 'apiVersion: v1\nkind: Pod\nmetadata: {name: "x\\u001b[31mred", namespace: a}\nspec: {containers: [{name: c}]}\n';
    const child = spawn(process.execPath, [bundle, 'check', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin.end(manifest);
    await new Promise((resolve) => child.on('close', resolve));
    expect(out).toContain('x\\u001b[31mred');
    expect(out).not.toContain('\u001b');
  }, 30_000);
});
