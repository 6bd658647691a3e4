/**
 * AWS's PolicyEndpoints against the ones the engine says must exist. The AWS controller
 * (aws/amazon-network-policy-controller-k8s, `pkg/policyendpoints/manager.go`) names its objects by `generateName:
 * <policy>-`, splits a policy into chunks of at most `endpointChunkSize` entries per list, fills entries from a map
 * (so their order changes from write to write), keeps each rule's ports in the order the policy lists them, and stamps
 * `networking.k8s.aws/last-change-trigger-time`. None of that is meaning, so the comparison merges each policy's
 * chunks by `policyRef` (`mergePolicyEndpoints`) and compares unordered sets: selected pods, isolation, and per list
 * each (cidr, except, port) — ignoring names, suffixes, annotations and order.
 *
 * For every address or port one side has and the other lacks, the engine says what that does: the flows it opens
 * (AWS allows what the engine denies) or closes (AWS lacks what the engine allows), with the engine's reason.
 */
import { formatIP, ipBlockRanges, parseCIDR, parseIP, canonicalIP, type AddressRange } from '../api/ip.js';
import {
  mergeClusterPolicyEndpoints,
  mergePolicyEndpoints,
  ownerAwsGroup,
  type ClusterPolicyEndpoint,
  type PodEndpoint,
  type PolicyEndpoint,
  type PolicyEndpointPort,
} from '../api/policyendpoint.js';
import type { Protocol } from '../api/types.js';
import { AWS_API_GROUP } from '../api/aws-types.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../controller/resolve.js';
import type { Engine } from '../engine/engine.js';
import type { DirectionVerdict } from '../engine/types.js';
import { podsOfService } from '../controller/queries.js';
import type { ServiceInfo } from '../model/types.js';

export type PolicyStatus = 'equal' | 'differs' | 'missing' | 'unexpected';
export type Effect = 'opens' | 'closes' | 'none' | 'unknown';

/** One flow a difference changes, with the engine's verdict for the direction the entry governs. */
export interface AffectedFlow {
  readonly from: string;
  readonly to: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly direction: 'ingress' | 'egress';
  /** The engine's verdict for that direction. */
  readonly engine: 'allowed' | 'denied';
  readonly effect: Effect;
  /** The engine's reason, as `why` prints it. */
  readonly why: string;
}

/** Something one side has that the other lacks. `missing`: the engine expects it, AWS lacks it; `extra`: the reverse. */
export interface Difference {
  readonly list: 'ingress' | 'egress' | 'podSelectorEndpoints' | 'podIsolation';
  readonly change: 'missing' | 'extra';
  /** The address entry (ingress, egress), the pod (podSelectorEndpoints) or the direction (podIsolation). */
  readonly entry: string;
  readonly cidr?: string;
  readonly except?: readonly string[];
  /** Ports as `TCP 80`, `UDP 53-60`, `TCP all`, or `all`. */
  readonly ports?: readonly string[];
  readonly action?: string;
  readonly effect: Effect;
  readonly flows: readonly AffectedFlow[];
  /** When the effect is not a list of flows: what it means. */
  readonly note?: string;
}

export interface PolicyAudit {
  /** `namespace/name` for a NetworkPolicy, the name for an admin-tier policy. */
  readonly policy: string;
  readonly kind: string;
  readonly status: PolicyStatus;
  /** The AWS objects read for it. */
  readonly objects: readonly string[];
  readonly differences: readonly Difference[];
}

/** `-o json` of `palisade audit endpoints`. */
export interface EndpointsAudit {
  readonly policies: readonly PolicyAudit[];
}

/** How many flows each difference lists at most. */
const FLOW_LIMIT = 12;

// ---------------------------------------------------------------- normal forms

/** An address as both sides should agree on it: a host bare (`10.0.1.5`, as AWS writes pods), a CIDR canonical. */
export function normalAddress(text: string): string {
  const r = parseCIDR(text);
  if (!r) return canonicalIP(text);
  const bits = r.family === 4 ? 32 : 128;
  let size = 0;
  for (let span = r.last - r.first; span > 0n; span >>= 1n) size++;
  return size === 0 ? formatIP(r.family, r.first) : `${formatIP(r.family, r.first)}/${bits - size}`;
}

function portText(p: PolicyEndpointPort): string {
  const proto = p.protocol ?? 'TCP';
  if (p.port === undefined) return `${proto} all`;
  return p.endPort !== undefined && p.endPort !== p.port ? `${proto} ${p.port}-${p.endPort}` : `${proto} ${p.port}`;
}

interface Entry {
  readonly cidr: string;
  readonly except?: readonly string[];
  readonly ports?: readonly PolicyEndpointPort[];
  readonly action?: string;
}

/** An entry's address part: cidr, sorted excepts, and (cluster entries) the action. */
function addressKey(e: Entry): string {
  const except = [...(e.except ?? [])].map(normalAddress).sort();
  return `${normalAddress(e.cidr)}|${except.join(',')}|${e.action ?? ''}`;
}

/** The set of (address, port) atoms a list allows; an address with `all` keeps only that. */
function atoms(list: readonly Entry[]): Map<string, { entry: Entry; ports: Set<string> }> {
  const out = new Map<string, { entry: Entry; ports: Set<string> }>();
  for (const e of list) {
    const key = addressKey(e);
    const a = out.get(key) ?? { entry: e, ports: new Set<string>() };
    if (!e.ports || e.ports.length === 0) a.ports.add('all');
    else for (const p of e.ports) a.ports.add(portText(p));
    out.set(key, a);
  }
  for (const a of out.values()) if (a.ports.has('all')) a.ports = new Set(['all']);
  return out;
}

// ---------------------------------------------------------------- flows of a difference

/** An end to try for an entry; `service` when the entry is a Service's ClusterIP and the end one of its pods. */
interface Target {
  readonly address: string;
  readonly service?: ServiceInfo;
}

/**
 * Ends to try for an entry: a Service ClusterIP stands for the Service's pods (the AWS agent sees traffic before
 * DNAT, the engine the pod after it); another host is itself; a CIDR gives the pods inside it (a few) and one address
 * outside every pod.
 */
function sampleTargets(engine: Engine, cidr: string, except: readonly string[]): Target[] {
  const host = parseIP(cidr);
  if (host) {
    const ip = canonicalIP(cidr);
    const svc = engine.cluster.services.find((x) => x.clusterIPs.some((c) => canonicalIP(c) === ip));
    if (svc) {
      const pods = podsOfService(engine.cluster, svc).filter((p) => p.ips.length > 0);
      if (pods.length > 0) return pods.slice(0, 3).map((p) => ({ address: p.ips[0], service: svc }));
    }
    return [{ address: ip }];
  }
  const ranges: AddressRange[] = ipBlockRanges(cidr, except);
  const inside = (ip: string): boolean => {
    const a = parseIP(ip);
    return a !== undefined && ranges.some((r) => r.family === a.family && a.value >= r.first && a.value <= r.last);
  };
  const pods: Target[] = [];
  const podIPs = new Set<string>();
  for (const ep of engine.endpoints) {
    for (const ip of ep.ips) {
      podIPs.add(ip);
      if (pods.length < 3 && inside(ip)) pods.push({ address: ip });
    }
  }
  const outside = ranges.map((r) => formatIP(r.family, r.first)).find((ip) => !podIPs.has(ip));
  return [...pods, ...(outside ? [{ address: outside }] : [])];
}

/** The pod port a Service port reaches (its targetPort: a number, or a container port name on that pod). */
function targetPort(engine: Engine, target: Target, protocol: Protocol, port: number): number | undefined {
  const sp = target.service?.ports.find((x) => x.port === port && x.protocol === protocol);
  if (!target.service || !sp) return port;
  const t = sp.targetPort ?? sp.port;
  if (typeof t === 'number') return t;
  const pod = engine.endpoints.find((e) => e.ips.includes(target.address));
  return pod?.ports.find((c) => c.name === t && c.protocol === protocol)?.port;
}

function probePort(port: string): { protocol: Protocol; port: number } | undefined {
  if (port === 'all') return { protocol: 'TCP', port: 1 };
  const m = /^(TCP|UDP|SCTP) (all|\d+)/.exec(port);
  if (!m) return undefined;
  return { protocol: m[1] as Protocol, port: m[2] === 'all' ? 1 : Number(m[2]) };
}

function endId(engine: Engine, address: string): string | undefined {
  try {
    const r = engine.resolve(address);
    return r.kind === 'endpoint' ? r.endpoint.id : r.range.id;
  } catch {
    return undefined;
  }
}

/** The endpoint a pod IP is, when the cluster has it. */
function podId(engine: Engine, ip: string): string | undefined {
  try {
    const r = engine.resolve(ip);
    return r.kind === 'endpoint' ? r.endpoint.id : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the engine's allowing verdict rests on this policy alone (so without its entry the flow would close). */
function onlyThisPolicy(v: DirectionVerdict, policy: string): boolean {
  return v.rules.length > 0 && v.rules.filter((r) => r.action === 'Allow').every((r) => r.policy === policy);
}

function effectOf(v: DirectionVerdict, change: 'missing' | 'extra', action: string | undefined, policy: string): Effect {
  if (action === 'Pass') return 'unknown';
  // An allowing entry AWS has extra opens what the engine denies; one it lacks closes what the engine allows through
  // this policy. A Deny entry works the other way round.
  const allows = action === undefined || action === 'Accept' || action === 'Allow';
  const addsAllow = allows === (change === 'extra');
  if (addsAllow) return v.allowed ? 'none' : 'opens';
  if (!v.allowed) return 'none';
  return allows && !onlyThisPolicy(v, policy) ? 'none' : 'closes';
}

function entryFlows(
  engine: Engine,
  policy: string,
  subjects: readonly string[],
  dir: 'ingress' | 'egress',
  cidr: string,
  except: readonly string[],
  ports: readonly string[],
  change: 'missing' | 'extra',
  action: string | undefined,
): AffectedFlow[] {
  const flows: AffectedFlow[] = [];
  const peers = sampleTargets(engine, cidr, except).flatMap((t) => {
    const id = endId(engine, t.address);
    return id !== undefined ? [{ id, target: t }] : [];
  });
  for (const port of ports) {
    const probe = probePort(port);
    if (!probe) continue;
    for (const subject of subjects) {
      for (const { id: peer, target } of peers) {
        if (peer === subject || flows.length >= FLOW_LIMIT) continue;
        const to = dir === 'egress' ? targetPort(engine, target, probe.protocol, probe.port) : probe.port;
        if (to === undefined) continue;
        const flow = dir === 'ingress' ? { from: peer, to: subject, ...probe } : { from: subject, to: peer, protocol: probe.protocol, port: to };
        const v = engine.verdict(flow);
        const side = dir === 'ingress' ? v.ingress : v.egress;
        flows.push({ ...flow, direction: dir, engine: side.allowed ? 'allowed' : 'denied', effect: effectOf(side, change, action, policy), why: side.summary });
      }
    }
  }
  return flows;
}

function overall(flows: readonly AffectedFlow[]): Effect {
  if (flows.some((f) => f.effect === 'opens')) return 'opens';
  if (flows.some((f) => f.effect === 'closes')) return 'closes';
  if (flows.length === 0 || flows.every((f) => f.effect === 'unknown')) return 'unknown';
  return 'none';
}

// ---------------------------------------------------------------- one policy

interface Side {
  readonly pods: readonly PodEndpoint[];
  readonly isolation: readonly string[];
  readonly ingress: readonly Entry[];
  readonly egress: readonly Entry[];
}

function podKey(p: PodEndpoint): string {
  return `${p.namespace}/${p.name} ${canonicalIP(p.podIP)}`;
}

function compare(engine: Engine, policy: string, expected: Side, actual: Side): Difference[] {
  const diffs: Difference[] = [];
  const subjects = [...new Set(expected.pods.map((p) => podId(engine, p.podIP)).filter((x): x is string => x !== undefined))];
  // Pods: a pod AWS does not select escapes this policy there; one it selects extra gets the policy's isolation.
  const want = new Map(expected.pods.map((p) => [podKey(p), p]));
  const have = new Map(actual.pods.map((p) => [podKey(p), p]));
  for (const [k] of want) {
    if (!have.has(k)) diffs.push({ list: 'podSelectorEndpoints', change: 'missing', entry: k, effect: 'opens', flows: [], note: 'AWS does not apply this policy to the pod: its isolation and rules are not enforced there' });
  }
  for (const [k] of have) {
    if (!want.has(k)) diffs.push({ list: 'podSelectorEndpoints', change: 'extra', entry: k, effect: 'closes', flows: [], note: 'AWS applies this policy to a pod it does not select: the pod is isolated by it there' });
  }
  const wantIso = new Set(expected.isolation);
  const haveIso = new Set(actual.isolation);
  for (const d of wantIso) if (!haveIso.has(d)) diffs.push({ list: 'podIsolation', change: 'missing', entry: d, effect: 'opens', flows: [], note: `AWS does not isolate the selected pods for ${d}` });
  for (const d of haveIso) if (!wantIso.has(d)) diffs.push({ list: 'podIsolation', change: 'extra', entry: d, effect: 'closes', flows: [], note: `AWS isolates the selected pods for ${d}, the policy does not` });
  for (const dir of ['ingress', 'egress'] as const) {
    const w = atoms(expected[dir]);
    const h = atoms(actual[dir]);
    const emit = (change: 'missing' | 'extra', from: typeof w, other: typeof h) => {
      for (const [key, a] of from) {
        const o = other.get(key);
        const ports = [...a.ports].filter((p) => !o || !(o.ports.has(p) || o.ports.has('all')));
        if (ports.length === 0) continue;
        const cidr = normalAddress(a.entry.cidr);
        const except = [...(a.entry.except ?? [])].map(normalAddress).sort();
        const flows = entryFlows(engine, policy, subjects, dir, cidr, except, ports, change, a.entry.action);
        diffs.push({
          list: dir,
          change,
          entry: except.length > 0 ? `${cidr} except ${except.join(' ')}` : cidr,
          cidr,
          ...(except.length > 0 ? { except } : {}),
          ports,
          ...(a.entry.action !== undefined ? { action: a.entry.action } : {}),
          effect: subjects.length === 0 ? 'none' : overall(flows),
          flows,
          ...(subjects.length === 0 ? { note: 'the policy selects no pod with an IP' } : {}),
        });
      }
    };
    emit('missing', w, h);
    emit('extra', h, w);
  }
  return diffs;
}

function networkSide(pe: PolicyEndpoint | undefined): Side {
  return {
    pods: pe?.spec.podSelectorEndpoints ?? [],
    isolation: pe?.spec.podIsolation ?? [],
    ingress: pe?.spec.ingress ?? [],
    egress: pe?.spec.egress ?? [],
  };
}

function clusterSide(cpe: ClusterPolicyEndpoint | undefined): Side {
  const entries = (list: ClusterPolicyEndpoint['spec']['ingress']): Entry[] =>
    (list ?? []).map((e) => ({ cidr: e.cidr ?? `domain:${e.domainName ?? ''}`, ...(e.ports ? { ports: e.ports } : {}), action: e.action }));
  return { pods: cpe?.spec.podSelectorEndpoints ?? [], isolation: [], ingress: entries(cpe?.spec.ingress), egress: entries(cpe?.spec.egress) };
}

function byName<T>(list: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of list) {
    const k = key(x);
    out.set(k, [...(out.get(k) ?? []), x]);
  }
  return out;
}

/**
 * Compares the PolicyEndpoints (and ClusterPolicyEndpoints) that exist with the ones the engine says must exist.
 * @param engine the cluster the objects were resolved from (pods, policies).
 * @param policyEndpoints every PolicyEndpoint read, in any order and chunking.
 * @param clusterPolicyEndpoints every ClusterPolicyEndpoint read.
 * @returns one report per policy, NetworkPolicies then tier policies, by name.
 */
export function auditEndpoints(engine: Engine, policyEndpoints: readonly PolicyEndpoint[], clusterPolicyEndpoints: readonly ClusterPolicyEndpoint[] = []): EndpointsAudit {
  const policies: PolicyAudit[] = [];
  const names = (parts: readonly { metadata: { name?: string; generateName?: string } }[] | undefined) =>
    (parts ?? []).map((p) => p.metadata.name ?? `${p.metadata.generateName ?? ''}<generated>`).sort();
  // An AWS kind's objects (owner in networking.k8s.aws) are apart from an upstream policy's of the same name; objects
  // without an owner (as others may write them) belong to the policy of that name, upstream's first.
  const keyOf = <T extends PolicyEndpoint | ClusterPolicyEndpoint>(name: (o: T) => string, expected: ReadonlyMap<string, unknown>) => (o: T) => {
    const bare = name(o);
    if (o.metadata.ownerReferences?.length) return ownerAwsGroup(o) ? `${AWS_API_GROUP}:${bare}` : bare;
    return expected.has(bare) || !expected.has(`${AWS_API_GROUP}:${bare}`) ? bare : `${AWS_API_GROUP}:${bare}`;
  };
  const display = (key: string) => (key.startsWith(`${AWS_API_GROUP}:`) ? key.slice(AWS_API_GROUP.length + 1) : key);
  const kindOf = (key: string, owner: string | undefined, upstream: string) => {
    const aws = key.startsWith(`${AWS_API_GROUP}:`);
    return `${owner ?? upstream}${aws ? ` (${AWS_API_GROUP})` : ''}`;
  };

  const ref = (pe: PolicyEndpoint) => `${pe.spec.policyRef.namespace}/${pe.spec.policyRef.name}`;
  const expectedList = mergePolicyEndpoints(resolvePolicyEndpoints(engine));
  const expectedKey = keyOf(ref, new Map());
  const expected = new Map(expectedList.map((pe) => [expectedKey(pe), pe]));
  const peKey = keyOf(ref, expected);
  const actualParts = byName(policyEndpoints, peKey);
  const actual = new Map(mergePolicyEndpoints(policyEndpoints).map((pe) => [peKey(pe), pe]));
  for (const key of [...new Set([...expected.keys(), ...actual.keys()])].sort()) {
    const e = expected.get(key);
    const a = actual.get(key);
    const objects = names(actualParts.get(key));
    const kind = kindOf(key, key.startsWith(`${AWS_API_GROUP}:`) ? (e ?? actualParts.get(key)?.[0])?.metadata.ownerReferences?.[0]?.kind : undefined, 'NetworkPolicy');
    const policy = display(key);
    if (!a) policies.push({ policy, kind, status: 'missing', objects, differences: [] });
    else if (!e) policies.push({ policy, kind, status: 'unexpected', objects, differences: [] });
    else {
      const differences = compare(engine, policy, networkSide(e), networkSide(a));
      policies.push({ policy, kind, status: differences.length === 0 ? 'equal' : 'differs', objects, differences });
    }
  }
  const cref = (c: ClusterPolicyEndpoint) => c.spec.policyRef.name;
  const cexpectedList = mergeClusterPolicyEndpoints(resolveClusterPolicyEndpoints(engine));
  const cexpectedKey = keyOf(cref, new Map());
  const cexpected = new Map(cexpectedList.map((c) => [cexpectedKey(c), c]));
  const cpeKey = keyOf(cref, cexpected);
  const cparts = byName(clusterPolicyEndpoints, cpeKey);
  // Objects written by others may carry no owner reference: they merge by policy.
  const cactual = new Map([...cparts].map(([k, parts]) => [k, mergeClusterPolicyEndpoints(parts.map((p) => ({ ...p, metadata: { ...p.metadata, ownerReferences: [] } })))[0]]));
  for (const key of [...new Set([...cexpected.keys(), ...cactual.keys()])].sort()) {
    const e = cexpected.get(key);
    const a = cactual.get(key);
    const kind = kindOf(key, (e ?? cparts.get(key)?.[0])?.metadata.ownerReferences?.[0]?.kind, 'ClusterNetworkPolicy');
    const objects = names(cparts.get(key));
    const policy = display(key);
    if (!a) policies.push({ policy, kind, status: 'missing', objects, differences: [] });
    else if (!e) policies.push({ policy, kind, status: 'unexpected', objects, differences: [] });
    else {
      const differences = compare(engine, policy, clusterSide(e), clusterSide(a));
      policies.push({ policy, kind, status: differences.length === 0 ? 'equal' : 'differs', objects, differences });
    }
  }
  return { policies };
}

/** The text report: one line per policy, then each difference with the flows it opens or closes. */
export function renderEndpointsAudit(audit: EndpointsAudit): string {
  const lines: string[] = [];
  for (const p of audit.policies) {
    const what = p.kind === 'NetworkPolicy' ? `NetworkPolicy ${p.policy}` : `${p.kind} ${p.policy}`;
    const objs = p.objects.length > 0 ? ` (${p.objects.length} object${p.objects.length === 1 ? '' : 's'})` : '';
    const status =
      p.status === 'missing' ? 'missing: no PolicyEndpoint exists for it' : p.status === 'unexpected' ? 'unexpected: PolicyEndpoints exist for a policy the input does not have' : p.status;
    lines.push(`${what}: ${status}${objs}`);
    for (const d of p.differences) {
      const ports = d.ports ? ` ${d.ports.join(', ')}` : '';
      const action = d.action ? ` ${d.action}` : '';
      const side = d.change === 'missing' ? 'missing on AWS' : 'extra on AWS';
      lines.push(`  ${d.list} ${side}: ${d.entry}${ports}${action} → ${d.effect}${d.note ? ` (${d.note})` : ''}`);
      for (const f of d.flows) {
        if (f.effect === 'none' || f.effect === 'unknown') continue;
        lines.push(`    ${f.effect === 'opens' ? '+' : '-'} ${f.from} -> ${f.to} ${f.protocol}/${f.port}  ${f.direction}: the engine ${f.engine === 'allowed' ? 'allows' : 'denies'} — ${f.why}`);
      }
    }
  }
  const count = (s: PolicyStatus) => audit.policies.filter((p) => p.status === s).length;
  lines.push(`${audit.policies.length} policies: ${count('equal')} equal, ${count('differs')} differ, ${count('missing')} missing, ${count('unexpected')} unexpected`);
  return lines.join('\n');
}
