/**
 * Controller benchmark: the in-process reconciler (the same code as live, with an in-memory writer that counts
 * writes) on synthetic clusters of 1k and 10k pods. Measures the full first pass, and for single pod events the time
 * from the event to the PolicyEndpoints computed and written, and how many objects each event writes.
 */
import type { JsonObject } from '../api/load.js';
import { MemoryWriter } from './fake-writer.js';
import { Reconciler } from './reconciler.js';
import type { WatchedKind } from './state.js';

export interface BenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly target?: string;
}

/** 10 pods per app, 10 apps per namespace; per namespace one policy per app (ingress from the next app, egress to a
 * namespace-selected app) and a default deny. */
function synthetic(pods: number): { kind: WatchedKind; key: string; value: JsonObject }[] {
  const out: { kind: WatchedKind; key: string; value: JsonObject }[] = [];
  const perNs = 100;
  const namespaces = Math.max(1, Math.ceil(pods / perNs));
  for (let n = 0; n < namespaces; n++) {
    const ns = `ns-${n}`;
    out.push({ kind: 'Namespace', key: ns, value: { metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns, tier: n % 2 === 0 ? 'front' : 'back' } } } });
    for (let a = 0; a < 10; a++) {
      out.push({
        kind: 'NetworkPolicy',
        key: `${ns}/app-${a}`,
        value: {
          metadata: { name: `app-${a}`, namespace: ns, uid: `${ns}-${a}` },
          spec: {
            podSelector: { matchLabels: { app: `app-${a}` } },
            ingress: [{ from: [{ podSelector: { matchLabels: { app: `app-${(a + 1) % 10}` } } }], ports: [{ port: 8080 }] }],
            egress: [{ to: [{ namespaceSelector: { matchLabels: { tier: 'back' } }, podSelector: { matchLabels: { app: `app-${a}` } } }] }],
          },
        },
      });
    }
    out.push({ kind: 'NetworkPolicy', key: `${ns}/deny`, value: { metadata: { name: 'deny', namespace: ns }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } } });
  }
  for (let i = 0; i < pods; i++) {
    const ns = `ns-${Math.floor(i / perNs)}`;
    out.push({ kind: 'Pod', key: `${ns}/pod-${i}`, value: podJson(ns, i, `app-${Math.floor(i / 10) % 10}`) });
  }
  return out;
}

function podJson(ns: string, i: number, app: string): JsonObject {
  return {
    metadata: { name: `pod-${i}`, namespace: ns, labels: { app } },
    spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: { phase: 'Running', podIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, hostIP: '192.0.2.1' },
  };
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function benchSize(pods: number): Promise<BenchRow[]> {
  const writer = new MemoryWriter();
  const r = new Reconciler(writer, { batchWindowMs: 0 });
  for (const o of synthetic(pods)) r.observe(o.kind, o.key, o.value);
  r.setActive(true);
  const t0 = performance.now();
  await r.flush();
  const full = performance.now() - t0;
  const objects = writer.writes;
  const label = pods >= 1000 ? `${pods / 1000}k` : String(pods);

  const current = new Map<number, JsonObject>();
  const latencies: number[] = [];
  const writes: number[] = [];
  const events = 20;
  for (let e = 0; e < events; e++) {
    const i = (e * 7919) % pods;
    const ns = `ns-${Math.floor(i / 100)}`;
    const before = writer.writes;
    const start = performance.now();
    // A pod moves to another app: its old and new app's policies (and the peers that name them) change.
    const moved = podJson(ns, i, `app-${(Math.floor(i / 10) + 1 + e) % 10}`);
    current.set(i, moved);
    r.observe('Pod', `${ns}/pod-${i}`, moved);
    await r.flush();
    latencies.push(performance.now() - start);
    writes.push(writer.writes - before);
  }
  const idleStart = performance.now();
  const pod0 = current.get(0) ?? podJson('ns-0', 0, 'app-0');
  r.observe('Pod', 'ns-0/pod-0', { ...pod0, status: { ...(pod0.status as JsonObject), conditions: [{ type: 'Ready', status: 'True' }] } } as JsonObject);
  await r.flush();
  const noop = performance.now() - idleStart;
  r.stop();
  return [
    { name: `controller ${label} pods: first full pass`, value: Math.round(full), unit: 'ms' },
    { name: `controller ${label} pods: objects written by the first pass`, value: objects, unit: 'objects' },
    { name: `controller ${label} pods: event → PolicyEndpoints written, p50`, value: Number(percentile(latencies, 50).toFixed(1)), unit: 'ms', target: pods >= 10_000 ? '< 500 ms' : '< 100 ms' },
    { name: `controller ${label} pods: event → PolicyEndpoints written, p95`, value: Number(percentile(latencies, 95).toFixed(1)), unit: 'ms' },
    { name: `controller ${label} pods: writes per pod event (mean)`, value: Number((writes.reduce((a, b) => a + b, 0) / events).toFixed(2)), unit: 'writes', target: '≤ affected policies' },
    { name: `controller ${label} pods: status-only event (nothing to do)`, value: Number(noop.toFixed(2)), unit: 'ms' },
  ];
}

/**
 * Runs the controller benchmark at 1k and 10k pods. Event times exclude the batch window (`--batch-window`, 100 ms by
 * default), which the live controller adds before each pass.
 */
export async function benchController(): Promise<BenchRow[]> {
  return [...(await benchSize(1000)), ...(await benchSize(10_000))];
}
