/**
 * The node agent: keeps the node's `inet palisade` table equal to what its (Cluster)PolicyEndpoints, local pods and addresses
 * ask for. Start (and every periodic resync) rebuilds the table in one transaction; every other change is one delta
 * transaction computed against the state the agent last programmed — the kernel table is never read back to sync.
 */
import { appendFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { pino, type Logger } from 'pino';
import type { ClusterPolicyEndpoint, PolicyEndpoint } from '../api/policyendpoint.js';
import type { UnenforceableEntry } from '../api/validate-policyendpoint.js';
import { deleteTable, NftSession, readCounters } from '../nft/apply.js';
import { compileNode, countState, TABLE, type DesiredState, type EnforcingMode, type LocalPod, type LogTag } from '../nft/compile.js';
import { interfacePatternProblem } from '../nft/names.js';
import { renderDelta, renderFull } from '../nft/script.js';
import { discoverNodeAddresses, discoverPods } from './discover.js';
import { explainRecord, flowRecord, flowTuple, NflogReader, type FlowExplainer, type FlowRecord } from './flowlog.js';
import { createMetrics, serveMetrics, serverPort, type AgentMetrics } from './metrics.js';
import type { PolicyEndpointSource } from './source.js';

export interface FlowLogOptions {
  /** NFLOG group. @default 7 */
  readonly group?: number;
  /** Log accepted new connections too. @default false */
  readonly accept?: boolean;
  /** Append JSON lines to this file. @default undefined (stdout unless `sink` is given) */
  readonly file?: string;
  /** Receives every record (tests, the lab). */
  readonly sink?: (r: FlowRecord) => void;
}

export interface AgentOptions {
  /** Node name, a label on metrics and flow logs. */
  readonly node: string;
  readonly input: PolicyEndpointSource;
  readonly enforcingMode: EnforcingMode;
  /** `true` = defaults. @default undefined (no flow logs) */
  readonly flowLogs?: FlowLogOptions | boolean;
  /** Port for `/metrics` and `/healthz` on 127.0.0.1; 0 = any free port. @default undefined (no HTTP server) */
  readonly metricsPort?: number;
  /** Run nft, ip and tcpdump in this network namespace (the lab). @default undefined (the agent's own) */
  readonly netns?: string;
  /** nft wildcard of host-side pod interfaces. @default "eni*" (the VPC CNI's) */
  readonly podInterfaces?: string;
  /** Poll interval for local pod routes. @default 1000 */
  readonly pollIntervalMs?: number;
  /** Full rebuild interval. @default 300000 */
  readonly resyncIntervalMs?: number;
  /** @default a pino JSON logger on stderr */
  readonly logger?: Logger;
  /**
   * Explains each flow-log record with the engine: adds the deciding `policy`, `rule`, `engineVerdict` and `engineTier`,
   * and `mismatch: true` (with a warning in the log) when the engine's verdict differs from the kernel's. Called once per
   * logged connection, on the agent's thread: keep it cheap (`engineExplainer` caches).
   * @default undefined (records name the policies the kernel knows, not the rule)
   */
  readonly explain?: FlowExplainer;
  /** Called before each nft transaction is applied (tests use it to kill the agent mid-sync). */
  readonly beforeApply?: (kind: 'full' | 'delta', script: string) => void | Promise<void>;
}

export interface SyncResult {
  readonly kind: 'full' | 'delta' | 'none';
  readonly ms: number;
  readonly elements: number;
  readonly rules: number;
  /** Lines of the applied script. */
  readonly scriptLines: number;
  /** Where the time went: reading the source (and discovery), compiling, rendering the script, running nft. */
  readonly phases: { readonly readMs: number; readonly compileMs: number; readonly renderMs: number; readonly applyMs: number };
}

export interface Agent {
  /**
   * Sync now (delta; a full rebuild when nothing was programmed yet or the last transaction failed). `discover: false`
   * reuses the pods and addresses found last, as a sync triggered by a PolicyEndpoint change does. @default discover
   */
  sync(opts?: { discover?: boolean }): Promise<SyncResult>;
  /** Rebuild the whole table now. */
  resync(): Promise<SyncResult>;
  /** What the agent last programmed. */
  state(): DesiredState | undefined;
  /** The last sync that changed the kernel (kind `full` or `delta`). */
  lastApplied(): SyncResult | undefined;
  /** Entries of the last sync's (Cluster)PolicyEndpoints that the agent left out as unenforceable. */
  unenforceable(): readonly UnenforceableEntry[];
  /** The metrics server's port, when serving. */
  readonly metricsPort: number | undefined;
  readonly metrics: AgentMetrics;
  /** Stops watching, logging and serving. `removeTable` also deletes the nft table. */
  stop(opts?: { removeTable?: boolean }): Promise<void>;
}

/**
 * Starts the agent; resolves after the first full sync. Later changes of the source or of the local pods are synced
 * automatically, one at a time, coalescing bursts.
 *
 * @example
 * const agent = await runAgent({ node: 'n1', input: new FilePolicyEndpointSource('/etc/palisade/pe'), enforcingMode: 'standard', metricsPort: 9180 });
 */
export async function runAgent(opts: AgentOptions): Promise<Agent> {
  const where = { netns: opts.netns };
  const log = opts.logger ?? pino({ base: { node: opts.node }, messageKey: 'msg', timestamp: pino.stdTimeFunctions.isoTime });
  const podInterfaces = opts.podInterfaces ?? 'eni*';
  const badPattern = interfacePatternProblem(podInterfaces);
  if (badPattern) throw new Error(`podInterfaces: ${badPattern}`);
  const flow: FlowLogOptions | undefined = opts.flowLogs === true ? {} : opts.flowLogs === false ? undefined : opts.flowLogs;
  const compileOpts = { logGroup: flow ? flow.group ?? 7 : undefined, logAccept: flow?.accept ?? false, podInterfaces };
  const metrics = createMetrics(opts.node, () => readCounters(TABLE, where));
  // One nft process for the agent's life: transactions skip process start-up, `ip netns exec` and the socket close.
  const nft = new NftSession(where);

  let programmed: DesiredState | undefined;
  let previousTags = new Map<string, LogTag>();
  let lastPods = '';
  let healthy = false;
  let applied: SyncResult | undefined;
  let stopped = false;

  // What discovery last found. A PolicyEndpoint change does not move pods: its sync reuses this instead of running
  // `ip` twice more (tens of ms of process start-up, most of a delta sync's time).
  let discovered: { pods: LocalPod[]; nodeAddresses: string[] } | undefined;

  // Entries the source left out: counted, and each named in the log once when it first appears.
  let dropped: readonly UnenforceableEntry[] = [];
  const noteUnenforceable = (now: readonly UnenforceableEntry[]) => {
    const seen = new Set(dropped.map((d) => `${d.object}|${d.path}|${d.reason}`));
    for (const d of now) if (!seen.has(`${d.object}|${d.path}|${d.reason}`)) log.warn({ object: d.object, path: d.path, reason: d.reason }, 'entry not enforced');
    dropped = now;
    metrics.unenforceable.reset();
    for (const kind of ['PolicyEndpoint', 'ClusterPolicyEndpoint']) metrics.unenforceable.set({ kind }, now.filter((d) => d.object.startsWith(`${kind} `)).length);
  };

  const compileNow = async (discover: boolean): Promise<{ state: DesiredState; pods: LocalPod[]; readMs: number; compileMs: number }> => {
    const t0 = performance.now();
    const [pes, cpes, found] = await Promise.all([
      opts.input.list(),
      opts.input.listCluster ? opts.input.listCluster() : Promise.resolve([]),
      discover || !discovered
        ? Promise.all([discoverPods(podInterfaces, where), discoverNodeAddresses(where)]).then(([pods, nodeAddresses]) => ({ pods, nodeAddresses }))
        : Promise.resolve(discovered),
    ]);
    discovered = found;
    noteUnenforceable(opts.input.unenforceable?.() ?? []);
    const { pods, nodeAddresses } = found;
    lastPods = JSON.stringify(pods);
    const t1 = performance.now();
    const names = podNames([...pes, ...cpes]);
    const named = pods.map((p) => nameFromPolicyEndpoints(p, names));
    const state = compileNode({ policyEndpoints: pes, clusterPolicyEndpoints: cpes, pods: named, nodeAddresses, mode: opts.enforcingMode }, compileOpts);
    return { state, pods, readMs: t1 - t0, compileMs: performance.now() - t1 };
  };

  const doSync = async (full: boolean, discover: boolean): Promise<SyncResult> => {
    const t0 = performance.now();
    const kind = full || !programmed ? 'full' : 'delta';
    try {
      const { state, pods, readMs, compileMs } = await compileNow(full || discover);
      const t2 = performance.now();
      const script = kind === 'full' ? renderFull(state) : renderDelta(programmed!, state);
      const t3 = performance.now();
      if (script !== '') {
        await opts.beforeApply?.(kind, script);
        await nft.apply(script);
      }
      const phases = { readMs, compileMs, renderMs: t3 - t2, applyMs: performance.now() - t3 };
      if (programmed) previousTags = new Map(programmed.logTags);
      programmed = state;
      healthy = true;
      const c = countState(state);
      metrics.elements.set(c.elements);
      metrics.rules.set(c.rules);
      metrics.chains.set(c.chains);
      metrics.pods.set(pods.length);
      const ms = performance.now() - t0;
      if (script !== '') {
        metrics.syncDuration.observe({ kind }, ms / 1000);
        log.info({ kind, ms: Math.round(ms * 10) / 10, elements: c.elements, rules: c.rules, pods: pods.length }, 'synced');
      }
      const result: SyncResult = { kind: script === '' ? 'none' : kind, ms, elements: c.elements, rules: c.rules, scriptLines: script === '' ? 0 : script.split('\n').length - 1, phases };
      if (script !== '') applied = result;
      return result;
    } catch (e) {
      metrics.syncErrors.inc({ kind });
      // The transaction failed as a whole: the kernel still holds the previous state, but rebuild next time to be sure.
      programmed = undefined;
      log.error({ err: (e as Error).message, kind }, 'sync failed');
      throw e;
    }
  };

  // One sync at a time; requests during a sync coalesce into one more.
  let chain: Promise<unknown> = Promise.resolve();
  const enqueue = (full: boolean, discover = true): Promise<SyncResult> => {
    const next = chain.then(() => doSync(full, discover));
    chain = next.catch(() => undefined);
    return next;
  };
  let queued = false;
  const trigger = () => {
    if (queued || stopped) return;
    queued = true;
    void chain.then(() => {
      queued = false;
      if (!stopped) enqueue(false, false).catch(() => undefined);
    });
  };

  try {
    await enqueue(true);
  } catch (e) {
    await nft.close();
    throw e;
  }

  let reader: NflogReader | undefined;
  if (flow) {
    const write = async (r: FlowRecord) => {
      metrics.flowLogs.inc({ verdict: r.verdict, direction: r.direction });
      if (flow.sink) flow.sink(r);
      const line = JSON.stringify(r) + '\n';
      if (flow.file) await appendFile(flow.file, line);
      else if (!flow.sink) process.stdout.write(line);
    };
    reader = await NflogReader.start({
      group: compileOpts.logGroup!,
      netns: opts.netns,
      onPacket: (p) => {
        const tag = programmed?.logTags.get(p.prefix) ?? previousTags.get(p.prefix);
        let r = flowRecord(p, tag, opts.node);
        if (!r) return;
        if (opts.explain) {
          try {
            const e = opts.explain(flowTuple(p, r.direction));
            if (e) r = explainRecord(r, e);
            if (r.mismatch) {
              metrics.flowMismatches.inc({ direction: r.direction });
              log.warn({ flow: r.msg, verdict: r.verdict, engineVerdict: r.engineVerdict, engineTier: r.engineTier, policy: r.policy, rule: r.rule, engine: e?.summary }, 'flow verdict differs from the engine');
            }
          } catch (err) {
            log.warn({ err: (err as Error).message }, 'flow explanation failed');
          }
        }
        write(r).catch((e: Error) => log.warn({ err: e.message }, 'flow log write failed'));
      },
      onError: (e) => log.warn({ err: e.message }, 'nflog parse error'),
    });
  }

  const unwatch = opts.input.watch(trigger);
  const poll = setInterval(() => {
    discoverPods(podInterfaces, where).then(
      (pods) => {
        if (JSON.stringify(pods) === lastPods) return;
        if (discovered) discovered = { ...discovered, pods };
        trigger();
      },
      () => undefined,
    );
  }, opts.pollIntervalMs ?? 1000);
  const resync = setInterval(() => { if (!stopped) enqueue(true).catch(() => undefined); }, opts.resyncIntervalMs ?? 300_000);

  let server: Server | undefined;
  if (opts.metricsPort !== undefined) server = await serveMetrics(metrics, opts.metricsPort, () => healthy);

  return {
    sync: (o = {}) => enqueue(false, o.discover ?? true),
    resync: () => enqueue(true),
    state: () => programmed,
    lastApplied: () => applied,
    unenforceable: () => dropped,
    metricsPort: server ? serverPort(server) : undefined,
    metrics,
    async stop(o = {}) {
      stopped = true;
      unwatch();
      clearInterval(poll);
      clearInterval(resync);
      await chain;
      await nft.close();
      await reader?.stop();
      if (server) await new Promise<void>((r) => server!.close(() => r()));
      if (o.removeTable) await deleteTable(TABLE, where);
    },
  };
}

/** Pod IP → name and namespace, from the (Cluster)PolicyEndpoints' selected pods (the first listing wins). */
function podNames(pes: readonly (PolicyEndpoint | ClusterPolicyEndpoint)[]): Map<string, { name: string; namespace: string }> {
  const out = new Map<string, { name: string; namespace: string }>();
  for (const pe of pes) {
    for (const ep of pe.spec.podSelectorEndpoints ?? []) if (!out.has(ep.podIP)) out.set(ep.podIP, { name: ep.name, namespace: ep.namespace });
  }
  return out;
}

/** Names a route-discovered pod from the PolicyEndpoints that list its IP. */
function nameFromPolicyEndpoints(pod: LocalPod, names: ReadonlyMap<string, { name: string; namespace: string }>): LocalPod {
  for (const ip of pod.ips) {
    const n = names.get(ip);
    if (n) return { ...pod, name: n.name, namespace: n.namespace };
  }
  return pod;
}
