#!/usr/bin/env node
// Builds the Dockerfile's build stage without a Docker engine: reads its first stage, copies exactly what its COPY
// lines name (from the repository, the build context) into an empty directory, and runs its RUN lines there when they
// are npm or node commands. A file the build needs but the Dockerfile does not copy fails here as it would in
// `docker build`. Then checks the stage produced the entry point the final stage starts. Exit 0 when it builds.
//   node scripts/check-image-build.mjs [--keep]
import { execSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The instructions of the Dockerfile's first stage, continuation lines joined, comments dropped. */
export function buildStage(text) {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const out = [];
  let stage = -1;
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    if (op.toUpperCase() === 'FROM') stage++;
    else if (stage === 0) out.push({ op: op.toUpperCase(), args: rest.join(' ') });
  }
  return out;
}

function main() {
  const keep = process.argv.includes('--keep');
  const steps = buildStage(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'palisade-image-'));
  let workdir = dir;
  try {
    for (const { op, args } of steps) {
      if (op === 'WORKDIR') continue; // the empty directory stands for it
      if (op === 'COPY') {
        const parts = args.split(/\s+/).filter((p) => !p.startsWith('--'));
        const dest = parts.pop();
        for (const src of parts) {
          const from = join(root, src);
          if (!existsSync(from)) throw new Error(`COPY ${src}: not in the build context`);
          const to = dest.endsWith('/') || parts.length > 1 ? join(workdir, dest, src.split('/').pop()) : join(workdir, dest);
          cpSync(from, to, { recursive: true, filter: (p) => !p.includes(`${'/'}node_modules`) });
        }
        console.log(`COPY ${args}`);
      } else if (op === 'RUN') {
        if (!/^(npm|node|npx)\b/.test(args)) {
          console.log(`skip RUN ${args} (not an npm or node command)`);
          continue;
        }
        console.log(`RUN ${args}`);
        // The npm cache is the machine's (what a Docker layer cache would be); the registry is the same.
        execSync(args, { cwd: workdir, stdio: 'inherit', env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' } });
      } else if (op !== 'ENV' && op !== 'ARG') throw new Error(`${op}: not understood by this check`);
    }
    for (const need of ['dist/cli/main.js', 'dist/web/static/index.html', 'node_modules/commander/package.json']) {
      if (!existsSync(join(workdir, need))) throw new Error(`the build stage did not produce ${need}`);
    }
    if (existsSync(join(workdir, 'node_modules/vitest'))) throw new Error('devDependencies left in the image (npm prune --omit=dev did not run)');
    const help = execSync('node dist/cli/main.js --help', { cwd: workdir, encoding: 'utf8' });
    if (!help.includes('agent') || !help.includes('controller')) throw new Error('the built CLI does not list agent and controller');
    console.log(`image build stage OK in ${dir}`);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
