/**
 * The agent's performance with real nftables in throwaway network namespaces (root; a row says why when it cannot run):
 *
 * - change → enforced: a cluster of 1k and 10k pods as PolicyEndpoints (simulated controller output), 30 pods local to
 *   the node (host-side interfaces with /32 routes, as the VPC CNI installs them); events (a pod added, a pod's labels
 *   changed, a policy changed) rewrite the PolicyEndpoints, and the time from the change to the agent's committed nft
 *   transaction is measured, p50/p99, with where it went (read, compile, render, nft). The agent runs inside the node's
 *   namespace (a worker process started with `ip netns exec`), as in production;
 * - the kernel's size: set elements against rules, for the 10k cluster;
 * - a busy node: 110 and 250 local pods in a cluster of 10k pods and 5k policies, the objects written by the
 *   controller's reconciler (`bench-node.ts`): full resync, change → enforced, the agent's memory;
 * - new connections per second from one pod to another through a node with 1,000 PolicyEndpoints installed (on 200
 *   local pods, the server selected by one of them) against none, 3 s each in alternating 1 s rounds; the client
 *   resets each connection so that neither side piles up TIME_WAIT sockets.
 *
 * Every namespace has the prefix `plb-` and is removed at the end, also on failure.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { EndpointInfo, PolicyEndpoint } from '../api/policyendpoint.js';
import type { BenchRow } from '../bench/main.js';
import { labDown, labUp, type Lab } from '../lab/lab.js';
import { labRequirements } from '../lab/requirements.js';
import { run } from '../nft/apply.js';
import { countState, TABLE } from '../nft/compile.js';
import { runAgent } from './agent.js';
import { nodeScenario } from './bench-node.js';
import { siblingCommand } from './sibling.js';
import { StaticPolicyEndpointSource } from './source.js';

const PREFIX = 'plb-';
const LOCAL_PODS = 30;
const EVENTS_PER_KIND = 20;
/**
 * The busy node: 60 timed events of each kind (180: the p99 is the second largest, not the largest), after 20 of each
 * that are reported apart (a freshly started agent, its code still being compiled by the JIT).
 */
const BUSY_EVENTS_PER_KIND = 60;
const BUSY_WARMUP_PER_KIND = 20;

/** A PolicyEndpoint source the bench drives by hand: no watch, so each sync is the one being timed. */
class ManualSource extends StaticPolicyEndpointSource {
  override watch(): () => void {
    return () => undefined;
  }
}

/** Pod `i` of the simulated cluster: 10.96.0.0/12, one address each. */
function podIP(i: number): string {
  return `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

/** A PolicyEndpoint selecting the pods at `selected` (IPs), isolated for ingress, admitting `ingress`. */
function pe(name: string, selected: readonly string[], ingress: readonly EndpointInfo[]): PolicyEndpoint {
  return {
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'PolicyEndpoint',
    metadata: { name: `${name}-b3nch`, namespace: 'bench' },
    spec: {
      policyRef: { name, namespace: 'bench' },
      podSelector: {},
      podIsolation: ['Ingress'],
      podSelectorEndpoints: selected.map((ip) => ({ podIP: ip, hostIP: '10.99.0.11', name: `pod-${ip}`, namespace: 'bench' })),
      ingress,
    },
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Adds interfaces `<prefix>v<tag><k>` with a /32 route each: pods as the agent discovers them, without namespaces. */
async function addDummyPods(netns: string, ips: readonly string[], tag: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-bench-'));
  try {
    // veth pairs with both ends in the node (this kernel has no dummy driver); only the `v` end matches the pattern.
    const lines = ips.flatMap((ip, k) => [
      `link add ${PREFIX}v${tag}${k} type veth peer name ${PREFIX}w${tag}${k}`,
      `link set ${PREFIX}v${tag}${k} up`,
      `link set ${PREFIX}w${tag}${k} up`,
      `route add ${ip}/32 dev ${PREFIX}v${tag}${k}`,
    ]);
    await writeFile(join(dir, 'batch'), lines.join('\n') + '\n');
    await run('ip', ['-n', netns, '-batch', join(dir, 'batch')]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Simulated controller output for `n` pods: n/10 policies of 10 pods each, every policy admitting 2% of the cluster. */
function clusterPolicies(n: number, seed: number): PolicyEndpoint[] {
  let s = seed;
  const rnd = (k: number) => ((s = (s * 1103515245 + 12345) & 0x7fffffff) % k);
  const peers = Math.max(10, Math.floor(n / 50));
  return Array.from({ length: n / 10 }, (_, p) =>
    pe(`np${p}`, Array.from({ length: 10 }, (_, k) => podIP(p * 10 + k)), [
      ...Array.from({ length: peers }, () => ({ cidr: podIP(rnd(n)), ports: [{ protocol: 'TCP' as const, port: 8080 }] })),
      { cidr: '192.168.0.0/16', except: ['192.168.1.0/24'], ports: [{ protocol: 'UDP' as const, port: 53 }] },
    ]),
  );
}

/**
 * Change → enforced latency for one cluster size; also the kernel's size for it. `netns` undefined: the calling
 * process already runs in the node's network namespace, as the agent does in production (see `bench-worker.ts`).
 */
export async function changeLatency(n: number, netns?: string): Promise<BenchRow[]> {
  let pes = clusterPolicies(n, n);
  const source = new ManualSource(pes);
  const agent = await runAgent({
    node: 'n1', input: source, enforcingMode: 'standard', podInterfaces: `${PREFIX}v*`,
    ...(netns !== undefined ? { netns } : {}), pollIntervalMs: 600_000, logger: pino({ level: 'silent' }),
  });
  const times: Record<string, number[]> = { 'pod added': [], 'labels changed': [], 'policy changed': [] };
  const phases: Record<'readMs' | 'compileMs' | 'renderMs' | 'applyMs', number[]> = { readMs: [], compileMs: [], renderMs: [], applyMs: [] };
  try {
    // Only the policies selecting local pods (0..29: np0..np2) reach this node's table; events touch those.
    const local = [0, 1, 2];
    let nextPod = n;
    const replace = (p: number, f: (old: PolicyEndpoint) => PolicyEndpoint) => {
      pes = pes.map((x, i) => (i === p ? f(x) : x));
    };
    const ingressOf = (x: PolicyEndpoint) => [...(x.spec.ingress ?? [])];
    const withIngress = (x: PolicyEndpoint, ingress: EndpointInfo[]): PolicyEndpoint => ({ ...x, spec: { ...x.spec, ingress } });
    const events: Record<string, (k: number) => void> = {
      // A new pod matching the peers of two local policies: its IP joins both lists.
      'pod added': () => {
        const ip = podIP(nextPod++);
        for (const p of [0, 2]) replace(p, (x) => withIngress(x, [...ingressOf(x), { cidr: ip, ports: [{ protocol: 'TCP', port: 8080 }] }]));
      },
      // A pod's labels change: it leaves one policy's peers and joins another's.
      'labels changed': (k) => {
        const from = local[k % 3];
        const to = local[(k + 1) % 3];
        const moved = ingressOf(pes[from])[0];
        replace(from, (x) => withIngress(x, ingressOf(x).slice(1)));
        replace(to, (x) => withIngress(x, [...ingressOf(x), moved]));
      },
      // A policy's port changes: every peer entry of one local policy is rewritten.
      'policy changed': (k) => {
        const port = 8080 + (k % 2) + 1;
        replace(local[k % 3], (x) => withIngress(x, ingressOf(x).map((e) => (e.cidr.includes('/') ? e : { ...e, ports: [{ protocol: 'TCP', port }] }))));
      },
    };
    for (let k = 0; k < EVENTS_PER_KIND; k++) {
      for (const [kind, apply] of Object.entries(events)) {
        apply(k);
        const t0 = performance.now();
        source.set(pes);
        // What a sync triggered by the source's watch does: PolicyEndpoints changed, pods did not.
        const r = await agent.sync({ discover: false });
        times[kind].push(performance.now() - t0);
        for (const k of Object.keys(phases) as (keyof typeof phases)[]) phases[k].push(r.phases[k]);
        if (r.kind === 'none') throw new Error(`bench: event "${kind}" changed nothing in the kernel`);
      }
    }
    const all = Object.values(times).flat().sort((a, b) => a - b);
    const label = `agent ${n / 1000}k pods${netns !== undefined ? ' (ip netns exec per transaction)' : ''}`;
    const rows: BenchRow[] = [
      { name: `${label}: change → enforced in the kernel, p50`, value: percentile(all, 50), unit: 'ms' },
      { name: `${label}: change → enforced in the kernel, p99`, value: percentile(all, 99), unit: 'ms', target: '≤ 50 ms', met: percentile(all, 99) <= 50 },
    ];
    for (const [kind, ts] of Object.entries(times)) {
      const sorted = [...ts].sort((a, b) => a - b);
      rows.push({ name: `${label}: ${kind} → enforced, p50 / p99`, value: percentile(sorted, 50), unit: `ms / ${percentile(sorted, 99).toFixed(1)} ms` });
    }
    const p50 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
    rows.push({
      name: `${label}: split of a change, p50`,
      value: p50(all),
      unit: `ms = read ${p50(phases.readMs).toFixed(1)} + compile ${p50(phases.compileMs).toFixed(1)} + render ${p50(phases.renderMs).toFixed(1)} + nft ${p50(phases.applyMs).toFixed(1)} ms`,
    });
    // The kernel's own count, not the agent's model of it.
    const { stdout } = await run('nft', ['-j', 'list', 'table', 'inet', TABLE], netns !== undefined ? { netns } : {});
    const objs = (JSON.parse(stdout) as { nftables: Record<string, { elem?: unknown[] }>[] }).nftables;
    const elements = objs.reduce((sum, o) => sum + (o.set?.elem?.length ?? 0) + (o.map?.elem?.length ?? 0), 0);
    const rules = objs.filter((o) => o.rule).length;
    const peerEntries = pes.slice(0, 3).reduce((sum, x) => sum + (x.spec.ingress?.length ?? 0), 0);
    rows.push({ name: `${label}: nft set elements in the kernel / rules`, value: elements, unit: `elements / ${rules} rules (${peerEntries} peer entries of ${pes.length} PolicyEndpoints, 3 on this node)` });
    return rows;
  } finally {
    await agent.stop({ removeTable: true });
  }
}

/** New TCP connections per second from the client pod to the server pod for `ms` (16 in flight), in the client's netns. */
async function connectionRate(clientNetns: string, server: string, ms: number): Promise<number> {
  const script = `
const net = require('node:net');
let done = 0; const end = Date.now() + ${ms};
function one() {
  if (Date.now() >= end) return Promise.resolve();
  return new Promise((r) => { const s = net.connect({ host: '${server}', port: 80 }); const f = () => { s.resetAndDestroy(); r(); };
    s.once('data', () => { done++; f(); }); s.once('error', f); s.setTimeout(1000, f); }).then(one);
}
Promise.all(Array.from({ length: 16 }, one)).then(() => { process.stdout.write(String(done)); });`;
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', clientNetns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms + 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(text);
      else reject(new Error(`rate client exited ${code}: ${err}`));
    });
  });
  return Number(out) / (ms / 1000);
}

/**
 * Runs `bench-worker` with these arguments in `netns` and returns its rows. From source (vitest, vite-node) the
 * worker is TypeScript and runs under vite-node; built, it is plain JavaScript.
 */
async function inNetns(netns: string, args: readonly (string | number)[]): Promise<BenchRow[]> {
  const [runner, worker] = siblingCommand(import.meta.url, 'bench-worker');
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, runner, worker, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(text);
      else reject(new Error(`bench worker exited ${code}: ${err}`));
    });
  });
  // vite-node may print before the rows; they are the last line.
  return JSON.parse(out.trim().split('\n').at(-1)!) as BenchRow[];
}

/**
 * A busy node (`bench-node.ts`): the controller's objects for the cluster are built in this process, the agent runs
 * alone in the node's namespace. Root; the caller removes leftover namespaces on failure (`labDown`).
 */
export async function benchBusyNode(localPods: number, eventsPerKind = BUSY_EVENTS_PER_KIND, warmupPerKind = BUSY_WARMUP_PER_KIND): Promise<BenchRow[]> {
  const scenario = await nodeScenario(localPods, eventsPerKind, warmupPerKind);
  const dir = await mkdtemp(join(tmpdir(), 'palisade-bench-'));
  let lab: Lab | undefined;
  try {
    await writeFile(join(dir, 'scenario.json'), JSON.stringify(scenario));
    lab = await labUp({ nodes: ['n1'], pods: [] }, { prefix: PREFIX, agents: false });
    await addDummyPods(lab.nodes[0].netns, scenario.localIPs, 'l');
    return await inNetns(lab.nodes[0].netns, ['--node', join(dir, 'scenario.json'), `${PREFIX}v*`]);
  } finally {
    await lab?.down().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the agent benchmarks. Needs root, `ip` and `nft`; without them, one row says why.
 * @example
 * for (const r of await benchAgent()) console.log(r.name, r.value, r.unit);
 */
export async function benchAgent(opts: { rateMs?: number; localPods?: readonly number[]; eventsPerKind?: number } = {}): Promise<BenchRow[]> {
  const why = labRequirements();
  if (why) return [{ name: `agent benchmarks not run: ${why}`, value: 0, unit: '' }];
  const rows: BenchRow[] = [];
  let lab: Lab | undefined;
  try {
    // Change latency: one node, its local pods as dummy interfaces (no helpers needed: nothing is probed).
    lab = await labUp({ nodes: ['n1'], pods: [] }, { prefix: PREFIX, agents: false });
    await addDummyPods(lab.nodes[0].netns, Array.from({ length: LOCAL_PODS }, (_, i) => podIP(i)), 'l');
    rows.push(...(await inNetns(lab.nodes[0].netns, [1000, 10_000])));
    await lab.down();

    for (const localPods of opts.localPods ?? [110, 250]) rows.push(...(await benchBusyNode(localPods, opts.eventsPerKind ?? BUSY_EVENTS_PER_KIND)));

    // Connection rate: a client and a server pod on one node, 200 more local pods (host interfaces only) carrying 999 policies.
    lab = await labUp({ nodes: ['n1'], pods: [{ name: 'client' }, { name: 'server' }] }, { prefix: PREFIX, policies: [] });
    const client = lab.pods.find((p) => p.name === 'client')!;
    const server = lab.pods.find((p) => p.name === 'server')!;
    const dummies = Array.from({ length: 200 }, (_, i) => `10.200.${i >> 8}.${(i & 255) + 1}`);
    await addDummyPods(lab.nodes[0].netns, dummies, 'd');
    const many: PolicyEndpoint[] = [
      pe('server', [server.ip], [{ cidr: `${client.ip}/32`, ports: [{ protocol: 'TCP', port: 80 }] }]),
      ...Array.from({ length: 999 }, (_, p) =>
        pe(`other${p}`, [dummies[p % 200]], Array.from({ length: 20 }, (_, k) => ({ cidr: `10.${100 + (p % 50)}.${k}.0/24`, ports: [{ protocol: 'TCP' as const, port: 80 + (k % 5) }] }))),
      ),
    ];
    // Alternating short rounds, so drift of the machine (other load, conntrack growth) hits both sides alike.
    const rounds = 3;
    const ms = (opts.rateMs ?? 3000) / rounds;
    const total = { none: 0, many: 0 };
    for (let round = 0; round < rounds; round++) {
      await lab.setPolicies([]);
      total.none += await connectionRate(client.netns, server.ip, ms);
      await lab.setPolicies(many);
      total.many += await connectionRate(client.netns, server.ip, ms);
    }
    const ratio = (total.many / total.none) * 100;
    rows.push(
      { name: 'agent: new connections/s through a node, no policies', value: total.none / rounds, unit: 'conn/s' },
      { name: 'agent: new connections/s through a node, 1,000 policies installed', value: total.many / rounds, unit: `conn/s (${countState(lab.agents.get('n1')!.state()!).elements} elements)` },
      { name: 'agent: connection rate with 1,000 policies vs none', value: ratio, unit: '%', target: '≥ 90%', met: ratio >= 90 },
    );
  } finally {
    await lab?.down().catch(() => undefined);
    await labDown({ prefix: PREFIX });
  }
  return rows;
}
