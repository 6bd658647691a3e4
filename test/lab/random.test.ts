/**
 * `lab verify` on random clusters from the property-test generator: one lab of 8 pods at the generator's IPv4
 * addresses (2 nodes, every pod serving the generator's probe ports on TCP and UDP), and per scenario the resolver's
 * PolicyEndpoints swapped in with `setPolicies`, then every pod pair and port (and the internet and metadata hosts, both
 * ways) probed and compared with the engine. The scenarios together must use every peer and port form.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkPolicyPeer, NetworkPolicyPort } from '../../src/api/types.js';
import { compile } from '../../src/engine/engine.js';
import { labLeftovers, labUp, type Lab } from '../../src/lab/lab.js';
import type { LabPort } from '../../src/lab/state.js';
import { formatMismatches, policyEndpointsOf, verifyLab } from '../../src/lab/verify.js';
import type { Cluster } from '../../src/model/types.js';
import { PROBE_PORTS, clusterArb } from '../../src/scenarios/random.js';
import { skipNetns } from './support.js';

const PREFIX = 'plr-';
const SCENARIOS = 24;
const POD_V4 = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.1.1', '10.0.1.2'];
const ports: LabPort[] = (['TCP', 'UDP'] as const).flatMap((protocol) => PROBE_PORTS.map((port) => ({ port, protocol })));

/** The peer and port forms a cluster's NetworkPolicies use. */
function forms(c: Cluster): Set<string> {
  const out = new Set<string>();
  const peer = (p: NetworkPolicyPeer) => {
    if (p.ipBlock) out.add(p.ipBlock.except?.length ? 'ipBlock+except' : 'ipBlock');
    else if (p.podSelector && p.namespaceSelector) out.add('podSelector+namespaceSelector');
    else if (p.podSelector) out.add('podSelector');
    else if (p.namespaceSelector) out.add('namespaceSelector');
  };
  const port = (p: NetworkPolicyPort) => {
    out.add(`protocol ${p.protocol ?? 'TCP'}`);
    if (p.port === undefined) out.add('port: all of a protocol');
    else if (typeof p.port === 'string') out.add('port: named');
    else out.add(p.endPort !== undefined ? 'port: range' : 'port: number');
  };
  for (const { policy } of c.policies) {
    for (const [dir, rules] of [['ingress', policy.spec.ingress ?? []], ['egress', policy.spec.egress ?? []]] as const) {
      for (const r of rules) {
        const peers = (dir === 'ingress' ? (r as { from?: NetworkPolicyPeer[] }).from : (r as { to?: NetworkPolicyPeer[] }).to) ?? [];
        if (peers.length === 0) out.add('rule without peers');
        peers.forEach(peer);
        if ((r.ports ?? []).length === 0) out.add('rule without ports');
        (r.ports ?? []).forEach(port);
      }
    }
  }
  return out;
}

const scenarios = fc.sample(clusterArb({ ipv4Only: true, podsOnly: true, maxPolicies: 4 }), { numRuns: SCENARIOS, seed: 20240611 });

describe.skipIf(skipNetns('lab-random'))('lab verify on random clusters', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await labUp(
      { nodes: ['n1', 'n2'], pods: POD_V4.map((ip, i) => ({ name: `r${i}`, ip, ports })) },
      { prefix: PREFIX, policies: [], internetPorts: ports, metadataPorts: ports },
    );
  });

  afterAll(async () => {
    await lab?.down();
    expect(await labLeftovers(PREFIX)).toEqual([]);
  });

  it('the scenarios use every peer and port form, on TCP and UDP', () => {
    const used = new Set(scenarios.flatMap((c) => [...forms(c)]));
    expect([...used].sort()).toEqual(expect.arrayContaining([
      'ipBlock', 'ipBlock+except', 'namespaceSelector', 'podSelector', 'podSelector+namespaceSelector', 'rule without peers',
      'port: all of a protocol', 'port: named', 'port: number', 'port: range', 'rule without ports', 'protocol TCP', 'protocol UDP',
    ]));
  });

  it(`agrees with the engine on ${SCENARIOS} random clusters, every pair and port`, async () => {
    let checked = 0;
    const t0 = performance.now();
    const failures: string[] = [];
    for (const [i, cluster] of scenarios.entries()) {
      const engine = compile(cluster);
      await lab.setPolicies(policyEndpointsOf(engine));
      const r = await verifyLab(engine, { prefix: PREFIX, timeoutMs: 800 });
      checked += r.checked;
      if (r.mismatches.length > 0) {
        failures.push(`scenario ${i}: ${cluster.policies.length} policies\n${JSON.stringify(cluster.policies.map((p) => p.policy), null, 1)}\n${formatMismatches(r.mismatches).slice(0, 20).join('\n')}`);
      }
    }
    console.log(`${SCENARIOS} scenarios, ${checked} connections, ${Math.round(performance.now() - t0)} ms`);
    expect(checked).toBeGreaterThan(SCENARIOS * 100);
    expect(failures).toEqual([]);
  }, 180_000);
});
