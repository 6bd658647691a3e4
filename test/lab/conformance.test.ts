/**
 * `palisade conformance --lab` (root): the k8s e2e cases' and the admin-tier cases' TCP and UDP expectations with real
 * packets (the tiers through ClusterPolicyEndpoints), SCTP reported as SKIP with its reason and never counted as passed.
 */
import { describe, expect, it } from 'vitest';
import { runConformance } from '../../src/conformance/runner.js';
import { SCTP_REASON } from '../../src/conformance/lab.js';
import { labLeftovers } from '../../src/lab/lab.js';
import { skipNetns } from './support.js';

describe.skipIf(skipNetns('conformance-lab'))('conformance --lab', () => {
  it('passes every TCP and UDP case of the k8s suite with real packets; SCTP is skipped, not passed', async () => {
    const lines: string[] = [];
    const t0 = performance.now();
    const summary = await runConformance({ suite: 'k8s', mode: 'lab', out: (l) => lines.push(l), labPrefix: 'plq-' });
    console.log(`${lines.join('\n')}\n(${Math.round(performance.now() - t0)} ms)`);
    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(summary.failed).toBe(0);
    expect(summary.passed).toBe(45);
    const skips = lines.filter((l) => l.startsWith('SKIP'));
    expect(skips.length).toBe(summary.skipped);
    // Every skip is SCTP.
    expect(skips.filter((l) => !l.includes(SCTP_REASON))).toEqual([]);
    for (const l of lines.filter((x) => x.startsWith('PASS'))) expect(l).not.toMatch(/^PASS sctp-/);
    expect(lines).toContain(`SKIP sctp-ingress-ports (${SCTP_REASON})`);
    expect(lines.at(-1)).toBe(`${summary.passed} passed, 0 failed, ${summary.skipped} skipped`);
    expect(await labLeftovers('plq-')).toEqual([]);
  }, 300_000);

  it('passes every TCP and UDP case of the admin-tier suite (ANP, BANP, CNP) through ClusterPolicyEndpoints; SCTP skipped', async () => {
    const lines: string[] = [];
    const t0 = performance.now();
    const summary = await runConformance({ suite: 'tiers', mode: 'lab', out: (l) => lines.push(l), labPrefix: 'plr-' });
    console.log(`${lines.join('\n')}\n(${Math.round(performance.now() - t0)} ms)`);
    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(summary.failed).toBe(0);
    expect(summary.passed).toBeGreaterThanOrEqual(36);
    const skips = lines.filter((l) => l.startsWith('SKIP'));
    expect(skips.length).toBe(summary.skipped);
    expect(skips.filter((l) => !l.includes(SCTP_REASON))).toEqual([]);
    for (const name of ['anp-priority', 'cnp-admin-same-priority', 'banp-gress', 'cnp-admin-integration']) expect(lines).toContain(`PASS ${name}`);
    expect(lines).toContain(`SKIP anp-ingress-sctp (${SCTP_REASON})`);
    expect(await labLeftovers('plr-')).toEqual([]);
  }, 300_000);
});
