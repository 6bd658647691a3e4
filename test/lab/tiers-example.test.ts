/**
 * Admin-tier ClusterNetworkPolicies over the bundled example, in the lab: `labUpCluster` hands the controller's
 * ClusterPolicyEndpoints to the agents, and every probed connection agrees with the engine, including an Admin Accept
 * that opens what NetworkPolicies deny and an Admin Deny.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCluster } from '../../src/model/read.js';
import { compile, type Engine } from '../../src/engine/engine.js';
import { labLeftovers, type Lab } from '../../src/lab/lab.js';
import { formatMismatches, labUpCluster, verifyLab, type Verification } from '../../src/lab/verify.js';
import { skipNetns } from './support.js';

const PREFIX = 'plt-';
const EXAMPLE = fileURLToPath(new URL('../../examples/eks-multi-team', import.meta.url));
const TIERS = fileURLToPath(new URL('../fixtures/lab/admin-tiers.yaml', import.meta.url));

describe.skipIf(skipNetns('lab-tiers-example'))('admin tiers over the example in the lab', () => {
  let lab: Lab;
  let engine: Engine;
  let result: Verification;

  beforeAll(async () => {
    const read = readCluster([EXAMPLE, TIERS]);
    expect(read.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    engine = compile(read.cluster);
    lab = await labUpCluster(engine, { prefix: PREFIX });
    result = await verifyLab(engine, { prefix: PREFIX });
  });

  afterAll(async () => {
    await lab?.down();
    expect(await labLeftovers(PREFIX)).toEqual([]);
  });

  it('the engine says what the tiers do', () => {
    // The Admin Accept opens team A's pods to team B's monitor, which NetworkPolicies alone deny.
    expect(engine.verdict({ from: 'd/monitor', to: 'a/client', protocol: 'TCP', port: 8080 }).ingress.tier).toBe('Admin');
    expect(engine.allows({ from: 'd/monitor', to: 'a/client', protocol: 'TCP', port: 8080 })).toBe(true);
    expect(engine.allows({ from: 'e/shop', to: 'a/client', protocol: 'TCP', port: 8080 })).toBe(false);
  });

  it('every probed connection agrees with the engine', () => {
    expect(formatMismatches(result.mismatches)).toEqual([]);
    expect(result.report.cells.length).toBeGreaterThan(1000);
    expect(result.report.allowed('d/monitor', 'a/client', 'TCP', 8080)).toBe(true);
    expect(result.report.allowed('e/shop', 'a/client', 'TCP', 8080)).toBe(false);
    expect(result.report.allowed('kube-system/coredns', 'metadata', 'TCP', 80)).toBe(false);
  });
});
