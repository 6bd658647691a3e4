/**
 * Validation of PolicyEndpoints and ClusterPolicyEndpoints where the agent reads them (files or the API server), before
 * anything reaches the nftables compiler that root runs. The rules are those of the CRDs in `deploy/crds` (AWS's
 * schemas plus port bounds): types, required fields, enums, the domainName pattern, ports as integers 0–65535, and
 * addresses and CIDRs that parse. A valid object is rebuilt from the fields the schema knows (what the API server's
 * pruning keeps), so nothing else reaches the compiler.
 *
 * Valid but not enforceable by this agent — a `domainName` entry, an entry without `cidr`, a protocol other than TCP,
 * UDP and SCTP, an `endPort` without `port` or below it — is a separate matter: {@link enforceable} drops such entries
 * and names each, so one entry never fails a whole sync (AWS's agent skips them too).
 */
import { formatPath, type Diagnostic, type PathSegment } from './diagnostics.js';
import { parseCIDR, parseIP } from './ip.js';
import type {
  ClusterEndpointInfo,
  ClusterPolicyEndpoint,
  ClusterSubject,
  EndpointInfoObject,
  PodEndpoint,
  PolicyEndpoint,
  PolicyEndpointObject,
  TrafficDirection,
} from './policyendpoint.js';
import type { LabelSelector, ObjectMeta } from './types.js';
import { invalid, isObject, notSupported, readInteger, readList, readObject, readString, required, type FieldError, type JsonObject, type Path } from './validate-fields.js';
import { validateLabelSelector } from './validate-meta.js';
import { isDNS1123Label, isDNS1123Subdomain } from './validate-names.js';

const API_VERSION = 'networking.k8s.aws/v1alpha1';
/** The CRDs' `domainName` pattern (AWS's, `api/v1alpha1` DomainName). */
const DOMAIN_NAME = /^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$/;
const ENFORCED_PROTOCOLS: readonly string[] = ['TCP', 'UDP', 'SCTP'];

/** A validated object, or the errors that reject it. */
export type Checked<T> = { readonly object: T; readonly errors: readonly [] } | { readonly object?: undefined; readonly errors: readonly FieldError[] };

function result<T>(errors: FieldError[], build: () => T): Checked<T> {
  const hard = errors.filter((e) => e.severity !== 'warning');
  return hard.length > 0 ? { errors: hard } : { object: build(), errors: [] };
}

function requiredString(obj: JsonObject, key: string, path: Path, out: FieldError[]): string | undefined {
  const v = readString(obj[key], [...path, key], out);
  if (v === undefined && (obj[key] === undefined || obj[key] === null)) out.push(required([...path, key]));
  return v;
}

function nameCheck(value: string | undefined, path: Path, check: (v: string) => string[], out: FieldError[]): void {
  if (value === undefined) return;
  for (const m of check(value)) out.push(invalid(path, value, m));
}

function readMetadata(raw: unknown, namespaced: boolean, out: FieldError[]): ObjectMeta {
  const meta = readObject(raw, ['metadata'], out);
  if (!meta) {
    out.push(required(['metadata', 'name']));
    return {};
  }
  const name = requiredString(meta, 'name', ['metadata'], out);
  nameCheck(name, ['metadata', 'name'], isDNS1123Subdomain, out);
  const namespace = namespaced ? readString(meta.namespace, ['metadata', 'namespace'], out) : undefined;
  nameCheck(namespace, ['metadata', 'namespace'], isDNS1123Label, out);
  // The owner's kind groups a ClusterPolicyEndpoint's pieces; nothing else of it is used.
  const owners = readList(meta.ownerReferences, ['metadata', 'ownerReferences'], out);
  const ownerReferences = owners?.map((o, i) => {
    const path = ['metadata', 'ownerReferences', i];
    const ref = readObject(o, path, out) ?? {};
    const ownerName = requiredString(ref, 'name', path, out) ?? '';
    const kind = requiredString(ref, 'kind', path, out) ?? '';
    const apiVersion = readString(ref.apiVersion, [...path, 'apiVersion'], out) ?? '';
    const uid = readString(ref.uid, [...path, 'uid'], out);
    return { apiVersion, kind, name: ownerName, ...(uid !== undefined ? { uid } : {}) };
  });
  return { ...(name !== undefined ? { name } : {}), ...(namespace !== undefined ? { namespace } : {}), ...(ownerReferences && ownerReferences.length > 0 ? { ownerReferences } : {}) } as ObjectMeta;
}

function readAddress(value: unknown, path: Path, out: FieldError[], allowEmpty: boolean): string | undefined {
  const text = readString(value, path, out);
  if (text === undefined) return undefined;
  if (allowEmpty && text === '') return text;
  if (text.includes('%') || !parseIP(text)) {
    out.push(invalid(path, text, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    return undefined;
  }
  return text;
}

/** An address or CIDR (the controllers write single pod IPs as well as CIDRs). */
function readCidr(value: unknown, path: Path, out: FieldError[]): string | undefined {
  const text = readString(value, path, out);
  if (text === undefined) return undefined;
  const ok = !text.includes('%') && (text.includes('/') ? parseCIDR(text) !== undefined : parseIP(text) !== undefined);
  if (!ok) {
    out.push(invalid(path, text, 'must be a valid IP address or CIDR, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
    return undefined;
  }
  return text;
}

function familyOf(text: string): 4 | 6 | undefined {
  const at = text.indexOf('/');
  return parseIP(at < 0 ? text : text.slice(0, at))?.family;
}

function readPodEndpoints(raw: unknown, path: Path, out: FieldError[]): PodEndpoint[] | undefined {
  const list = readList(raw, path, out);
  return list?.map((item, i) => {
    const p = [...path, i];
    const o = readObject(item, p, out) ?? {};
    if (!isObject(item)) out.push(required(p));
    for (const key of ['hostIP', 'podIP', 'name', 'namespace']) if (o[key] === undefined || o[key] === null) out.push(required([...p, key]));
    const hostIP = readAddress(o.hostIP, [...p, 'hostIP'], out, true) ?? '';
    const podIP = readAddress(o.podIP, [...p, 'podIP'], out, true) ?? '';
    const name = readString(o.name, [...p, 'name'], out) ?? '';
    const namespace = readString(o.namespace, [...p, 'namespace'], out) ?? '';
    nameCheck(name, [...p, 'name'], isDNS1123Subdomain, out);
    nameCheck(namespace, [...p, 'namespace'], isDNS1123Label, out);
    return { hostIP, podIP, name, namespace };
  });
}

/** A port number as the CRD bounds it: an integer from 0 to 65535 (a string is refused, never coerced). */
function readPortNumber(value: unknown, path: Path, out: FieldError[]): number | undefined {
  const n = readInteger(value, path, out);
  if (n === undefined) return undefined;
  if (n < 0 || n > 65535) {
    out.push(invalid(path, n, 'must be between 0 and 65535, inclusive'));
    return undefined;
  }
  return n;
}

/** A port as written; the protocol is any string here (the CRD's type), checked for enforcement later. */
interface PortObject {
  readonly protocol?: string;
  readonly port?: number;
  readonly endPort?: number;
}

function readPorts(raw: unknown, path: Path, out: FieldError[]): PortObject[] | undefined {
  const list = readList(raw, path, out);
  return list?.map((item, i) => {
    const p = [...path, i];
    const o = readObject(item, p, out) ?? {};
    const protocol = readString(o.protocol, [...p, 'protocol'], out);
    const port = readPortNumber(o.port, [...p, 'port'], out);
    const endPort = readPortNumber(o.endPort, [...p, 'endPort'], out);
    return { ...(protocol !== undefined ? { protocol } : {}), ...(port !== undefined ? { port } : {}), ...(endPort !== undefined ? { endPort } : {}) };
  });
}

interface EntryObject {
  readonly cidr?: string;
  readonly except?: readonly string[];
  readonly domainName?: string;
  readonly ports?: readonly PortObject[];
}

function readEntry(o: JsonObject, p: Path, withExcept: boolean, out: FieldError[]): EntryObject {
  const cidr = readCidr(o.cidr, [...p, 'cidr'], out);
  const domainName = readString(o.domainName, [...p, 'domainName'], out);
  if (domainName !== undefined && !DOMAIN_NAME.test(domainName)) out.push(invalid([...p, 'domainName'], domainName, `should match '${DOMAIN_NAME.source}'`));
  let except: string[] | undefined;
  if (withExcept) {
    const list = readList(o.except, [...p, 'except'], out);
    except = list?.flatMap((x, j) => {
      const c = readCidr(x, [...p, 'except', j], out);
      if (c !== undefined && cidr !== undefined && familyOf(c) !== familyOf(cidr)) {
        out.push(invalid([...p, 'except', j], c, `must be of the same IP family as cidr ${JSON.stringify(cidr)}`));
        return [];
      }
      return c === undefined ? [] : [c];
    });
  }
  const ports = readPorts(o.ports, [...p, 'ports'], out);
  return {
    ...(cidr !== undefined ? { cidr } : {}),
    ...(except && except.length > 0 ? { except } : {}),
    ...(domainName !== undefined ? { domainName } : {}),
    ...(ports && ports.length > 0 ? { ports } : {}),
  };
}

function readEntries<T>(raw: unknown, path: Path, out: FieldError[], read: (o: JsonObject, p: Path) => T): T[] | undefined {
  const list = readList(raw, path, out);
  return list?.map((item, i) => {
    const p = [...path, i];
    if (!isObject(item)) {
      out.push(invalid(p, item, 'must be an object'));
      return read({}, p);
    }
    return read(item, p);
  });
}

function readSelector(raw: unknown, path: Path, out: FieldError[]): LabelSelector | undefined {
  if (raw === undefined || raw === null) return undefined;
  out.push(...validateLabelSelector(raw, path));
  return raw as LabelSelector;
}

function checkEnvelope(raw: unknown, kind: string, out: FieldError[]): JsonObject {
  if (!isObject(raw)) {
    out.push(invalid([], raw, `must be a ${kind} object`));
    return {};
  }
  if (raw.apiVersion !== API_VERSION) out.push(notSupported(['apiVersion'], raw.apiVersion, [API_VERSION]));
  if (raw.kind !== kind) out.push(notSupported(['kind'], raw.kind, [kind]));
  const spec = readObject(raw.spec, ['spec'], out);
  if (!spec) out.push(required(['spec']));
  return spec ?? {};
}

/**
 * Validates a PolicyEndpoint as the CRD does (plus port bounds) and rebuilds it from its known fields.
 * @example validatePolicyEndpoint(JSON.parse(text)).errors // [] when valid
 */
export function validatePolicyEndpoint(raw: unknown): Checked<PolicyEndpointObject> {
  const out: FieldError[] = [];
  const spec = checkEnvelope(raw, 'PolicyEndpoint', out);
  const metadata = readMetadata(isObject(raw) ? raw.metadata : undefined, true, out);
  const ref = readObject(spec.policyRef, ['spec', 'policyRef'], out);
  if (!ref) out.push(required(['spec', 'policyRef']));
  const refName = ref ? requiredString(ref, 'name', ['spec', 'policyRef'], out) : undefined;
  const refNamespace = ref ? requiredString(ref, 'namespace', ['spec', 'policyRef'], out) : undefined;
  const podSelector = readSelector(spec.podSelector, ['spec', 'podSelector'], out);
  const isolation = readList(spec.podIsolation, ['spec', 'podIsolation'], out)?.flatMap((d, i): TrafficDirection[] => {
    if (d === 'Ingress' || d === 'Egress') return [d];
    out.push(notSupported(['spec', 'podIsolation', i], d, ['Ingress', 'Egress']));
    return [];
  });
  const pods = readPodEndpoints(spec.podSelectorEndpoints, ['spec', 'podSelectorEndpoints'], out);
  const entries = (dir: 'ingress' | 'egress') => readEntries(spec[dir], ['spec', dir], out, (o, p) => readEntry(o, p, true, out));
  const ingress = entries('ingress');
  const egress = entries('egress');
  return result(out, () => ({
    apiVersion: API_VERSION,
    kind: 'PolicyEndpoint',
    metadata,
    spec: {
      policyRef: { name: refName!, namespace: refNamespace! },
      ...(podSelector ? { podSelector } : {}),
      ...(isolation ? { podIsolation: isolation } : {}),
      ...(pods ? { podSelectorEndpoints: pods } : {}),
      ...(ingress ? { ingress: ingress as EndpointInfoObject[] } : {}),
      ...(egress ? { egress: egress as EndpointInfoObject[] } : {}),
    },
  }));
}

/** A ClusterPolicyEndpoint as written: its entries' protocols are any string until {@link enforceable} checks them. */
export type ClusterPolicyEndpointObject = ClusterPolicyEndpoint;

function readSubject(raw: unknown, out: FieldError[]): ClusterSubject | undefined {
  const path = ['spec', 'subject'];
  const subject = readObject(raw, path, out);
  if (!subject) {
    out.push(required(path));
    return undefined;
  }
  const set = ['namespaces', 'pods'].filter((k) => subject[k] !== undefined && subject[k] !== null);
  const unknown = Object.keys(subject).filter((k) => k !== 'namespaces' && k !== 'pods');
  if (set.length + unknown.length !== 1) {
    out.push(invalid(path, raw, 'must have exactly one of "namespaces", "pods" (minProperties 1, maxProperties 1)'));
    return undefined;
  }
  if (set[0] === 'namespaces') {
    const namespaces = readSelector(subject.namespaces, [...path, 'namespaces'], out);
    return namespaces ? { namespaces } : undefined;
  }
  if (set[0] === 'pods') {
    const pods = readObject(subject.pods, [...path, 'pods'], out);
    if (!pods) return undefined;
    for (const key of ['namespaceSelector', 'podSelector']) if (pods[key] === undefined || pods[key] === null) out.push(required([...path, 'pods', key]));
    const namespaceSelector = readSelector(pods.namespaceSelector, [...path, 'pods', 'namespaceSelector'], out);
    const podSelector = readSelector(pods.podSelector, [...path, 'pods', 'podSelector'], out);
    return namespaceSelector && podSelector ? { pods: { namespaceSelector, podSelector } } : undefined;
  }
  return undefined;
}

/**
 * Validates a ClusterPolicyEndpoint as AWS's CRD does (plus port bounds) and rebuilds it from its known fields.
 * @example validateClusterPolicyEndpoint(obj).errors.map((e) => e.message)
 */
export function validateClusterPolicyEndpoint(raw: unknown): Checked<ClusterPolicyEndpointObject> {
  const out: FieldError[] = [];
  const spec = checkEnvelope(raw, 'ClusterPolicyEndpoint', out);
  const metadata = readMetadata(isObject(raw) ? raw.metadata : undefined, false, out);
  const ref = readObject(spec.policyRef, ['spec', 'policyRef'], out);
  if (!ref) out.push(required(['spec', 'policyRef']));
  const refName = ref ? requiredString(ref, 'name', ['spec', 'policyRef'], out) : undefined;
  const tier = readString(spec.tier, ['spec', 'tier'], out);
  if (spec.tier === undefined || spec.tier === null) out.push(required(['spec', 'tier']));
  else if (tier !== undefined && tier !== 'Admin' && tier !== 'Baseline') out.push(notSupported(['spec', 'tier'], tier, ['Admin', 'Baseline']));
  const priority = readInteger(spec.priority, ['spec', 'priority'], out);
  if (spec.priority === undefined || spec.priority === null) out.push(required(['spec', 'priority']));
  const subject = readSubject(spec.subject, out);
  const pods = readPodEndpoints(spec.podSelectorEndpoints, ['spec', 'podSelectorEndpoints'], out);
  const entries = (dir: 'ingress' | 'egress') =>
    readEntries(spec[dir], ['spec', dir], out, (o, p) => {
      const action = readString(o.action, [...p, 'action'], out);
      if (o.action === undefined || o.action === null) out.push(required([...p, 'action']));
      else if (action !== undefined && action !== 'Accept' && action !== 'Deny' && action !== 'Pass') out.push(notSupported([...p, 'action'], action, ['Accept', 'Deny', 'Pass']));
      return { ...readEntry(o, p, false, out), action } as unknown as ClusterEndpointInfo;
    });
  const ingress = entries('ingress');
  const egress = entries('egress');
  return result(out, () => ({
    apiVersion: API_VERSION,
    kind: 'ClusterPolicyEndpoint',
    metadata,
    spec: {
      policyRef: { name: refName! },
      tier: tier as 'Admin' | 'Baseline',
      priority: priority!,
      subject: subject!,
      ...(pods ? { podSelectorEndpoints: pods } : {}),
      ...(ingress ? { ingress } : {}),
      ...(egress ? { egress } : {}),
    },
  }));
}

// ---------------------------------------------------------------- what the agent can enforce

/** An entry the agent leaves out, and why. */
export interface UnenforceableEntry {
  /** `PolicyEndpoint ns/name` or `ClusterPolicyEndpoint name`. */
  readonly object: string;
  /** Field path of the entry, e.g. `spec.egress[2]`. */
  readonly path: string;
  readonly reason: string;
}

function whyUnenforceable(e: EntryObject): string | undefined {
  if (e.domainName !== undefined && e.cidr !== undefined) return 'has both cidr and domainName (mutually exclusive)';
  if (e.domainName !== undefined) return `domainName ${JSON.stringify(e.domainName)}: the agent does not resolve DNS names`;
  if (e.cidr === undefined) return 'has no cidr';
  for (const [i, p] of (e.ports ?? []).entries()) {
    if (p.protocol !== undefined && !ENFORCED_PROTOCOLS.includes(p.protocol)) return `ports[${i}].protocol ${JSON.stringify(p.protocol)}: only TCP, UDP and SCTP are enforced`;
    if (p.endPort !== undefined && p.port === undefined) return `ports[${i}]: endPort without port`;
    if (p.endPort !== undefined && p.port !== undefined && p.endPort < p.port) return `ports[${i}]: endPort ${p.endPort} is below port ${p.port}`;
  }
  return undefined;
}

function objectName(kind: string, meta: ObjectMeta): string {
  return `${kind} ${meta.namespace ? `${meta.namespace}/` : ''}${meta.name ?? ''}`;
}

function keep<E extends EntryObject>(kind: string, meta: ObjectMeta, dir: string, entries: readonly E[] | undefined, dropped: UnenforceableEntry[]): E[] | undefined {
  if (!entries) return undefined;
  return entries.filter((e, i) => {
    const reason = whyUnenforceable(e);
    if (reason !== undefined) dropped.push({ object: objectName(kind, meta), path: formatPath(['spec', dir, i]), reason });
    return reason === undefined;
  });
}

/**
 * The part of a validated object the agent enforces, and the entries it leaves out. Dropping an entry only ever takes
 * away what it would have matched: an Accept entry fewer allows less; a dropped Deny or Pass entry is not enforced,
 * which is why each one is named (and counted by the agent's `palisade_agent_unenforceable_entries`).
 */
export function enforceable(o: PolicyEndpointObject): { object: PolicyEndpoint; dropped: UnenforceableEntry[] };
export function enforceable(o: ClusterPolicyEndpointObject): { object: ClusterPolicyEndpoint; dropped: UnenforceableEntry[] };
export function enforceable(o: PolicyEndpointObject | ClusterPolicyEndpointObject): { object: PolicyEndpoint | ClusterPolicyEndpoint; dropped: UnenforceableEntry[] } {
  const dropped: UnenforceableEntry[] = [];
  const ingress = keep(o.kind, o.metadata, 'ingress', o.spec.ingress as readonly EntryObject[] | undefined, dropped);
  const egress = keep(o.kind, o.metadata, 'egress', o.spec.egress as readonly EntryObject[] | undefined, dropped);
  const spec = { ...o.spec, ...(ingress ? { ingress } : {}), ...(egress ? { egress } : {}) };
  return { object: { ...o, spec } as PolicyEndpoint | ClusterPolicyEndpoint, dropped };
}

// ---------------------------------------------------------------- the source boundary

/** One decoded object and where it came from (a file, or the API server). */
export interface RawEndpointObject {
  readonly value: unknown;
  /** For the error: a file name, or e.g. `the API server`. */
  readonly source: string;
  /** The object's line in its file, when known. */
  readonly line?: number;
  /** Finds the line of a field path inside the object, when the source knows (a YAML file does). */
  readonly lineOf?: (path: readonly PathSegment[]) => number | undefined;
}

/** What a source hands the agent: only valid objects with only enforceable entries, and what it left out. */
export interface CheckedEndpoints {
  readonly policyEndpoints: PolicyEndpoint[];
  readonly clusterPolicyEndpoints: ClusterPolicyEndpoint[];
  /** Objects refused, one diagnostic per field error (file:line, object, field path, what is wrong). */
  readonly errors: Diagnostic[];
  readonly unenforceable: UnenforceableEntry[];
}

function rawName(value: unknown): string {
  if (!isObject(value)) return '';
  const meta = isObject(value.metadata) ? value.metadata : {};
  // Names as written may be anything: quoted unless plain, so an error stays on one line.
  const show = (v: unknown) => (typeof v === 'string' && /^[\w.-]+$/.test(v) ? v : JSON.stringify(v) ?? 'null');
  const ns = meta.namespace !== undefined ? `${show(meta.namespace)}/` : '';
  return `${typeof value.kind === 'string' ? value.kind : 'object'} ${ns}${meta.name !== undefined ? show(meta.name) : '(no name)'}`;
}

/**
 * Validates every PolicyEndpoint and ClusterPolicyEndpoint of a source (other kinds are skipped) and keeps what the
 * agent enforces.
 * @example
 * const checked = checkEndpointObjects([{ value: obj, source: 'pe.yaml', line: 1 }]);
 * if (checked.errors.length > 0) console.error(checked.errors.map(formatDiagnostic).join('\n'));
 */
export function checkEndpointObjects(items: readonly RawEndpointObject[]): CheckedEndpoints {
  const out: CheckedEndpoints = { policyEndpoints: [], clusterPolicyEndpoints: [], errors: [], unenforceable: [] };
  for (const item of items) {
    const kind = isObject(item.value) ? item.value.kind : undefined;
    if (kind !== 'PolicyEndpoint' && kind !== 'ClusterPolicyEndpoint') continue;
    const checked = kind === 'PolicyEndpoint' ? validatePolicyEndpoint(item.value) : validateClusterPolicyEndpoint(item.value);
    if (!checked.object) {
      for (const e of checked.errors) {
        const line = item.lineOf?.(e.path) ?? item.line;
        out.errors.push({
          severity: 'error',
          message: e.message,
          pos: { file: item.source, line: line ?? 0, column: line === undefined ? 0 : 1 },
          object: rawName(item.value),
          path: formatPath(e.path),
        });
      }
      continue;
    }
    if (checked.object.kind === 'PolicyEndpoint') {
      const { object, dropped } = enforceable(checked.object);
      out.policyEndpoints.push(object);
      out.unenforceable.push(...dropped);
    } else {
      const { object, dropped } = enforceable(checked.object);
      out.clusterPolicyEndpoints.push(object);
      out.unenforceable.push(...dropped);
    }
  }
  return out;
}
