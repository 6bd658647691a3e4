#!/usr/bin/env node
/**
 * `npm run bench`: the performance targets as numbers and ratios. Each engine size runs in its own process so its
 * peak memory is its own. Progress goes to a terminal only; the table goes to stdout.
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { compile } from '../engine/engine.js';
import { referenceAllowed } from '../engine/reference.js';
import { containsPort } from '../engine/ports.js';
import { PROTOCOLS, type Protocol } from '../api/types.js';
import type { Cluster } from '../model/types.js';
import { benchCluster } from './cluster.js';
import type { BenchRow } from './row.js';
import { benchController } from '../controller/bench.js';
import { benchAgent } from '../agent/bench.js';
import { benchLoad, benchStartup } from './load.js';

export type { BenchRow } from './row.js';

const interactive = Boolean(process.stderr.isTTY);
function progress(text: string): void {
  if (interactive) process.stderr.write(`\r\x1b[K${text}`);
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** One engine size, measured in this process: compile + full matrix, peak memory, and optionally `why` throughput. */
function measureEngine(pods: number, policies: number, tiers: number, why: boolean): BenchRow[] {
  const cluster = benchCluster({ pods, policies, tierPolicies: tiers });
  const t0 = process.hrtime.bigint();
  const engine = compile(cluster);
  const compileMs = ms(t0);
  let pairs = 0;
  engine.forEachClassPair(() => {
    pairs++;
  });
  const totalMs = ms(t0);
  const label = `${pods / 1000}k pods / ${policies} policies${tiers ? ` + ${tiers} tier` : ''}`;
  const rows: BenchRow[] = [
    { name: `matrix ${label}: compile`, value: compileMs, unit: 'ms' },
    { name: `matrix ${label}: compile + full matrix`, value: totalMs, unit: 'ms', ...target(pods, totalMs) },
    { name: `matrix ${label}: classes / allowed class pairs`, value: engine.compiled.classes.length, unit: `classes / ${pairs} pairs` },
  ];
  if (why) {
    // A million random flows over random endpoint pairs and ports: the first pass also computes each class pair's
    // decision segments; the second pass is what a long-running consumer (the agent's flow logs, the UI) sees.
    const n = 1_000_000;
    const ids = engine.endpoints.map((e) => e.id);
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const ports = [53, 443, 8080, 8081, 9050, 9090, 5432];
    const protocols = ['TCP', 'UDP'] as const;
    const flows = Array.from({ length: n }, () => ({ from: ids[next() % ids.length], to: ids[next() % ids.length], protocol: protocols[next() % 2], port: ports[next() % ports.length] }));
    const pass = (): { perSecond: number; allowed: number } => {
      const t1 = process.hrtime.bigint();
      let allowed = 0;
      for (let i = 0; i < n; i++) if (engine.verdict(flows[i]).allowed) allowed++;
      return { perSecond: n / (ms(t1) / 1000), allowed };
    };
    const first = pass();
    rows.push({ name: `why ${label}: 1 M random flows with reasons, first pass (${first.allowed} allowed)`, value: first.perSecond / 1e6, unit: 'M/s' });
    // Steady state: the median of three further passes over the same flows.
    const warm = [pass(), pass(), pass()].map((p) => p.perSecond).sort((a, b) => a - b)[1];
    rows.push({ name: `why ${label}: the same flows again, steady state (median of 3 passes)`, value: warm / 1e6, unit: 'M/s', target: '≥ 2 M/s', met: warm >= 2e6 });
  }
  rows.push({ name: `matrix ${label}: peak memory (RSS)`, value: process.resourceUsage().maxRSS / 1024, unit: 'MB', ...(pods >= 100_000 ? { target: '≤ 2048 MB', met: process.resourceUsage().maxRSS / 1024 <= 2048 } : {}) });
  return rows;
}

function target(pods: number, totalMs: number): Pick<BenchRow, 'target' | 'met'> {
  if (pods === 10_000) return { target: '≤ 500 ms', met: totalMs <= 500 };
  if (pods === 100_000) return { target: '≤ 5000 ms', met: totalMs <= 5000 };
  return {};
}

/**
 * The ports where any rule of the cluster starts or stops applying, per protocol: evaluating a flow at each of them
 * gives the whole port space's answer, so the reference evaluator can produce the full matrix too.
 */
function cutPorts(cluster: Cluster): Record<Protocol, number[]> {
  const cuts: Record<Protocol, Set<number>> = { TCP: new Set([1]), UDP: new Set([1]), SCTP: new Set([1]) };
  const add = (proto: Protocol, from: number, to: number) => {
    cuts[proto].add(from);
    if (to < 65535) cuts[proto].add(to + 1);
  };
  const named = (name: string, proto?: Protocol) => {
    for (const e of cluster.endpoints) for (const p of e.ports) if (p.name === name && (!proto || p.protocol === proto)) add(p.protocol, p.port, p.port);
  };
  for (const { policy } of cluster.policies) {
    for (const rule of [...(policy.spec.ingress ?? []), ...(policy.spec.egress ?? [])]) {
      for (const p of rule.ports ?? []) {
        const proto = p.protocol ?? 'TCP';
        if (typeof p.port === 'number') add(proto, p.port, p.endPort ?? p.port);
        else if (typeof p.port === 'string') named(p.port, proto);
      }
    }
  }
  for (const t of cluster.tierPolicies) {
    for (const rule of [...t.ingress, ...t.egress]) {
      for (const p of rule.ports ?? []) {
        if (p.kind === 'range') add(p.protocol, p.from, p.to);
        else named(p.name);
      }
    }
  }
  return { TCP: [...cuts.TCP].sort((a, b) => a - b), UDP: [...cuts.UDP].sort((a, b) => a - b), SCTP: [...cuts.SCTP].sort((a, b) => a - b) };
}

/**
 * Engine vs reference on the same cluster and the same answer: every ordered pair of endpoints, every port of every
 * protocol (the reference evaluates each pair at every cut port). Both answers are compared cell by cell.
 */
function measureSpeedup(pods: number, policies: number): BenchRow[] {
  const cluster = benchCluster({ pods, policies, tierPolicies: 4 });
  const t0 = process.hrtime.bigint();
  const engine = compile(cluster);
  engine.forEachClassPair(() => undefined);
  const engineMs = ms(t0);
  const eps = cluster.endpoints;
  const cuts = cutPorts(cluster);
  const probes = PROTOCOLS.flatMap((protocol) => cuts[protocol].map((port) => ({ protocol, port })));
  const t1 = process.hrtime.bigint();
  const reference: boolean[] = [];
  for (let i = 0; i < eps.length; i++) {
    if (i % 20 === 0) progress(`reference evaluator: ${i}/${eps.length} sources × ${probes.length} ports`);
    for (let j = 0; j < eps.length; j++) {
      if (i === j) continue;
      for (const { protocol, port } of probes) reference.push(referenceAllowed(cluster, { endpoint: eps[i] }, { endpoint: eps[j] }, protocol, port));
    }
  }
  progress('');
  const refMs = ms(t1);
  let k = 0;
  let agree = true;
  for (let i = 0; i < eps.length; i++) {
    for (let j = 0; j < eps.length; j++) {
      if (i === j) continue;
      const allowed = engine.allowedPorts(eps[i].id, eps[j].id);
      for (const { protocol, port } of probes) if (containsPort(allowed, protocol, port) !== reference[k++]) agree = false;
    }
  }
  const label = `${pods} pods / ${policies} policies + 4 tier`;
  return [
    { name: `reference ${label}: full matrix (${eps.length * (eps.length - 1)} pairs × ${probes.length} cut ports)`, value: refMs, unit: 'ms' },
    { name: `engine ${label}: full matrix`, value: engineMs, unit: 'ms' },
    { name: `speed-up over the reference, same answer (cells agree: ${agree})`, value: refMs / engineMs, unit: '×', target: '≥ 100×', met: refMs / engineMs >= 100 && agree },
  ];
}

function runChild(args: string[]): BenchRow[] {
  const self = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, ['--max-old-space-size=4096', self, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  return JSON.parse(out) as BenchRow[];
}

export function formatRows(rows: readonly BenchRow[]): string {
  const w = Math.max(...rows.map((r) => r.name.length));
  return rows
    .map((r) => {
      const v = r.value >= 100 ? r.value.toFixed(0) : r.value >= 10 ? r.value.toFixed(1) : r.value.toFixed(2);
      const t = r.target ? `  target ${r.target}: ${r.met ? 'met' : 'NOT met'}` : '';
      return `${r.name.padEnd(w)}  ${v.padStart(9)} ${r.unit}${t}`;
    })
    .join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--engine') {
    const [pods, policies, tiers, why] = args.slice(1).map(Number);
    process.stdout.write(JSON.stringify(measureEngine(pods, policies, tiers, why === 1)));
    return;
  }
  if (args[0] === '--speedup') {
    process.stdout.write(JSON.stringify(measureSpeedup(Number(args[1]), Number(args[2]))));
    return;
  }
  if (args[0] === '--load') {
    process.stdout.write(JSON.stringify(benchLoad(Number(args[1] ?? 20))));
    return;
  }
  if (args[0] === '--startup') {
    process.stdout.write(JSON.stringify(benchStartup(fileURLToPath(new URL('../cli/main.js', import.meta.url)))));
    return;
  }
  if (args[0] === '--agent') {
    process.stdout.write(JSON.stringify(await benchAgent()));
    return;
  }
  if (args[0] === '--controller') {
    process.stdout.write(JSON.stringify(await benchController()));
    return;
  }
  if (args.includes('--help')) {
    process.stdout.write('Usage: npm run bench [-- --quick]\n\nPrints the performance targets as numbers and ratios: engine, controller, agent (as root).\n--quick: the engine (1k and 10k pods) and reading a large stream only.\n\nExample:\n  npm run bench\n  npm run bench -- --quick\n');
    return;
  }
  const quick = args.includes('--quick');
  const sizes: [number, number, number, number][] = quick
    ? [[1000, 100, 0, 0], [10_000, 1000, 0, 1]]
    : [[1000, 100, 0, 0], [10_000, 1000, 0, 1], [10_000, 1000, 20, 0], [100_000, 10_000, 0, 0], [100_000, 10_000, 40, 0]];
  const rows: BenchRow[] = [];
  process.stdout.write(`Palisade benchmark — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n\n`);
  for (const [pods, policies, tiers, why] of sizes) {
    progress(`engine: ${pods} pods, ${policies} policies, ${tiers} tier policies…`);
    rows.push(...runChild(['--engine', String(pods), String(policies), String(tiers), String(why)]));
  }
  progress('engine vs reference…');
  rows.push(...runChild(['--speedup', '300', '30']));
  progress('reading a 20 MB stream…');
  rows.push(...runChild(['--load', '20']));
  progress('start-up…');
  rows.push(...runChild(['--startup']));
  if (quick) {
    progress('');
    process.stdout.write(`${formatRows(rows)}\n`);
    return;
  }
  progress('controller: event to PolicyEndpoint written…');
  rows.push(...runChild(['--controller']));
  if (process.getuid?.() === 0) {
    progress('agent: change to enforced in the kernel, connection rate…');
    rows.push(...runChild(['--agent']));
  } else {
    process.stderr.write('agent benchmark skipped: it needs root (network namespaces and nftables)\n');
  }
  progress('');
  process.stdout.write(`${formatRows(rows)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});

