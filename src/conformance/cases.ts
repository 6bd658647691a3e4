/**
 * Conformance cases as data: the shared topologies and the per-case files under `conformance/`, read into plain objects
 * and checked for shape, and the expected verdict of every cell a matrix expectation covers.
 *
 * The format is described in `conformance/README.md`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PROTOCOLS, type Protocol } from '../api/types.js';
import type { EndpointPort } from '../model/types.js';

// ---------------------------------------------------------------- types

/** A namespace of a topology. */
export interface TopologyNamespace {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A pod of a topology, with the ports it serves and a fixed IP so ipBlock cases can name it. */
export interface TopologyPod {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ips: readonly string[];
  /** Served ports; `name` only where the upstream pod declares a named container port. */
  readonly ports: readonly EndpointPort[];
}

/** The namespaces and pods every case of one suite starts from. */
export interface Topology {
  readonly file: string;
  readonly description?: string;
  readonly namespaces: readonly TopologyNamespace[];
  readonly pods: readonly TopologyPod[];
}

/** Where a case comes from upstream. */
export interface UpstreamRef {
  readonly repository: string;
  readonly file: string;
  /** The upstream test (and sub-test) the case transcribes. */
  readonly test: string;
  /** A tag or branch when the case follows a release rather than the default branch. */
  readonly ref?: string;
}

/**
 * One end of an override: `ns/pod`, where either part may be `*`; a bare `*` is every pod.
 * @example "x/a", "x/*", "*\/a", "*"
 */
export type PodPattern = string;

/** Sets the expected verdict of every (from, to) cell both patterns match. */
export interface Override {
  readonly from: PodPattern;
  readonly to: PodPattern;
  readonly allowed: boolean;
}

/** The expected verdict of every pod pair on one protocol and port: a default, then overrides applied in order. */
export interface MatrixExpectation {
  readonly protocol: Protocol;
  readonly port: number;
  readonly default: 'allow' | 'deny';
  readonly overrides: readonly Override[];
}

/** One probed connection and its expected verdict. */
export interface FlowExpectation {
  /** A pod id, `ns/name`. */
  readonly from: string;
  /** A pod id, `ns/name`. */
  readonly to: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly allowed: boolean;
}

/** Names an object to delete. `namespace` only for namespaced kinds. */
export interface ObjectRef {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** Label changes on a namespace: merged into its labels; a `null` value removes the key. */
export interface NamespaceLabelChange {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string | null>>;
}

/** Label changes on a pod (`ns/name`): merged into its labels; a `null` value removes the key. */
export interface PodLabelChange {
  readonly pod: string;
  readonly labels: Readonly<Record<string, string | null>>;
}

/** A Kubernetes object as written in a case, kept as plain data for the API loader to read. */
export type ManifestObject = Readonly<Record<string, unknown>> & {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
};

/**
 * One step of a case. Its changes apply in this order — delete, apply (create or replace by kind, namespace and name),
 * namespace labels, pod labels — and then every expectation must hold.
 */
export interface CaseStep {
  readonly description?: string;
  readonly delete: readonly ObjectRef[];
  readonly apply: readonly ManifestObject[];
  readonly labelNamespace: readonly NamespaceLabelChange[];
  readonly labelPod: readonly PodLabelChange[];
  readonly expect: readonly MatrixExpectation[];
  readonly flows: readonly FlowExpectation[];
}

export interface ConformanceCase {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  /** The protocols the case probes. */
  readonly protocols: readonly Protocol[];
  /**
   * The pods the current upstream test creates. Informational: matrix expectations are written to hold over every pod
   * of the topology.
   */
  readonly pods?: readonly string[];
  readonly upstream: UpstreamRef;
  readonly steps: readonly CaseStep[];
}

/** A case file or topology file that does not have the documented shape. */
export class CaseFormatError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${file}: ${path ? `${path}: ` : ''}${problem}`);
    this.name = 'CaseFormatError';
  }
}

// ---------------------------------------------------------------- loading

/**
 * Reads a topology file.
 * @throws CaseFormatError when the file is not valid YAML or not of the topology shape.
 */
export function loadTopology(file: string): Topology {
  const r = new Reader(file, parseFile(file));
  const root = r.object(r.root, '');
  r.only(root, '', ['description', 'namespaces', 'pods']);
  const namespaces = r.array(root.namespaces, 'namespaces').map((n, i) => {
    const at = `namespaces[${i}]`;
    const o = r.object(n, at);
    r.only(o, at, ['name', 'labels']);
    return { name: r.string(o.name, `${at}.name`), labels: r.labels(o.labels, `${at}.labels`) };
  });
  const nsNames = new Set(namespaces.map((n) => n.name));
  const pods = r.array(root.pods, 'pods').map((p, i) => {
    const at = `pods[${i}]`;
    const o = r.object(p, at);
    r.only(o, at, ['namespace', 'name', 'labels', 'ips', 'ports']);
    const namespace = r.string(o.namespace, `${at}.namespace`);
    if (!nsNames.has(namespace)) r.fail(`${at}.namespace`, `namespace "${namespace}" is not declared under namespaces`);
    const ports = r.array(o.ports, `${at}.ports`).map((q, j): EndpointPort => {
      const pat = `${at}.ports[${j}]`;
      const po = r.object(q, pat);
      r.only(po, pat, ['name', 'port', 'protocol']);
      const port = { port: r.port(po.port, `${pat}.port`), protocol: r.protocol(po.protocol, `${pat}.protocol`) };
      return po.name === undefined ? port : { name: r.string(po.name, `${pat}.name`), ...port };
    });
    return {
      namespace,
      name: r.string(o.name, `${at}.name`),
      labels: r.labels(o.labels, `${at}.labels`),
      ips: r.array(o.ips, `${at}.ips`).map((v, j) => r.string(v, `${at}.ips[${j}]`)),
      ports,
    };
  });
  const ids = new Set<string>();
  pods.forEach((p, i) => {
    const id = `${p.namespace}/${p.name}`;
    if (ids.has(id)) r.fail(`pods[${i}]`, `pod ${id} is declared twice`);
    ids.add(id);
  });
  const description = root.description === undefined ? undefined : r.string(root.description, 'description');
  return { file, ...(description === undefined ? {} : { description }), namespaces, pods };
}

/**
 * Reads one case file.
 * @throws CaseFormatError when the file is not valid YAML or not of the case shape.
 * @example loadCase('conformance/k8s/tcp-default-deny-ingress.yaml').steps[0].expect[0].port // 80
 */
export function loadCase(file: string): ConformanceCase {
  const r = new Reader(file, parseFile(file));
  const root = r.object(r.root, '');
  r.only(root, '', ['name', 'description', 'protocols', 'pods', 'upstream', 'steps']);
  const up = r.object(root.upstream, 'upstream');
  r.only(up, 'upstream', ['repository', 'file', 'test', 'ref']);
  const upstream: UpstreamRef = {
    repository: r.string(up.repository, 'upstream.repository'),
    file: r.string(up.file, 'upstream.file'),
    test: r.string(up.test, 'upstream.test'),
    ...(up.ref === undefined ? {} : { ref: r.string(up.ref, 'upstream.ref') }),
  };
  const steps = r.array(root.steps, 'steps').map((s, i) => readStep(r, s, `steps[${i}]`));
  if (steps.length === 0) r.fail('steps', 'a case needs at least one step');
  if (!steps.some((s) => s.expect.length > 0 || s.flows.length > 0)) r.fail('steps', 'no step has an expectation');
  return {
    file,
    name: r.string(root.name, 'name'),
    description: r.string(root.description, 'description'),
    protocols: r.array(root.protocols, 'protocols').map((p, i) => r.protocol(p, `protocols[${i}]`)),
    ...(root.pods === undefined ? {} : { pods: r.array(root.pods, 'pods').map((p, i) => r.podId(p, `pods[${i}]`)) }),
    upstream,
    steps,
  };
}

/**
 * Reads every case under a directory (not recursive), skipping `topology.yaml`, sorted by file name.
 * @returns the topology of the directory and its cases.
 */
export function loadSuite(dir: string): { topology: Topology; cases: ConformanceCase[] } {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'topology.yaml')
    .sort()
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
  return { topology: loadTopology(join(dir, 'topology.yaml')), cases: files.map(loadCase) };
}

/**
 * Checks a case against the topology it runs on: every pod, namespace and pattern it names must exist, and every
 * probed port must be one the destination serves.
 * @returns the problems found, each a sentence naming the file and place; empty when consistent.
 */
export function checkAgainstTopology(c: ConformanceCase, topology: Topology): string[] {
  const problems: string[] = [];
  const pods = new Map(topology.pods.map((p) => [`${p.namespace}/${p.name}`, p]));
  const namespaces = new Set(topology.namespaces.map((n) => n.name));
  const say = (at: string, what: string) => problems.push(`${c.file}: ${at}: ${what}`);
  const pattern = (p: string, at: string) => {
    if (p === '*') return;
    const [ns, pod] = p.split('/');
    if (ns !== '*' && !namespaces.has(ns)) say(at, `namespace "${ns}" is not in the topology`);
    else if (ns !== '*' && pod !== '*' && !pods.has(p)) say(at, `pod "${p}" is not in the topology`);
    else if (ns === '*' && pod !== '*' && ![...pods.values()].some((q) => q.name === pod)) say(at, `no pod is named "${pod}"`);
  };
  const serves = (id: string, protocol: Protocol, port: number) =>
    pods.get(id)?.ports.some((p) => p.protocol === protocol && p.port === port) ?? false;
  c.pods?.forEach((p, i) => pods.has(p) || say(`pods[${i}]`, `pod "${p}" is not in the topology`));
  c.steps.forEach((s, i) => {
    const at = `steps[${i}]`;
    s.labelNamespace.forEach((l, j) => namespaces.has(l.namespace) || say(`${at}.labelNamespace[${j}]`, `namespace "${l.namespace}" is not in the topology`));
    s.labelPod.forEach((l, j) => pods.has(l.pod) || say(`${at}.labelPod[${j}]`, `pod "${l.pod}" is not in the topology`));
    s.expect.forEach((e, j) => {
      e.overrides.forEach((o, k) => {
        pattern(o.from, `${at}.expect[${j}].overrides[${k}].from`);
        pattern(o.to, `${at}.expect[${j}].overrides[${k}].to`);
      });
      const silent = topology.pods.filter((p) => !serves(`${p.namespace}/${p.name}`, e.protocol, e.port));
      if (silent.length > 0) say(`${at}.expect[${j}]`, `${e.protocol}/${e.port} is not served by ${silent.map((p) => `${p.namespace}/${p.name}`).join(', ')}`);
    });
    s.flows.forEach((f, j) => {
      for (const end of ['from', 'to'] as const) if (!pods.has(f[end])) say(`${at}.flows[${j}].${end}`, `pod "${f[end]}" is not in the topology`);
      if (pods.has(f.to) && !serves(f.to, f.protocol, f.port)) say(`${at}.flows[${j}]`, `${f.to} does not serve ${f.protocol}/${f.port}`);
    });
  });
  return problems;
}

// ---------------------------------------------------------------- expectations

/** The key of one matrix cell: `from -> to protocol/port`, e.g. `x/a -> y/b TCP/80`. */
export function cellKey(from: string, to: string, protocol: Protocol, port: number): string {
  return `${from} -> ${to} ${protocol}/${port}`;
}

/**
 * Whether a pod pattern matches a pod id.
 * @example matchesPattern('x/*', 'x/b') // true
 */
export function matchesPattern(pattern: PodPattern, podId: string): boolean {
  if (pattern === '*') return true;
  const [pn, pp] = pattern.split('/');
  const [n, p] = podId.split('/');
  return (pn === '*' || pn === n) && (pp === '*' || pp === p);
}

/**
 * The expected verdict of every cell a step's matrix expectations cover: for each expectation, every ordered pair of
 * distinct pods starts at the default and each override that matches the pair, in order, sets it. A pod to itself
 * (loopback) is never a cell.
 * @param pods pod ids, `ns/name`.
 * @returns cellKey → allowed.
 * @example expectedMatrix(step, ['x/a', 'x/b']).get(cellKey('x/b', 'x/a', 'TCP', 80))
 */
export function expectedMatrix(step: Pick<CaseStep, 'expect'>, pods: readonly string[]): Map<string, boolean> {
  const cells = new Map<string, boolean>();
  for (const e of step.expect) {
    for (const from of pods) {
      for (const to of pods) {
        if (from === to) continue;
        let allowed = e.default === 'allow';
        for (const o of e.overrides) if (matchesPattern(o.from, from) && matchesPattern(o.to, to)) allowed = o.allowed;
        cells.set(cellKey(from, to, e.protocol, e.port), allowed);
      }
    }
  }
  return cells;
}

// ---------------------------------------------------------------- reading helpers

function parseFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CaseFormatError(file, '', `cannot read: ${(err as Error).message}`);
  }
  try {
    return parse(text);
  } catch (err) {
    throw new CaseFormatError(file, '', `not valid YAML: ${(err as Error).message}`);
  }
}

function readStep(r: Reader, value: unknown, at: string): CaseStep {
  const s = r.object(value, at);
  r.only(s, at, ['description', 'delete', 'apply', 'labelNamespace', 'labelPod', 'expect', 'flows']);
  const list = (key: string) => (s[key] === undefined ? [] : r.array(s[key], `${at}.${key}`));
  return {
    ...(s.description === undefined ? {} : { description: r.string(s.description, `${at}.description`) }),
    delete: list('delete').map((d, i) => {
      const p = `${at}.delete[${i}]`;
      const o = r.object(d, p);
      r.only(o, p, ['kind', 'name', 'namespace']);
      return {
        kind: r.string(o.kind, `${p}.kind`),
        name: r.string(o.name, `${p}.name`),
        ...(o.namespace === undefined ? {} : { namespace: r.string(o.namespace, `${p}.namespace`) }),
      };
    }),
    apply: list('apply').map((m, i) => r.manifest(m, `${at}.apply[${i}]`)),
    labelNamespace: list('labelNamespace').map((l, i) => {
      const p = `${at}.labelNamespace[${i}]`;
      const o = r.object(l, p);
      r.only(o, p, ['namespace', 'labels']);
      return { namespace: r.string(o.namespace, `${p}.namespace`), labels: r.labelChanges(o.labels, `${p}.labels`) };
    }),
    labelPod: list('labelPod').map((l, i) => {
      const p = `${at}.labelPod[${i}]`;
      const o = r.object(l, p);
      r.only(o, p, ['pod', 'labels']);
      return { pod: r.podId(o.pod, `${p}.pod`), labels: r.labelChanges(o.labels, `${p}.labels`) };
    }),
    expect: list('expect').map((e, i) => {
      const p = `${at}.expect[${i}]`;
      const o = r.object(e, p);
      r.only(o, p, ['protocol', 'port', 'default', 'overrides']);
      if (o.default !== 'allow' && o.default !== 'deny') r.fail(`${p}.default`, `expected allow or deny, got ${show(o.default)}`);
      return {
        protocol: r.protocol(o.protocol, `${p}.protocol`),
        port: r.port(o.port, `${p}.port`),
        default: o.default as 'allow' | 'deny',
        overrides: (o.overrides === undefined ? [] : r.array(o.overrides, `${p}.overrides`)).map((v, j) => {
          const q = `${p}.overrides[${j}]`;
          const ov = r.object(v, q);
          r.only(ov, q, ['from', 'to', 'allowed']);
          return { from: r.pattern(ov.from, `${q}.from`), to: r.pattern(ov.to, `${q}.to`), allowed: r.boolean(ov.allowed, `${q}.allowed`) };
        }),
      };
    }),
    flows: list('flows').map((f, i) => {
      const p = `${at}.flows[${i}]`;
      const o = r.object(f, p);
      r.only(o, p, ['from', 'to', 'protocol', 'port', 'allowed']);
      return {
        from: r.podId(o.from, `${p}.from`),
        to: r.podId(o.to, `${p}.to`),
        protocol: r.protocol(o.protocol, `${p}.protocol`),
        port: r.port(o.port, `${p}.port`),
        allowed: r.boolean(o.allowed, `${p}.allowed`),
      };
    }),
  };
}

type Obj = Record<string, unknown>;

function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

/** Typed access to parsed YAML that fails with the file and path of the first problem. */
class Reader {
  constructor(
    readonly file: string,
    readonly root: unknown,
  ) {}

  fail(path: string, problem: string): never {
    throw new CaseFormatError(this.file, path, problem);
  }

  object(v: unknown, at: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(at, `expected a mapping, got ${show(v)}`);
    return v as Obj;
  }

  /** Rejects keys outside `allowed`, so a misspelt field is an error rather than silently ignored. */
  only(o: Obj, at: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(at ? `${at}.${k}` : k, `unknown field; expected one of ${allowed.join(', ')}`);
    }
  }

  array(v: unknown, at: string): unknown[] {
    if (!Array.isArray(v)) this.fail(at, `expected a list, got ${show(v)}`);
    return v;
  }

  string(v: unknown, at: string): string {
    if (typeof v !== 'string' || v === '') this.fail(at, `expected a non-empty string, got ${show(v)}`);
    return v;
  }

  boolean(v: unknown, at: string): boolean {
    if (typeof v !== 'boolean') this.fail(at, `expected true or false, got ${show(v)}`);
    return v;
  }

  port(v: unknown, at: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) this.fail(at, `expected a port number 1-65535, got ${show(v)}`);
    return v;
  }

  protocol(v: unknown, at: string): Protocol {
    if (!PROTOCOLS.includes(v as Protocol)) this.fail(at, `expected one of ${PROTOCOLS.join(', ')}, got ${show(v)}`);
    return v as Protocol;
  }

  podId(v: unknown, at: string): string {
    const s = this.string(v, at);
    if (!/^[^/*\s]+\/[^/*\s]+$/.test(s)) this.fail(at, `expected a pod id namespace/name, got ${show(v)}`);
    return s;
  }

  pattern(v: unknown, at: string): PodPattern {
    const s = this.string(v, at);
    if (s !== '*' && !/^([^/*\s]+|\*)\/([^/*\s]+|\*)$/.test(s)) this.fail(at, `expected "*" or namespace/pod where either part may be "*", got ${show(v)}`);
    return s;
  }

  labels(v: unknown, at: string): Record<string, string> {
    const o = this.object(v ?? {}, at);
    for (const [k, val] of Object.entries(o)) if (typeof val !== 'string') this.fail(`${at}.${k}`, `expected a string label value, got ${show(val)}`);
    return o as Record<string, string>;
  }

  labelChanges(v: unknown, at: string): Record<string, string | null> {
    const o = this.object(v, at);
    for (const [k, val] of Object.entries(o)) {
      if (typeof val !== 'string' && val !== null) this.fail(`${at}.${k}`, `expected a string, or null to remove the label, got ${show(val)}`);
    }
    return o as Record<string, string | null>;
  }

  manifest(v: unknown, at: string): ManifestObject {
    const o = this.object(v, at);
    this.string(o.apiVersion, `${at}.apiVersion`);
    const kind = this.string(o.kind, `${at}.kind`);
    const meta = this.object(o.metadata, `${at}.metadata`);
    this.string(meta.name, `${at}.metadata.name`);
    if (kind === 'NetworkPolicy') this.string(meta.namespace, `${at}.metadata.namespace`);
    this.object(o.spec, `${at}.spec`);
    return o as ManifestObject;
  }
}
