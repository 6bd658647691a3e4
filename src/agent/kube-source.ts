/**
 * Live mode: PolicyEndpoints (all namespaces) and ClusterPolicyEndpoints from the Kubernetes API, each kept by a
 * list + watch loop of its own. A watch that ends cleanly resumes from its last resourceVersion; one that breaks (an
 * error, a dropped connection, 410 Gone) relists after a delay, and the relist replaces the cache, so objects changed
 * or deleted while the watch was down are seen too.
 *
 * The ClusterPolicyEndpoint CRD is optional: when the server does not serve it, only PolicyEndpoints are followed.
 */
import { CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { formatDiagnostic, InputError } from '../api/diagnostics.js';
import type { ClusterPolicyEndpoint, PolicyEndpoint } from '../api/policyendpoint.js';
import { checkEndpointObjects, type CheckedEndpoints, type UnenforceableEntry } from '../api/validate-policyendpoint.js';
import type { PolicyEndpointSource } from './source.js';

const GROUP = 'networking.k8s.aws';
const VERSION = 'v1alpha1';

type Log = (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;

export interface KubeSourceOptions {
  readonly kubeConfig: KubeConfig;
  /** Delay before relisting after a broken watch. @default 1000 */
  readonly relistDelayMs?: number;
  /** @default no logging */
  readonly log?: Log;
}

interface ObjectMetaLike {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string };
}

interface ListResult {
  readonly items: ObjectMetaLike[];
  readonly resourceVersion: string;
}

/**
 * One resource's list + watch loop and its cache. Every object is validated as it arrives (once, not at every sync):
 * the cache holds its valid, enforceable part, or the errors that refused it.
 */
class Reflector<T extends ObjectMetaLike> {
  private readonly cache = new Map<string, CheckedEndpoints>();
  private resourceVersion = '';
  private request: AbortController | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** Completed lists (the first one and every relist). */
  lists = 0;

  constructor(
    readonly what: string,
    private readonly path: string,
    private readonly listFn: () => Promise<ListResult>,
    private readonly accept: (o: unknown) => CheckedEndpoints,
    private readonly pick: (c: CheckedEndpoints) => readonly T[],
    private readonly watcher: Watch,
    private readonly onChange: () => void,
    private readonly relistDelayMs: number,
    private readonly log: Log,
  ) {}

  items(): T[] {
    return [...this.cache.values()].flatMap(this.pick);
  }

  /** The errors of the objects refused, one line each. */
  errors(): string[] {
    return [...this.cache.values()].flatMap((c) => c.errors.map(formatDiagnostic));
  }

  /** The entries left out of the objects kept. */
  unenforceable(): UnenforceableEntry[] {
    return [...this.cache.values()].flatMap((c) => c.unenforceable);
  }

  /** Lists (rejecting when that fails) and starts watching. */
  async start(): Promise<void> {
    await this.relist();
    await this.watch();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.request?.abort();
  }

  /** Breaks the current watch as a network failure would (tests). */
  cut(): void {
    this.request?.abort();
  }

  private key(o: ObjectMetaLike): string {
    return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  }

  private async relist(): Promise<void> {
    const list = await this.listFn();
    this.cache.clear();
    for (const raw of list.items) this.store(raw);
    this.resourceVersion = list.resourceVersion;
    this.lists++;
    this.onChange();
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    this.request = await this.watcher.watch(
      this.path,
      { resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
      (type: string, obj: unknown) => this.event(type, obj),
      (err: unknown) => this.ended(err),
    );
    // A stop() while the watch request was being set up.
    if (this.stopped) this.request.abort();
  }

  private event(type: string, obj: unknown): void {
    const meta = obj as ObjectMetaLike & { code?: number };
    if (type === 'ERROR') {
      // 410 Gone: our resourceVersion is too old; the stream ends and the relist starts over.
      if (meta.code === 410) this.resourceVersion = '';
      return;
    }
    if (meta.metadata?.resourceVersion) this.resourceVersion = meta.metadata.resourceVersion;
    if (type === 'BOOKMARK') return;
    if (type === 'DELETED') {
      if (this.cache.delete(this.key(meta))) this.onChange();
      return;
    }
    this.store(obj);
    this.onChange();
  }

  private store(raw: unknown): void {
    const checked = this.accept(raw);
    for (const e of checked.errors) this.log('warn', `refused ${formatDiagnostic(e)}`);
    this.cache.set(this.key(raw as ObjectMetaLike), checked);
  }

  private ended(err: unknown): void {
    this.request = undefined;
    if (this.stopped) return;
    if (!err && this.resourceVersion !== '') {
      // The server closed a healthy watch (its timeout): resume where it stopped.
      this.watch().catch((e: unknown) => this.broken(e));
      return;
    }
    this.broken(err);
  }

  private broken(err: unknown): void {
    if (this.stopped) return;
    this.log('warn', `watch of ${this.what} broke; relisting`, { error: err instanceof Error ? err.message : String(err ?? '410 Gone') });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.relist().then(
        () => this.watch(),
        (e: unknown) => this.broken(e),
      ).catch((e: unknown) => this.broken(e));
    }, this.relistDelayMs);
  }
}

/** The HTTP status of a client error, if any. */
function statusOf(e: unknown): number | undefined {
  const o = e as { code?: unknown; statusCode?: unknown };
  return typeof o?.code === 'number' ? o.code : typeof o?.statusCode === 'number' ? o.statusCode : undefined;
}

/**
 * PolicyEndpoints and ClusterPolicyEndpoints followed through the Kubernetes API. Call {@link start} before handing it
 * to the agent.
 *
 * @example
 * const kc = new KubeConfig(); kc.loadFromCluster();
 * const input = new KubePolicyEndpointSource({ kubeConfig: kc });
 * await input.start();
 * await runAgent({ node: 'ip-10-0-1-5', input, enforcingMode: 'standard' });
 */
export class KubePolicyEndpointSource implements PolicyEndpointSource {
  private readonly listeners = new Set<() => void>();
  private pes: Reflector<PolicyEndpoint> | undefined;
  private cpes: Reflector<ClusterPolicyEndpoint> | undefined;

  constructor(private readonly opts: KubeSourceOptions) {}

  /**
   * Lists both kinds and starts watching them. Rejects when PolicyEndpoints cannot be listed (the CRD is missing, no
   * permission): the agent must not start on a guess.
   */
  async start(): Promise<void> {
    const kc = this.opts.kubeConfig;
    const api = kc.makeApiClient(CustomObjectsApi);
    const watcher = new Watch(kc);
    const log: Log = this.opts.log ?? (() => undefined);
    const notify = () => {
      for (const l of this.listeners) l();
    };
    const lister = (plural: string) => async (): Promise<ListResult> => {
      const l = (await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as { items?: ObjectMetaLike[]; metadata?: { resourceVersion?: string } };
      return { items: l.items ?? [], resourceVersion: l.metadata?.resourceVersion ?? '' };
    };
    const delay = this.opts.relistDelayMs ?? 1000;
    // Items of a list may lack kind and apiVersion; the watch's objects carry them. Set both, then validate.
    const typed = (kind: string) => (o: unknown): CheckedEndpoints =>
      checkEndpointObjects([{ value: { ...(o as object), apiVersion: `${GROUP}/${VERSION}`, kind }, source: 'the API server' }]);
    this.pes = new Reflector<PolicyEndpoint>('policyendpoints', `/apis/${GROUP}/${VERSION}/policyendpoints`, lister('policyendpoints'), typed('PolicyEndpoint'), (c) => c.policyEndpoints, watcher, notify, delay, log);
    await this.pes.start();
    const cpes = new Reflector<ClusterPolicyEndpoint>('clusterpolicyendpoints', `/apis/${GROUP}/${VERSION}/clusterpolicyendpoints`, lister('clusterpolicyendpoints'), typed('ClusterPolicyEndpoint'), (c) => c.clusterPolicyEndpoints, watcher, notify, delay, log);
    try {
      await cpes.start();
      this.cpes = cpes;
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
      cpes.stop();
      log('info', 'clusterpolicyendpoints are not served (CRD not installed); enforcing PolicyEndpoints only');
    }
  }

  /**
   * The valid PolicyEndpoints. Rejects while any object the server holds is invalid (the agent then keeps the rules it
   * has): enforcing the others without it could open what it isolates.
   */
  async list(): Promise<PolicyEndpoint[]> {
    this.refuseInvalid(this.pes);
    return this.pes?.items() ?? [];
  }

  /** The valid ClusterPolicyEndpoints; rejects as {@link list} does. */
  async listCluster(): Promise<ClusterPolicyEndpoint[]> {
    this.refuseInvalid(this.cpes);
    return this.cpes?.items() ?? [];
  }

  /** Entries of the objects kept that the agent does not enforce (domainName, no cidr, …). */
  unenforceable(): UnenforceableEntry[] {
    return [...(this.pes?.unenforceable() ?? []), ...(this.cpes?.unenforceable() ?? [])];
  }

  private refuseInvalid(r: Reflector<ObjectMetaLike> | undefined): void {
    const errors = r?.errors() ?? [];
    if (errors.length > 0) throw new InputError(`${errors.length} invalid field(s) in ${r!.what}; keeping the current rules:\n${errors.join('\n')}`);
  }

  watch(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  /** How many times each kind was listed (1 after start; more after relists). */
  lists(): { policyEndpoints: number; clusterPolicyEndpoints: number } {
    return { policyEndpoints: this.pes?.lists ?? 0, clusterPolicyEndpoints: this.cpes?.lists ?? 0 };
  }

  /** Breaks every watch as a network failure would; the source relists (tests). */
  cutWatches(): void {
    this.pes?.cut();
    this.cpes?.cut();
  }

  stop(): void {
    this.pes?.stop();
    this.cpes?.stop();
    this.listeners.clear();
  }
}

/** Where the API server is: a kubeconfig file (and context), or — with neither — the pod's in-cluster service account. */
export interface KubeConnection {
  /** @default in-cluster config (or the default kubeconfig when only `context` is given) */
  readonly kubeconfig?: string;
  readonly context?: string;
}

/**
 * Loads the client configuration the agent connects with.
 * @example const kc = await loadKubeConfig({ kubeconfig: '/etc/palisade/kubeconfig', context: 'prod' });
 */
export async function loadKubeConfig(c: KubeConnection): Promise<KubeConfig> {
  const { KubeConfig: Config } = await import('@kubernetes/client-node');
  const kc = new Config();
  if (c.kubeconfig !== undefined) kc.loadFromFile(c.kubeconfig);
  else if (c.context !== undefined) kc.loadFromDefault();
  else kc.loadFromCluster();
  if (c.context !== undefined) {
    if (!kc.getContextObject(c.context)) throw new Error(`no context "${c.context}" in the kubeconfig`);
    kc.setCurrentContext(c.context);
  }
  if (!kc.getCurrentCluster()) throw new Error('the kubeconfig names no cluster');
  return kc;
}
