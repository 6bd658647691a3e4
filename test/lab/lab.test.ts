/**
 * The lab with real packets: 3 nodes, 9 pods serving TCP 80/81 and UDP 53/54, agents in standard mode, hand-written
 * PolicyEndpoints; every probe cell is compared with the expected verdict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyEndpoint } from '../../src/api/policyendpoint.js';
import { labLeftovers, labUp, type Lab, type LabPod } from '../../src/lab/lab.js';
import { podByName, policyEndpoint, skipNetns } from './support.js';

const PREFIX = 'pll-';
const ports = [
  { port: 80, protocol: 'TCP' as const },
  { port: 81, protocol: 'TCP' as const },
  { port: 53, protocol: 'UDP' as const },
  { port: 54, protocol: 'UDP' as const },
];
const names = ['a', 'b', 'e', 'c', 'd', 'f', 'g', 'h', 'i'];
const nodeOf: Record<string, string> = { a: 'n1', b: 'n1', e: 'n1', c: 'n2', d: 'n2', f: 'n2', g: 'n3', h: 'n3', i: 'n3' };

/**
 * b: isolated both ways; ingress from a on TCP 80, from c on everything; no egress at all.
 * c: ingress isolated; UDP (every port) from 10.244.0.0/16, TCP 80–81 from a.
 * d: egress isolated; TCP 80 to 0.0.0.0/0 except 169.254.169.254/32.
 */
function scenario(pods: readonly LabPod[], bPort = 80): PolicyEndpoint[] {
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => podByName(pods, n));
  return [
    policyEndpoint('b-policy', [b], {
      isolation: ['Ingress', 'Egress'],
      ingress: [{ cidr: `${a.ip}/32`, ports: [{ protocol: 'TCP', port: bPort }] }, { cidr: `${c.ip}/32` }],
    }),
    policyEndpoint('c-policy', [c], {
      isolation: ['Ingress'],
      ingress: [{ cidr: '10.244.0.0/16', ports: [{ protocol: 'UDP' }] }, { cidr: `${a.ip}/32`, ports: [{ protocol: 'TCP', port: 80, endPort: 81 }] }],
    }),
    policyEndpoint('d-policy', [d], { isolation: ['Egress'], egress: [{ cidr: '0.0.0.0/0', except: ['169.254.169.254/32'], ports: [{ port: 80 }] }] }),
  ];
}

/** The verdicts the scenario means, written out by hand (the test's oracle). */
function expected(from: string, to: string, proto: string, port: number, bPort = 80): boolean {
  const f = from.split('/')[1] ?? from;
  const t = to.split('/')[1] ?? to;
  // Egress of the source.
  if (f === 'b') return false;
  if (f === 'd' && !(proto === 'TCP' && port === 80 && t !== 'metadata')) return false;
  // Ingress of the destination.
  if (t === 'b') return (f === 'a' && proto === 'TCP' && port === bPort) || f === 'c';
  if (t === 'c') return proto === 'UDP' || (f === 'a' && proto === 'TCP' && (port === 80 || port === 81));
  return true;
}

describe.skipIf(skipNetns('lab'))('netns lab, standard mode, real packets', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await labUp(
      { nodes: ['n1', 'n2', 'n3'], pods: names.map((name) => ({ name, node: nodeOf[name], ports })) },
      { prefix: PREFIX, policies: (pods) => scenario(pods) },
    );
  });

  afterAll(async () => {
    await lab?.down();
    expect(await labLeftovers(PREFIX)).toEqual([]);
  });

  it('a 9-pod, 2-port, 2-protocol probe matches the policies cell by cell, within 15 s', async () => {
    const report = await lab.probe();
    console.log(`${report.table}\nprobe of ${report.cells.length} connections: ${Math.round(report.ms)} ms`);
    expect(report.ms).toBeLessThan(15_000);
    // 9 sources × (8 pods × 4 ports + internet 2 + metadata 1)
    expect(report.cells).toHaveLength(9 * (8 * 4 + 3));
    const wrong = report.cells.filter((c) => c.allowed !== expected(c.from, c.to, c.protocol, c.port));
    expect(wrong).toEqual([]);
  });

  it('ipBlock 0.0.0.0/0 except 169.254.169.254/32: internet reachable, metadata not', async () => {
    const report = await lab.probe({ from: ['default/d'] });
    expect(report.allowed('default/d', 'internet', 'TCP', 80)).toBe(true);
    expect(report.allowed('default/d', 'metadata', 'TCP', 80)).toBe(false);
    expect(report.allowed('default/a', 'metadata', 'TCP', 80)).toBeUndefined(); // only d probed
  });

  it('is stateful: replies of allowed connections pass, new connections the other way do not', async () => {
    const a = await lab.helper('default/a');
    const b = await lab.helper('default/b');
    const bPod = podByName(lab.pods, 'b');
    const aPod = podByName(lab.pods, 'a');
    // b's egress allows nothing, yet b's answers on a→b reach a.
    expect(await a.open('a-b', bPod.ip, 80)).toBe(true);
    expect(await a.echo('a-b')).toBe(true);
    // A new connection from b to a (same node) is b's egress: denied.
    expect(await b.probe([{ host: aPod.ip, port: 80, protocol: 'TCP' }])).toEqual([false]);
    // UDP too: c → b is allowed (b's ingress), b's reply passes although b may not send anything new.
    const c = await lab.helper('default/c');
    expect(await c.probe([{ host: bPod.ip, port: 53, protocol: 'UDP' }])).toEqual([true]);
    expect(await b.probe([{ host: podByName(lab.pods, 'c').ip, port: 53, protocol: 'UDP' }])).toEqual([false]);
  });

  it('a policy change is a small delta; established connections survive it', async () => {
    const a = await lab.helper('default/a');
    const bPod = podByName(lab.pods, 'b');
    const n1 = lab.agents.get('n1')!;
    await lab.setPolicies((pods) => scenario(pods, 81));
    // The delta of n1 (where b runs): one element out, one in; n2 and n3 host no pod of b-policy: no change at all.
    expect(n1.lastApplied()).toMatchObject({ kind: 'delta', scriptLines: 2 });
    expect((await n1.sync()).kind).toBe('none');
    expect(await a.echo('a-b')).toBe(true);
    const r = await a.probe([
      { host: bPod.ip, port: 80, protocol: 'TCP' },
      { host: bPod.ip, port: 81, protocol: 'TCP' },
    ]);
    expect(r).toEqual([false, true]);
    const report = await lab.probe();
    expect(report.cells.filter((c) => c.allowed !== expected(c.from, c.to, c.protocol, c.port, 81))).toEqual([]);
    await a.closeConn('a-b');
  });
});
