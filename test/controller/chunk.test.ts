/**
 * Chunking: at most `chunkSize` entries per list per object, stable names, and a change to one pod rewriting only the
 * object that holds it.
 */
import { describe, expect, it } from 'vitest';

import type { PolicyEndpoint } from '../../src/api/policyendpoint.js';
import { packChunks } from '../../src/controller/chunk.js';
import { resolvePolicyEndpoints, resolveClusterPolicyEndpoints } from '../../src/controller/resolve.js';
import { engineOf, np, ns, pod, type Obj } from './fixtures.js';

function pods(n: number, ipOf: (i: number) => string = (i) => `10.0.${i >> 8}.${(i & 255) + 1}`): Obj[] {
  return Array.from({ length: n }, (_, i) => pod('shop', `web-${String(i).padStart(3, '0')}`, { labels: { app: 'web' }, ip: ipOf(i), hostIP: '192.0.2.1' }));
}

const selectWeb = np('shop', 'web', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.9.0.0/16' } }] }] });
const webToWeb = np('shop', 'web', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }] });

function byName(pes: readonly PolicyEndpoint[]): Map<string, PolicyEndpoint> {
  return new Map(pes.map((p) => [p.metadata.name ?? '', p]));
}

/** Names of the objects whose spec differs between two layouts, plus names only in one. */
function changed(a: readonly PolicyEndpoint[], b: readonly PolicyEndpoint[]): string[] {
  const ma = byName(a);
  const mb = byName(b);
  const names = new Set([...ma.keys(), ...mb.keys()]);
  return [...names].filter((n) => JSON.stringify(ma.get(n)?.spec) !== JSON.stringify(mb.get(n)?.spec)).sort();
}

describe('chunking', () => {
  it('201 selected pods make 2 objects of 200 and 1', () => {
    const pes = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(201), selectWeb]));
    expect(pes).toHaveLength(2);
    expect(pes.map((p) => p.spec.podSelectorEndpoints?.length)).toEqual([200, 1]);
    expect(pes.map((p) => p.spec.ingress?.length ?? 0)).toEqual([1, 0]);
    expect(new Set(pes.map((p) => p.metadata.name)).size).toBe(2);
    for (const pe of pes) {
      expect(pe.metadata.name).toMatch(/^web-[0-9a-f]{10}$/);
      expect(pe.spec.podIsolation).toEqual(['Ingress']);
      expect(pe.spec.policyRef).toEqual({ name: 'web', namespace: 'shop' });
    }
  });

  it('200 pods fit one object; the chunk size is an option', () => {
    expect(resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(200), selectWeb]))).toHaveLength(1);
    const small = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(10), selectWeb]), { chunkSize: 3 });
    expect(small.map((p) => p.spec.podSelectorEndpoints?.length)).toEqual([3, 3, 3, 1]);
  });

  it('changing one pod IP changes exactly one chunk and no names (fresh layout)', () => {
    const before = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(201), selectWeb]));
    const after = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(201, (i) => (i === 7 ? '10.99.0.1' : `10.0.${i >> 8}.${(i & 255) + 1}`)), selectWeb]));
    expect(after.map((p) => p.metadata.name)).toEqual(before.map((p) => p.metadata.name));
    expect(changed(before, after)).toEqual([before[0].metadata.name]);
  });

  it('with the previous objects, a pod that is also a peer changes one chunk even when its new IP sorts elsewhere', () => {
    const ip = (i: number) => `10.0.${i >> 8}.${(i & 255) + 1}`;
    const before = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(201), webToWeb]));
    expect(before.map((p) => [p.spec.podSelectorEndpoints?.length, p.spec.ingress?.length])).toEqual([
      [200, 200],
      [1, 1],
    ]);
    const moved = engineOf([ns('shop'), ...pods(201, (i) => (i === 7 ? '10.99.0.1' : ip(i))), webToWeb]);
    const after = resolvePolicyEndpoints(moved, { previous: before });
    expect(after.map((p) => p.metadata.name)).toEqual(before.map((p) => p.metadata.name));
    expect(changed(before, after)).toEqual([before[0].metadata.name]);
    const first = after[0];
    expect(first.spec.ingress?.some((e) => e.cidr === '10.99.0.1')).toBe(true);
    expect(first.spec.ingress?.some((e) => e.cidr === ip(7))).toBe(false);
    // Resolving again from its own output is a fixed point: nothing to write.
    expect(changed(after, resolvePolicyEndpoints(moved, { previous: after }))).toEqual([]);
  });

  it('with the previous objects, a new pod goes where there is room and a deleted one touches only its chunk', () => {
    const before = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(201), selectWeb]));
    const grown = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(202), selectWeb]), { previous: before });
    expect(changed(before, grown)).toEqual([before[1].metadata.name]);
    const shrunk = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(201).filter((_, i) => i !== 3), selectWeb]), { previous: before });
    expect(changed(before, shrunk)).toEqual([before[0].metadata.name]);
  });

  it('drops an object that has become empty, keeps one when everything is empty', () => {
    const before = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(201), selectWeb]));
    const fewer = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(201).slice(0, 200), selectWeb]), { previous: before });
    expect(fewer.map((p) => p.metadata.name)).toEqual([before[0].metadata.name]);
    const none = resolvePolicyEndpoints(engineOf([ns('shop'), np('shop', 'web', { podSelector: { matchLabels: { app: 'web' } } })]), { previous: before });
    expect(none).toHaveLength(1);
    expect(none[0].metadata.name).toBe(before[0].metadata.name);
  });

  it('ignores previous objects of other policies, replaces foreign-named ones', () => {
    const fresh = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(3), selectWeb]));
    const foreign: PolicyEndpoint = { ...fresh[0], metadata: { ...fresh[0].metadata, name: 'web-abcde' } };
    const other: PolicyEndpoint = { ...fresh[0], metadata: { ...fresh[0].metadata, name: 'x-1' }, spec: { ...fresh[0].spec, policyRef: { name: 'x', namespace: 'shop' } } };
    const out = resolvePolicyEndpoints(engineOf([ns('shop'), ...pods(3), selectWeb]), { previous: [foreign, other] });
    // The foreign object keeps its name (its entries are still wanted), so nothing is rewritten.
    expect(out.map((p) => p.metadata.name)).toEqual(['web-abcde']);
    expect(out[0].spec).toEqual(fresh[0].spec);
  });

  it('rejects a chunk size below 1', () => {
    expect(() => packChunks(['a'], { a: [] }, [], 0, String)).toThrow(RangeError);
  });
});

describe('ClusterPolicyEndpoint chunking', () => {
  it('chunks subject pods of a cluster policy the same way', () => {
    const cnp = {
      apiVersion: 'policy.networking.k8s.io/v1alpha2',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'isolate' },
      spec: { tier: 'Admin', priority: 10, subject: { namespaces: {} }, ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] },
    };
    const cpes = resolveClusterPolicyEndpoints(engineOf([ns('shop'), ...pods(5), cnp]), { chunkSize: 2 });
    expect(cpes.map((c) => [c.spec.podSelectorEndpoints?.length ?? 0, c.spec.ingress?.length ?? 0])).toEqual([
      [2, 2],
      [2, 2],
      [1, 1],
    ]);
    for (const c of cpes) expect(c.metadata.name).toMatch(/^isolate-[0-9a-f]{10}-\d{3}$/);
    // Name order is slot order, so an agent that orders the pieces by name keeps the rules in order.
    expect(cpes.map((c) => c.metadata.name)).toEqual([...cpes.map((c) => c.metadata.name)].sort());
    expect(cpes.map((c) => c.metadata.name?.slice(-3))).toEqual(['000', '001', '002']);
  });
});
