/**
 * `lab verify` on random clusters from the property-test generator: one lab of 8 pods at the generator's IPv4
 * addresses (2 nodes, every pod serving the generator's probe ports on TCP and UDP), and per scenario the resolver's
 * PolicyEndpoints (and, with tiers, ClusterPolicyEndpoints) swapped in with `setPolicies`, then every pod pair and port
 * (and the internet and metadata hosts, both ways) probed and compared with the engine, and every node's kernel table
 * read back and proved equal, on every cell, to its objects and to the engine. 24 plain scenarios use every peer and
 * port form; 20 more have admin tiers of all three kinds (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
 * ClusterNetworkPolicy) with every action; 12 more have AWS's own kinds (`networking.k8s.aws/v1alpha1` ClusterNetworkPolicy
 * of both tiers with Accept, Deny and Pass, ApplicationNetworkPolicy), without DNS answers, as the lab's agent resolves no
 * names: their domainNames peers match nothing.
 *
 * The engine and the objects are those of the cluster as the lab built it (asBuilt): the generator's node0/node1 are
 * the lab's n1/n2, at the lab's underlay addresses.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatVerification, verified } from '../../src/agent/verify.js';
import type { NetworkPolicyPeer, NetworkPolicyPort } from '../../src/api/types.js';
import { resolveClusterPolicyEndpoints } from '../../src/controller/resolve.js';
import { compile } from '../../src/engine/engine.js';
import { labLeftovers, labUp, type Lab } from '../../src/lab/lab.js';
import type { LabPort } from '../../src/lab/state.js';
import { asBuilt, formatMismatches, policyEndpointsOf, proveLab, verifyLab } from '../../src/lab/verify.js';
import type { Cluster } from '../../src/model/types.js';
import { PROBE_PORTS, clusterArb } from '../../src/scenarios/random.js';
import { skipNetns } from './support.js';

const PREFIX = 'plr-';
const SCENARIOS = 24;
const TIER_SCENARIOS = 20;
const AWS_SCENARIOS = 12;
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

const plain = fc.sample(clusterArb({ ipv4Only: true, podsOnly: true, maxPolicies: 4 }), { numRuns: SCENARIOS, seed: 20240611 });
// Scenarios with at least one tier policy (the generator also draws none).
const tiered = fc.sample(clusterArb({ tiers: true, ipv4Only: true, podsOnly: true, maxPolicies: 3 }).filter((c) => c.tierPolicies.length > 0), { numRuns: TIER_SCENARIOS, seed: 20261202 });
/** With AWS's own kinds: at least one networking.k8s.aws ClusterNetworkPolicy or ApplicationNetworkPolicy each. */
const hasAwsKind = (c: Cluster): boolean => c.tierPolicies.some((t) => t.group === 'networking.k8s.aws') || c.policies.some((p) => p.kind === 'ApplicationNetworkPolicy');
// The lab's agent resolves no names (a domainName entry is skipped), so the scenarios have no DNS answers: their
// domainNames peers match nothing, in the engine as on the wire.
const aws = fc
  .sample(clusterArb({ tiers: true, aws: true, ipv4Only: true, podsOnly: true, maxPolicies: 3 }).filter(hasAwsKind), { numRuns: AWS_SCENARIOS, seed: 20261203 })
  .map(({ dns: _answers, ...c }): Cluster => c);
const scenarios = [...plain, ...tiered, ...aws];

/** The tier kinds and actions the scenarios use. */
function tierForms(c: Cluster): Set<string> {
  const out = new Set<string>();
  for (const t of c.tierPolicies) {
    out.add(t.kind);
    for (const r of [...t.ingress, ...t.egress]) {
      out.add(`action ${r.action}`);
      for (const p of r.peers) out.add(`peer ${p.kind}`);
      for (const p of r.ports ?? []) out.add(`port ${p.kind}`);
    }
  }
  return out;
}

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
    const used = new Set(plain.flatMap((c) => [...forms(c)]));
    expect([...used].sort()).toEqual(expect.arrayContaining([
      'ipBlock', 'ipBlock+except', 'namespaceSelector', 'podSelector', 'podSelector+namespaceSelector', 'rule without peers',
      'port: all of a protocol', 'port: named', 'port: number', 'port: range', 'rule without ports', 'protocol TCP', 'protocol UDP',
    ]));
  });

  it(`the ${TIER_SCENARIOS} tier scenarios use all three kinds, every action, node peers and named ports`, () => {
    expect(tiered).toHaveLength(TIER_SCENARIOS);
    const used = new Set(tiered.flatMap((c) => [...tierForms(c)]));
    expect([...used].sort()).toEqual(expect.arrayContaining(['AdminNetworkPolicy', 'BaselineAdminNetworkPolicy', 'ClusterNetworkPolicy', 'action Allow', 'action Deny', 'action Pass', 'peer networks', 'peer nodes', 'peer pods', 'port named', 'port range']));
  });

  it(`the ${AWS_SCENARIOS} AWS scenarios use AWS's ClusterNetworkPolicy and ApplicationNetworkPolicy with Accept, Deny and Pass`, () => {
    expect(aws).toHaveLength(AWS_SCENARIOS);
    expect(aws.every(hasAwsKind)).toBe(true);
    expect(aws.every((c) => c.dns === undefined)).toBe(true);
    const used = new Set<string>();
    for (const c of aws) {
      for (const p of c.policies) if (p.kind === 'ApplicationNetworkPolicy') used.add('ApplicationNetworkPolicy');
      for (const t of c.tierPolicies.filter((x) => x.group === 'networking.k8s.aws')) {
        used.add(`ClusterNetworkPolicy (networking.k8s.aws) tier ${t.tier}`);
        // AWS writes Allow as Accept.
        for (const r of [...t.ingress, ...t.egress]) used.add(`action ${r.action === 'Allow' ? 'Accept' : r.action}`);
      }
    }
    expect([...used].sort()).toEqual(expect.arrayContaining([
      'ApplicationNetworkPolicy', 'ClusterNetworkPolicy (networking.k8s.aws) tier Admin', 'ClusterNetworkPolicy (networking.k8s.aws) tier Baseline',
      'action Accept', 'action Deny', 'action Pass',
    ]));
  });

  it(`agrees with the engine on ${SCENARIOS} + ${TIER_SCENARIOS} + ${AWS_SCENARIOS} random clusters, every pair and port, and every node's table is proved`, async () => {
    let checked = 0;
    let cells = 0;
    let proofs = 0;
    let proofMs = 0;
    const t0 = performance.now();
    const failures: string[] = [];
    for (const [i, generated] of scenarios.entries()) {
      // The generator's node<k> is the lab's (k+1)th node; pods sit on the same node in both.
      const cluster = asBuilt(generated, lab.nodes.map((n, k) => ({ name: `node${k}`, ip: n.ip })));
      const engine = compile(cluster);
      await lab.setPolicies(policyEndpointsOf(engine), resolveClusterPolicyEndpoints(engine));
      const r = await verifyLab(engine, { prefix: PREFIX, timeoutMs: 800 });
      checked += r.checked;
      const what = `scenario ${i}: ${cluster.policies.length} policies, ${cluster.tierPolicies.length} tier policies`;
      if (r.mismatches.length > 0) {
        failures.push(`${what}\n${JSON.stringify([...cluster.policies.map((p) => p.policy), ...cluster.tierPolicies], null, 1)}\n${formatMismatches(r.mismatches).slice(0, 20).join('\n')}`);
      }
      const p0 = performance.now();
      for (const p of await proveLab(lab, cluster)) {
        proofs++;
        cells += p.verification.objects.cells + (p.verification.engine?.result.cells ?? 0);
        expect(p.verification.engine, `${what}: ${p.node} was proved against the engine`).toBeDefined();
        if (!verified(p.verification)) failures.push(`${what}: ${formatVerification(p.node, p.verification).join('\n')}\n${JSON.stringify([...cluster.policies.map((x) => x.policy), ...cluster.tierPolicies], null, 1)}`);
      }
      proofMs += performance.now() - p0;
    }
    console.log(`${scenarios.length} scenarios, ${checked} connections, ${proofs} node tables proved on ${cells} cells (${Math.round(proofMs)} ms), ${Math.round(performance.now() - t0)} ms`);
    expect(checked).toBeGreaterThan(scenarios.length * 100);
    expect(proofs).toBe(scenarios.length * 2);
    expect(failures).toEqual([]);
  }, 900_000);
});
