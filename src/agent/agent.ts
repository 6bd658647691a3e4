/**
 * The node agent: keeps the node's `inet palisade` table equal to what its (Cluster)PolicyEndpoints, local pods and addresses
 * ask for. Start (and every periodic resync) rebuilds the table in one transaction; every other change is one delta
 * transaction computed against the state the agent last programmed — the kernel table is never read back to sync.
 */
import { appendFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { pino, type Logger } from 'pino';
import type { Family } from '../api/ip.js';
import type { Engine } from '../engine/engine.js';
import type { ClusterPolicyEndpoint, PolicyEndpoint } from '../api/policyendpoint.js';
import type { UnenforceableEntry } from '../api/validate-policyendpoint.js';
import { deleteTable, NftSession, readCounters } from '../nft/apply.js';
import { countState, NodeCompiler, TABLE, type DesiredState, type EnforcingMode, type LocalPod, type LogTag } from '../nft/compile.js';
import { interfacePatternProblem } from '../nft/names.js';
import { renderDelta, renderFull } from '../nft/script.js';
import { discoverNodeAddresses, discoverPods } from './discover.js';
import { explainRecord, flowRecord, flowTuple, NflogReader, type FlowExplainer, type FlowRecord } from './flowlog.js';
import { createMetrics, serveMetrics, serverPort, type AgentMetrics } from './metrics.js';
import type { PolicyEndpointSource } from './source.js';
import { NodeViewer } from '../nft/local.js';
import { ProofTooLarge, verifyNode, verifyNodeApart, type NodeObjects, type NodeVerification } from './verify.js';

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
  /**
   * Self-check: every this many ms, and after each sync that changed the kernel, read the table back and prove it equal
   * to the objects (off the sync path: after it, never inside the transaction). 0 disables it. @default 60000
   */
  readonly selfCheckIntervalMs?: number;
  /**
   * The self-check skips (with a warning and `palisade_agent_self_check_skipped_total`) a table whose proof would walk
   * more cells than this: the proof runs in a process of its own, but takes a core while it runs. About 10 µs a cell (a 110-pod node of a 10k-pod cluster: 0.4 M cells, 5 s). @default 500000
   */
  readonly selfCheckMaxCells?: number;
  /** How long after a sync the self-check waits for no further sync. @default 1000 */
  readonly selfCheckDelayMs?: number;
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
  /**
   * Reads the kernel's table back and proves it equal to the objects of the last sync (and, given the engine of each
   * address family, to the engine). Rejects when a sync changed the table while it was being read.
   */
  verify(byFamily?: Readonly<Record<Family, Engine>>): Promise<NodeVerification>;
  /** The last self-check's outcome (also when `verify` ran it), once one ran. */
  lastSelfCheck(): SelfCheck | undefined;
  /** Entries of the last sync's (Cluster)PolicyEndpoints that the agent left out as unenforceable. */
  unenforceable(): readonly UnenforceableEntry[];
  /** The metrics server's port, when serving. */
  readonly metricsPort: number | undefined;
  readonly metrics: AgentMetrics;
  /** Stops watching, logging and serving. `removeTable` also deletes the nft table. */
  stop(opts?: { removeTable?: boolean }): Promise<void>;
}

/** What a self-check found. */
export type SelfCheck =
  | { readonly ok: true; readonly cells: number; readonly ms: number; readonly at: Date }
  | { readonly ok: false; readonly problem: string; readonly ms: number; readonly at: Date };

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
  // What the last successful sync compiled from, and how many syncs changed the kernel (a self-check's read is only
  // trusted when no sync ran during it).
  let lastInput: NodeObjects | undefined;
  let generation = 0;
  let syncing = false;

  // What discovery last found. A PolicyEndpoint change does not move pods: its sync reuses this instead of running
  // `ip` twice more (tens of ms of process start-up, most of a delta sync's time).
  let discovered: { pods: LocalPod[]; nodeAddresses: string[] } | undefined;
  // The node's share of the cluster's objects, kept up to date from sync to sync.
  const viewer = new NodeViewer();
  // What the last sync compiled, kept: a sync rebuilds only the pods whose policies changed.
  const compiler = new NodeCompiler();

  // Entries the source left out: counted, and each named in the log once when it first appears.
  let dropped: readonly UnenforceableEntry[] = [];
  const noteUnenforceable = (now: readonly UnenforceableEntry[]) => {
    const seen = new Set(dropped.map((d) => `${d.object}|${d.path}|${d.reason}`));
    for (const d of now) if (!seen.has(`${d.object}|${d.path}|${d.reason}`)) log.warn({ object: d.object, path: d.path, reason: d.reason }, 'entry not enforced');
    dropped = now;
    metrics.unenforceable.reset();
    for (const kind of ['PolicyEndpoint', 'ClusterPolicyEndpoint']) metrics.unenforceable.set({ kind }, now.filter((d) => d.object.startsWith(`${kind} `)).length);
  };

  const compileNow = async (discover: boolean): Promise<{ state: DesiredState; pods: LocalPod[]; input: NodeObjects; readMs: number; compileMs: number }> => {
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
    // The node's share of the cluster: its pods named, and the policies that select one of them.
    const view = viewer.view(pes, cpes, pods);
    const input: NodeObjects = { policyEndpoints: view.policyEndpoints, clusterPolicyEndpoints: view.clusterPolicyEndpoints, pods: view.pods, nodeAddresses, mode: opts.enforcingMode };
    const state = compiler.compile(input, compileOpts);
    return { state, pods, input, readMs: t1 - t0, compileMs: performance.now() - t1 };
  };

  const doSync = async (full: boolean, discover: boolean): Promise<SyncResult> => {
    const t0 = performance.now();
    const kind = full || !programmed ? 'full' : 'delta';
    syncing = true;
    try {
      const { state, pods, input, readMs, compileMs } = await compileNow(full || discover);
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
      lastInput = input;
      generation++;
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
      if (script !== '') {
        applied = result;
        selfCheckSoon();
      }
      return result;
    } catch (e) {
      metrics.syncErrors.inc({ kind });
      // The transaction failed as a whole: the kernel still holds the previous state, but rebuild next time to be sure.
      programmed = undefined;
      log.error({ err: (e as Error).message, kind }, 'sync failed');
      throw e;
    } finally {
      syncing = false;
    }
  };

  // ---- self-check: the kernel's table read back and proved equal to the objects, after syncs and periodically.
  const selfCheckEvery = opts.selfCheckIntervalMs ?? 60_000;
  let lastCheck: SelfCheck | undefined;
  // Ends a self-check's process when the agent stops.
  const stopping = new AbortController();
  const maxCells = opts.selfCheckMaxCells ?? 500_000;
  let skippedGeneration = -1;
  const verifyNow = async (byFamily?: Readonly<Record<Family, Engine>>, budget?: number): Promise<NodeVerification> => {
    const input = lastInput;
    const gen = generation;
    if (!input || syncing) throw new Error('a sync is running: the table is changing');
    // The self-check (objects only) proves in a process of its own: a sync arriving meanwhile is not held back.
    const v = byFamily === undefined ? await verifyNodeApart(input, where, { ...(budget !== undefined ? { maxCells: budget } : {}), signal: stopping.signal }) : await verifyNode(input, where, byFamily, budget !== undefined ? { maxCells: budget } : {});
    if (syncing || gen !== generation) throw new Error('a sync ran while the table was read');
    return v;
  };
  const selfCheck = async (): Promise<void> => {
    // The same objects as last time, already too large: do not read the kernel's table again only to skip.
    if (skippedGeneration === generation) {
      metrics.selfCheckSkipped.inc();
      return;
    }
    const t0 = performance.now();
    let v: NodeVerification;
    try {
      v = await verifyNow(undefined, maxCells);
    } catch (e) {
      // Stopped while the proof ran: its process was ended, nothing was found.
      if (stopped) return;
      if (e instanceof ProofTooLarge) {
        metrics.selfCheckSkipped.inc();
        // One warning per table, not one per interval.
        if (skippedGeneration !== generation) log.warn({ cells: e.cells, max: e.max }, `self-check skipped: ${e.message}`);
        skippedGeneration = generation;
        return;
      }
      const msg = (e as Error).message;
      // A sync during the read is not a failure: the check after that sync reads the new table.
      if (/a sync (is running|ran while)/.test(msg)) return;
      recordCheck({ ok: false, problem: `could not read the table: ${msg}`, ms: performance.now() - t0, at: new Date() });
      return;
    }
    const r = v.objects;
    recordCheck(r.proved ? { ok: true, cells: r.cells, ms: v.ms, at: new Date() } : { ok: false, problem: r.counterexample.text, ms: v.ms, at: new Date() });
  };
  const recordCheck = (c: SelfCheck) => {
    lastCheck = c;
    metrics.selfCheckSeconds.set(c.ms / 1000);
    if (c.ok) {
      metrics.selfCheckCells.set(c.cells);
      metrics.selfCheckLastSuccess.set(c.at.getTime() / 1000);
    } else {
      metrics.selfCheckFailures.inc();
      log.warn({ counterexample: c.problem }, `self-check failed: the kernel table differs from the PolicyEndpoints: ${c.problem}`);
    }
  };
  let checking: Promise<void> | undefined;
  let checkAgain = false;
  // After a sync, the check waits for a quiet moment: a burst of syncs gets one check, after the last one.
  let afterSync: NodeJS.Timeout | undefined;
  const selfCheckSoon = () => {
    if (selfCheckEvery <= 0 || stopped) return;
    clearTimeout(afterSync);
    afterSync = setTimeout(scheduleSelfCheck, opts.selfCheckDelayMs ?? 1000);
  };
  function scheduleSelfCheck(): void {
    if (selfCheckEvery <= 0 || stopped) return;
    if (checking) {
      checkAgain = true;
      return;
    }
    // After the sync's promise settles: never part of the sync, and one check at a time.
    checking = new Promise<void>((r) => setImmediate(r)).then(selfCheck).finally(() => {
      checking = undefined;
      if (checkAgain && !stopped) {
        checkAgain = false;
        scheduleSelfCheck();
      }
    });
  }

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
  const periodicCheck = selfCheckEvery > 0 ? setInterval(scheduleSelfCheck, selfCheckEvery) : undefined;

  let server: Server | undefined;
  if (opts.metricsPort !== undefined) server = await serveMetrics(metrics, opts.metricsPort, () => healthy);

  return {
    sync: (o = {}) => enqueue(false, o.discover ?? true),
    resync: () => enqueue(true),
    state: () => programmed,
    lastApplied: () => applied,
    verify: async (byFamily) => {
      const v = await verifyNow(byFamily);
      const r = v.objects;
      recordCheck(r.proved ? { ok: true, cells: r.cells, ms: v.ms, at: new Date() } : { ok: false, problem: r.counterexample.text, ms: v.ms, at: new Date() });
      return v;
    },
    lastSelfCheck: () => lastCheck,
    unenforceable: () => dropped,
    metricsPort: server ? serverPort(server) : undefined,
    metrics,
    async stop(o = {}) {
      stopped = true;
      stopping.abort();
      unwatch();
      clearInterval(poll);
      clearInterval(resync);
      clearInterval(periodicCheck);
      clearTimeout(afterSync);
      await chain;
      await checking;
      await nft.close();
      await reader?.stop();
      if (server) await new Promise<void>((r) => server!.close(() => r()));
      if (o.removeTable) await deleteTable(TABLE, where);
    },
  };
}
