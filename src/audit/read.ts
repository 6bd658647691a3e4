/**
 * PolicyEndpoints as they exist: from what `kubectl get policyendpoints -A -o yaml` prints (a List, or multi-document
 * YAML/JSON, or `-`), or listed from a live cluster.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { formatPath, InputError, type Diagnostic } from '../api/diagnostics.js';
import { describeObject, isJsonObject, loadManifests, type LoadedDocument } from '../api/load.js';
import { isClusterPolicyEndpoint, isPolicyEndpoint, type ClusterPolicyEndpoint, type PolicyEndpoint } from '../api/policyendpoint.js';

export interface AwsObjects {
  readonly policyEndpoints: PolicyEndpoint[];
  readonly clusterPolicyEndpoints: ClusterPolicyEndpoint[];
}

function fieldError(doc: LoadedDocument, path: (string | number)[], message: string): Diagnostic {
  return { severity: 'error', message, pos: doc.position(path), object: describeObject(doc), path: formatPath(path) };
}

/** The shape checks the comparison relies on; everything else is read as written. */
function check(doc: LoadedDocument): Diagnostic[] {
  const out: Diagnostic[] = [];
  const spec = doc.value.spec;
  if (!isJsonObject(spec)) return [fieldError(doc, ['spec'], 'required: a PolicyEndpoint without a spec')];
  const ref = spec.policyRef;
  if (!isJsonObject(ref) || typeof ref.name !== 'string' || ref.name === '') out.push(fieldError(doc, ['spec', 'policyRef', 'name'], 'required: the policy this object was resolved from'));
  else if (doc.kind === 'PolicyEndpoint' && (typeof ref.namespace !== 'string' || ref.namespace === '')) out.push(fieldError(doc, ['spec', 'policyRef', 'namespace'], 'required: the namespace of the policy'));
  for (const list of ['ingress', 'egress'] as const) {
    const entries = spec[list];
    if (entries === undefined || entries === null) continue;
    if (!Array.isArray(entries)) {
      out.push(fieldError(doc, ['spec', list], 'must be a list'));
      continue;
    }
    (entries as unknown[]).forEach((e, i) => {
      if (!isJsonObject(e)) out.push(fieldError(doc, ['spec', list, i], 'must be an object'));
      else if (typeof e.cidr !== 'string' && !(doc.kind === 'ClusterPolicyEndpoint' && typeof e.domainName === 'string')) out.push(fieldError(doc, ['spec', list, i, 'cidr'], 'required: the address or CIDR'));
    });
  }
  const pods = spec.podSelectorEndpoints;
  if (Array.isArray(pods)) {
    (pods as unknown[]).forEach((p, i) => {
      if (!isJsonObject(p) || typeof p.podIP !== 'string') out.push(fieldError(doc, ['spec', 'podSelectorEndpoints', i, 'podIP'], 'required: the pod IP'));
    });
  }
  return out;
}

/** Sorts documents into the two kinds; other kinds are skipped, malformed objects are errors. */
export function awsObjectsOf(documents: readonly LoadedDocument[]): { objects: AwsObjects; diagnostics: Diagnostic[] } {
  const policyEndpoints: PolicyEndpoint[] = [];
  const clusterPolicyEndpoints: ClusterPolicyEndpoint[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const doc of documents) {
    if (!isPolicyEndpoint(doc.value) && !isClusterPolicyEndpoint(doc.value)) continue;
    const errors = check(doc);
    diagnostics.push(...errors);
    if (errors.length > 0) continue;
    if (isPolicyEndpoint(doc.value)) policyEndpoints.push(doc.value);
    else if (isClusterPolicyEndpoint(doc.value)) clusterPolicyEndpoints.push(doc.value);
  }
  return { objects: { policyEndpoints, clusterPolicyEndpoints }, diagnostics };
}

/**
 * Reads PolicyEndpoints from files (or `-`).
 * @throws InputError listing every error (file:line:column, object, field path).
 */
export function readAwsObjects(files: readonly string[], readStdin?: () => string): AwsObjects {
  const loaded = loadManifests(files, readStdin ? { readStdin } : {});
  const { objects, diagnostics } = awsObjectsOf(loaded.documents);
  const errors = [...loaded.diagnostics, ...diagnostics].filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new InputError(`${errors.length} error${errors.length === 1 ? '' : 's'} in ${files.join(', ')}`, errors);
  return objects;
}

/** Lists every PolicyEndpoint and ClusterPolicyEndpoint of a live cluster (a kind whose CRD is absent is empty). */
export async function listAwsObjects(kc: KubeConfig): Promise<AwsObjects> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const list = async (plural: string): Promise<unknown[]> => {
    try {
      const r = (await api.listClusterCustomObject({ group: 'networking.k8s.aws', version: 'v1alpha1', plural })) as { items?: unknown[] };
      return r.items ?? [];
    } catch (e) {
      const code = typeof e === 'object' && e !== null && 'code' in e ? (e as { code?: unknown }).code : undefined;
      if (code === 404) return [];
      throw new InputError(`cannot list ${plural}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  };
  const withKind = (kind: string) => (o: unknown) => (isJsonObject(o) ? { ...o, apiVersion: 'networking.k8s.aws/v1alpha1', kind } : o);
  return {
    policyEndpoints: (await list('policyendpoints')).map(withKind('PolicyEndpoint')).filter(isPolicyEndpoint),
    clusterPolicyEndpoints: (await list('clusterpolicyendpoints')).map(withKind('ClusterPolicyEndpoint')).filter(isClusterPolicyEndpoint),
  };
}
