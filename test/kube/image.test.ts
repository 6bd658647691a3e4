/**
 * The Dockerfile (issue 14, point 3): its build stage copies everything `npm run build` reads, the base image is pinned
 * by digest, and the image runs as a non-root user. The build itself runs in CI without a Docker engine:
 * `node scripts/check-image-build.mjs` (in .ci/run) copies what the COPY lines name into an empty directory and runs the
 * npm and node RUN lines there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildStage } from '../../scripts/check-image-build.mjs';

const ROOT = join(import.meta.dirname, '../..');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

/** Paths the build scripts of package.json read: their `-p` projects, the scripts they run, and the projects' inputs. */
function buildInputs(): string[] {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const text = `${scripts.build} ${scripts['build:web']}`;
  const files = [...text.matchAll(/(?:-p |node )([\w./-]+)/g)].map((m) => m[1]);
  const projects = files.filter((f) => f.endsWith('tsconfig.json'));
  const includes = projects.flatMap((p) => {
    const config = JSON.parse(readFileSync(join(ROOT, p), 'utf8')) as { include?: string[] };
    const dir = p.includes('/') ? p.slice(0, p.lastIndexOf('/') + 1) : '';
    return (config.include ?? []).map((i) => `${dir}${i}`.split('/*')[0]);
  });
  return [...new Set([...files, ...includes, 'package.json', 'package-lock.json'])];
}

describe('Dockerfile', () => {
  const stage = buildStage(dockerfile);
  const copied = stage.filter((s) => s.op === 'COPY').flatMap((s) => s.args.split(/\s+/).filter((p) => !p.startsWith('--')).slice(0, -1));

  it('the build stage copies every path npm run build reads (tsconfig projects, their sources, the scripts it runs)', () => {
    const inputs = buildInputs();
    expect(inputs).toEqual(expect.arrayContaining(['tsconfig.json', 'scripts/build-web.mjs', 'web/client/tsconfig.json', 'src']));
    for (const input of inputs) expect(copied.some((c) => input === c || input.startsWith(`${c}/`)), input).toBe(true);
  });

  it('runs npm run build and prunes devDependencies', () => {
    const runs = stage.filter((s) => s.op === 'RUN').map((s) => s.args);
    expect(runs).toEqual(expect.arrayContaining(['npm ci', 'npm run build', 'npm prune --omit=dev']));
  });

  it('pins every base image by digest', () => {
    const args = new Map([...dockerfile.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    const froms = lines.filter((l) => /^FROM /i.test(l)).map((l) => l.split(/\s+/)[1].replace(/^\$\{(\w+)\}$/, (_, k: string) => args.get(k) ?? k));
    expect(froms.length).toBe(2);
    for (const image of froms) expect(image).toMatch(/^[\w./:-]+@sha256:[0-9a-f]{64}$/);
  });

  it('runs as a non-root user', () => {
    const finalStage = lines.slice(lines.map((l) => /^FROM /i.test(l)).lastIndexOf(true));
    const user = finalStage.filter((l) => /^USER /i.test(l)).at(-1)?.split(/\s+/)[1];
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(0|root)$/);
  });
});
