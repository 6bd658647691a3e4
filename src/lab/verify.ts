/**
 * The lab against the engine: a cluster's pods built as lab pods, its policies enforced from the PolicyEndpoints the
 * controller's resolver writes, and every probed connection compared with the engine's verdict. The lab decides
 * nothing itself: expectations come from `Engine.allows`, enforcement from the agents on the resolver's output.
 */
import { engineExplainer } from '../agent/explain.js';
import type { PolicyEndpoint } from '../api/policyendpoint.js';
import type { Protocol } from '../api/types.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../controller/resolve.js';
import { compile, type Engine } from '../engine/engine.js';
import type { NodeVerification } from '../agent/verify.js';
import { projectFamily } from '../verify/expect.js';
import { parseIP } from '../api/ip.js';
import type { Cluster } from '../model/types.js';
import { labNodes, labUp, type Lab, type LabClusterSpec, type LabNode, type LabOptions, type LabPodSpec } from './lab.js';
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
 * The cluster as the lab builds it: each node named in `nodes` at the lab's addresses for it, and each endpoint at
 * the IPv4 address of a lab pod on that pod's node (hostIP too). Lab nodes cannot sit at the cluster's node addresses,
 * and the own-node and `nodes` rules are about the addresses a node really has, so the agents enforce, and the proof
 * compares with, the engine of this cluster.
 * @param nodes lab nodes by the cluster's node name (`labUpCluster` names lab nodes after the cluster's)
 * @param pods where the lab put each pod (IPv4 address → cluster node name)
 */
export function asBuilt(cluster: Cluster, nodes: readonly Pick<LabNode, 'name' | 'ip' | 'ip6'>[], pods: readonly { readonly ip: string; readonly node: string }[] = []): Cluster {
  const by = new Map(nodes.map((n) => [n.name, n]));
  const placed = new Map(pods.map((p) => [p.ip, p.node]));
  const known = new Set(cluster.nodes.map((n) => n.name));
  return {
    ...cluster,
    nodes: [
      ...cluster.nodes.map((n) => {
        const lab = by.get(n.name);
        return lab ? { ...n, addresses: [lab.ip, ...(lab.ip6 ? [lab.ip6] : [])] } : n;
      }),
      ...nodes.filter((n) => !known.has(n.name)).map((n) => ({ name: n.name, labels: {}, addresses: [n.ip, ...(n.ip6 ? [n.ip6] : [])] })),
    ],
    endpoints: cluster.endpoints.map((e) => {
      const nodeName = e.ips.map((ip) => placed.get(ip)).find((n) => n !== undefined) ?? e.nodeName;
      const lab = nodeName !== undefined ? by.get(nodeName) : undefined;
      return lab ? { ...e, nodeName, hostIP: lab.ip } : e;
    }),
  };
}

/** One lab node's proof. */
export interface NodeProof {
  readonly node: string;
  readonly verification: NodeVerification;
}

/**
 * Proves every node's kernel table equal to its agent's objects and to the engine of `cluster` (the cluster as built:
 * see {@link asBuilt}), per local pod, direction, address range, protocol and port range.
 * @example
 * const proofs = await proveLab(lab, asBuilt(cluster, lab.nodes, lab.pods));
 * for (const p of proofs) console.log(formatVerification(p.node, p.verification).join('\n'));
 */
export async function proveLab(lab: Lab, cluster: Cluster): Promise<NodeProof[]> {
  const byFamily = { 4: compile(projectFamily(cluster, 4)), 6: compile(projectFamily(cluster, 6)) } as const;
  const out: NodeProof[] = [];
  for (const node of lab.nodes) {
    const agent = lab.agents.get(node.name);
    if (!agent) throw new Error(`node ${node.name} has no agent: nothing to prove`);
    out.push({ node: node.name, verification: await agent.verify(byFamily) });
  }
  return out;
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
  // The objects of the cluster as built: node peers and own-node rules at the lab nodes' real addresses (labUp puts a
  // pod that names no node on the nodes in turn).
  const nodes = labNodes(plan.spec, opts.prefix);
  const placed = plan.spec.pods.map((p, k) => ({ ip: p.ip ?? '', node: p.node ?? nodes[k % nodes.length].name }));
  const built = compile(asBuilt(engine.cluster, nodes, placed));
  const lab = await labUp(plan.spec, { internetPorts: plan.ports, metadataPorts: plan.ports, policies: policyEndpointsOf(built), explain: engineExplainer(built), ...opts });
  // Admin and baseline tiers reach the agents as ClusterPolicyEndpoints, as the controller writes them.
  if (engine.cluster.tierPolicies.length > 0 && opts.policies === undefined) {
    await lab.setPolicies(policyEndpointsOf(built), resolveClusterPolicyEndpoints(built));
  }
  return lab;
}
