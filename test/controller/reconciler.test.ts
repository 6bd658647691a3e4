/** The reconciler against an in-memory API: only affected policies, only differences written, bursts batched. */
import { describe, expect, it } from 'vitest';

import { MemoryWriter } from '../../src/controller/fake-writer.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import type { WatchedKind } from '../../src/controller/state.js';
import type { JsonObject } from '../../src/api/load.js';
import { np, ns, pod, svc, type Obj } from './fixtures.js';

function add(r: Reconciler, kind: WatchedKind, o: Obj): void {
  const m = o.metadata as { name: string; namespace?: string };
  r.observe(kind, m.namespace ? `${m.namespace}/${m.name}` : m.name, o as unknown as JsonObject);
}

function setup(): { r: Reconciler; w: MemoryWriter } {
  const w = new MemoryWriter();
  const r = new Reconciler(w, { batchWindowMs: 5 });
  add(r, 'Namespace', ns('a'));
  add(r, 'Namespace', ns('b'));
  for (let i = 0; i < 5; i++) add(r, 'Pod', pod('a', `p${i}`, { labels: { app: i < 3 ? 'web' : 'db' }, ip: `10.0.0.${i + 1}` }));
  add(r, 'NetworkPolicy', np('a', 'web', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'db' } } }] }] }, 'u1'));
  add(r, 'NetworkPolicy', np('b', 'other', { podSelector: {} }, 'u2'));
  return { r, w };
}

describe('Reconciler', () => {
  it('writes one object per policy on the first pass, then nothing when nothing changed', async () => {
    const { r, w } = setup();
    r.setActive(true);
    await r.idle();
    expect(w.creates).toBe(2);
    r.markAll();
    await r.flush();
    expect(w.writes).toBe(2);
  });

  it('a pod label change rewrites only the policy it affects', async () => {
    const { r, w } = setup();
    r.setActive(true);
    await r.idle();
    const before = w.writes;
    add(r, 'Pod', pod('a', 'p4', { labels: { app: 'web' }, ip: '10.0.0.5' }));
    const pass = await r.flush();
    expect(pass?.policies).toBe(1);
    expect(w.writes - before).toBe(1);
    const pe = [...w.objects.values()].find((o) => o.metadata.namespace === 'a')!;
    expect(pe.spec.podSelectorEndpoints?.map((p) => p.name)).toEqual(['p0', 'p1', 'p2', 'p4']);
  });

  it('ignores pod status churn that does not change an endpoint', async () => {
    const { r, w } = setup();
    r.setActive(true);
    await r.idle();
    const p = pod('a', 'p0', { labels: { app: 'web' }, ip: '10.0.0.1' });
    add(r, 'Pod', { ...p, status: { ...(p.status as object), conditions: [{ type: 'Ready', status: 'True' }] } });
    expect(await r.flush()).toBeUndefined();
    expect(w.writes).toBe(2);
  });

  it('batches a burst of events into one pass', async () => {
    const { r, w } = setup();
    r.setActive(true);
    await r.idle();
    let passes = 0;
    r.onPass = () => passes++;
    for (let i = 10; i < 60; i++) add(r, 'Pod', pod('a', `n${i}`, { labels: { app: 'web' }, ip: `10.0.1.${i}` }));
    await r.idle();
    expect(passes).toBe(1);
    expect(w.updates).toBe(1);
  });

  it('deletes the objects of a deleted policy, and restores an object deleted behind its back', async () => {
    const { r, w } = setup();
    r.setActive(true);
    await r.idle();
    const other = [...w.objects.values()].find((o) => o.metadata.namespace === 'b')!;
    // Someone deletes it: the informer reports it, the reconciler writes it again.
    await w.delete(other);
    r.observeEndpoint(other, true);
    await r.idle();
    expect([...w.objects.values()].some((o) => o.metadata.name === other.metadata.name)).toBe(true);
    r.observe('NetworkPolicy', 'b/other', undefined);
    await r.idle();
    expect([...w.objects.values()].some((o) => o.metadata.namespace === 'b')).toBe(false);
  });

  it('a Service change re-resolves egress policies of its namespace', async () => {
    const { r, w } = setup();
    add(r, 'NetworkPolicy', np('a', 'out', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }] }] }));
    r.setActive(true);
    await r.idle();
    const before = w.writes;
    add(r, 'Service', svc('a', 'db', { selector: { app: 'db' }, clusterIP: '10.96.0.9', ports: [{ port: 5432 }] }));
    const pass = await r.flush();
    expect(pass?.policies).toBe(1);
    expect(w.writes - before).toBe(1);
  });

  it('writes nothing while not the leader', async () => {
    const { r, w } = setup();
    await r.idle();
    expect(w.writes).toBe(0);
  });
});

describe('Reconciler: what an egress Service entry depends on', () => {
  // The peer selects pods without `tier`; the Service selects by `app` only, so it also holds `front`, a pod the peer
  // does not match and the policy does not select. Its named port still decides the Service entry.
  const setupService = async () => {
    const w = new MemoryWriter();
    const r = new Reconciler(w, { batchWindowMs: 0 });
    add(r, 'Namespace', ns('a'));
    add(r, 'Pod', pod('a', 'plain', { labels: { app: 'web' }, ip: '10.0.0.1', ports: [{ name: 'http', containerPort: 8080 }] }));
    add(r, 'Pod', pod('a', 'front', { labels: { app: 'web', tier: 'front' }, ip: '10.0.0.2', ports: [{ name: 'http', containerPort: 8080 }] }));
    add(r, 'Service', svc('a', 'web', { selector: { app: 'web' }, clusterIP: '10.96.0.1', ports: [{ port: 80, targetPort: 'http' }] }));
    add(r, 'NetworkPolicy', np('a', 'out', { podSelector: { matchLabels: { app: 'db' } }, egress: [{ to: [{ podSelector: { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] } }], ports: [{ port: 8080 }] }] }));
    r.setActive(true);
    await r.flush();
    return { r, w };
  };
  const egress = (w: MemoryWriter) => [...w.objects.values()].flatMap((o) => (o.spec.egress ?? []) as readonly { cidr?: string }[]).map((e) => e.cidr);

  it('a port change of a pod only the Service holds rewrites the entry (a named target reaching 9090 bypasses 8080)', async () => {
    const { r, w } = await setupService();
    expect(egress(w)).toEqual(['10.0.0.1', '10.96.0.1']);
    add(r, 'Pod', pod('a', 'front', { labels: { app: 'web', tier: 'front' }, ip: '10.0.0.2', ports: [{ name: 'http', containerPort: 9090 }] }));
    await r.flush();
    expect(egress(w)).toEqual(['10.0.0.1']);
  });

  it('the pods a Service holds are compiled with the policy even when no selector of the policy names them', async () => {
    const { r, w } = await setupService();
    add(r, 'Pod', pod('a', 'front', { labels: { app: 'web', tier: 'front' }, ip: '10.0.0.2', ports: [{ name: 'http', containerPort: 9090 }] }));
    await r.flush();
    expect(egress(w)).toEqual(['10.0.0.1']);
    // A policy change recompiles the policy alone: `front` must be in its model, or the Service entry would return.
    add(r, 'NetworkPolicy', np('a', 'out', { podSelector: { matchLabels: { app: 'db' } }, egress: [{ to: [{ podSelector: { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] } }], ports: [{ port: 8080 }, { protocol: 'UDP', port: 53 }] }] }));
    await r.flush();
    expect(egress(w)).toEqual(['10.0.0.1']);
  });
});

describe('ClusterPolicyEndpoint chunks keep their pods', () => {
  it('a pod added to an admin policy over many pods rewrites the chunk that takes it, not every chunk after its place', async () => {
    const w = new MemoryWriter();
    const r = new Reconciler(w, { batchWindowMs: 5, chunkSize: 5 });
    add(r, 'Namespace', ns('a'));
    // 30 pods: six chunks of five. A new pod sorts first (10.0.0.1), which a layout by slot would shift through all.
    for (let i = 0; i < 30; i++) add(r, 'Pod', pod('a', `p${i}`, { labels: { app: 'web' }, ip: `10.0.0.${i + 10}` }));
    const anp = {
      apiVersion: 'policy.networking.k8s.io/v1alpha1',
      kind: 'AdminNetworkPolicy',
      metadata: { name: 'deny-imds', uid: 'u-anp' },
      spec: { priority: 1, subject: { namespaces: {} }, egress: [{ name: 'imds', action: 'Deny', to: [{ networks: ['169.254.169.254/32'] }] }] },
    };
    r.observe('AdminNetworkPolicy', 'deny-imds', anp as unknown as JsonObject);
    r.setActive(true);
    await r.idle();
    const cpes = () => [...w.objects.values()].filter((o) => o.kind === 'ClusterPolicyEndpoint');
    expect(cpes()).toHaveLength(6);
    const before = new Map(cpes().map((o) => [o.metadata.name, JSON.stringify(o.spec)]));
    add(r, 'Pod', pod('a', 'new', { labels: { app: 'web' }, ip: '10.0.0.1' }));
    await r.idle();
    const changed = cpes().filter((o) => before.get(o.metadata.name) !== JSON.stringify(o.spec));
    expect(changed).toHaveLength(1);
    // Every pod is still listed exactly once, and the rule stays first (in the object of slot 0).
    const listed = cpes().flatMap((o) => (o.spec as { podSelectorEndpoints?: { name: string }[] }).podSelectorEndpoints ?? []).map((p) => p.name);
    expect(listed).toHaveLength(31);
    expect(new Set(listed).size).toBe(31);
    const withRules = cpes().filter((o) => ((o.spec as { egress?: unknown[] }).egress ?? []).length > 0);
    expect(withRules.map((o) => o.metadata.name)).toEqual([[...before.keys()].sort()[0]]);
  });
});
