/**
 * One busy node of a large cluster: 110 or 250 local pods (the kubelet's default and maximum pods per node) in a
 * cluster of 10k pods with 5k NetworkPolicies and a few admin-tier policies (one with a `nodes` peer).
 *
 * The PolicyEndpoints and ClusterPolicyEndpoints are the controller's own output: {@link nodeScenario} runs the
 * reconciler (the live controller's code, with the in-memory writer) on the generated cluster, then replays events
 * through it — a pod added, a pod relabelled, a policy changed, each in a namespace with a local pod — and records
 * which objects each event rewrote. {@link measureNode} runs inside the node's network namespace (bench-worker.ts) and
 * times the agent: full resyncs (compile + one transaction), each event's change → enforced in the kernel, and the
 * process's memory. The scenario is built in the parent process, so the worker's memory is the agent's plus the
 * objects it replays.
 */
import { pino } from 'pino';
import type { JsonObject } from '../api/load.js';
import { isClusterPolicyEndpoint, isPolicyEndpoint, type ClusterPolicyEndpoint, type PolicyEndpoint } from '../api/policyendpoint.js';
import type { BenchRow } from '../bench/row.js';
import { multiTeam, podJson, ipOf } from '../controller/bench.js';
import { MemoryWriter } from '../controller/fake-writer.js';
import { Reconciler, type EndpointObject } from '../controller/reconciler.js';
import { run } from '../nft/apply.js';
import { TABLE } from '../nft/compile.js';
import { runAgent } from './agent.js';
import { discoverPods } from './discover.js';
import { StaticPolicyEndpointSource } from './source.js';

const CLUSTER_PODS = 10_000;
/** 24 pods and 12 policies per namespace: 417 namespaces, 5,004 NetworkPolicies. */
const PODS_PER_NAMESPACE = 24;
const NODES = 20;
/** Targets of the issue, for a node with 110 and 250 local pods. */
const RESYNC_TARGET_MS = 200;
const CHANGE_P99_TARGET_MS = 20;

/** What the worker replays: the objects after the first pass, then per event the objects it wrote and deleted. */
export interface NodeScenario {
  readonly localPods: number;
  /** The local pods' IPs: the node routes each to its own interface. */
  readonly localIPs: readonly string[];
  readonly initial: readonly EndpointObject[];
  /** The first `warmup` events are replayed before the timed ones, and reported apart (a freshly started process). */
  readonly warmup: number;
  readonly events: readonly { readonly kind: string; readonly written: readonly EndpointObject[]; readonly deleted: readonly string[] }[];
  readonly cluster: { readonly pods: number; readonly namespaces: number; readonly networkPolicies: number; readonly tierPolicies: number };
}

function objectKey(o: EndpointObject): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

/** The admin-tier policies: every pod denied the metadata address and the kubelet port of worker nodes; scraping allowed. */
function tierObjects(): { kind: 'ClusterNetworkPolicy' | 'Node'; key: string; value: JsonObject }[] {
  const cnp = (name: string, spec: JsonObject) => ({ kind: 'ClusterNetworkPolicy' as const, key: name, value: { metadata: { name, uid: `uid-${name}` }, spec } });
  const all = { namespaces: {} };
  const nodes = Array.from({ length: NODES }, (_, i) => ({
    kind: 'Node' as const,
    key: `node-${i}`,
    value: {
      metadata: { name: `node-${i}`, labels: { role: i < 3 ? 'control-plane' : 'worker' } },
      status: { addresses: [{ type: 'InternalIP', address: `192.0.2.${i + 1}` }, { type: 'Hostname', address: `node-${i}` }] },
    },
  }));
  return [
    ...nodes,
    cnp('metadata', { tier: 'Admin', priority: 1, subject: all, egress: [{ name: 'imds', action: 'Deny', to: [{ networks: ['169.254.169.254/32'] }] }] }),
    cnp('kubelet', {
      tier: 'Admin',
      priority: 2,
      subject: all,
      egress: [{ name: 'kubelet', action: 'Deny', to: [{ nodes: { matchLabels: { role: 'worker' } } }], protocols: [{ tcp: { destinationPort: { number: 10250 } } }] }],
    }),
    cnp('scrape', {
      tier: 'Baseline',
      priority: 1,
      subject: all,
      ingress: [{ name: 'prometheus', action: 'Accept', from: [{ namespaces: { matchLabels: { role: 'monitoring' } } }], protocols: [{ tcp: { destinationPort: { number: 9090 } } }] }],
    }),
  ];
}

/**
 * Builds the controller's output for a node with `localPods` pods, and `warmupPerKind` then `eventsPerKind` events of
 * each kind.
 * @example
 * const s = await nodeScenario(110, 20); // s.initial: the PolicyEndpoints and ClusterPolicyEndpoints of the cluster
 */
export async function nodeScenario(localPods: number, eventsPerKind: number, warmupPerKind = 0): Promise<NodeScenario> {
  const writer = new MemoryWriter();
  const r = new Reconciler(writer, { batchWindowMs: 0 });
  const objects = multiTeam(CLUSTER_PODS, PODS_PER_NAMESPACE);
  for (const o of objects) r.observe(o.kind, o.key, o.value);
  const tiers = tierObjects();
  for (const o of tiers) r.observe(o.kind, o.key, o.value);
  r.setActive(true);
  await r.flush();
  const namespaces = Math.ceil(CLUSTER_PODS / PODS_PER_NAMESPACE);

  // Local pods spread over namespaces, as a node hosts many tenants' pods: pod 1..15 (never 10: app-0 has no own policy).
  const local: { ns: string; name: string; app: number }[] = [];
  for (let k = 0; local.length < localPods; k++) {
    const p = 1 + ((k * 7) % 15);
    if (p === 10) continue;
    local.push({ ns: `ns-${(k * 5) % namespaces}`, name: `pod-${p}`, app: p % 10 });
  }
  const ipOfPod = (key: string) => String(((r.state.get('Pod', key)?.status ?? {}) as { podIP?: string }).podIP);
  const localKeys = new Set(local.map((l) => `${l.ns}/${l.name}`));
  const localIPs = local.map((l) => ipOfPod(`${l.ns}/${l.name}`));

  let snapshot = new Map(writer.objects);
  const initial = [...snapshot.values()];
  const events: { kind: string; written: EndpointObject[]; deleted: string[] }[] = [];
  let nextIP = CLUSTER_PODS + 1000;
  const record = async (kind: string) => {
    await r.flush();
    const written = [...writer.objects.values()].filter((o) => snapshot.get(objectKey(o)) !== o);
    const deleted = [...snapshot.keys()].filter((k) => !writer.objects.has(k));
    snapshot = new Map(writer.objects);
    events.push({ kind, written, deleted });
  };
  for (let e = 0; e < warmupPerKind + eventsPerKind; e++) {
    const at = local[(e * 13) % local.length];
    // A new pod in a local pod's namespace: it joins the team's ingress and egress lists.
    r.observe('Pod', `${at.ns}/extra-${e}`, podJson(at.ns, `extra-${e}`, `app-${e % 10}`, ipOf(nextIP++)));
    await record('pod added');
    // A remote pod moves into or out of the peers of a local pod's own policy (app-k admits app-(k-1)).
    for (let q = 1; q <= 15; q++) {
      const key = `${at.ns}/pod-${q}`;
      const pod = r.state.get('Pod', key);
      if (!pod || localKeys.has(key)) continue;
      const app = (pod.metadata as { labels: Record<string, string> }).labels.app;
      const peer = `app-${at.app - 1}`;
      r.observe('Pod', key, podJson(at.ns, `pod-${q}`, app === peer ? `app-${(at.app + 1) % 10}` : peer, ipOfPod(key)));
      break;
    }
    await record('labels changed');
    // The team policy of a local pod's namespace gets another port.
    const team = r.state.get('NetworkPolicy', `${at.ns}/allow-team`)!;
    const spec = team.spec as { ingress: JsonObject[] };
    r.observe('NetworkPolicy', `${at.ns}/allow-team`, { ...team, spec: { ...spec, ingress: [{ ...spec.ingress[0], ports: [{ protocol: 'TCP', port: 8000 + e }] }] } });
    await record('policy changed');
  }
  r.stop();
  return {
    localPods,
    localIPs,
    initial,
    warmup: warmupPerKind * 3,
    events,
    cluster: { pods: CLUSTER_PODS, namespaces, networkPolicies: r.state.count('NetworkPolicy'), tierPolicies: r.state.count('ClusterNetworkPolicy') },
  };
}

/** A source the bench drives by hand: no watch, so each sync is the one being timed. */
class ManualSource extends StaticPolicyEndpointSource {
  override watch(): () => void {
    return () => undefined;
  }
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const split = (xs: { readMs: number; compileMs: number; renderMs: number; applyMs: number }[]) => {
  const p50 = (f: (x: (typeof xs)[number]) => number) => percentile(xs.map(f), 50).toFixed(1);
  return `read ${p50((x) => x.readMs)} + compile ${p50((x) => x.compileMs)} + render ${p50((x) => x.renderMs)} + nft ${p50((x) => x.applyMs)} ms`;
};

/**
 * Times the agent on the scenario, in the calling process's network namespace (the node's), whose pod interfaces
 * match `podInterfaces` and route the scenario's local IPs.
 */
export async function measureNode(s: NodeScenario, podInterfaces: string, resyncs = 10): Promise<BenchRow[]> {
  // Per kind, as the agent's API source keeps them (one watch cache each): a change replaces one entry.
  const pesNow = new Map<string, PolicyEndpoint>();
  const cpesNow = new Map<string, ClusterPolicyEndpoint>();
  const put = (o: EndpointObject) => {
    if (isPolicyEndpoint(o)) pesNow.set(objectKey(o), o);
    else if (isClusterPolicyEndpoint(o)) cpesNow.set(objectKey(o), o);
  };
  for (const o of s.initial) put(o);
  const lists = () => ({ pes: [...pesNow.values()], cpes: [...cpesNow.values()] });
  const first = lists();
  const source = new ManualSource(first.pes, first.cpes);
  const t0 = performance.now();
  const agent = await runAgent({ node: 'n1', input: source, enforcingMode: 'standard', podInterfaces, pollIntervalMs: 600_000, logger: pino({ level: 'silent' }) });
  const startMs = performance.now() - t0;
  const label = `agent node with ${s.localPods} local pods (${s.cluster.pods / 1000}k pods, ${s.cluster.networkPolicies} NetworkPolicies + ${s.cluster.tierPolicies} admin/baseline)`;
  try {
    const found = new Set((await discoverPods(podInterfaces)).flatMap((p) => p.ips));
    const missing = s.localIPs.filter((ip) => !found.has(ip));
    if (missing.length > 0) throw new Error(`bench: ${missing.length} local pods have no interface (e.g. ${missing[0]})`);
    const full: { total: number; work: number; phases: { readMs: number; compileMs: number; renderMs: number; applyMs: number } }[] = [];
    for (let i = 0; i < resyncs; i++) {
      const r = await agent.resync();
      if (r.kind !== 'full') throw new Error(`bench: a resync was a ${r.kind} sync`);
      full.push({ total: r.ms, work: r.phases.compileMs + r.phases.renderMs + r.phases.applyMs, phases: r.phases });
    }
    const times: Record<string, number[]> = {};
    const cold: number[] = [];
    const phases: { readMs: number; compileMs: number; renderMs: number; applyMs: number }[] = [];
    for (const [k, ev] of s.events.entries()) {
      for (const key of ev.deleted) {
        pesNow.delete(key);
        cpesNow.delete(key);
      }
      for (const o of ev.written) put(o);
      const t1 = performance.now();
      const { pes, cpes } = lists();
      source.set(pes, cpes);
      const r = await agent.sync({ discover: false });
      const ms = performance.now() - t1;
      if (r.kind === 'none') throw new Error(`bench: event "${ev.kind}" changed nothing in the kernel`);
      if (k < s.warmup) {
        cold.push(ms);
        continue;
      }
      (times[ev.kind] ??= []).push(ms);
      phases.push(r.phases);
    }
    const all = Object.values(times).flat();
    const work50 = percentile(full.map((f) => f.work), 50);
    const workMax = Math.max(...full.map((f) => f.work));
    const p99 = percentile(all, 99);
    const mem = process.memoryUsage();
    const { stdout } = await run('nft', ['-j', 'list', 'table', 'inet', TABLE]);
    const objs = (JSON.parse(stdout) as { nftables: Record<string, { elem?: unknown[] }>[] }).nftables;
    const elements = objs.reduce((sum, o) => sum + (o.set?.elem?.length ?? 0) + (o.map?.elem?.length ?? 0), 0);
    const rules = objs.filter((o) => o.rule).length;
    const rows: BenchRow[] = [
      { name: `${label}: first sync at start`, value: startMs, unit: 'ms' },
      {
        name: `${label}: full resync, compile + transaction, p50 of ${resyncs} (max ${workMax.toFixed(0)} ms)`,
        value: work50,
        unit: 'ms',
        target: `≤ ${RESYNC_TARGET_MS} ms`,
        met: work50 <= RESYNC_TARGET_MS && workMax <= RESYNC_TARGET_MS,
      },
      { name: `${label}: full resync with pod discovery, p50; split`, value: percentile(full.map((f) => f.total), 50), unit: `ms = ${split(full.map((f) => f.phases))}` },
      { name: `${label}: change → enforced in the kernel, p50`, value: percentile(all, 50), unit: 'ms' },
      {
        name: `${label}: change → enforced in the kernel, p99 of ${all.length} events after ${s.warmup} (max ${Math.max(...all).toFixed(1)} ms)`,
        value: p99,
        unit: 'ms',
        target: `≤ ${CHANGE_P99_TARGET_MS} ms`,
        met: p99 <= CHANGE_P99_TARGET_MS,
      },
    ];
    if (cold.length > 0) rows.push({ name: `${label}: the first ${cold.length} events after start and resyncs (JIT still compiling), p50 / max`, value: percentile(cold, 50), unit: `ms / ${Math.max(...cold).toFixed(1)} ms` });
    for (const [kind, ts] of Object.entries(times)) rows.push({ name: `${label}: ${kind} → enforced, p50 / p99`, value: percentile(ts, 50), unit: `ms / ${percentile(ts, 99).toFixed(1)} ms` });
    rows.push(
      { name: `${label}: split of a change, p50`, value: percentile(all, 50), unit: `ms = ${split(phases)}` },
      { name: `${label}: nft set elements in the kernel / rules`, value: elements, unit: `elements / ${rules} rules (${pesNow.size + cpesNow.size} endpoint objects in the cluster)` },
      { name: `${label}: agent process RSS after the events`, value: mem.rss / 2 ** 20, unit: `MB (peak ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MB)` },
    );
    return rows;
  } finally {
    await agent.stop({ removeTable: true });
  }
}
