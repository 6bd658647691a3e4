/**
 * The lab against the engine: a cluster's pods built as lab pods, its policies enforced from the PolicyEndpoints the
 * controller's resolver writes, and every probed connection compared with the engine's verdict. The lab decides
 * nothing itself: expectations come from `Engine.allows`, enforcement from the agents on the resolver's output.
 */
import { engineExplainer } from '../agent/explain.js';
import type { PolicyEndpoint } from '../api/policyendpoint.js';
import type { Protocol } from '../api/types.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../controller/resolve.js';
import type { Engine } from '../engine/engine.js';
import { parseIP } from '../api/ip.js';
import type { Cluster } from '../model/types.js';
import { labUp, type Lab, type LabClusterSpec, type LabOptions, type LabPodSpec } from './lab.js';
import { labProbe, type ProbeCell, type ProbeReport } from './probe.js';
import type { LabEndpoint, LabPort } from './state.js';
import { DEFAULT_PREFIX, DEFAULT_STATE_DIR, readState } from './state.js';

/** The lab a cluster becomes, and what of the cluster it leaves out. */
export interface LabPlan {
  readonly spec: LabClusterSpec;
  /** Served by every pod and by both external hosts, TCP and UDP, so every probe has a listener. */
  readonly ports: readonly LabPort[];
  /** Endpoints not built, each with the reason (workloads without IPs, IPv6-only pods). */
  readonly leftOut: readonly string[];
}

/** Options of {@link labPlan}. */
export interface PlanOptions {
  /** Probe only these ports. @default every TCP/UDP container port and every numeric policy port (and the port after each range) */
  readonly ports?: readonly LabPort[];
  /** At most this many ports per protocol, lowest first. @default 16 */
  readonly maxPortsPerProtocol?: number;
}

/** Every numeric port the cluster names: container ports, policy ports, range ends and the first port after each range. */
export function clusterPorts(cluster: Cluster, max = 16): LabPort[] {
  const found: Record<'TCP' | 'UDP', Set<number>> = { TCP: new Set(), UDP: new Set() };
  const add = (protocol: Protocol | undefined, port: number | undefined) => {
    const p = protocol ?? 'TCP';
    if ((p === 'TCP' || p === 'UDP') && port !== undefined && port >= 1 && port <= 65535) found[p].add(port);
  };
  for (const ep of cluster.endpoints) for (const cp of ep.ports) add(cp.protocol, cp.port);
  for (const { policy } of cluster.policies) {
    for (const rule of [...(policy.spec.ingress ?? []), ...(policy.spec.egress ?? [])]) {
      for (const p of rule.ports ?? []) {
        if (typeof p.port !== 'number') continue;
        add(p.protocol, p.port);
        if (p.endPort !== undefined) {
          add(p.protocol, p.endPort);
          add(p.protocol, p.endPort + 1);
        }
      }
    }
  }
  for (const t of cluster.tierPolicies) {
    for (const rule of [...t.ingress, ...t.egress]) {
      for (const p of rule.ports ?? []) {
        if (p.kind !== 'range') continue;
        add(p.protocol, p.from);
        if (p.to !== p.from) {
          add(p.protocol, p.to);
          add(p.protocol, p.to + 1);
        }
      }
    }
  }
  if (found.TCP.size === 0 && found.UDP.size === 0) found.TCP.add(80);
  return (['TCP', 'UDP'] as const).flatMap((protocol) =>
    [...found[protocol]].sort((a, b) => a - b).slice(0, max).map((port) => ({ port, protocol })),
  );
}

/**
 * The lab of a cluster: one lab pod per Pod with an IPv4 address (same namespace, name, labels, node and IPs — its
 * IPv6 address too, which makes the lab dual-stack), every pod and external host serving the probe ports. Nodes are
 * the pods' nodes (two when no pod names one).
 */
export function labPlan(cluster: Cluster, opts: PlanOptions = {}): LabPlan {
  const ports = opts.ports ?? clusterPorts(cluster, opts.maxPortsPerProtocol ?? 16);
  const leftOut: string[] = [];
  const pods: LabPodSpec[] = [];
  const nodes: string[] = [];
  for (const ep of cluster.endpoints) {
    const v4 = ep.ips.find((ip) => parseIP(ip)?.family === 4);
    const v6 = ep.ips.find((ip) => parseIP(ip)?.family === 6);
    if (!v4) {
      leftOut.push(`${ep.id}: ${ep.ips.length === 0 ? `a ${ep.kind} without a pod IP` : 'IPv6 only (every lab pod needs an IPv4 address)'}`);
      continue;
    }
    if (ep.kind !== 'Pod') {
      leftOut.push(`${ep.id}: a ${ep.kind}, not a Pod`);
      continue;
    }
    if (ep.nodeName && !nodes.includes(ep.nodeName)) nodes.push(ep.nodeName);
    pods.push({ name: ep.name, namespace: ep.namespace, ip: v4, ...(v6 ? { ip6: v6 } : {}), labels: ep.labels, ports, ...(ep.nodeName ? { node: ep.nodeName } : {}) });
  }
  if (nodes.length === 0) nodes.push('node-1', 'node-2');
  return { spec: { nodes, pods }, ports, leftOut };
}

/** The PolicyEndpoints the agents enforce for a cluster: the controller's resolver, nothing else. */
export function policyEndpointsOf(engine: Engine): PolicyEndpoint[] {
  return resolvePolicyEndpoints(engine);
}

/** A probed connection whose outcome differs from the engine's verdict. */
export interface Mismatch extends ProbeCell {
  /** The engine's verdict. */
  readonly expected: boolean;
  /** The engine's names of both ends. */
  readonly engineFrom: string;
  readonly engineTo: string;
}

/** What {@link verifyLab} found. */
export interface Verification {
  readonly report: ProbeReport;
  /** Connections compared with the engine. */
  readonly checked: number;
  readonly mismatches: readonly Mismatch[];
}

/** Options of {@link verifyLab}. */
export interface VerifyOptions {
  readonly prefix?: string;
  readonly stateDir?: string;
  readonly port?: number;
  readonly protocol?: Protocol;
  /** @default 1000 */
  readonly timeoutMs?: number;
  /** Probe from the internet and metadata hosts to the pods too. @default true */
  readonly externalSources?: boolean;
  /** Probe over IPv4 or IPv6 (the endpoints with an IPv6 address, named to the engine by it). @default 4 */
  readonly family?: 4 | 6;
}

/**
 * Probes a running lab and compares every connection with `engine.allows`. Lab pods are matched to the engine's
 * endpoints by IP, so one lab can serve many clusters whose pods share addresses (lab pods with no endpoint of that
 * IP in the engine are not probed); the external hosts are named to the engine by their address.
 * @example
 * const { mismatches } = await verifyLab(engine, { prefix: 'pl-' });
 */
export async function verifyLab(engine: Engine, opts: VerifyOptions = {}): Promise<Verification> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
  const state = await readState(stateDir, prefix);
  if (!state) throw new Error(`no lab with prefix ${prefix} (run \`palisade lab up\` first)`);
  const family = opts.family ?? 4;
  const names = new Map<string, string>();
  for (const e of state.endpoints) {
    const name = engineName(engine, e, family);
    if (name !== undefined) names.set(e.id, name);
  }
  const pods = state.endpoints.filter((e) => e.kind === 'pod' && names.has(e.id)).map((e) => e.id);
  const externals = state.endpoints.filter((e) => e.kind === 'external').map((e) => e.id);
  const report = await labProbe({
    prefix,
    stateDir,
    from: [...pods, ...(opts.externalSources ?? true ? externals : [])],
    to: [...pods, ...externals],
    timeoutMs: opts.timeoutMs ?? 1000,
    family,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.protocol !== undefined ? { protocol: opts.protocol } : {}),
  });
  const mismatches: Mismatch[] = [];
  for (const c of report.cells) {
    const engineFrom = names.get(c.from)!;
    const engineTo = names.get(c.to)!;
    const expected = engine.allows({ from: engineFrom, to: engineTo, protocol: c.protocol, port: c.port });
    if (expected !== c.allowed) mismatches.push({ ...c, expected, engineFrom, engineTo });
  }
  return { report, checked: report.cells.length, mismatches };
}

/**
 * The engine's name of a lab endpoint over `family`: for IPv4 the endpoint holding its IP, or the bare address for an
 * external host; for IPv6 its IPv6 address itself (the engine resolves it), if that is a pod's or an external one.
 */
function engineName(engine: Engine, e: LabEndpoint, family: 4 | 6): string | undefined {
  const address = family === 4 ? e.ip : e.ip6;
  if (address === undefined) return undefined;
  if (e.kind === 'external') return address;
  try {
    const r = engine.resolve(address);
    return r.kind !== 'endpoint' ? undefined : family === 4 ? r.endpoint.id : address;
  } catch {
    return undefined;
  }
}

/** Mismatches as lines: `from → to PROTO/port: lab allowed, engine denies` (over IPv6 also the lab's names). */
export function formatMismatches(ms: readonly Mismatch[]): string[] {
  const end = (m: Mismatch, id: string, name: string) => (m.family === 6 && id !== name ? `${id} (${name})` : name);
  return ms.map(
    (m) =>
      `${end(m, m.from, m.engineFrom)} → ${end(m, m.to, m.engineTo)} ${m.protocol}/${m.port}: the lab ${m.allowed ? 'connected' : 'was denied'}, the engine says ${m.expected ? 'allowed' : 'denied'}`,
  );
}

/**
 * Builds the lab of a cluster: the plan's pods, every pod and external host serving the plan's ports, one agent per
 * node enforcing the resolver's PolicyEndpoints, its flow logs (when on) explained by the engine. The caller must
 * `down()` it.
 * @example
 * const engine = compile(readCluster(['examples/eks-multi-team']).cluster);
 * const lab = await labUpCluster(engine);
 * const { mismatches } = await verifyLab(engine);
 * await lab.down();
 */
export async function labUpCluster(engine: Engine, opts: LabOptions & { plan?: LabPlan } = {}): Promise<Lab> {
  const plan = opts.plan ?? labPlan(engine.cluster);
  const lab = await labUp(plan.spec, { internetPorts: plan.ports, metadataPorts: plan.ports, policies: policyEndpointsOf(engine), explain: engineExplainer(engine), ...opts });
  // Admin and baseline tiers reach the agents as ClusterPolicyEndpoints, as the controller writes them.
  if (engine.cluster.tierPolicies.length > 0 && opts.policies === undefined) {
    await lab.setPolicies(policyEndpointsOf(engine), resolveClusterPolicyEndpoints(engine));
  }
  return lab;
}
