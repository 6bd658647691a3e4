/**
 * The bundled example (`examples/eks-multi-team`) in the lab: its pods at their own IPs on their own nodes, the
 * controller's PolicyEndpoints enforced by one agent per node, real connections. The team boundaries, the internet,
 * the metadata except and access-nginx are checked by name, and every probed connection against the engine.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCluster } from '../../src/model/read.js';
import { compile, type Engine } from '../../src/engine/engine.js';
import { labLeftovers, type Lab } from '../../src/lab/lab.js';
import { formatMismatches, labPlan, labUpCluster, verifyLab, type Verification } from '../../src/lab/verify.js';
import { skipNetns } from './support.js';

const PREFIX = 'ple-';
const EXAMPLE = fileURLToPath(new URL('../../examples/eks-multi-team', import.meta.url));

describe.skipIf(skipNetns('lab-example'))('the eks-multi-team example in the lab', () => {
  let lab: Lab;
  let engine: Engine;
  let result: Verification;

  beforeAll(async () => {
    engine = compile(readCluster([EXAMPLE]).cluster);
    lab = await labUpCluster(engine, { prefix: PREFIX });
    result = await verifyLab(engine, { prefix: PREFIX });
  });

  afterAll(async () => {
    await lab?.down();
    expect(await labLeftovers(PREFIX)).toEqual([]);
  });

  const allowed = (from: string, to: string, protocol: 'TCP' | 'UDP', port: number) => result.report.allowed(from, to, protocol, port);

  it('builds every pod of the example (workloads without IPs are left out, with the reason)', () => {
    const plan = labPlan(engine.cluster);
    expect(lab.pods.map((p) => p.id).sort()).toEqual(plan.spec.pods.map((p) => `${p.namespace}/${p.name}`).sort());
    expect(lab.pods).toHaveLength(10);
    expect(lab.nodes.map((n) => n.name)).toEqual(['node-1', 'node-2']);
    expect(plan.leftOut.join('\n')).toMatch(/e\/checkout.*without a pod IP/);
  });

  it('agrees with the engine on every probed connection', () => {
    console.log(`${result.report.table}\n${result.checked} connections in ${Math.round(result.report.ms)} ms`);
    expect(result.checked).toBeGreaterThan(1000);
    expect(formatMismatches(result.mismatches)).toEqual([]);
  });

  it('isolates the teams both ways (a–c vs d–f)', () => {
    const teamA = ['a/client', 'a/stranger', 'b/web', 'b/api', 'c/db'];
    const teamB = ['d/monitor', 'e/shop', 'f/worker'];
    for (const x of teamA) {
      for (const y of teamB) {
        expect(allowed(x, y, 'TCP', 8080), `${x} → ${y}`).toBe(false);
        expect(allowed(y, x, 'TCP', 8080), `${y} → ${x}`).toBe(false);
      }
    }
    expect(allowed('a/client', 'b/web', 'TCP', 8080)).toBe(true);
    expect(allowed('d/monitor', 'e/shop', 'TCP', 8080)).toBe(true);
  });

  it('reaches the internet but not 169.254.169.254 (the except of 0.0.0.0/0)', () => {
    for (const p of ['a/client', 'b/web', 'c/db', 'd/monitor', 'e/shop', 'f/worker']) {
      expect(allowed(p, 'internet', 'TCP', 80), `${p} → internet`).toBe(true);
      expect(allowed(p, 'metadata', 'TCP', 80), `${p} → metadata`).toBe(false);
    }
  });

  it('access-nginx admits only pods labelled access=true, on its http port', () => {
    expect(allowed('a/client', 'a/nginx', 'TCP', 80)).toBe(true);
    expect(allowed('a/client', 'a/nginx', 'TCP', 8080)).toBe(false);
    expect(allowed('a/stranger', 'a/nginx', 'TCP', 80)).toBe(false);
    expect(allowed('b/web', 'a/nginx', 'TCP', 80)).toBe(false);
    expect(allowed('d/monitor', 'a/nginx', 'TCP', 80)).toBe(false);
  });
});
