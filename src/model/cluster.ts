/**
 * Building the cluster model from loaded objects: namespaces (declared or implied), endpoints (every Pod, and one
 * representative per workload), NetworkPolicies, admin-tier policies, Services and Nodes.
 */
import { formatPath } from '../api/diagnostics.js';
import type { Diagnostic, SourcePos } from '../api/diagnostics.js';
import { describeObject, isClusterScoped, isJsonObject } from '../api/load.js';
import type { JsonObject, JsonValue, LoadedDocument } from '../api/load.js';
import { PROTOCOLS } from '../api/types.js';
import { formatAddress, parseAddress } from '../api/validate-ip.js';
import type { NetworkPolicy, Protocol, WorkloadKind } from '../api/types.js';
import { isTierKind, isTierObject, normalizeTierPolicy } from './tiers.js';
import { AWS_V1ALPHA1 } from '../api/aws-types.js';
import { normalizeApplicationNetworkPolicy, normalizeAwsClusterNetworkPolicy } from './aws.js';
import type {
  Cluster,
  Endpoint,
  EndpointPort,
  HostNetworkPod,
  NamespaceInfo,
  NodeInfo,
  PolicyObject,
  ServiceInfo,
  TierPolicy,
} from './types.js';

/** The label the apiserver sets on every namespace to its name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** Options of {@link buildCluster}. */
export interface BuildOptions {
  /** The namespace of namespaced objects written without one. @default "default" */
  readonly defaultNamespace?: string;
}

/** The kinds the model reads, each with the API groups it is read from (`''` is the core group). */
const READ_KINDS: ReadonlyMap<string, readonly string[]> = new Map([
  ['Namespace', ['']],
  ['Pod', ['']],
  ['Node', ['']],
  ['Service', ['']],
  ['ReplicationController', ['']],
  ['NetworkPolicy', ['networking.k8s.io']],
  ['Deployment', ['apps', 'extensions']],
  ['StatefulSet', ['apps']],
  ['DaemonSet', ['apps', 'extensions']],
  ['ReplicaSet', ['apps', 'extensions']],
  ['Job', ['batch']],
  ['CronJob', ['batch']],
]);

/** A candidate endpoint before ids are assigned. */
type EndpointDraft = Omit<Endpoint, 'id'>;

/**
 * Resolves loaded objects into a {@link Cluster}.
 *
 * - Every Pod is an endpoint (except Succeeded/Failed ones and hostNetwork ones, the latter with a note and kept in
 *   `hostNetworkPods`); every workload is one representative endpoint with its pod template's labels and container
 *   ports and no IPs.
 * - Endpoint ids are `namespace/name`; when two endpoints share one, both get `[Kind]` (`shop/web[Pod]`).
 * - Every namespace has `kubernetes.io/metadata.name`; a namespace only referenced by objects exists `implicit`.
 * - Of two objects of the same kind, namespace and name the last one is used, with a note (as `kubectl apply` of both
 *   would leave the cluster); kinds not read (matched by API group) get one note each.
 * - NetworkPolicies come back with `metadata.namespace` always set (to the resolved namespace) and `spec.podSelector`
 *   present (`{}` when omitted, as the apiserver decodes it); otherwise as written.
 *
 * @param docs objects, normally already validated (see `readCluster`).
 */
export function buildCluster(
  docs: readonly LoadedDocument[],
  opts: BuildOptions = {},
): { cluster: Cluster; diagnostics: Diagnostic[] } {
  const defaultNamespace = opts.defaultNamespace ?? 'default';
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, LoadedDocument>();
  const ignored = new Map<string, { count: number; first: LoadedDocument }>();
  const declared = new Map<string, NamespaceInfo>();
  const referenced = new Set<string>();
  const drafts: EndpointDraft[] = [];
  const policies: PolicyObject[] = [];
  const tierPolicies: TierPolicy[] = [];
  const nodes: NodeInfo[] = [];
  const services: ServiceInfo[] = [];
  const hostNetworkPods: HostNetworkPod[] = [];

  // `kubectl apply` of the same object twice keeps the last one: find it first.
  const keyOf = (doc: LoadedDocument, kind: ReadKind): string => `${kind}\u0000${isClusterScoped(kind) ? '' : doc.namespace || defaultNamespace}\u0000${doc.name ?? ''}`;
  const last = new Map<string, LoadedDocument>();
  for (const doc of docs) {
    const kind = readKind(doc);
    if (kind !== undefined && doc.name) last.set(keyOf(doc, kind), doc);
  }

  for (const doc of docs) {
    const object = describeObject(doc, defaultNamespace);
    const kind = readKind(doc);
    if (kind === undefined) {
      const key = `${doc.kind} (${doc.apiVersion})`;
      const entry = ignored.get(key);
      if (entry) entry.count++;
      else ignored.set(key, { count: 1, first: doc });
      continue;
    }
    if (doc.name === undefined || doc.name === '') {
      diagnostics.push({ severity: 'error', message: 'metadata.name is missing; the object is ignored', pos: doc.pos, object });
      continue;
    }
    const clusterScoped = isClusterScoped(doc.kind);
    const namespace = clusterScoped ? '' : doc.namespace || defaultNamespace;
    const key = keyOf(doc, kind);
    const winner = last.get(key);
    if (winner !== doc) {
      diagnostics.push({
        severity: 'note',
        message: `${object} is defined again at ${winner ? formatPos(winner.pos) : 'a later place'}; the later one is used (as kubectl apply would leave it)`,
        pos: doc.pos,
        object,
      });
      continue;
    }
    const first = seen.get(key);
    if (first) continue; // the very same document given twice
    seen.set(key, doc);
    if (!clusterScoped) referenced.add(namespace);
    const v = doc.value;

    switch (kind) {
      case 'Namespace':
        declared.set(doc.name, { name: doc.name, labels: namespaceLabels(doc.name, labelsOf(field(v, 'metadata'))), implicit: false });
        break;
      case 'Node':
        nodes.push(nodeInfo(doc.name, v));
        break;
      case 'Service':
        services.push(serviceInfo(doc.name, namespace, v, doc.pos));
        break;
      case 'NetworkPolicy': {
        const policy = networkPolicyOf(v, namespace);
        if (policy) policies.push({ policy, source: doc.pos });
        else diagnostics.push({ severity: 'error', message: 'spec is missing or not a mapping; the policy is ignored', pos: doc.pos, object });
        break;
      }
      case 'Pod': {
        const draft = podEndpoint(doc.name, namespace, v, doc.pos);
        if (draft && 'hostNetwork' in draft) {
          diagnostics.push(hostNetworkNote(doc, object));
          hostNetworkPods.push(draft.hostNetwork);
        } else if (draft) drafts.push(draft);
        break;
      }
      case 'ApplicationNetworkPolicy': {
        const policy = normalizeApplicationNetworkPolicy(v, namespace, doc.pos);
        if (policy) policies.push(policy);
        break;
      }
      case 'AwsClusterNetworkPolicy': {
        const { policy, problems } = normalizeAwsClusterNetworkPolicy(v, doc.pos);
        for (const p of problems) diagnostics.push({ severity: p.severity ?? 'error', message: p.message, pos: doc.position(p.path), object, path: formatPath(p.path) });
        if (policy) tierPolicies.push(policy);
        break;
      }
      case 'AdminNetworkPolicy':
      case 'BaselineAdminNetworkPolicy':
      case 'ClusterNetworkPolicy': {
        if (!isTierObject(v)) {
          diagnostics.push({ severity: 'error', message: 'spec is missing or not a mapping; the policy is ignored', pos: doc.pos, object });
          break;
        }
        const { policy, problems } = normalizeTierPolicy(v, doc.pos);
        for (const p of problems) {
          diagnostics.push({
            severity: p.severity ?? 'error',
            message: policy ? p.message : `${p.message}; the policy is ignored`,
            pos: doc.position(p.path),
            object,
            path: formatPath(p.path),
          });
        }
        if (policy) tierPolicies.push(policy);
        break;
      }
      default: {
        const draft = workloadEndpoint(kind, doc.name, namespace, v, doc.pos);
        if (draft === 'hostNetwork') diagnostics.push(hostNetworkNote(doc, object));
        else if (draft === 'noTemplate') {
          diagnostics.push({ severity: 'warning', message: 'has no pod template; it is not an endpoint', pos: doc.pos, object });
        } else drafts.push(draft);
      }
    }
  }

  for (const [key, { count, first }] of ignored) {
    const group = apiGroupOf(first.apiVersion);
    const sameName = READ_KINDS.has(first.kind) || isTierKindName(first.kind);
    const why = sameName
      ? `a ${first.kind} of API group ${group === '' ? 'core' : group}, not the Kubernetes one Palisade reads`
      : group === '' || READ_GROUPS.has(group)
        ? 'Palisade does not read this kind'
        : `Palisade does not read the API group ${group}`;
    diagnostics.push({
      severity: 'note',
      message: `ignored ${count} ${key} object${count === 1 ? '' : 's'}: ${why}`,
      pos: first.pos,
    });
  }

  const namespaces = new Map<string, NamespaceInfo>();
  for (const name of [...new Set([...declared.keys(), ...referenced])].sort(compareText)) {
    namespaces.set(name, declared.get(name) ?? { name, labels: namespaceLabels(name, {}), implicit: true });
  }

  const cluster: Cluster = {
    namespaces,
    endpoints: assignIds(drafts),
    policies,
    tierPolicies,
    nodes,
    services,
    ...(hostNetworkPods.length > 0 ? { hostNetworkPods } : {}),
  };
  return { cluster, diagnostics };
}

/**
 * Canonical text of an IP address, as Go prints a parsed one: IPv6 compressed (RFC 5952) and lower case, IPv4-mapped
 * IPv6 as IPv4, leading zeros of IPv4 octets dropped (read as decimal, as the legacy parser the apiserver uses does).
 * @returns undefined for text that is not an IP address (hostnames, zones, CIDRs).
 */
export function canonicalIP(text: string): string | undefined {
  if (PLAIN_IPV4.test(text)) return text; // already canonical: the common case, without parsing
  const address = parseAddress(text.trim());
  return address && formatAddress(address.family, address.bits);
}

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const PLAIN_IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

// ---------------------------------------------------------------- kinds

type ReadKind = 'Namespace' | 'Pod' | 'Node' | 'Service' | 'NetworkPolicy' | WorkloadKind | TierKindName | AwsReadKind;
/** AWS's own kinds (networking.k8s.aws/v1alpha1); its ClusterNetworkPolicy is told apart from the upstream one. */
type AwsReadKind = 'AwsClusterNetworkPolicy' | 'ApplicationNetworkPolicy';
type TierKindName = 'AdminNetworkPolicy' | 'BaselineAdminNetworkPolicy' | 'ClusterNetworkPolicy';

const READ_GROUPS = new Set([...[...READ_KINDS.values()].flat(), 'policy.networking.k8s.io']);

function apiGroupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function isTierKindName(kind: string): boolean {
  return kind === 'AdminNetworkPolicy' || kind === 'BaselineAdminNetworkPolicy' || kind === 'ClusterNetworkPolicy';
}

function readKind(doc: LoadedDocument): ReadKind | undefined {
  if (isTierKind(doc.apiVersion, doc.kind)) return doc.kind;
  if (doc.apiVersion === AWS_V1ALPHA1 && doc.kind === 'ClusterNetworkPolicy') return 'AwsClusterNetworkPolicy';
  if (doc.apiVersion === AWS_V1ALPHA1 && doc.kind === 'ApplicationNetworkPolicy') return 'ApplicationNetworkPolicy';
  const groups = READ_KINDS.get(doc.kind);
  const slash = doc.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : doc.apiVersion.slice(0, slash);
  if (!groups || !groups.includes(group)) return undefined;
  if (doc.kind === 'NetworkPolicy' && doc.apiVersion !== 'networking.k8s.io/v1') return undefined;
  return isReadKind(doc.kind) ? doc.kind : undefined;
}

function isReadKind(kind: string): kind is ReadKind {
  return READ_KINDS.has(kind);
}

// ---------------------------------------------------------------- endpoints

function podEndpoint(name: string, namespace: string, v: JsonObject, source: SourcePos): EndpointDraft | { hostNetwork: HostNetworkPod } | undefined {
  const spec = field(v, 'spec');
  const status = field(v, 'status');
  const phase = status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const metadata = field(v, 'metadata');
  const owners = metadata?.ownerReferences;
  const rawIPs = Array.isArray(status?.podIPs)
    ? status.podIPs.map((p) => (isJsonObject(p) && typeof p.ip === 'string' ? p.ip : undefined))
    : [typeof status?.podIP === 'string' ? status.podIP : undefined];
  const ips = unique(rawIPs.map((ip) => (ip === undefined ? undefined : canonicalIP(ip))).filter(isString));
  const pod: Omit<HostNetworkPod, 'source'> = {
    namespace,
    name,
    labels: labelsOf(metadata),
    ips,
    ports: containerPorts(spec),
    ...(typeof spec?.nodeName === 'string' ? { nodeName: spec.nodeName } : {}),
  };
  if (spec?.hostNetwork === true) return { hostNetwork: { ...pod, source } };
  const hostIP = typeof status?.hostIP === 'string' ? canonicalIP(status.hostIP) : undefined;
  return {
    kind: 'Pod',
    ...pod,
    ...(hostIP ? { hostIP } : {}),
    standalone: !Array.isArray(owners) || owners.length === 0,
    source,
  };
}

function workloadEndpoint(
  kind: WorkloadKind,
  name: string,
  namespace: string,
  v: JsonObject,
  source: SourcePos,
): EndpointDraft | 'hostNetwork' | 'noTemplate' {
  const spec = field(v, 'spec');
  const template = kind === 'CronJob' ? field(field(field(spec, 'jobTemplate'), 'spec'), 'template') : field(spec, 'template');
  if (!template) return 'noTemplate';
  const podSpec = field(template, 'spec');
  if (podSpec?.hostNetwork === true) return 'hostNetwork';
  return {
    kind,
    namespace,
    name,
    labels: labelsOf(field(template, 'metadata')),
    ips: [],
    ports: containerPorts(podSpec),
    source,
  };
}

/** Every container's ports (not init containers'), protocol defaulted to TCP, identical entries once. */
function containerPorts(podSpec: JsonObject | undefined): EndpointPort[] {
  const out: EndpointPort[] = [];
  const seen = new Set<string>();
  const containers = podSpec?.containers;
  if (!Array.isArray(containers)) return out;
  for (const c of containers) {
    if (!isJsonObject(c) || !Array.isArray(c.ports)) continue;
    for (const p of c.ports) {
      if (!isJsonObject(p) || !isPortNumber(p.containerPort)) continue;
      const protocol = protocolOf(p.protocol);
      if (!protocol) continue;
      const name = typeof p.name === 'string' && p.name !== '' ? p.name : undefined;
      const key = `${name ?? ''}/${p.containerPort}/${protocol}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ ...(name ? { name } : {}), port: p.containerPort, protocol });
    }
  }
  return out;
}

/** Ids `namespace/name`; every endpoint of a shared id gets `[Kind]`. Sorted by namespace, name, kind. */
function assignIds(drafts: readonly EndpointDraft[]): Endpoint[] {
  const count = new Map<string, number>();
  for (const d of drafts) {
    const base = `${d.namespace}/${d.name}`;
    count.set(base, (count.get(base) ?? 0) + 1);
  }
  return drafts
    .map((d): Endpoint => {
      const base = `${d.namespace}/${d.name}`;
      return { id: (count.get(base) ?? 0) > 1 ? `${base}[${d.kind}]` : base, ...d };
    })
    .sort((a, b) => compareText(a.namespace, b.namespace) || compareText(a.name, b.name) || compareText(a.kind, b.kind));
}

function hostNetworkNote(doc: LoadedDocument, object: string): Diagnostic {
  return {
    severity: 'note',
    message: 'uses hostNetwork: it is not a pod-network endpoint, and no policy selects it',
    pos: doc.position(doc.kind === 'Pod' ? ['spec', 'hostNetwork'] : templatePath(doc.kind)),
    object,
  };
}

function templatePath(kind: string): string[] {
  const base = kind === 'CronJob' ? ['spec', 'jobTemplate', 'spec', 'template'] : ['spec', 'template'];
  return [...base, 'spec', 'hostNetwork'];
}

// ---------------------------------------------------------------- other objects

function namespaceLabels(name: string, labels: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  return { ...labels, [NAMESPACE_NAME_LABEL]: name };
}

function networkPolicyOf(v: JsonObject, namespace: string): NetworkPolicy | undefined {
  // No spec, or no podSelector, decodes as the empty struct: every pod of the namespace.
  const spec = field(v, 'spec') ?? {};
  const podSelector = field(spec, 'podSelector') ?? {};
  const metadata = field(v, 'metadata') ?? {};
  const { status: _status, ...rest } = v;
  const policy: unknown = { ...rest, metadata: { ...metadata, namespace }, spec: { ...spec, podSelector } };
  return isNetworkPolicy(policy) ? policy : undefined;
}

/** The shape checks the model relies on; the fields below `spec` are checked by validation, not here. */
function isNetworkPolicy(v: unknown): v is NetworkPolicy {
  return (
    isJsonObject(v) &&
    v.apiVersion === 'networking.k8s.io/v1' &&
    v.kind === 'NetworkPolicy' &&
    isJsonObject(v.metadata) &&
    isJsonObject(v.spec) &&
    isJsonObject(v.spec.podSelector)
  );
}

function serviceInfo(name: string, namespace: string, v: JsonObject, source: SourcePos): ServiceInfo {
  const spec = field(v, 'spec');
  const rawIPs = Array.isArray(spec?.clusterIPs) ? spec.clusterIPs : [spec?.clusterIP];
  const clusterIPs = unique(rawIPs.map((ip) => (typeof ip === 'string' ? canonicalIP(ip) : undefined)).filter(isString));
  const ports: ServiceInfo['ports'][number][] = [];
  if (Array.isArray(spec?.ports)) {
    for (const p of spec.ports) {
      if (!isJsonObject(p) || !isPortNumber(p.port)) continue;
      const protocol = protocolOf(p.protocol);
      if (!protocol) continue;
      const target = p.targetPort;
      ports.push({
        ...(typeof p.name === 'string' && p.name !== '' ? { name: p.name } : {}),
        port: p.port,
        protocol,
        ...(typeof target === 'number' || typeof target === 'string' ? { targetPort: target } : {}),
      });
    }
  }
  const selector = field(spec, 'selector');
  return {
    namespace,
    name,
    ...(selector ? { selector: stringValues(selector) } : {}),
    clusterIPs,
    ports,
    source,
  };
}

function nodeInfo(name: string, v: JsonObject): NodeInfo {
  const addresses = field(v, 'status')?.addresses;
  const ips = Array.isArray(addresses)
    ? addresses.map((a) => (isJsonObject(a) && typeof a.address === 'string' ? canonicalIP(a.address) : undefined))
    : [];
  return { name, labels: labelsOf(field(v, 'metadata')), addresses: unique(ips.filter(isString)) };
}

// ---------------------------------------------------------------- narrowing

function field(v: JsonObject | undefined, key: string): JsonObject | undefined {
  const f = v?.[key];
  return isJsonObject(f) ? f : undefined;
}

function labelsOf(metadata: JsonObject | undefined): Readonly<Record<string, string>> {
  const labels = field(metadata, 'labels');
  return labels ? stringValues(labels) : {};
}

/** The string-valued entries of a mapping (validation rejects the others). */
function stringValues(m: JsonObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(m)) if (typeof val === 'string') out[k] = val;
  return out;
}

function protocolOf(raw: JsonValue | undefined): Protocol | undefined {
  if (raw === undefined || raw === null) return 'TCP';
  return PROTOCOLS.find((p) => p === raw);
}

function isPortNumber(v: JsonValue | undefined): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

function isString(v: string | undefined): v is string {
  return v !== undefined;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function formatPos(p: SourcePos): string {
  return `${p.file}:${p.line}:${p.column}`;
}

