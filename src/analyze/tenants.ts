/**
 * The tenants file: teams and the namespaces each owns, the shared services between them, internet egress per team and
 * the addresses always blocked. Read with positions (it is a manifest-shaped document, `kind: Tenants`), validated with
 * field errors in the apiserver's form, so a mistake reads `tenants.yaml:12:7: spec.teams[1].namespaces[0]: ...`.
 */
import type { Diagnostic, PathSegment } from '../api/diagnostics.js';
import { formatPath, InputError } from '../api/diagnostics.js';
import { loadManifests } from '../api/load.js';
import { PROTOCOLS, type Protocol } from '../api/types.js';
import {
  checkKnownFields,
  duplicate,
  invalid,
  isObject,
  notSupported,
  readBoolean,
  readInteger,
  readList,
  readObject,
  readString,
  required,
  tooFew,
  type FieldError,
  type Path,
} from '../api/validate-fields.js';
import { validateCIDR } from '../api/validate-ip.js';
import { validateLabels } from '../api/validate-meta.js';
import { isDNS1123Label } from '../api/validate-names.js';

export const TENANTS_API_VERSION = 'palisade.dev/v1alpha1';
export const TENANTS_KIND = 'Tenants';

/** The instance metadata address: blocked unless the file says otherwise. */
export const DEFAULT_BLOCKED: readonly string[] = ['169.254.169.254/32'];

/** One port (or range) of one protocol. */
export interface TenantPort {
  /** @default "TCP" */
  readonly protocol: Protocol;
  readonly port: number;
  readonly endPort?: number;
}

/** Which teams, on which ports. */
export interface Access {
  /** Team names, or every team. */
  readonly teams: '*' | readonly string[];
  /** Empty: every port of every protocol. */
  readonly ports: readonly TenantPort[];
}

export interface Team {
  readonly name: string;
  readonly namespaces: readonly string[];
  /** Egress to addresses outside the cluster, minus the blocked ones. @default false */
  readonly internet: boolean;
}

export interface SharedService {
  readonly name: string;
  readonly namespace: string;
  /** The service's pods; absent: every pod of its namespace. */
  readonly podLabels?: Readonly<Record<string, string>>;
  /** Teams whose pods may reach the service (egress from the team, ingress to the service). */
  readonly reachableFrom?: Access;
  /** Teams the service may reach (e.g. monitoring scraping everyone): ingress to the team from the service. */
  readonly reaches?: Access;
}

/** Where cluster DNS runs. */
export interface DnsService {
  /** @default "kube-system" */
  readonly namespace: string;
  /** @default { "k8s-app": "kube-dns" } */
  readonly podLabels: Readonly<Record<string, string>>;
}

/** A validated tenants file. */
export interface Tenants {
  readonly name: string;
  readonly teams: readonly Team[];
  readonly sharedServices: readonly SharedService[];
  readonly dns: DnsService;
  /** CIDRs no team may reach, even with internet egress. @default ["169.254.169.254/32"] */
  readonly blocked: readonly string[];
}

/** The teams an access names, resolved against the file's teams. */
export function teamsOf(access: Access | undefined, all: readonly Team[]): Team[] {
  if (!access) return [];
  return access.teams === '*' ? [...all] : all.filter((t) => (access.teams as readonly string[]).includes(t.name));
}

function readPorts(value: unknown, path: Path, out: FieldError[]): TenantPort[] {
  if (value === undefined || value === null) return [];
  const list = readList(value, path, out) ?? [];
  const ports: TenantPort[] = [];
  list.forEach((raw, i) => {
    const at = [...path, i];
    if (typeof raw === 'number') raw = { port: raw };
    const obj = readObject(raw, at, out);
    if (!obj) return;
    checkKnownFields(obj, ['port', 'protocol', 'endPort'], at, out);
    const port = readInteger(obj.port, [...at, 'port'], out);
    if (obj.port === undefined) out.push(required([...at, 'port']));
    else if (port !== undefined && (port < 1 || port > 65535)) out.push(invalid([...at, 'port'], port, 'must be between 1 and 65535, inclusive'));
    let protocol: Protocol = 'TCP';
    if (obj.protocol !== undefined) {
      const p = readString(obj.protocol, [...at, 'protocol'], out);
      if (p !== undefined && !(PROTOCOLS as readonly string[]).includes(p)) out.push(notSupported([...at, 'protocol'], p, PROTOCOLS));
      else if (p !== undefined) protocol = p as Protocol;
    }
    const endPort = obj.endPort === undefined ? undefined : readInteger(obj.endPort, [...at, 'endPort'], out);
    if (endPort !== undefined && port !== undefined && (endPort < port || endPort > 65535)) {
      out.push(invalid([...at, 'endPort'], endPort, 'must be at least port and at most 65535'));
    }
    if (port !== undefined && port >= 1 && port <= 65535) ports.push({ protocol, port, ...(endPort !== undefined && endPort > port ? { endPort } : {}) });
  });
  return ports;
}

function readAccess(value: unknown, path: Path, teamNames: ReadonlySet<string>, out: FieldError[]): Access | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = readObject(value, path, out);
  if (!obj) return undefined;
  checkKnownFields(obj, ['teams', 'ports'], path, out);
  let teams: '*' | string[] = [];
  if (obj.teams === '*') teams = '*';
  else if (obj.teams === undefined) out.push(required([...path, 'teams'], 'a list of team names, or "*" for every team'));
  else {
    const list = readList(obj.teams, [...path, 'teams'], out) ?? [];
    const names: string[] = [];
    list.forEach((t, i) => {
      const name = readString(t, [...path, 'teams', i], out);
      if (name === undefined) return;
      if (!teamNames.has(name)) out.push(notSupported([...path, 'teams', i], name, [...teamNames, '*']));
      else names.push(name);
    });
    if (list.length === 0) out.push(tooFew([...path, 'teams'], 1));
    teams = names;
  }
  return { teams, ports: readPorts(obj.ports, [...path, 'ports'], out) };
}

function readLabels(value: unknown, path: Path, out: FieldError[]): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  const errors = validateLabels(value, path);
  out.push(...errors);
  if (errors.length > 0 || !isObject(value)) return undefined;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

function checkName(value: string | undefined, path: Path, out: FieldError[]): void {
  if (value === undefined) return;
  for (const msg of isDNS1123Label(value)) out.push(invalid(path, value, msg));
}

/**
 * Validates a decoded tenants document.
 * @returns the tenants when there is no error, and every error and warning with its field path.
 */
export function validateTenants(value: unknown): { tenants?: Tenants; errors: FieldError[] } {
  const out: FieldError[] = [];
  const root = readObject(value, [], out);
  if (!root) return { errors: out };
  checkKnownFields(root, ['apiVersion', 'kind', 'metadata', 'spec'], [], out);
  if (root.apiVersion !== TENANTS_API_VERSION) out.push(notSupported(['apiVersion'], root.apiVersion, [TENANTS_API_VERSION]));
  if (root.kind !== TENANTS_KIND) out.push(notSupported(['kind'], root.kind, [TENANTS_KIND]));
  const metadata = isObject(root.metadata) ? root.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : 'tenants';
  const spec = root.spec === undefined ? (out.push(required(['spec'])), undefined) : readObject(root.spec, ['spec'], out);
  if (!spec) return { errors: out };
  checkKnownFields(spec, ['teams', 'sharedServices', 'dns', 'blocked'], ['spec'], out);

  // Teams first: shared services refer to them by name.
  const teams: Team[] = [];
  const owner = new Map<string, string>();
  const rawTeams = spec.teams === undefined ? (out.push(required(['spec', 'teams'], 'at least one team')), []) : (readList(spec.teams, ['spec', 'teams'], out) ?? []);
  if (spec.teams !== undefined && rawTeams.length === 0) out.push(tooFew(['spec', 'teams'], 1));
  const teamNames = new Set<string>();
  rawTeams.forEach((raw, i) => {
    const at: PathSegment[] = ['spec', 'teams', i];
    const obj = readObject(raw, at, out);
    if (!obj) return;
    checkKnownFields(obj, ['name', 'namespaces', 'internet'], at, out);
    const teamName = readString(obj.name, [...at, 'name'], out);
    if (obj.name === undefined) out.push(required([...at, 'name']));
    checkName(teamName, [...at, 'name'], out);
    if (teamName !== undefined && teamNames.has(teamName)) out.push(duplicate([...at, 'name'], teamName));
    if (teamName !== undefined) teamNames.add(teamName);
    const namespaces: string[] = [];
    const list = obj.namespaces === undefined ? (out.push(required([...at, 'namespaces'], 'the namespaces the team owns')), []) : (readList(obj.namespaces, [...at, 'namespaces'], out) ?? []);
    if (obj.namespaces !== undefined && list.length === 0) out.push(tooFew([...at, 'namespaces'], 1));
    list.forEach((n, j) => {
      const path = [...at, 'namespaces', j];
      const ns = readString(n, path, out);
      if (ns === undefined) return;
      checkName(ns, path, out);
      const other = owner.get(ns);
      if (other !== undefined) out.push(invalid(path, ns, `namespace already owned by team ${JSON.stringify(other)}; a namespace belongs to one team`));
      else owner.set(ns, teamName ?? `#${i}`);
      namespaces.push(ns);
    });
    const internet = obj.internet === undefined ? false : readBoolean(obj.internet, [...at, 'internet'], out) ?? false;
    if (teamName !== undefined) teams.push({ name: teamName, namespaces, internet });
  });

  const sharedServices: SharedService[] = [];
  const serviceNames = new Set<string>();
  const rawServices = spec.sharedServices === undefined ? [] : (readList(spec.sharedServices, ['spec', 'sharedServices'], out) ?? []);
  rawServices.forEach((raw, i) => {
    const at: PathSegment[] = ['spec', 'sharedServices', i];
    const obj = readObject(raw, at, out);
    if (!obj) return;
    checkKnownFields(obj, ['name', 'namespace', 'podSelector', 'reachableFrom', 'reaches'], at, out);
    const svcName = readString(obj.name, [...at, 'name'], out);
    if (obj.name === undefined) out.push(required([...at, 'name']));
    checkName(svcName, [...at, 'name'], out);
    if (svcName !== undefined && serviceNames.has(svcName)) out.push(duplicate([...at, 'name'], svcName));
    if (svcName !== undefined) serviceNames.add(svcName);
    const namespace = readString(obj.namespace, [...at, 'namespace'], out);
    if (obj.namespace === undefined) out.push(required([...at, 'namespace']));
    checkName(namespace, [...at, 'namespace'], out);
    const ownedBy = namespace !== undefined ? owner.get(namespace) : undefined;
    if (namespace !== undefined && ownedBy !== undefined) {
      out.push(invalid([...at, 'namespace'], namespace, `owned by team ${JSON.stringify(ownedBy)}; a shared service lives in a namespace no team owns`));
    }
    const podLabels = readLabels(obj.podSelector, [...at, 'podSelector'], out);
    const reachableFrom = readAccess(obj.reachableFrom, [...at, 'reachableFrom'], teamNames, out);
    const reaches = readAccess(obj.reaches, [...at, 'reaches'], teamNames, out);
    if (!reachableFrom && !reaches) out.push(required([...at, 'reachableFrom'], 'a shared service needs reachableFrom, reaches, or both'));
    if (svcName !== undefined && namespace !== undefined) {
      sharedServices.push({ name: svcName, namespace, ...(podLabels ? { podLabels } : {}), ...(reachableFrom ? { reachableFrom } : {}), ...(reaches ? { reaches } : {}) });
    }
  });

  let dns: DnsService = { namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } };
  if (spec.dns !== undefined) {
    const obj = readObject(spec.dns, ['spec', 'dns'], out);
    if (obj) {
      checkKnownFields(obj, ['namespace', 'podSelector'], ['spec', 'dns'], out);
      const namespace = obj.namespace === undefined ? dns.namespace : readString(obj.namespace, ['spec', 'dns', 'namespace'], out);
      checkName(namespace, ['spec', 'dns', 'namespace'], out);
      const podLabels = obj.podSelector === undefined ? dns.podLabels : readLabels(obj.podSelector, ['spec', 'dns', 'podSelector'], out);
      if (namespace !== undefined && podLabels !== undefined) dns = { namespace, podLabels };
    }
  }

  let blocked: string[] = [...DEFAULT_BLOCKED];
  if (spec.blocked !== undefined) {
    const list = readList(spec.blocked, ['spec', 'blocked'], out) ?? [];
    blocked = [];
    list.forEach((c, i) => {
      const cidr = readString(c, ['spec', 'blocked', i], out);
      if (cidr === undefined) return;
      // Blocked CIDRs become both ipBlock excepts and ClusterNetworkPolicy networks: the stricter (CEL) rules apply.
      const errs = validateCIDR(cidr, ['spec', 'blocked', i], 'cel');
      out.push(...errs);
      if (!errs.some((e) => e.severity !== 'warning')) blocked.push(cidr);
    });
  }

  const errors = out;
  if (errors.some((e) => e.severity !== 'warning')) return { errors };
  return { tenants: { name, teams, sharedServices, dns, blocked }, errors };
}

/**
 * Reads and validates a tenants file.
 * @throws InputError with one diagnostic per problem (file:line:column, field path, what is wrong).
 * @example const tenants = readTenants('examples/tenants/tenants.yaml');
 */
export function readTenants(file: string, readStdin?: () => string): { tenants: Tenants; warnings: Diagnostic[] } {
  const loaded = loadManifests([file], readStdin ? { readStdin } : {});
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new InputError(`cannot read the tenants file ${file}`, errors);
  if (loaded.documents.length !== 1) {
    throw new InputError(`the tenants file ${file} must hold exactly one document of kind ${TENANTS_KIND}, found ${loaded.documents.length}`);
  }
  const doc = loaded.documents[0];
  const { tenants, errors: fieldErrors } = validateTenants(doc.value);
  const diagnostics: Diagnostic[] = fieldErrors.map((e) => ({
    severity: e.severity ?? 'error',
    message: e.message,
    pos: doc.position(e.path),
    object: `${TENANTS_KIND} ${doc.name ?? '<unnamed>'}`,
    path: formatPath(e.path),
  }));
  if (!tenants) {
    const n = diagnostics.filter((d) => d.severity === 'error').length;
    throw new InputError(`${n} error${n === 1 ? '' : 's'} in the tenants file ${file}`, diagnostics);
  }
  return { tenants, warnings: diagnostics };
}
