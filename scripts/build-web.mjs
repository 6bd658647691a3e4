#!/usr/bin/env node
// Bundles the web UI (web/client/, TypeScript + CSS) with esbuild into one app.js and one app.css, and copies
// index.html beside them: dist/web/static/ by default, where `palisade serve` finds it. Usage:
//   node scripts/build-web.mjs [--outdir DIR] [--dev]
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const at = args.indexOf('--outdir');
const outdir = resolve(at >= 0 ? args[at + 1] : join(root, 'dist/web/static'));
const dev = args.includes('--dev');

mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: { app: join(root, 'web/client/main.ts') },
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  outdir,
  logLevel: 'warning',
  legalComments: 'none',
});
copyFileSync(join(root, 'web/client/index.html'), join(outdir, 'index.html'));
console.log(`web UI built into ${outdir}`);
