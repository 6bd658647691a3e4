/**
 * Conformance in the lab: the suite's topology built once as network namespaces (pods round-robin over three nodes,
 * each serving its TCP and UDP ports), and for every step of every case the cluster as the case has built it so far
 * resolved into PolicyEndpoints by the controller's resolver, swapped into the agents, and the step's expectations
 * probed with real connections. Expectations come from the case (upstream), never from the engine.
 *
 * The admin-tier suite runs the same way: its AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy
 * objects are resolved into ClusterPolicyEndpoints (tier, priority, Accept/Deny/Pass per entry) by the controller's
 * resolver and enforced by the agents next to the PolicyEndpoints.
 *
 * SCTP is not probed (Node.js has no SCTP sockets): a case's SCTP expectations are reported as SKIP, never as passed.
 */
import { existsSync } from 'node:fs';
import type { Protocol } from '../api/types.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../controller/resolve.js';
import { labUp, type Lab } from '../lab/lab.js';
import { labRequirements } from '../lab/requirements.js';
import { cellKey, checkAgainstTopology, expectedMatrix } from './cases.js';
import type { CaseStep, ConformanceCase, Topology } from './cases.js';
import { compileStep, initialState } from './cluster.js';

/** The result of one case (or one case's SCTP part) in the lab. */
export interface LabCaseResult {
  readonly status: 'PASS' | 'FAIL' | 'SKIP';
  /** The case name, with ` [SCTP]` for the SCTP part of a case that also probes TCP or UDP. */
  readonly name: string;
  /** SKIP: why. */
  readonly reason?: string;
  /** FAIL: what differed. */
  readonly lines?: readonly string[];
}

/** Why SCTP expectations are skipped in the lab: the prober cannot, and (said when true) neither can this kernel. */
export const SCTP_REASON = `SCTP is not probed: Node.js has no SCTP sockets${existsSync('/proc/net/sctp') ? '' : ', and this kernel has no SCTP (no /proc/net/sctp)'}`;

/** Options of {@link runLabSuite}. */
export interface LabSuiteOptions {
  /** The suite's folder name (`k8s`, `tiers`). */
  readonly suite: string;
  /** @default "plc-" */
  readonly prefix?: string;
  /** Per-connection timeout. @default 700 */
  readonly timeoutMs?: number;
  /** Receives each result as soon as it is known. */
  readonly onResult?: (r: LabCaseResult) => void;
}

interface Cell {
  readonly from: string;
  readonly to: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly allowed: boolean;
}

/** The step's expected cells, SCTP apart. */
function expectedCells(step: CaseStep, podIds: readonly string[]): Cell[] {
  const cells = new Map<string, Cell>();
  const matrix = expectedMatrix(step, podIds);
  for (const e of step.expect) {
    for (const from of podIds) {
      for (const to of podIds) {
        if (from === to) continue;
        const allowed = matrix.get(cellKey(from, to, e.protocol, e.port));
        if (allowed !== undefined) cells.set(cellKey(from, to, e.protocol, e.port), { from, to, protocol: e.protocol, port: e.port, allowed });
      }
    }
  }
  for (const f of step.flows) if (f.from !== f.to) cells.set(cellKey(f.from, f.to, f.protocol, f.port), f);
  return [...cells.values()];
}

/** Probes `cells` from their sources' helpers, in parallel. */
async function probe(lab: Lab, cells: readonly Cell[], timeoutMs: number): Promise<boolean[]> {
  const bySource = new Map<string, number[]>();
  cells.forEach((c, i) => bySource.set(c.from, [...(bySource.get(c.from) ?? []), i]));
  const ipOf = new Map(lab.pods.map((p) => [p.id, p.ip]));
  const out: boolean[] = new Array<boolean>(cells.length).fill(false);
  await Promise.all(
    [...bySource].map(async ([from, idx]) => {
      const helper = await lab.helper(from);
      const results = await helper.probe(idx.map((i) => ({ host: ipOf.get(cells[i].to)!, port: cells[i].port, protocol: cells[i].protocol })), timeoutMs);
      idx.forEach((i, k) => (out[i] = results[k]));
    }),
  );
  return out;
}

/**
 * Runs cases in one lab. A case passes when every TCP and UDP expectation of every step holds with real packets.
 * @returns one result per case, plus one SKIP per case that also has SCTP expectations
 */
export async function runLabSuite(topology: Topology, cases: readonly ConformanceCase[], opts: LabSuiteOptions): Promise<LabCaseResult[]> {
  const results: LabCaseResult[] = [];
  const emit = (r: LabCaseResult) => {
    results.push(r);
    opts.onResult?.(r);
  };
  const skipAll = (reason: string) => {
    for (const c of cases) emit({ status: 'SKIP', name: c.name, reason });
    return results;
  };
  const why = labRequirements();
  if (why) return skipAll(`the lab cannot run here: ${why}`);
  const v4 = topology.pods.every((p) => p.ips.some((ip) => !ip.includes(':')));
  if (!v4) return skipAll('the topology has pods without an IPv4 address');

  const podIds = topology.pods.map((p) => `${p.namespace}/${p.name}`);
  const lab = await labUp(
    {
      nodes: ['n1', 'n2', 'n3'],
      pods: topology.pods.map((p) => ({
        name: p.name,
        namespace: p.namespace,
        ip: p.ips.find((ip) => !ip.includes(':'))!,
        labels: p.labels,
        ports: p.ports.filter((q) => q.protocol !== 'SCTP').map((q) => ({ port: q.port, protocol: q.protocol })),
      })),
    },
    { prefix: opts.prefix ?? 'plc-', policies: [] },
  );
  try {
    for (const c of cases) {
      const problems = checkAgainstTopology(c, topology);
      if (problems.length > 0) {
        emit({ status: 'FAIL', name: c.name, lines: problems });
        continue;
      }
      const state = initialState(topology);
      const lines: string[] = [];
      let probed = 0;
      let sctp = 0;
      for (const [i, step] of c.steps.entries()) {
        const engine = compileStep(topology, state, step, i);
        if (typeof engine === 'string') {
          lines.push(engine);
          continue;
        }
        // The resolver reads the engine's compiled selectors; the verdicts below come from the case.
        await lab.setPolicies(resolvePolicyEndpoints(engine), resolveClusterPolicyEndpoints(engine));
        const all = expectedCells(step, podIds);
        const cells = all.filter((x) => x.protocol !== 'SCTP');
        sctp += all.length - cells.length;
        probed += cells.length;
        const got = await probe(lab, cells, opts.timeoutMs ?? 700);
        const wrong = cells.filter((x, k) => got[k] !== x.allowed);
        if (wrong.length > 0) {
          lines.push(`step ${i + 1}${step.description ? ` (${step.description})` : ''}: ${wrong.length} of ${cells.length} connections differ from upstream`);
          for (const w of wrong.slice(0, 20)) lines.push(`  ${w.from} → ${w.to} ${w.protocol}/${w.port}: expected ${w.allowed ? 'allowed' : 'denied'}, the lab ${w.allowed ? 'was denied' : 'connected'}`);
          if (wrong.length > 20) lines.push(`  ... and ${wrong.length - 20} more`);
        }
      }
      if (probed === 0 && lines.length === 0) {
        emit({ status: 'SKIP', name: c.name, reason: SCTP_REASON });
        continue;
      }
      emit(lines.length === 0 ? { status: 'PASS', name: c.name } : { status: 'FAIL', name: c.name, lines });
      if (sctp > 0) emit({ status: 'SKIP', name: `${c.name} [SCTP]`, reason: `${sctp} SCTP expectations: ${SCTP_REASON}` });
    }
  } finally {
    await lab.down();
  }
  return results;
}
