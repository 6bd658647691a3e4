/**
 * Translation validation on the node itself: the kernel's `inet palisade` table read back (`nft -j list table`),
 * interpreted, and proved equal — for every local pod, direction, address range, protocol and port range — to the
 * meaning of the (Cluster)PolicyEndpoints the agent reads and, when the manifests are at hand, to the engine's
 * verdicts. Shared by `palisade agent verify`, the agent's periodic self-check and `palisade lab verify`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { siblingCommand } from './sibling.js';
import type { Family } from '../api/ip.js';
import { mergeClusterPolicyEndpoints, mergePolicyEndpoints, type ClusterPolicyEndpoint, type PodEndpoint, type PolicyEndpoint } from '../api/policyendpoint.js';
import { canonicalAddress } from '../nft/address.js';
import type { Engine } from '../engine/engine.js';
import { run, type Netns } from '../nft/apply.js';
import { TABLE, type EnforcingMode, type LocalPod } from '../nft/compile.js';
import { RulesetError, type Ruleset } from '../nft/interpret.js';
import { parseIP } from '../api/ip.js';
import { rulesetFromKernel } from '../nft/kernel.js';
import { engineExpectation, objectsExpectation } from '../verify/expect.js';
import { countCells, proveNode, type ProofPod, type ProofResult } from '../verify/prove.js';

/** What one node's agent enforces: its objects, its local pods (named as the agent names them) and addresses. */
export interface NodeObjects {
  readonly policyEndpoints: readonly PolicyEndpoint[];
  readonly clusterPolicyEndpoints: readonly ClusterPolicyEndpoint[];
  readonly pods: readonly LocalPod[];
  readonly nodeAddresses: readonly string[];
  readonly mode: EnforcingMode;
}

/** Reads the kernel's table (in `where`'s network namespace) and interprets it; throws RulesetError when it cannot. */
export async function readKernelRuleset(where: Netns = {}): Promise<Ruleset> {
  const { stdout } = await run('nft', ['-j', 'list', 'table', 'inet', TABLE], where);
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (e) {
    throw new RulesetError(`nft -j list table inet ${TABLE} printed no JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return rulesetFromKernel(json, { table: TABLE });
}

export { namePods } from '../nft/local.js';

/** Entries the agent skips because they have no address to enforce (a `domainName`): `object: direction entry i (what)`. */
export function unenforceableEntries(objects: Pick<NodeObjects, 'policyEndpoints' | 'clusterPolicyEndpoints'>): string[] {
  const out: string[] = [];
  const scan = (kind: string, name: string, lists: Partial<Record<'ingress' | 'egress', readonly { cidr?: string; domainName?: string }[]>>) => {
    for (const dir of ['ingress', 'egress'] as const) {
      (lists[dir] ?? []).forEach((e, i) => {
        if (e.cidr === undefined || e.cidr === '') out.push(`${kind} ${name}: ${dir} entry ${i}${e.domainName !== undefined ? ` (domainName ${e.domainName})` : ''} has no cidr`);
      });
    }
  };
  for (const pe of objects.policyEndpoints) scan('PolicyEndpoint', `${pe.metadata.namespace ?? ''}/${pe.metadata.name ?? ''}`, pe.spec);
  for (const c of objects.clusterPolicyEndpoints) scan('ClusterPolicyEndpoint', c.metadata.name ?? '', c.spec);
  return out;
}

function proofPod(p: LocalPod): ProofPod {
  return { id: p.name !== undefined ? `${p.namespace}/${p.name}` : p.ifname, ifname: p.ifname, ips: p.ips };
}

/**
 * The objects that can decide anything for the local pods: the policies (each merged into one whole, as the agent reads
 * them) whose selected pods include a local pod, by IP or by namespace and name. The others change no local pod's
 * answer, and leaving them out keeps the proof's cells to the local policies' addresses, not the whole cluster's.
 */
export function localObjects(node: NodeObjects): Pick<NodeObjects, 'policyEndpoints' | 'clusterPolicyEndpoints'> {
  const ips = new Set(node.pods.flatMap((p) => p.ips.map(canonical)));
  const names = new Set(node.pods.filter((p) => p.name !== undefined).map((p) => `${p.namespace}/${p.name}`));
  const local = (eps: readonly PodEndpoint[] | undefined) => (eps ?? []).some((ep) => (ep.podIP !== '' && ips.has(canonical(ep.podIP))) || names.has(`${ep.namespace}/${ep.name}`));
  return {
    policyEndpoints: mergePolicyEndpoints(node.policyEndpoints).filter((pe) => local(pe.spec.podSelectorEndpoints)),
    clusterPolicyEndpoints: mergeClusterPolicyEndpoints(node.clusterPolicyEndpoints).filter((c) => local(c.spec.podSelectorEndpoints)),
  };
}

function canonical(ip: string): string {
  try {
    return canonicalAddress(ip);
  } catch {
    return ip;
  }
}

/** How many cells {@link proveObjects} walks for this table and node (counted, not evaluated): the self-check's budget. */
export function estimateCells(rs: Ruleset, node: NodeObjects): number {
  return countCells(rs, node.pods.map(proofPod), node.nodeAddresses, objectsExpectationOf(node));
}

function objectsExpectationOf(node: NodeObjects) {
  const objects = localObjects(node);
  return objectsExpectation(
    { policyEndpoints: objects.policyEndpoints, clusterPolicyEndpoints: objects.clusterPolicyEndpoints, nodeAddresses: node.nodeAddresses, mode: node.mode },
    new Map(node.pods.map((p) => [p.ifname, p])),
  );
}

/** Proves the table equal to what the objects mean, for every local pod. */
export function proveObjects(rs: Ruleset, node: NodeObjects): ProofResult {
  return proveNode(rs, node.pods.map(proofPod), node.nodeAddresses, objectsExpectationOf(node));
}

/** The engine side of a node's proof. */
export interface EngineProof {
  readonly result: ProofResult;
  /** Local pods the engine has no endpoint for (by IP): left out of this proof. */
  readonly notInEngine: readonly string[];
}

/**
 * Proves the table equal to the engine's verdicts, per address family (`byFamily`: the engine of each family's
 * projection, see projectFamily). Local pods are matched to the engine's endpoints by IP.
 */
export function proveEngine(rs: Ruleset, node: NodeObjects, byFamily: Readonly<Record<Family, Engine>>): EngineProof {
  const pods: ProofPod[] = [];
  const notInEngine: string[] = [];
  for (const p of node.pods) {
    const id = engineEndpoint(byFamily, p.ips);
    if (id === undefined) notInEngine.push(`${proofPod(p).id} (${p.ips.join(', ')})`);
    else pods.push({ id, ifname: p.ifname, ips: p.ips });
  }
  return { result: proveNode(rs, pods, node.nodeAddresses, engineExpectation(byFamily)), notInEngine };
}

function engineEndpoint(byFamily: Readonly<Record<Family, Engine>>, ips: readonly string[]): string | undefined {
  for (const ip of ips) {
    for (const engine of [byFamily[4], byFamily[6]]) {
      try {
        const r = engine.resolve(ip);
        if (r.kind === 'endpoint') return r.endpoint.id;
      } catch {
        // not this engine's address
      }
    }
  }
  return undefined;
}

/** A proof that would walk more cells than allowed (the self-check's budget), or test too many entries in them. */
export class ProofTooLarge extends Error {
  constructor(readonly cells: number, readonly max: number, readonly entryTests?: number) {
    super(
      entryTests === undefined
        ? `the proof would walk about ${cells} cells, more than the budget of ${max}`
        : `the proof would walk about ${cells} cells with up to ${Math.round(entryTests / Math.max(1, cells))} entries each (${entryTests} entry tests), more than the budget of ${max} cells × ${ENTRY_TESTS_PER_CELL}`,
    );
  }
}

/**
 * Entry tests allowed per cell of the budget: the objects' side of a proof tests a cell against every entry of the
 * pod's objects, so a pod with 20,000 entries costs 20,000 times a pod with one (a core busy for that long; `palisade
 * agent verify` proves on its own thread).
 */
export const ENTRY_TESTS_PER_CELL = 64;

/** The most entries (ingress and egress, of every local object selecting it) any one local pod has. */
export function maxEntriesPerPod(node: NodeObjects): number {
  const objects = localObjects(node);
  const byIP = new Map<string, number>();
  const byName = new Map<string, number>();
  node.pods.forEach((p, i) => {
    for (const ip of p.ips) byIP.set(canonical(ip), i);
    if (p.name !== undefined) byName.set(`${p.namespace}/${p.name}`, i);
  });
  const entries = new Array<number>(node.pods.length).fill(0);
  for (const o of [...objects.policyEndpoints, ...objects.clusterPolicyEndpoints]) {
    const n = (o.spec.ingress?.length ?? 0) + (o.spec.egress?.length ?? 0);
    const selected = new Set<number>();
    for (const ep of o.spec.podSelectorEndpoints ?? []) {
      const i = (ep.podIP !== '' ? byIP.get(canonical(ep.podIP)) : undefined) ?? byName.get(`${ep.namespace}/${ep.name}`);
      if (i !== undefined) selected.add(i);
    }
    for (const i of selected) entries[i] += n;
  }
  return Math.max(0, ...entries);
}

/** The outcome of one node's proof. */
export interface NodeVerification {
  readonly objects: ProofResult;
  /** Absent without an engine, or in strict mode (the engine has no strict mode). */
  readonly engine?: EngineProof;
  readonly unenforceable: readonly string[];
  readonly pods: number;
  readonly ms: number;
}

/**
 * Reads back and proves one node's table.
 * @example
 * const v = await verifyNode(node, { netns: 'pl-n1' });
 * if (!v.objects.proved) console.log(v.objects.counterexample.text);
 */
export async function verifyNode(node: NodeObjects, where: Netns = {}, byFamily?: Readonly<Record<Family, Engine>>, opts: { maxCells?: number } = {}): Promise<NodeVerification> {
  const t0 = performance.now();
  const rs = await readKernelRuleset(where);
  if (opts.maxCells !== undefined) {
    const cells = estimateCells(rs, node);
    if (cells > opts.maxCells) throw new ProofTooLarge(cells, opts.maxCells);
    const entryTests = cells * Math.max(1, maxEntriesPerPod(node));
    if (entryTests > opts.maxCells * ENTRY_TESTS_PER_CELL) throw new ProofTooLarge(cells, opts.maxCells, entryTests);
  }
  const objects = proveObjects(rs, node);
  const engine = byFamily && node.mode === 'standard' ? proveEngine(rs, node, byFamily) : undefined;
  return { objects, ...(engine ? { engine } : {}), unenforceable: unenforceableEntries(node), pods: node.pods.length, ms: performance.now() - t0 };
}

/** What {@link verifyNodeApart} hands its process, and what it answers. */
export interface ApartRequest {
  readonly node: NodeObjects;
  readonly netns?: string;
  readonly maxCells?: number;
}
export type ApartAnswer =
  | { readonly ok: NodeVerification }
  | { readonly tooLarge: { readonly cells: number; readonly max: number; readonly entryTests?: number } }
  | { readonly error: string };

/**
 * {@link verifyNode} against the objects alone, in a child process (`verify-child`): the agent's thread stays free for
 * syncs while the proof runs. Throws {@link ProofTooLarge} as verifyNode does, and an Error with the child's message
 * otherwise. From source (vitest) the child is TypeScript and runs under vite-node; built, it is plain JavaScript.
 */
export async function verifyNodeApart(node: NodeObjects, where: Netns = {}, opts: { maxCells?: number; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<NodeVerification> {
  const [cmd, ...args] = siblingCommand(import.meta.url, 'verify-child');
  const request: ApartRequest = { node, ...(where.netns !== undefined ? { netns: where.netns } : {}), ...(opts.maxCells !== undefined ? { maxCells: opts.maxCells } : {}) };
  const dir = await mkdtemp(join(tmpdir(), 'palisade-check-'));
  let answer: ApartAnswer;
  try {
    const requestFile = join(dir, 'request');
    const answerFile = join(dir, 'answer');
    await writeFile(requestFile, serialize(request), { flag: 'wx' });
    const err = await new Promise<string>((resolve, reject) => {
      const p = spawn(cmd, [...args, requestFile, answerFile], { stdio: ['ignore', 'ignore', 'pipe'], ...(opts.signal ? { signal: opts.signal, killSignal: 'SIGKILL' as const } : {}) });
      let text = '';
      p.stderr!.on('data', (d: Buffer) => (text += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
      p.on('error', (e) => {
        clearTimeout(timer);
        // Aborted (the agent stopping): the process is killed and closes; the missing answer says so below.
        if (e.name !== 'AbortError') reject(e);
      });
      p.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
    });
    let bytes: Buffer;
    try {
      bytes = await readFile(answerFile);
    } catch {
      // Its error, not Node's closing lines: the last line naming one.
      const lines = err.trim().split('\n');
      const why = lines.filter((l) => /Error\b/.test(l)).at(-1) ?? lines.at(-1) ?? '';
      throw new Error(`the self-check's process ended without an answer${why ? `: ${why.trim()}` : ''}`);
    }
    answer = deserialize(bytes) as ApartAnswer;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if ('ok' in answer) return answer.ok;
  if ('tooLarge' in answer) throw new ProofTooLarge(answer.tooLarge.cells, answer.tooLarge.max, answer.tooLarge.entryTests);
  throw new Error(answer.error);
}

/** One line per result: `proved` with the cell count, or the counterexample. */
export function formatVerification(node: string, v: NodeVerification): string[] {
  const line = (what: string, r: ProofResult) =>
    r.proved ? `${node}: table = ${what}: proved on ${r.cells} cells (${v.pods} local pods)` : `${node}: table ≠ ${what}: ${r.counterexample.text}`;
  const out = [line('PolicyEndpoints', v.objects)];
  if (v.engine) {
    out.push(line('engine', v.engine.result));
    for (const p of v.engine.notInEngine) out.push(`${node}: note: local pod ${p} is not in the manifests: left out of the engine proof`);
  }
  for (const u of v.unenforceable) out.push(`${node}: note: not enforced by the agent: ${u}`);
  return out;
}

/** True when every proof of the verification holds. */
export function verified(v: NodeVerification): boolean {
  return v.objects.proved && (v.engine === undefined || v.engine.result.proved);
}
