/**
 * The reconciler: events mark the policies they can affect (decided by label selectors, see state.ts); after a short
 * batch window the marked policies are compiled together over only the pods and Services they can see, resolved,
 * compared with the objects that exist, and only the differences are written (create, update, delete; nothing when
 * equal). Entries keep the object that holds them, so a pod event rewrites only the chunks that hold that pod. The same
 * code runs against the API (live.ts) and a counting writer (bench.ts, tests).
 */
import type { JsonObject } from '../api/load.js';
import type { PolicyEndpoint } from '../api/policyendpoint.js';
import { compile } from '../engine/engine.js';
import { DEFAULT_CHUNK_SIZE } from './chunk.js';
import type { ControllerMetrics } from './metrics.js';
import { clusterPolicyEndpointsFor, policyEndpointsFor, resolveNetworkPolicy, resolveTierPolicy } from './resolve.js';
import { AWS_API_GROUP } from '../api/aws-types.js';
import { anpKey, ClusterState, npKey, tierKey, type PolicyKey, type WatchedKind } from './state.js';
import type { ClusterPolicyEndpoint } from '../api/policyendpoint.js';

/** A PolicyEndpoint or ClusterPolicyEndpoint. */
export type EndpointObject = PolicyEndpoint | ClusterPolicyEndpoint;

/** Where the reconciler writes. Each call resolves to the object as stored (with its resourceVersion). */
export interface EndpointWriter {
  create(o: EndpointObject): Promise<EndpointObject>;
  /** `o.metadata.resourceVersion` is the version being replaced. */
  replace(o: EndpointObject): Promise<EndpointObject>;
  delete(o: EndpointObject): Promise<void>;
}

export interface ReconcilerOptions {
  /** @default 200 */
  readonly chunkSize?: number;
  /** How long to gather a burst of events before reconciling. @default 100 */
  readonly batchWindowMs?: number;
  /** Delay before retrying policies whose writes failed. @default 1000 */
  readonly retryMs?: number;
  /** At most this many writes in flight. @default 8 */
  readonly writeConcurrency?: number;
  readonly metrics?: ControllerMetrics;
  readonly log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** The object's identity among endpoint objects: `Kind/namespace/name`. */
function endpointKey(o: EndpointObject): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

/** The policy an endpoint object belongs to. */
export function policyOfEndpoint(o: EndpointObject): PolicyKey {
  const owner = o.metadata.ownerReferences?.[0];
  // AWS's own kinds own their objects with apiVersion networking.k8s.aws/v1alpha1.
  const aws = (owner?.apiVersion ?? '').split('/')[0] === AWS_API_GROUP;
  if (o.kind === 'PolicyEndpoint') {
    return aws && owner?.kind === 'ApplicationNetworkPolicy' ? anpKey(o.spec.policyRef.namespace, o.spec.policyRef.name) : npKey(o.spec.policyRef.namespace, o.spec.policyRef.name);
  }
  return tierKey(owner?.kind ?? 'ClusterNetworkPolicy', o.spec.policyRef.name, aws ? AWS_API_GROUP : undefined);
}

/** JSON with sorted keys, so equal content compares equal whatever the key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

/** What a write must make equal: the spec and the owner references. */
function sameContent(a: EndpointObject, b: EndpointObject): boolean {
  const owners = (o: EndpointObject) => o.metadata.ownerReferences ?? [];
  // Objects this reconciler wrote come back with its key order: plain JSON decides those; key order differs only
  // in objects written by others, which the canonical form compares.
  if (JSON.stringify(a.spec) === JSON.stringify(b.spec) && JSON.stringify(owners(a)) === JSON.stringify(owners(b))) return true;
  return canonical(a.spec) === canonical(b.spec) && canonical(owners(a)) === canonical(owners(b));
}

function rvNumber(o: EndpointObject | undefined): number | undefined {
  const rv = o?.metadata.resourceVersion;
  return rv !== undefined && /^\d+$/.test(rv) ? Number(rv) : undefined;
}

/** Counts of one reconcile pass. */
export interface PassResult {
  readonly policies: number;
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  readonly failed: number;
  readonly ms: number;
}

export class Reconciler {
  readonly state = new ClusterState();
  private readonly chunkSize: number;
  private readonly batchWindowMs: number;
  private readonly retryMs: number;
  private readonly concurrency: number;
  /** Endpoint objects as they exist, by policy, then by endpoint key. */
  private readonly existing = new Map<PolicyKey, Map<string, EndpointObject>>();
  /** The resourceVersion of our own last write per endpoint key, to tell our echoes from others' changes. */
  private readonly written = new Map<string, string>();
  private readonly deletedByUs = new Set<string>();
  private readonly dirty = new Set<PolicyKey>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private active = false;
  private waiters: (() => void)[] = [];
  /** Called after every pass; for the bench and tests. */
  onPass: ((r: PassResult) => void) | undefined;

  constructor(
    private readonly writer: EndpointWriter,
    private readonly opts: ReconcilerOptions = {},
  ) {
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.batchWindowMs = opts.batchWindowMs ?? 100;
    this.retryMs = opts.retryMs ?? 1000;
    this.concurrency = opts.writeConcurrency ?? 8;
  }

  /** Whether this instance writes (the leader). */
  get isActive(): boolean {
    return this.active;
  }

  /** Starts or stops writing. Starting marks every policy (and every orphaned object) for a full pass. */
  setActive(active: boolean): void {
    if (this.active === active) return;
    this.active = active;
    if (active) this.markAll();
    else {
      this.dirty.clear();
      this.opts.metrics?.queueDepth.set(0);
    }
  }

  /** An informer event for a watched kind; `value` undefined for a deletion. */
  observe(kind: WatchedKind, key: string, value: JsonObject | undefined): void {
    this.opts.metrics?.events.inc({ kind });
    this.mark(this.state.apply(kind, key, value));
  }

  /** An informer event for an endpoint object (`deleted` for a deletion). */
  observeEndpoint(o: EndpointObject, deleted = false): void {
    const key = endpointKey(o);
    const policy = policyOfEndpoint(o);
    if (deleted) {
      this.existing.get(policy)?.delete(key);
      this.written.delete(key);
      if (this.deletedByUs.delete(key)) return;
      this.mark([policy]);
      return;
    }
    const known = this.existing.get(policy)?.get(key);
    const seen = rvNumber(o);
    const mine = this.written.get(key);
    // An event older than what we know (our own write raced ahead of the informer) says nothing new.
    if (seen !== undefined && rvNumber(known) !== undefined && seen < rvNumber(known)!) return;
    this.store(policy, key, o);
    if (mine !== undefined && mine === o.metadata.resourceVersion) return;
    this.mark([policy]);
  }

  /** Marks every policy and every policy some endpoint object names (orphans get deleted). */
  markAll(): void {
    this.mark([...this.state.policyKeys(), ...this.existing.keys()]);
  }

  private store(policy: PolicyKey, key: string, o: EndpointObject): void {
    let m = this.existing.get(policy);
    if (!m) this.existing.set(policy, (m = new Map()));
    m.set(key, o);
  }

  private mark(keys: Iterable<PolicyKey>): void {
    let any = false;
    for (const k of keys) {
      this.dirty.add(k);
      any = true;
    }
    if (!any) return;
    this.opts.metrics?.queueDepth.set(this.dirty.size);
    this.schedule(this.batchWindowMs);
  }

  private schedule(ms: number): void {
    if (!this.active || this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.pass().then(() => undefined).finally(() => {
        this.running = undefined;
        if (this.dirty.size > 0 && this.active) this.schedule(this.batchWindowMs);
        else this.settle();
      });
    }, ms);
  }

  private settle(): void {
    if (this.dirty.size > 0 && this.active) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when nothing is marked and no pass is running (immediately when not active). */
  idle(): Promise<void> {
    if (!this.active || (this.dirty.size === 0 && !this.running && !this.timer)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Runs one pass now over the marked policies (the batch window is for events; tests and the bench call this). */
  async flush(): Promise<PassResult | undefined> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running) await this.running;
    if (!this.active || this.dirty.size === 0) return undefined;
    let result: PassResult | undefined;
    this.running = this.pass().then((r) => {
      result = r;
    });
    await this.running;
    this.running = undefined;
    this.settle();
    return result;
  }

  /** The objects this reconciler believes exist, for one policy or all. */
  objects(policy?: PolicyKey): EndpointObject[] {
    if (policy !== undefined) return [...(this.existing.get(policy)?.values() ?? [])];
    return [...this.existing.values()].flatMap((m) => [...m.values()]);
  }

  private desired(keys: ReadonlySet<PolicyKey>): Map<PolicyKey, EndpointObject[]> {
    const engine = compile(this.state.scopedCluster(keys));
    const out = new Map<PolicyKey, EndpointObject[]>();
    for (const k of keys) out.set(k, []);
    engine.compiled.networkPolicies.forEach((np, i) => {
      const key = np.source.kind === 'ApplicationNetworkPolicy' ? anpKey(np.namespace, np.name) : npKey(np.namespace, np.name);
      const previous = this.objects(key).filter((o): o is PolicyEndpoint => o.kind === 'PolicyEndpoint');
      out.set(key, policyEndpointsFor(resolveNetworkPolicy(engine, i), { chunkSize: this.chunkSize, previous }));
    });
    engine.compiled.tierPolicies.forEach((tp, i) => {
      const key = tierKey(tp.source.kind, tp.source.name, tp.source.group);
      const previous = this.objects(key).filter((o): o is ClusterPolicyEndpoint => o.kind === 'ClusterPolicyEndpoint');
      out.set(key, clusterPolicyEndpointsFor(resolveTierPolicy(engine, i), { chunkSize: this.chunkSize, previous, uidOf: (kind, name, group) => this.state.tierUid(kind, name, group) }));
    });
    return out;
  }

  private async pass(): Promise<PassResult> {
    const started = performance.now();
    const keys = new Set(this.dirty);
    this.dirty.clear();
    this.opts.metrics?.queueDepth.set(0);
    let created = 0;
    let updated = 0;
    let deleted = 0;
    let failed = 0;
    const jobs: (() => Promise<void>)[] = [];
    const failedKeys = new Set<PolicyKey>();
    let desired: Map<PolicyKey, EndpointObject[]>;
    try {
      desired = this.desired(keys);
    } catch (e) {
      this.opts.log?.('error', 'resolving policies failed', { error: String(e), policies: keys.size });
      this.opts.metrics?.reconciles.inc({ result: 'error' }, keys.size);
      for (const k of keys) this.dirty.add(k);
      return { policies: keys.size, created, updated, deleted, failed: keys.size, ms: performance.now() - started };
    }
    for (const [policy, want] of desired) {
      const have = new Map(this.objects(policy).map((o) => [endpointKey(o), o]));
      const guard = (what: string, o: EndpointObject, f: () => Promise<void>) => async () => {
        try {
          await f();
        } catch (e) {
          failed++;
          failedKeys.add(policy);
          this.opts.log?.('warn', `${what} failed; will retry`, { object: endpointKey(o), error: errorText(e) });
        }
      };
      for (const o of want) {
        const key = endpointKey(o);
        const cur = have.get(key);
        have.delete(key);
        if (!cur) {
          jobs.push(
            guard('create', o, async () => {
              const stored = await this.writer.create(o);
              created++;
              this.recordWrite(policy, key, stored);
              this.opts.metrics?.written.inc({ verb: 'create' });
            }),
          );
        } else if (!sameContent(cur, o)) {
          const next = { ...o, metadata: { ...o.metadata, resourceVersion: cur.metadata.resourceVersion } } as EndpointObject;
          jobs.push(
            guard('update', o, async () => {
              const stored = await this.writer.replace(next);
              updated++;
              this.recordWrite(policy, key, stored);
              this.opts.metrics?.written.inc({ verb: 'update' });
            }),
          );
        }
      }
      for (const [key, o] of have) {
        jobs.push(
          guard('delete', o, async () => {
            this.deletedByUs.add(key);
            try {
              await this.writer.delete(o);
            } catch (e) {
              this.deletedByUs.delete(key);
              if (errorCode(e) !== 404) throw e;
            }
            deleted++;
            this.existing.get(policy)?.delete(key);
            this.written.delete(key);
            this.opts.metrics?.written.inc({ verb: 'delete' });
          }),
        );
      }
    }
    await runLimited(jobs, this.concurrency);
    const ms = performance.now() - started;
    this.opts.metrics?.reconciles.inc({ result: 'ok' }, keys.size - failedKeys.size);
    if (failedKeys.size > 0) {
      this.opts.metrics?.reconciles.inc({ result: 'error' }, failedKeys.size);
      setTimeout(() => this.mark(failedKeys), this.retryMs).unref?.();
    }
    this.opts.metrics?.duration.observe(ms / 1000);
    const result = { policies: keys.size, created, updated, deleted, failed, ms };
    if (created + updated + deleted + failed > 0) this.opts.log?.('info', 'reconciled', { ...result, ms: Math.round(ms) });
    this.onPass?.(result);
    return result;
  }

  private recordWrite(policy: PolicyKey, key: string, stored: EndpointObject): void {
    if (stored.metadata.resourceVersion) this.written.set(key, stored.metadata.resourceVersion);
    this.store(policy, key, stored);
  }

  /** Stops timers; pending work is dropped. */
  stop(): void {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.settle();
  }
}

async function runLimited(jobs: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}

/** The HTTP status of a client error, when it has one. */
export function errorCode(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const r = e as { code?: unknown; statusCode?: unknown };
  if (typeof r.code === 'number') return r.code;
  if (typeof r.statusCode === 'number') return r.statusCode;
  return undefined;
}

function errorText(e: unknown): string {
  const code = errorCode(e);
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return code !== undefined ? `${code}: ${msg}` : msg;
}
