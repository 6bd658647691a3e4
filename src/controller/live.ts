/**
 * The controller against a real API server: informers on Namespaces, Nodes, Pods, Services, NetworkPolicies, the
 * admin-tier kinds and AWS's ClusterNetworkPolicy and ApplicationNetworkPolicy (each when its CRD is installed) and
 * the (Cluster)PolicyEndpoints themselves; the Reconciler writes
 * through the custom objects API; a Lease elects the one instance that writes; `/healthz`, `/readyz` and `/metrics` over HTTP.
 *
 * A watch that breaks is restarted from its last resourceVersion; one that the server answers with 410 Gone relists
 * (the informer does this), and the relist's adds and deletes reconcile whatever changed meanwhile.
 */
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import {
  CoreV1Api,
  CustomObjectsApi,
  NetworkingV1Api,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
// Typed lists come back as model classes (`_from` for `from`); the generated serializer turns them into API JSON.
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import type { JsonObject } from '../api/load.js';
import { LeaderElector } from './lease.js';
import { controllerMetrics, type ControllerMetrics } from './metrics.js';
import { Reconciler, errorCode, type EndpointObject, type EndpointWriter } from './reconciler.js';
import { objectKey, type WatchedKind } from './state.js';

const GROUP = 'networking.k8s.aws';
const VERSION = 'v1alpha1';

type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  /** @default true */
  readonly leaderElect?: boolean;
  /** @default "palisade-system" */
  readonly leaseNamespace?: string;
  /** @default "palisade-controller" */
  readonly leaseName?: string;
  /** @default hostname and pid */
  readonly identity?: string;
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** @default 100 */
  readonly batchWindowMs?: number;
  /** @default 200 */
  readonly chunkSize?: number;
  /** Port for /metrics (and /healthz, /readyz unless `healthPort` is set); 0 picks a free one; undefined: no server. */
  readonly metricsPort?: number;
  /** Address the metrics server listens on. @default every address (as `--metrics-bind-address :8080`) */
  readonly metricsHost?: string;
  readonly healthPort?: number;
  /** Delay before restarting a watch that failed. @default 1000 */
  readonly watchRetryMs?: number;
  readonly log?: Log;
}

export interface RunningController {
  readonly reconciler: Reconciler;
  readonly metrics: ControllerMetrics;
  /** The ports the HTTP servers listen on (metrics first). */
  readonly ports: readonly number[];
  isLeader(): boolean;
  /** True once every informer has listed. */
  isReady(): boolean;
  /** Aborts every informer's watch request, as a network failure would (tests use this). */
  cutWatches(): void;
  stop(): Promise<void>;
}

/** Writes (Cluster)PolicyEndpoints through the custom objects API. */
export function apiWriter(kc: KubeConfig): EndpointWriter {
  const api = kc.makeApiClient(CustomObjectsApi);
  const plural = (o: EndpointObject) => (o.kind === 'PolicyEndpoint' ? 'policyendpoints' : 'clusterpolicyendpoints');
  return {
    async create(o) {
      if (o.kind === 'PolicyEndpoint') return (await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: o.metadata.namespace ?? '', plural: plural(o), body: o })) as EndpointObject;
      return (await api.createClusterCustomObject({ group: GROUP, version: VERSION, plural: plural(o), body: o })) as EndpointObject;
    },
    async replace(o) {
      const name = o.metadata.name ?? '';
      if (o.kind === 'PolicyEndpoint') return (await api.replaceNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: o.metadata.namespace ?? '', plural: plural(o), name, body: o })) as EndpointObject;
      return (await api.replaceClusterCustomObject({ group: GROUP, version: VERSION, plural: plural(o), name, body: o })) as EndpointObject;
    },
    async delete(o) {
      const name = o.metadata.name ?? '';
      if (o.kind === 'PolicyEndpoint') await api.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: o.metadata.namespace ?? '', plural: plural(o), name });
      else await api.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: plural(o), name });
    },
  };
}

/** Typed list results become plain JSON, the form the watch delivers and the model reads. */
function plain<T>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}

interface Source {
  readonly what: string;
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<KubernetesObject>>;
  readonly kind?: WatchedKind;
  readonly endpointKind?: 'PolicyEndpoint' | 'ClusterPolicyEndpoint';
}

/** Whether a resource is served (a CRD that is not installed answers 404). */
async function served(list: () => Promise<unknown>): Promise<boolean> {
  try {
    await list();
    return true;
  } catch (e) {
    if (errorCode(e) === 404) return false;
    throw e;
  }
}

/**
 * Runs the controller until `stop()`.
 * @example
 * const kc = new KubeConfig(); kc.loadFromDefault();
 * const c = await runController({ kubeConfig: kc, metricsPort: 8080 });
 */
export async function runController(opts: ControllerOptions): Promise<RunningController> {
  const kc = opts.kubeConfig;
  const log: Log = opts.log ?? (() => undefined);
  const metrics = controllerMetrics(true);
  const reconciler = new Reconciler(apiWriter(kc), {
    ...(opts.chunkSize !== undefined ? { chunkSize: opts.chunkSize } : {}),
    batchWindowMs: opts.batchWindowMs ?? 100,
    metrics,
    log,
  });
  const core = kc.makeApiClient(CoreV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const customList = (group: string, version: string, plural: string) => async () =>
    (await custom.listClusterCustomObject({ group, version, plural })) as KubernetesListObject<KubernetesObject>;
  const typed = <T extends KubernetesObject>(kind: string, apiVersion: string, f: () => Promise<KubernetesListObject<T>>) => async () => {
    const l = await f();
    const items = l.items.map((i) => ({ ...(ObjectSerializer.serialize(i, `V1${kind}`, "") as object), apiVersion, kind }));
    return { ...l, items } as KubernetesListObject<KubernetesObject>;
  };

  const sources: Source[] = [
    { what: 'namespaces', path: '/api/v1/namespaces', kind: 'Namespace', list: typed('Namespace', 'v1', () => core.listNamespace()) },
    // Nodes resolve the `nodes` peers of tier policies (their InternalIP and ExternalIP addresses).
    { what: 'nodes', path: '/api/v1/nodes', kind: 'Node', list: typed('Node', 'v1', () => core.listNode()) },
    { what: 'pods', path: '/api/v1/pods', kind: 'Pod', list: typed('Pod', 'v1', () => core.listPodForAllNamespaces()) },
    { what: 'services', path: '/api/v1/services', kind: 'Service', list: typed('Service', 'v1', () => core.listServiceForAllNamespaces()) },
    { what: 'networkpolicies', path: '/apis/networking.k8s.io/v1/networkpolicies', kind: 'NetworkPolicy', list: typed('NetworkPolicy', 'networking.k8s.io/v1', () => net.listNetworkPolicyForAllNamespaces()) },
  ];
  const optional: Source[] = [
    { what: 'policyendpoints', path: `/apis/${GROUP}/${VERSION}/policyendpoints`, endpointKind: 'PolicyEndpoint', list: customList(GROUP, VERSION, 'policyendpoints') },
    { what: 'clusterpolicyendpoints', path: `/apis/${GROUP}/${VERSION}/clusterpolicyendpoints`, endpointKind: 'ClusterPolicyEndpoint', list: customList(GROUP, VERSION, 'clusterpolicyendpoints') },
    { what: 'adminnetworkpolicies', path: '/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies', kind: 'AdminNetworkPolicy', list: customList('policy.networking.k8s.io', 'v1alpha1', 'adminnetworkpolicies') },
    { what: 'baselineadminnetworkpolicies', path: '/apis/policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies', kind: 'BaselineAdminNetworkPolicy', list: customList('policy.networking.k8s.io', 'v1alpha1', 'baselineadminnetworkpolicies') },
    { what: 'clusternetworkpolicies', path: '/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies', kind: 'ClusterNetworkPolicy', list: customList('policy.networking.k8s.io', 'v1alpha2', 'clusternetworkpolicies') },
    // AWS's own kinds (their CRDs come with AWS's network policy controller): a ClusterNetworkPolicy of AWS's group
    // writes ClusterPolicyEndpoints, an ApplicationNetworkPolicy (all namespaces) PolicyEndpoints.
    { what: `clusternetworkpolicies.${GROUP}`, path: `/apis/${GROUP}/${VERSION}/clusternetworkpolicies`, kind: 'AwsClusterNetworkPolicy', list: customList(GROUP, VERSION, 'clusternetworkpolicies') },
    { what: `applicationnetworkpolicies.${GROUP}`, path: `/apis/${GROUP}/${VERSION}/applicationnetworkpolicies`, kind: 'ApplicationNetworkPolicy', list: customList(GROUP, VERSION, 'applicationnetworkpolicies') },
  ];
  // Probes and metrics first: the kubelet's liveness probe must answer while the informers still list (which can take
  // long on a big cluster), and /readyz says 503 until they have.
  let listed = false;
  const synced = new Set<string>();
  const ready = () => listed && synced.size === sources.length;
  const servers: Server[] = [];
  const ports: number[] = [];
  const serve = async (port: number, withMetrics: boolean, host?: string) => {
    const server = createServer((req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/healthz')) {
        res.writeHead(200).end('ok');
      } else if (url.startsWith('/readyz')) {
        res.writeHead(ready() ? 200 : 503).end(ready() ? 'ok' : 'informers not synced');
      } else if (withMetrics && url.startsWith('/metrics')) {
        metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
          (e: unknown) => res.writeHead(500).end(String(e)),
        );
      } else res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (host !== undefined) server.listen(port, host, resolve);
      else server.listen(port, resolve);
    });
    servers.push(server);
    ports.push((server.address() as AddressInfo).port);
  };
  if (opts.metricsPort !== undefined) await serve(opts.metricsPort, true, opts.metricsHost);
  if (opts.healthPort !== undefined && opts.healthPort !== opts.metricsPort) await serve(opts.healthPort, false);

  const closeServers = () => Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));

  let stopped = false;
  const informers: Informer<KubernetesObject>[] = [];
  try {
    for (const s of optional) {
      if (await served(s.list)) sources.push(s);
      else if (s.endpointKind === 'PolicyEndpoint') throw new Error('the PolicyEndpoint CRD is not installed (kubectl apply -f deploy/crds/)');
      else log('info', `${s.what} are not served; not watching them`);
    }

    for (const s of sources) {
      const inf = makeInformer(kc, s.path, s.list);
      const handle = (deleted: boolean) => (obj: KubernetesObject) => {
        const o = plain(obj) as unknown as JsonObject;
        if (s.endpointKind) {
          const e = { ...(o as object), kind: s.endpointKind, apiVersion: `${GROUP}/${VERSION}` } as unknown as EndpointObject;
          if (e.spec?.policyRef) reconciler.observeEndpoint(e, deleted);
        } else if (s.kind) reconciler.observe(s.kind, objectKey(o), deleted ? undefined : o);
      };
      inf.on('add', handle(false));
      inf.on('update', handle(false));
      inf.on('delete', handle(true));
      inf.on('error', (err: unknown) => {
        if (stopped) return;
        log('warn', `watch of ${s.what} broke; restarting`, { error: err instanceof Error ? err.message : String(err), code: errorCode(err) });
        setTimeout(() => {
          if (!stopped) inf.start().catch(() => undefined);
        }, opts.watchRetryMs ?? 1000);
      });
      informers.push(inf);
      await inf.start();
      synced.add(s.what);
    }
    listed = true;
  } catch (e) {
    stopped = true;
    for (const inf of informers) await inf.stop();
    reconciler.stop();
    await closeServers();
    throw e;
  }

  let elector: LeaderElector | undefined;
  const onChange = (leading: boolean) => {
    metrics.leader.set(leading ? 1 : 0);
    reconciler.setActive(leading);
  };
  if (opts.leaderElect ?? true) {
    elector = new LeaderElector(kc, {
      namespace: opts.leaseNamespace ?? 'palisade-system',
      name: opts.leaseName ?? 'palisade-controller',
      identity: opts.identity ?? `${hostname()}_${process.pid}`,
      ...(opts.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: opts.leaseDurationSeconds } : {}),
      ...(opts.renewDeadlineMs !== undefined ? { renewDeadlineMs: opts.renewDeadlineMs } : {}),
      ...(opts.retryPeriodMs !== undefined ? { retryPeriodMs: opts.retryPeriodMs } : {}),
      onChange,
      log,
    });
    elector.start();
  } else onChange(true);
  log('info', 'controller started', { watching: sources.map((s) => s.what), leaderElect: opts.leaderElect ?? true });

  return {
    reconciler,
    metrics,
    ports,
    isLeader: () => reconciler.isActive,
    isReady: ready,
    cutWatches: () => {
      for (const inf of informers) (inf as unknown as { request?: AbortController }).request?.abort();
    },
    stop: async () => {
      stopped = true;
      await elector?.stop();
      reconciler.stop();
      for (const inf of informers) await inf.stop();
      await closeServers();
    },
  };
}
