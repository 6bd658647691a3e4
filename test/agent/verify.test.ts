/**
 * Translation validation on a real kernel (root): compiled tables (of random clusters, also with AWS's kinds) loaded
 * into a throwaway network namespace, read back with `nft -j` and proved equal, cell by cell, to the compiler's model,
 * the objects and the engine; then `palisade agent verify` and the agent's self-check on a node whose pods are host
 * routes (as the VPC CNI installs them), before and after the table is tampered with behind the agent's back.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type Agent } from '../../src/agent/agent.js';
import { FilePolicyEndpointSource } from '../../src/agent/source.js';
import { proveEngine, proveObjects, readKernelRuleset, verifyNodeApart, type NodeObjects } from '../../src/agent/verify.js';
import { run as cli } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import { parseIP } from '../../src/api/ip.js';
import { applyScript, deleteTable, run } from '../../src/nft/apply.js';
import { compileNode, type LocalPod } from '../../src/nft/compile.js';
import { rulesetFromState } from '../../src/nft/interpret.js';
import { renderFull } from '../../src/nft/script.js';
import { clusterYaml } from '../../src/scenarios/manifests.js';
import { clusterArb } from '../../src/scenarios/random.js';
import { proveNode } from '../../src/verify/prove.js';
import { skipNetns } from '../lab/support.js';
import { proofPods, rulesetExpectation } from '../nft/support.js';
import { localPods, translate, type Translation } from '../verify/support.js';

const NETNS = 'plk-live';
const where = { netns: NETNS };

function nodeObjects(t: Translation, node: string, mode: 'standard' | 'strict'): NodeObjects {
  const n = t.cluster.nodes.find((x) => x.name === node)!;
  const pods: LocalPod[] = localPods(t.cluster, node).map((e, i) => ({ name: e.name, namespace: e.namespace, ips: e.ips, ifname: `eni${i}` }));
  return { policyEndpoints: t.policyEndpoints, clusterPolicyEndpoints: t.clusterPolicyEndpoints, pods, nodeAddresses: n.addresses, mode };
}

describe.skipIf(skipNetns('agent-verify'))('the kernel table read back and proved (root)', () => {
  beforeAll(async () => {
    await run('ip', ['netns', 'del', NETNS]).catch(() => undefined);
    await run('ip', ['netns', 'add', NETNS]);
  });
  afterAll(async () => {
    await run('ip', ['netns', 'del', NETNS]).catch(() => undefined);
  });

  it('random clusters with all three tier kinds: nft -j output equals the compiler model, the objects and the engine on every cell', async () => {
    const samples = fc.sample(clusterArb({ tiers: true, maxPods: 6, maxPolicies: 3 }), { numRuns: 16, seed: 4242 });
    let proved = 0;
    for (const [i, generated] of samples.entries()) {
      const t = translate(generated);
      const mode = i % 4 === 3 ? 'strict' : 'standard';
      for (const node of t.cluster.nodes) {
        const objects = nodeObjects(t, node.name, mode);
        const opts = i % 2 === 0 ? { logGroup: 7, podInterfaces: 'eni*' } : {};
        const state = compileNode(objects, opts);
        await applyScript(renderFull(state), where);
        const kernel = await readKernelRuleset(where);
        const model = rulesetFromState(state);
        const vsModel = proveNode(kernel, proofPods(objects.pods), objects.nodeAddresses, rulesetExpectation(model, objects.pods, objects.nodeAddresses));
        expect(vsModel.proved, `sample ${i} ${node.name}: kernel vs model: ${vsModel.proved ? '' : vsModel.counterexample.text}`).toBe(true);
        const vsObjects = proveObjects(kernel, objects);
        expect(vsObjects.proved, `sample ${i} ${node.name}: kernel vs objects: ${vsObjects.proved ? '' : vsObjects.counterexample.text}`).toBe(true);
        if (mode === 'standard') {
          const vsEngine = proveEngine(kernel, objects, t.byFamily);
          expect(vsEngine.result.proved, `sample ${i} ${node.name}: kernel vs engine: ${vsEngine.result.proved ? '' : vsEngine.result.counterexample.text}`).toBe(true);
          expect(vsEngine.notInEngine).toEqual([]);
        }
        proved++;
      }
    }
    expect(proved).toBe(samples.length * 2);
    await deleteTable('palisade', where);
  }, 300_000);

  it("random clusters with AWS's kinds (no DNS answers, as the agent has none): the kernel table equals the objects and the engine", async () => {
    const samples = fc.sample(
      clusterArb({ tiers: true, aws: true, maxPods: 6, maxPolicies: 3 }).filter((g) => g.tierPolicies.some((p) => p.group === 'networking.k8s.aws') || g.policies.some((p) => p.kind === 'ApplicationNetworkPolicy')),
      { numRuns: 16, seed: 4343 },
    );
    for (const [i, generated] of samples.entries()) {
      const t = translate(generated);
      for (const node of t.cluster.nodes) {
        const objects = nodeObjects(t, node.name, 'standard');
        await applyScript(renderFull(compileNode(objects, {})), where);
        const kernel = await readKernelRuleset(where);
        const vsObjects = proveObjects(kernel, objects);
        expect(vsObjects.proved, `aws sample ${i} ${node.name}: kernel vs objects: ${vsObjects.proved ? '' : vsObjects.counterexample.text}`).toBe(true);
        const vsEngine = proveEngine(kernel, objects, t.byFamily);
        expect(vsEngine.result.proved, `aws sample ${i} ${node.name}: kernel vs engine: ${vsEngine.result.proved ? '' : vsEngine.result.counterexample.text}`).toBe(true);
      }
    }
    await deleteTable('palisade', where);
  }, 300_000);

  describe('palisade agent verify and the self-check', () => {
    let dir: string;
    let agent: Agent | undefined;
    // A cluster whose node0 has local pods and denies something: a table that accepts everything is not equal to it.
    const [generated] = fc.sample(
      clusterArb({ tiers: true, maxPods: 6, maxPolicies: 3 }).filter((g) => {
        const t = translate(g);
        const objects = nodeObjects(t, 'node0', 'standard');
        const ips = objects.pods.flatMap((p) => p.ips);
        // Each address a route of its own (the generator reuses IPv6 addresses across far-apart pods).
        return objects.pods.length >= 2 && new Set(ips).size === ips.length && !proveObjects({ sets: new Map(), chains: new Map() }, objects).proved;
      }),
      { numRuns: 1, seed: 77 },
    );
    const t = translate(generated);
    const objects = nodeObjects(t, 'node0', 'standard');

    const verify = async (...extra: string[]): Promise<{ code: number; out: string }> => {
      const lines: string[] = [];
      const io: Io = { out: (s) => lines.push(s), err: (s) => lines.push(s), interactive: false, readStdin: () => '' };
      const code = await cli(['agent', 'verify', '--node', 'node0', '--netns', NETNS, '--pod-interfaces', 'eni*', '--policy-endpoints', join(dir, 'pe'), '--manifests', join(dir, 'cluster.yaml'), ...extra], io);
      return { code, out: lines.join('\n') };
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'palisade-verify-'));
      await run('mkdir', ['-p', join(dir, 'pe')]);
      await writeFile(join(dir, 'pe', 'objects.json'), JSON.stringify([...t.policyEndpoints, ...t.clusterPolicyEndpoints]));
      await writeFile(join(dir, 'cluster.yaml'), clusterYaml(t.cluster));
      // The node: its address on an uplink, each local pod a host-side interface with a host route to each of its IPs.
      const batch = ['link add up0 type veth peer name up1', 'link set up0 up', 'link set up1 up', ...t.cluster.nodes[0].addresses.map((a) => `addr add ${a}/24 dev up0`)];
      for (const p of objects.pods) {
        batch.push(`link add ${p.ifname} type veth peer name x${p.ifname}`, `link set ${p.ifname} up`, `link set x${p.ifname} up`);
        for (const ip of p.ips) batch.push(`route add ${ip}/${parseIP(ip)!.family === 4 ? 32 : 128} dev ${p.ifname}`);
      }
      await writeFile(join(dir, 'batch'), batch.join('\n') + '\n');
      await run('ip', ['-n', NETNS, '-batch', join(dir, 'batch')]);
      agent = await runAgent({
        node: 'node0', input: new FilePolicyEndpointSource(join(dir, 'pe')), enforcingMode: 'standard', netns: NETNS, podInterfaces: 'eni*',
        pollIntervalMs: 600_000, selfCheckIntervalMs: 60_000, selfCheckDelayMs: 10, logger: pino({ level: 'silent' }),
      });
    });
    afterAll(async () => {
      await agent?.stop({ removeTable: true });
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('the agent checks its own table after the first sync', async () => {
      // The first sync happened before runAgent resolved; its self-check follows once the sync has settled.
      await agent!.resync();
      for (let i = 0; i < 100 && agent!.lastSelfCheck()?.ok !== true; i++) await new Promise((r) => setTimeout(r, 50));
      const check = agent!.lastSelfCheck();
      expect(check?.ok, check && !check.ok ? check.problem : '').toBe(true);
      const text = await agent!.metrics.registry.metrics();
      expect(text).toMatch(/palisade_agent_self_check_cells\{node="node0"\} [1-9]\d*/);
      expect(text).toMatch(/palisade_agent_self_check_failures_total\{node="node0"\} 0/);
    });

    it("the self-check's process of its own answers as a proof on the agent's thread does", async () => {
      await agent!.resync();
      const inThread = proveObjects(await readKernelRuleset(where), objects);
      expect(inThread.proved).toBe(true);
      const apart = await verifyNodeApart(objects, where);
      expect(apart.objects).toEqual(inThread);
      expect(apart.pods).toBe(objects.pods.length);
      // Over budget: the same refusal, with the count of cells.
      await expect(verifyNodeApart(objects, where, { maxCells: 1 })).rejects.toThrow(/cells/);
      // The agent stopping: the process is ended, and the check says it has no answer.
      const stop = new AbortController();
      const stopped = verifyNodeApart(objects, where, { signal: stop.signal });
      stop.abort();
      await expect(stopped).rejects.toThrow(/without an answer/);
      // No table to read: the child's own error, not a crash.
      await expect(verifyNodeApart(objects, { netns: 'plk-none' })).rejects.toThrow(/plk-none|netns|namespace/i);
    });

    it('agent verify proves the table equal to the PolicyEndpoints and to the engine', async () => {
      const r = await verify();
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(new RegExp(`node0: table = PolicyEndpoints: proved on \\d+ cells \\(${objects.pods.length} local pods\\)`));
      expect(r.out).toMatch(/node0: table = engine: proved on \d+ cells/);
    });

    it('agent verify -o json: both proofs with their cell counts', async () => {
      const r = await verify('-o', 'json');
      expect(r.code, r.out).toBe(0);
      const j = JSON.parse(r.out) as { node: string; pods: number; proved: boolean; objects: { proved: boolean; cells: number }; engine: { proved: boolean; cells: number; notInManifests: string[] } };
      expect(j).toMatchObject({ node: 'node0', pods: objects.pods.length, proved: true, objects: { proved: true }, engine: { proved: true, notInManifests: [] } });
      expect(j.objects.cells).toBeGreaterThan(0);
      expect(j.engine.cells).toBeGreaterThan(0);
    });

    it('a table changed behind the agent\'s back: agent verify prints the counterexample and exits 1; the self-check counts a failure', async () => {
      await run('nft', ['flush', 'chain', 'inet', 'palisade', 'forward_filter'], where);
      await run('nft', ['flush', 'chain', 'inet', 'palisade', 'input_filter'], where);
      const r = await verify();
      expect(r.code, r.out).toBe(1);
      expect(r.out).toMatch(/node0: table ≠ PolicyEndpoints: .* → .*: expected drop, the table accepts/);
      const j = JSON.parse((await verify('-o', 'json')).out) as { proved: boolean; objects: { counterexample: { expected: string; actual: string; hook: string } } };
      expect(j.proved).toBe(false);
      expect(j.objects.counterexample).toMatchObject({ expected: 'drop', actual: 'accept' });
      const v = await agent!.verify();
      expect(v.objects.proved).toBe(false);
      expect(agent!.lastSelfCheck()?.ok).toBe(false);
      expect(await agent!.metrics.registry.metrics()).toMatch(/palisade_agent_self_check_failures_total\{node="node0"\} 1/);
      // A resync rewrites the table; the proof holds again.
      await agent!.resync();
      expect((await agent!.verify()).objects.proved).toBe(true);
    });

    it('a proof over the cell budget is skipped, with a metric, and never counted as a failure', async () => {
      await agent!.stop();
      agent = await runAgent({
        node: 'node0', input: new FilePolicyEndpointSource(join(dir, 'pe')), enforcingMode: 'standard', netns: NETNS, podInterfaces: 'eni*',
        pollIntervalMs: 600_000, selfCheckIntervalMs: 60_000, selfCheckDelayMs: 10, selfCheckMaxCells: 1, logger: pino({ level: 'silent' }),
      });
      await agent.resync();
      let text = '';
      for (let i = 0; i < 100 && !/palisade_agent_self_check_skipped_total\{node="node0"\} [1-9]/.test(text); i++) {
        await new Promise((r) => setTimeout(r, 50));
        text = await agent.metrics.registry.metrics();
      }
      expect(text).toMatch(/palisade_agent_self_check_skipped_total\{node="node0"\} [1-9]/);
      expect(text).toMatch(/palisade_agent_self_check_failures_total\{node="node0"\} 0/);
      expect(agent.lastSelfCheck()).toBeUndefined();
    });
  });
});
