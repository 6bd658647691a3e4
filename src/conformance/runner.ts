/**
 * Runs the conformance cases under `conformance/` against the engine: for every step, the cluster as the case has built
 * it so far is compiled and every expected cell and flow is compared with `engine.allows`. Loopback is never checked.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Protocol } from '../api/types.js';
import type { Engine } from '../engine/engine.js';
import { cellKey, checkAgainstTopology, expectedMatrix, loadSuite } from './cases.js';
import type { CaseStep, ConformanceCase, Topology } from './cases.js';
import { compileStep, initialState } from './cluster.js';
import { runLabSuite } from './lab.js';

/** The suites, each a folder of `conformance/`. */
export const SUITES = ['k8s', 'tiers'] as const;
export type Suite = (typeof SUITES)[number];

/** Where the checked-in cases live: `conformance/` at the package root (the same from `src/` and from `dist/`). */
export const DEFAULT_CASES_DIR = fileURLToPath(new URL('../../conformance', import.meta.url));

/** Options of {@link runConformance}. */
export interface RunOptions {
  readonly suite: Suite | 'all';
  /**
   * `engine` compares with the compiled engine; `lab` probes the cases' TCP and UDP expectations with real packets in a
   * netns lab (root; SCTP and the admin-tier suite are reported as SKIP with the reason).
   */
  readonly mode: 'engine' | 'lab';
  /** Only the case of this name. */
  readonly caseName?: string;
  /** The folder holding one sub-folder per suite. @default {@link DEFAULT_CASES_DIR} */
  readonly dir?: string;
  /** Receives each output line, without a newline. */
  readonly out: (line: string) => void;
  /** Lab mode: prefix of the lab's namespaces. @default "plc-" */
  readonly labPrefix?: string;
}

/** Counts of one run. */
export interface RunSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/** One expectation that did not hold. */
interface Mismatch {
  readonly step: number;
  readonly from: string;
  readonly to: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly expected: boolean;
}

/**
 * Runs the cases of a suite (or both) and writes one line per case — `PASS name`, `FAIL name` followed by what
 * differed, or `SKIP name (reason)` — and a last line `N passed, N failed` (`, N skipped` when any were).
 * @returns the counts; a case fails when any expectation of any step does not hold or its objects do not load.
 * @example
 * const { failed } = await runConformance({ suite: 'all', mode: 'engine', out: console.log });
 */
export async function runConformance(opts: RunOptions): Promise<RunSummary> {
  const dir = opts.dir ?? DEFAULT_CASES_DIR;
  const suites = opts.suite === 'all' ? SUITES.filter((s) => existsSync(join(dir, s))) : [opts.suite];
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let matched = 0;
  for (const suite of suites) {
    const { topology, cases } = loadSuite(join(dir, suite));
    if (opts.mode === 'lab') {
      const selected = cases.filter((c) => opts.caseName === undefined || c.name === opts.caseName);
      matched += selected.length;
      if (selected.length === 0) continue;
      await runLabSuite(topology, selected, {
        suite,
        ...(opts.labPrefix !== undefined ? { prefix: opts.labPrefix } : {}),
        onResult: (r) => {
          if (r.status === 'PASS') passed++;
          else if (r.status === 'SKIP') skipped++;
          else failed++;
          opts.out(`${r.status} ${r.name}${r.reason ? ` (${r.reason})` : ''}`);
          for (const l of r.lines ?? []) opts.out(`  ${l}`);
        },
      });
      continue;
    }
    for (const c of cases) {
      if (opts.caseName !== undefined && c.name !== opts.caseName) continue;
      matched++;
      const lines = runCase(c, topology);
      if (lines.length === 0) {
        opts.out(`PASS ${c.name}`);
        passed++;
      } else {
        opts.out(`FAIL ${c.name}`);
        for (const l of lines) opts.out(`  ${l}`);
        failed++;
      }
    }
  }
  if (opts.caseName !== undefined && matched === 0) {
    opts.out(`FAIL ${opts.caseName}`);
    opts.out(`  no case of that name in ${suites.join(', ')}`);
    failed++;
  }
  opts.out(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
  return { passed, failed, skipped };
}

/**
 * Runs one case in engine mode.
 * @returns the lines explaining every failure, empty when the case passes.
 */
export function runCase(c: ConformanceCase, topology: Topology): string[] {
  const problems = checkAgainstTopology(c, topology);
  if (problems.length > 0) return problems;
  const state = initialState(topology);
  const podIds = topology.pods.map((p) => `${p.namespace}/${p.name}`);
  const lines: string[] = [];
  c.steps.forEach((step, i) => {
    const engine = compileStep(topology, state, step, i);
    if (typeof engine === 'string') {
      lines.push(engine);
      return;
    }
    const wrong = checkStep(engine, step, i, podIds);
    if (wrong.length > 0) lines.push(...describeMismatches(engine, step, i, wrong, podIds));
  });
  return lines;
}

function checkStep(engine: Engine, step: CaseStep, index: number, podIds: readonly string[]): Mismatch[] {
  const wrong: Mismatch[] = [];
  for (const e of step.expect) {
    const cells = expectedMatrix({ expect: [e] }, podIds);
    for (const from of podIds) {
      for (const to of podIds) {
        if (from === to) continue;
        const expected = cells.get(cellKey(from, to, e.protocol, e.port));
        if (expected === undefined) continue;
        if (engine.allows({ from, to, protocol: e.protocol, port: e.port }) !== expected) {
          wrong.push({ step: index, from, to, protocol: e.protocol, port: e.port, expected });
        }
      }
    }
  }
  for (const f of step.flows) {
    if (f.from === f.to) continue;
    if (engine.allows(f) !== f.allowed) wrong.push({ step: index, from: f.from, to: f.to, protocol: f.protocol, port: f.port, expected: f.allowed });
  }
  return wrong;
}

/**
 * A step's mismatches as small truth tables, one per protocol/port: rows are the sources and columns the destinations
 * that have a mismatch, each cell the engine's verdict (`.` allowed, `X` denied), a mismatched cell marked `!`.
 * Columns are numbered, with a legend, so long pod names stay readable.
 */
function describeMismatches(engine: Engine, step: CaseStep, index: number, wrong: readonly Mismatch[], podIds: readonly string[]): string[] {
  const lines = [`step ${index + 1}${step.description ? ` (${step.description})` : ''}: ${wrong.length} expectation${wrong.length === 1 ? '' : 's'} not met`];
  const byPort = new Map<string, Mismatch[]>();
  for (const m of wrong) {
    const key = `${m.protocol}/${m.port}`;
    byPort.set(key, [...(byPort.get(key) ?? []), m]);
  }
  const order = (ids: Iterable<string>) => [...new Set(ids)].sort((a, b) => podIds.indexOf(a) - podIds.indexOf(b));
  for (const [port, ms] of byPort) {
    const { protocol, port: number } = ms[0];
    const rows = order(ms.map((m) => m.from));
    const cols = order(ms.map((m) => m.to));
    const bad = new Set(ms.map((m) => `${m.from} ${m.to}`));
    const width = Math.max(...rows.map((r) => r.length), 'from \\ to'.length);
    lines.push(`  ${port}, as the engine decides (. allowed, X denied, ! differs from upstream):`);
    cols.forEach((c, j) => lines.push(`    [${j + 1}] ${c}`));
    lines.push(`    ${'from \\ to'.padEnd(width)} ${cols.map((_, j) => String(j + 1).padStart(3)).join('')}`);
    for (const r of rows) {
      const marks = cols.map((c) => {
        if (r === c) return '   ';
        const v = engine.allows({ from: r, to: c, protocol, port: number }) ? '.' : 'X';
        return `${v}${bad.has(`${r} ${c}`) ? '!' : ' '}`.padStart(3);
      });
      lines.push(`    ${r.padEnd(width)} ${marks.join('')}`);
    }
  }
  return lines;
}
