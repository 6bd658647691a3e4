import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROTOCOLS } from '../api/types.js';
import type { Cluster } from '../model/types.js';
import { clusterArb, PROBE_ADDRESSES, PROBE_PORTS } from '../scenarios/random.js';
import { compile } from './engine.js';
import { parseIP } from '../api/ip.js';
import { containsPort, parsePorts } from './ports.js';
import { referenceAllowed, type RefEnd } from './reference.js';
import { tick } from '../../test/support/tick.js';

/** Every end the tests probe: each endpoint, and addresses around every block edge. */
function ends(cluster: Cluster): { label: string; ref: RefEnd }[] {
  return [
    ...cluster.endpoints.map((endpoint) => ({ label: endpoint.id, ref: { endpoint } as RefEnd })),
    ...PROBE_ADDRESSES.filter((a) => !cluster.endpoints.some((e) => e.ips.includes(a))).map((a) => ({ label: a, ref: { address: parseIP(a)! } as RefEnd })),
  ];
}

function differential(cluster: Cluster): void {
  const engine = compile(cluster);
  const all = ends(cluster);
  for (const src of all) {
    for (const dst of all) {
      if ('address' in src.ref && 'address' in dst.ref) continue;
      const ports = engine.allowedPorts(src.label, dst.label);
      for (const protocol of PROTOCOLS) {
        for (const port of PROBE_PORTS) {
          const expected = referenceAllowed(cluster, src.ref, dst.ref, protocol, port);
          const got = containsPort(ports, protocol, port);
          if (got !== expected) {
            throw new Error(`${src.label} -> ${dst.label} ${protocol}/${port}: engine ${got}, reference ${expected}`);
          }
          const v = engine.verdict({ from: src.label, to: dst.label, protocol, port });
          if (v.allowed !== expected) {
            throw new Error(`verdict ${src.label} -> ${dst.label} ${protocol}/${port}: ${v.allowed}, reference ${expected} (${v.egress.summary} / ${v.ingress.summary})`);
          }
        }
      }
    }
  }
}

/** The matrix lists exactly the allowed pairs, with the reference's ports, for endpoints and external ranges. */
function matrixAgrees(cluster: Cluster): void {
  const engine = compile(cluster);
  const m = engine.matrixJson();
  const listed = new Map(m.connections.map((c) => [`${c.from}>${c.to}`, c]));
  const refEnd = (id: string): RefEnd => {
    const ep = cluster.endpoints.find((e) => e.id === id);
    if (ep) return { endpoint: ep };
    const x = engine.externals.find((r) => r.id === id)!;
    return { address: parseIP(x.first)! };
  };
  for (const a of m.endpoints) {
    for (const b of m.endpoints) {
      if (a.id === b.id || (a.kind === 'External' && b.kind === 'External')) continue;
      const c = listed.get(`${a.id}>${b.id}`);
      for (const protocol of PROTOCOLS) {
        const text = c ? c[protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp'] : '';
        for (const port of PROBE_PORTS) {
          const expected = referenceAllowed(cluster, refEnd(a.id), refEnd(b.id), protocol, port);
          if (containsPort({ TCP: [], UDP: [], SCTP: [], [protocol]: parsePorts(text) }, protocol, port) !== expected) {
            throw new Error(`matrix ${a.id} -> ${b.id} ${protocol}/${port}: listed "${text}", reference ${expected}`);
          }
        }
      }
      if (c) expect(c.tcp + c.udp + c.sctp).not.toBe('');
    }
  }
}

/** Runs `check` on `runs` random clusters, one event-loop turn before each (a long synchronous run starves Vitest's RPC). */
async function everyCluster(arb: fc.Arbitrary<Cluster>, check: (c: Cluster) => void, runs: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arb, async (c) => {
      await tick();
      check(c);
    }),
    { numRuns: runs },
  );
}

describe('engine agrees with the reference evaluator', () => {
  it('on random NetworkPolicy clusters, every flow', () => everyCluster(clusterArb(), differential, 300));
  it('on random clusters with admin and baseline tiers, every flow', () => everyCluster(clusterArb({ tiers: true }), differential, 300));
  it('matrix lists exactly the allowed pairs (NetworkPolicy only)', () => everyCluster(clusterArb(), matrixAgrees, 150));
  it('matrix lists exactly the allowed pairs (with tiers)', () => everyCluster(clusterArb({ tiers: true }), matrixAgrees, 150));
  it("on random clusters with AWS's kinds (ApplicationNetworkPolicy, networking.k8s.aws ClusterNetworkPolicy, domainNames with DNS answers), every flow", () =>
    everyCluster(clusterArb({ tiers: true, aws: true }), differential, 300));
  it("matrix lists exactly the allowed pairs (with AWS's kinds and DNS answers)", () => everyCluster(clusterArb({ tiers: true, aws: true }), matrixAgrees, 150));
});
