/**
 * The agent's Prometheus metrics and its HTTP endpoint (`/metrics`, `/healthz`). One registry per agent, so several
 * agents (the lab runs one per node) can live in one process.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface AgentMetrics {
  readonly registry: Registry;
  readonly verdicts: Counter<'verdict' | 'direction'>;
  readonly flowLogs: Counter<'verdict' | 'direction'>;
  /** Flow-log records whose kernel verdict differs from the engine's (only with an explainer). */
  readonly flowMismatches: Counter<'direction'>;
  readonly syncDuration: Histogram<'kind'>;
  readonly syncErrors: Counter<'kind'>;
  readonly elements: Gauge;
  readonly rules: Gauge;
  readonly chains: Gauge;
  readonly pods: Gauge;
  /** Self-checks that found the kernel's table different from the objects (or could not read it). */
  readonly selfCheckFailures: Counter;
  /** Self-checks skipped because the proof would exceed the cell budget. */
  readonly selfCheckSkipped: Counter;
  /** Cells of the last successful self-check's proof. */
  readonly selfCheckCells: Gauge;
  /** Unix time of the last successful self-check. */
  readonly selfCheckLastSuccess: Gauge;
  /** Duration of the last self-check (read back + proof). */
  readonly selfCheckSeconds: Gauge;
  /** Entries of the (Cluster)PolicyEndpoints read that the agent left out (domainName, no cidr, …), by kind. */
  readonly unenforceable: Gauge<'kind'>;
}

/**
 * Creates the metrics. `readKernelCounters` is called at scrape time (never on the sync path) and returns the nft
 * named counters (`accept_ingress`, `drop_egress`, …); a table rebuild resets them, which is folded into a monotonic
 * Prometheus counter here.
 */
export function createMetrics(node: string, readKernelCounters: () => Promise<Map<string, number>>): AgentMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node });
  const last = new Map<string, number>();
  const verdicts = new Counter({
    name: 'palisade_agent_new_connection_verdicts_total',
    help: 'First packets of new connections accepted or dropped by a policy decision, from the nft counters',
    labelNames: ['verdict', 'direction'] as const,
    registers: [registry],
    async collect() {
      let now: Map<string, number>;
      try { now = await readKernelCounters(); } catch { return; }
      for (const [name, value] of now) {
        const [verdict, direction] = name.split('_');
        const prev = last.get(name) ?? 0;
        // After a rebuild the kernel counter restarts from zero: count what it has seen since.
        const delta = value >= prev ? value - prev : value;
        last.set(name, value);
        if (delta > 0) this.inc({ verdict, direction }, delta);
        else this.inc({ verdict, direction }, 0);
      }
    },
  });
  return {
    registry,
    verdicts,
    flowLogs: new Counter({ name: 'palisade_agent_flow_logs_total', help: 'Flow-log records written', labelNames: ['verdict', 'direction'] as const, registers: [registry] }),
    flowMismatches: new Counter({
      name: 'palisade_agent_flow_verdict_mismatches_total',
      help: 'Logged connections the kernel decided differently from the engine (with an explainer only)',
      labelNames: ['direction'] as const,
      registers: [registry],
    }),
    syncDuration: new Histogram({
      name: 'palisade_agent_sync_duration_seconds',
      help: 'Time to compute and apply one nft transaction',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    syncErrors: new Counter({ name: 'palisade_agent_sync_errors_total', help: 'Failed syncs', labelNames: ['kind'] as const, registers: [registry] }),
    elements: new Gauge({ name: 'palisade_agent_nft_elements', help: 'Set and map elements in the programmed table', registers: [registry] }),
    rules: new Gauge({ name: 'palisade_agent_nft_rules', help: 'Rules in the programmed table', registers: [registry] }),
    chains: new Gauge({ name: 'palisade_agent_nft_chains', help: 'Chains in the programmed table', registers: [registry] }),
    pods: new Gauge({ name: 'palisade_agent_local_pods', help: 'Local pods with a dispatch entry', registers: [registry] }),
    selfCheckFailures: new Counter({
      name: 'palisade_agent_self_check_failures_total',
      help: 'Self-checks that found the kernel table different from the (Cluster)PolicyEndpoints, or could not read it',
      registers: [registry],
    }),
    selfCheckSkipped: new Counter({ name: 'palisade_agent_self_check_skipped_total', help: 'Self-checks skipped: the proof would walk more cells than the budget', registers: [registry] }),
    selfCheckCells: new Gauge({ name: 'palisade_agent_self_check_cells', help: 'Address x protocol x port cells the last successful self-check proved', registers: [registry] }),
    selfCheckLastSuccess: new Gauge({ name: 'palisade_agent_self_check_last_success_timestamp_seconds', help: 'Unix time of the last successful self-check', registers: [registry] }),
    selfCheckSeconds: new Gauge({ name: 'palisade_agent_self_check_duration_seconds', help: 'Duration of the last self-check (table read back and proof)', registers: [registry] }),
    unenforceable: new Gauge({
      name: 'palisade_agent_unenforceable_entries',
      help: 'Entries of the (Cluster)PolicyEndpoints read that the agent does not enforce and left out (a domainName, no cidr, an unknown protocol)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
  };
}

/** Serves `/metrics` and `/healthz` (200 while `healthy()` is true). Port 0 picks a free port. */
export async function serveMetrics(metrics: AgentMetrics, port: number, healthy: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => { res.writeHead(200, { 'content-type': metrics.registry.contentType }); res.end(text); },
        (e: Error) => { res.writeHead(500); res.end(e.message); },
      );
    } else if (req.url === '/healthz') {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'not synced\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

export function serverPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
