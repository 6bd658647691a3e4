/**
 * A live cluster as the input of the analysis commands (`--kubeconfig FILE [--context C]`): the objects the model
 * reads are listed from the API server, turned into the documents the file loader produces (each named
 * `kube:<context>/<Kind>/<namespace>/<name>` where a file would give `file:line:column`), then validated and built into
 * the cluster exactly as `readCluster` does for files.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
// Typed lists come back as model classes (`_from` for `from`, Date objects); the generated serializer gives API JSON.
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { InputError, type Diagnostic, type SourcePos } from '../api/diagnostics.js';
import { isJsonObject, type JsonObject, type LoadedDocument } from '../api/load.js';
import { readDocuments, type ReadResult } from '../model/read.js';

/** Where to find the cluster. */
export interface KubeSourceOptions {
  /** A kubeconfig file. @default $KUBECONFIG, ~/.kube/config, or the in-cluster service account */
  readonly kubeconfig?: string;
  /** A context of the kubeconfig. @default its current context */
  readonly context?: string;
}

/** One kind to list: its API path parts, and whether the analysis can go on without it. */
interface Listed {
  readonly kind: string;
  /** The apiVersion the documents get (what the model and validation read). */
  readonly apiVersion: string;
  /** Versions to try in order (a served one wins); empty group = core. */
  readonly versions: readonly { readonly group: string; readonly version: string }[];
  readonly plural: string;
  /** Needed: without it the analysis would answer wrongly, so a failure to list it is an error. */
  readonly required: boolean;
}

const core = (kind: string, plural: string, required: boolean): Listed => ({ kind, apiVersion: 'v1', versions: [{ group: '', version: 'v1' }], plural, required });

const LISTED: readonly Listed[] = [
  core('Namespace', 'namespaces', true),
  core('Pod', 'pods', true),
  core('Service', 'services', false),
  core('Node', 'nodes', false),
  { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', versions: [{ group: 'networking.k8s.io', version: 'v1' }], plural: 'networkpolicies', required: true },
  ...(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'] as const).map((kind): Listed => ({ kind, apiVersion: 'apps/v1', versions: [{ group: 'apps', version: 'v1' }], plural: `${kind.toLowerCase()}s`, required: false })),
  { kind: 'Job', apiVersion: 'batch/v1', versions: [{ group: 'batch', version: 'v1' }], plural: 'jobs', required: false },
  // Kubernetes before 1.21 serves CronJob at batch/v1beta1 only; its pod template is the same as batch/v1's.
  { kind: 'CronJob', apiVersion: 'batch/v1', versions: [{ group: 'batch', version: 'v1' }, { group: 'batch', version: 'v1beta1' }], plural: 'cronjobs', required: false },
  // The admin-tier CRDs, when installed.
  { kind: 'AdminNetworkPolicy', apiVersion: 'policy.networking.k8s.io/v1alpha1', versions: [{ group: 'policy.networking.k8s.io', version: 'v1alpha1' }], plural: 'adminnetworkpolicies', required: false },
  { kind: 'BaselineAdminNetworkPolicy', apiVersion: 'policy.networking.k8s.io/v1alpha1', versions: [{ group: 'policy.networking.k8s.io', version: 'v1alpha1' }], plural: 'baselineadminnetworkpolicies', required: false },
  { kind: 'ClusterNetworkPolicy', apiVersion: 'policy.networking.k8s.io/v1alpha2', versions: [{ group: 'policy.networking.k8s.io', version: 'v1alpha2' }], plural: 'clusternetworkpolicies', required: false },
  // AWS's own kinds, served by the AWS network policy controller of EKS, when installed.
  { kind: 'ClusterNetworkPolicy', apiVersion: 'networking.k8s.aws/v1alpha1', versions: [{ group: 'networking.k8s.aws', version: 'v1alpha1' }], plural: 'clusternetworkpolicies', required: false },
  { kind: 'ApplicationNetworkPolicy', apiVersion: 'networking.k8s.aws/v1alpha1', versions: [{ group: 'networking.k8s.aws', version: 'v1alpha1' }], plural: 'applicationnetworkpolicies', required: false },
];

/**
 * Loads a kubeconfig (the file given, or the default chain) and selects the context.
 * @throws InputError when it cannot be read or the context does not exist.
 */
export function loadKubeConfig(opts: KubeSourceOptions): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new InputError(`cannot load the kubeconfig${opts.kubeconfig ? ` ${opts.kubeconfig}` : ''}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (opts.context !== undefined) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new InputError(`the kubeconfig has no context "${opts.context}"${known.length > 0 ? ` (it has: ${known.join(', ')})` : ''}`);
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) throw new InputError('the kubeconfig has no current cluster (use --context)');
  return kc;
}

/** The HTTP status of a client error, when it has one. */
function statusOf(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const r = e as { code?: unknown; statusCode?: unknown };
  return typeof r.code === 'number' ? r.code : typeof r.statusCode === 'number' ? r.statusCode : undefined;
}

function errorText(e: unknown): string {
  const code = statusOf(e);
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return code !== undefined ? `HTTP ${code}: ${msg}` : msg;
}

/** Lists one kind as API JSON; undefined when the server does not serve it (404 for every version). */
async function listKind(kc: KubeConfig, l: Listed): Promise<JsonObject[] | undefined> {
  for (const { group, version } of l.versions) {
    try {
      if (group === '') {
        const api = kc.makeApiClient(CoreV1Api);
        const typeName = `V1${l.kind}`;
        const list =
          l.kind === 'Namespace' ? await api.listNamespace() : l.kind === 'Node' ? await api.listNode() : l.kind === 'Pod' ? await api.listPodForAllNamespaces() : await api.listServiceForAllNamespaces();
        return (list.items as unknown[]).map((i) => ObjectSerializer.serialize(i, typeName, '') as JsonObject);
      }
      // The custom objects API lists any group's resources as they are sent: raw JSON, no renamed fields.
      const list = (await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group, version, plural: l.plural })) as { items?: unknown[] };
      return (list.items ?? []).filter(isJsonObject);
    } catch (e) {
      if (statusOf(e) === 404) continue;
      throw e;
    }
  }
  return undefined;
}

function documentOf(context: string, l: Listed, raw: JsonObject): LoadedDocument {
  const metadata = isJsonObject(raw.metadata) ? raw.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : undefined;
  const namespace = typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : undefined;
  // managedFields say who wrote what; nothing reads them, and they are most of an object's size.
  const { managedFields: _managed, ...meta } = metadata;
  const value: JsonObject = { ...raw, apiVersion: l.apiVersion, kind: l.kind, metadata: meta };
  const pos: SourcePos = { file: `kube:${context}/${l.apiVersion.startsWith('networking.k8s.aws/') ? `${l.kind}.networking.k8s.aws` : l.kind}/${namespace ? `${namespace}/` : ''}${name ?? '<unnamed>'}`, line: 0, column: 0 };
  return { value, apiVersion: l.apiVersion, kind: l.kind, ...(name !== undefined ? { name } : {}), ...(namespace ? { namespace } : {}), pos, position: () => pos };
}

/**
 * Lists every kind the model reads from the cluster the kubeconfig's context names.
 * @returns the documents (kind by kind, in API order) and notes or warnings for kinds that were left out.
 * @throws InputError when a kind the analysis needs (Namespaces, Pods, NetworkPolicies) cannot be listed.
 * @example const { documents } = await listClusterDocuments(loadKubeConfig({ context: 'kind-dev' }));
 */
export async function listClusterDocuments(kc: KubeConfig): Promise<{ documents: LoadedDocument[]; diagnostics: Diagnostic[] }> {
  const context = kc.getCurrentContext();
  const lists = await Promise.all(
    LISTED.map(async (l) => {
      try {
        return { l, items: await listKind(kc, l) };
      } catch (e) {
        if (l.required) throw new InputError(`cannot list ${l.plural} in context "${context}": ${errorText(e)}`);
        return { l, error: errorText(e) };
      }
    }),
  );
  const documents: LoadedDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const r of lists) {
    if ('error' in r) {
      diagnostics.push({ severity: 'warning', message: `cannot list ${r.l.plural} (${r.error}); the analysis goes on without them` });
      continue;
    }
    if (r.items === undefined) {
      if (r.l.required) throw new InputError(`the server of context "${context}" does not serve ${r.l.plural}`);
      continue;
    }
    for (const raw of r.items) documents.push(documentOf(context, r.l, raw));
  }
  return { documents, diagnostics };
}

/**
 * The cluster of a kubeconfig context, read as the analysis commands read manifests.
 * @example const { cluster } = await readKubeCluster({ kubeconfig: '~/.kube/config', context: 'prod' });
 */
export async function readKubeCluster(opts: KubeSourceOptions): Promise<ReadResult> {
  const kc = loadKubeConfig(opts);
  const { documents, diagnostics } = await listClusterDocuments(kc);
  return readDocuments(documents, diagnostics);
}
