/**
 * Live mode against a real kube-apiserver 1.20 (root, cached binary): the CRDs from deploy/crds installed,
 * PolicyEndpoints and a ClusterPolicyEndpoint created, changed and deleted through the API for the pods of a netns
 * lab, and two agents following them through `KubePolicyEndpointSource` — every change checked with real packets,
 * including one made while the watches were broken (seen by the relist), and `palisade agent --kubeconfig`.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, type Agent } from '../../src/agent/agent.js';
import { KubePolicyEndpointSource } from '../../src/agent/kube-source.js';
import type { ClusterPolicyEndpoint, PolicyEndpoint } from '../../src/api/policyendpoint.js';
import { agentCommand } from '../../src/cli/agent.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import { labLeftovers, labUp, type Lab, type LabPod } from '../../src/lab/lab.js';
import { kubeApiServer, useKubeApiServer } from '../kube/apiserver.js';
import { gate } from '../support/gate.js';
import { deployCrds, installCrds } from '../kube/manifests.js';
import { podByName, policyEndpoint, skipReason, sleep } from '../lab/support.js';

const PREFIX = 'plv-';
const GROUP = { group: 'networking.k8s.aws', version: 'v1alpha1' } as const;
const why = skipReason() ?? (kubeApiServer.available ? undefined : kubeApiServer.reason);

describe.skipIf(gate('agent-live', why))(`agent live mode on a real API server${why ? ` [skipped: ${why}]` : ''}`, () => {
  const server = useKubeApiServer();
  let lab: Lab;
  let source: KubePolicyEndpointSource;
  const agents: Agent[] = [];
  let api: CustomObjectsApi;

  const reach = async (from: LabPod, to: LabPod) => (await (await lab.helper(from.id)).probe([{ host: to.ip, port: 80, protocol: 'TCP' }], 500))[0];
  /** Polls until `from → to` is `want` (bounded); returns the time it took. */
  const until = async (from: LabPod, to: LabPod, want: boolean, ms = 8000): Promise<number> => {
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      if ((await reach(from, to)) === want) return performance.now() - t0;
      await sleep(50);
    }
    throw new Error(`${from.name} → ${to.name} still ${want ? 'denied' : 'allowed'} after ${ms} ms`);
  };
  /** Runs `write` and waits for the agent of n1 to apply a new sync (bounded); returns write → applied, in ms. */
  const applied = async (write: () => Promise<unknown>, ms = 8000): Promise<number> => {
    const before = agents[0].lastApplied();
    const t0 = performance.now();
    await write();
    while (agents[0].lastApplied() === before && performance.now() - t0 < ms) await sleep(5);
    expect(agents[0].lastApplied()).not.toBe(before);
    return performance.now() - t0;
  };
  const createPe = (pe: PolicyEndpoint) => api.createNamespacedCustomObject({ ...GROUP, namespace: 'default', plural: 'policyendpoints', body: pe });
  const replacePe = async (pe: PolicyEndpoint) => {
    const name = pe.metadata.name!;
    const current = (await api.getNamespacedCustomObject({ ...GROUP, namespace: 'default', plural: 'policyendpoints', name })) as PolicyEndpoint;
    await api.replaceNamespacedCustomObject({ ...GROUP, namespace: 'default', plural: 'policyendpoints', name, body: { ...pe, metadata: { ...pe.metadata, resourceVersion: current.metadata.resourceVersion } } });
  };

  beforeAll(async () => {
    await installCrds(server().kubeConfig, deployCrds());
    api = server().kubeConfig.makeApiClient(CustomObjectsApi);
    lab = await labUp({ nodes: ['n1', 'n2'], pods: [{ name: 'a', node: 'n1' }, { name: 'b', node: 'n1' }, { name: 'c', node: 'n2' }] }, { prefix: PREFIX, agents: false });
    source = new KubePolicyEndpointSource({ kubeConfig: server().kubeConfig, relistDelayMs: 1500 });
    await source.start();
    for (const n of lab.nodes) {
      agents.push(await runAgent({ node: n.name, input: source, enforcingMode: 'standard', netns: n.netns, podInterfaces: `${PREFIX}v*`, pollIntervalMs: 500, logger: pino({ level: 'silent' }) }));
    }
  }, 180_000);

  afterAll(async () => {
    source?.stop();
    for (const a of agents) await a.stop({ removeTable: true }).catch(() => undefined);
    await lab?.down();
    expect(await labLeftovers(PREFIX)).toEqual([]);
  });

  it('enforces PolicyEndpoints created, replaced and deleted through the API, and a ClusterPolicyEndpoint; relists after a broken watch', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => podByName(lab.pods, n));
    expect(await reach(c, b)).toBe(true);
    const timings: Record<string, number> = {};

    timings.created = await applied(() => createPe(policyEndpoint('b-web', [b], { isolation: ['Ingress'], ingress: [{ cidr: a.ip, ports: [{ protocol: 'TCP', port: 80 }] }] })));
    await until(c, b, false);
    expect(await reach(a, b)).toBe(true);

    timings.replaced = await applied(() => replacePe(policyEndpoint('b-web', [b], { isolation: ['Ingress'], ingress: [{ cidr: c.ip, ports: [{ protocol: 'TCP', port: 80 }] }] })));
    await until(c, b, true);
    expect(await reach(a, b)).toBe(false);

    // An Admin-tier Deny overrides the NetworkPolicy's allow.
    const guard: ClusterPolicyEndpoint = {
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'ClusterPolicyEndpoint',
      metadata: { name: 'guard-b-8d7f1' },
      spec: { policyRef: { name: 'guard-b' }, tier: 'Admin', priority: 5, subject: { namespaces: {} }, podSelectorEndpoints: [{ podIP: b.ip, hostIP: b.hostIP, name: b.name, namespace: b.namespace }], ingress: [{ cidr: c.ip, action: 'Deny' }] },
    };
    timings.clusterCreated = await applied(() => api.createClusterCustomObject({ ...GROUP, plural: 'clusterpolicyendpoints', body: guard }));
    await until(c, b, false);

    // Watches down; the ClusterPolicyEndpoint is deleted meanwhile: only the relist can tell.
    const listsBefore = source.lists();
    source.cutWatches();
    timings.deletedWhileWatchBroken = await applied(() => api.deleteClusterCustomObject({ ...GROUP, plural: 'clusterpolicyendpoints', name: guard.metadata.name! }));
    await until(c, b, true);
    expect(source.lists().clusterPolicyEndpoints).toBeGreaterThan(listsBefore.clusterPolicyEndpoints);
    expect(source.lists().policyEndpoints).toBeGreaterThan(listsBefore.policyEndpoints);

    // And the new watches deliver again.
    timings.deleted = await applied(() => api.deleteNamespacedCustomObject({ ...GROUP, namespace: 'default', plural: 'policyendpoints', name: 'b-web-x7k2p' }));
    await until(a, b, true);
    console.log(`API write → nft transaction applied on n1 (the relist waits 1.5 s): ${Object.entries(timings).map(([k, v]) => `${k} ${Math.round(v)} ms`).join(', ')}`);
    expect((await source.list()).length).toBe(0);
  }, 60_000);

  it('palisade agent --kubeconfig follows the API server too', async () => {
    const [a, b] = ['a', 'b'].map((n) => podByName(lab.pods, n));
    for (const ag of agents.splice(0)) await ag.stop({ removeTable: true });
    await createPe(policyEndpoint('b-closed', [b], { isolation: ['Ingress'] }));
    const signals = new EventEmitter();
    const err: string[] = [];
    const io: Io = { out: () => undefined, err: (t) => err.push(t), interactive: false, readStdin: () => '' };
    const done = run(
      ['agent', '--node', 'n1', '--kubeconfig', join(server().dir, 'kubeconfig'), '--netns', `${PREFIX}n1`, '--pod-interfaces', `${PREFIX}v*`],
      io,
      [agentCommand(signals as unknown as NodeJS.Process)],
    );
    try {
      await until(a, b, false, 15_000);
      await api.deleteNamespacedCustomObject({ ...GROUP, namespace: 'default', plural: 'policyendpoints', name: 'b-closed-x7k2p' });
      await until(a, b, true);
    } finally {
      signals.emit('SIGTERM');
    }
    expect(await done).toBe(0);
    expect(err.filter((l) => l.startsWith('error'))).toEqual([]);
  }, 60_000);
});
