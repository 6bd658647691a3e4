/**
 * Every conformance case in engine mode: the engine must agree with every upstream expectation.
 */
import { describe, expect, it } from 'vitest';
import { runConformance } from '../../src/conformance/runner.js';

async function run(suite: 'k8s' | 'tiers'): Promise<{ lines: string[]; passed: number; failed: number; skipped: number }> {
  const lines: string[] = [];
  const summary = await runConformance({ suite, mode: 'engine', out: (l) => lines.push(l) });
  return { lines, ...summary };
}

describe('conformance in engine mode', () => {
  it('passes all 48 Kubernetes NetworkPolicy cases', async () => {
    const r = await run('k8s');
    expect(r.lines.filter((l) => !l.startsWith('PASS ')).join('\n')).toBe('48 passed, 0 failed');
    expect(r).toMatchObject({ passed: 48, failed: 0, skipped: 0 });
  });

  it('passes every admin-tier case', async () => {
    const r = await run('tiers');
    expect(r.lines.filter((l) => !l.startsWith('PASS ')).join('\n')).toBe(`${TIER_CASES} passed, 0 failed`);
    expect(r).toMatchObject({ passed: TIER_CASES, failed: 0, skipped: 0 });
  });
});

/** The cases under conformance/tiers/. */
const TIER_CASES = 44;
