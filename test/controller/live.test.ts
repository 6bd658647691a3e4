/**
 * The controller against a real kube-apiserver 1.20: PolicyEndpoints appear, follow label changes and pod deletions,
 * survive a controller restart and a cut watch, and only the leader of two instances writes.
 */
import { CoreV1Api, CustomObjectsApi, NetworkingV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { until } from '../support/until.js';
import { afterAll, describe, expect, it } from 'vitest';

import type { PolicyEndpoint } from '../../src/api/policyendpoint.js';
import { runController, type RunningController } from '../../src/controller/live.js';
import { kubeApiServer, useKubeApiServer } from '../kube/apiserver.js';
import { deployCrds, installCrds } from '../kube/manifests.js';

const PE = { group: 'networking.k8s.aws', version: 'v1alpha1', plural: 'policyendpoints' } as const;
const NS = 'shop';
const LEASE_NS = 'palisade-system';

async function policyEndpoints(kc: KubeConfig, policy: string): Promise<PolicyEndpoint[]> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ ...PE, namespace: NS })) as { items: PolicyEndpoint[] };
  return list.items.filter((p) => p.spec.policyRef.name === policy);
}

function ips(pes: readonly PolicyEndpoint[]): string[] {
  return pes.flatMap((p) => (p.spec.podSelectorEndpoints ?? []).map((e) => e.podIP)).sort();
}

async function createPod(kc: KubeConfig, name: string, labels: Record<string, string>, ip: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const body: V1Pod = { metadata: { name, namespace: NS, labels }, spec: { containers: [{ name: 'c', image: 'x', ports: [{ name: 'http', containerPort: 8080 }] }] } };
  await core.createNamespacedPod({ namespace: NS, body });
  const pod = await core.readNamespacedPod({ name, namespace: NS });
  pod.status = { ...pod.status, phase: 'Running', hostIP: '192.0.2.1', podIP: ip, podIPs: [{ ip }] };
  await core.replaceNamespacedPodStatus({ name, namespace: NS, body: pod });
}

describe.skipIf(!kubeApiServer.available)(kubeApiServer.title('controller against kube-apiserver 1.20'), () => {
  const server = useKubeApiServer();
  const running: RunningController[] = [];
  const logs: string[] = [];
  const start = async (identity: string, extra: { leaderElect?: boolean } = {}) => {
    const c = await runController({
      kubeConfig: server().kubeConfig,
      identity,
      leaseNamespace: LEASE_NS,
      leaseDurationSeconds: 2,
      renewDeadlineMs: 1500,
      retryPeriodMs: 300,
      batchWindowMs: 50,
      watchRetryMs: 200,
      metricsPort: 0,
      log: (_level, msg) => logs.push(`${identity}: ${msg}`),
      ...extra,
    });
    running.push(c);
    return c;
  };
  const stop = async (c: RunningController) => {
    await c.stop();
    running.splice(running.indexOf(c), 1);
  };
  afterAll(async () => {
    for (const c of [...running]) await c.stop();
  });

  // client-node's model names NetworkPolicy `from` `_from` (a reserved word); its serializer writes `from`.
  it('sets up CRDs, namespaces, pods and a policy', async () => {
    const kc = server().kubeConfig;
    await installCrds(kc, deployCrds());
    const core = kc.makeApiClient(CoreV1Api);
    for (const [name, labels] of [
      [NS, { team: 'shop' }],
      ['ops', { team: 'ops' }],
      [LEASE_NS, {}],
    ] as const) {
      await core.createNamespace({ body: { metadata: { name, labels: { ...labels, 'kubernetes.io/metadata.name': name } } } });
    }
    await createPod(kc, 'web-1', { app: 'web' }, '10.244.0.11');
    await createPod(kc, 'web-2', { app: 'web' }, '10.244.0.12');
    await createPod(kc, 'api-1', { app: 'api' }, '10.244.0.21');
    await kc.makeApiClient(NetworkingV1Api).createNamespacedNetworkPolicy({
      namespace: NS,
      body: { metadata: { name: 'web', namespace: NS }, spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ _from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 'http' }] }] } },
    });
  });

  it('writes the PolicyEndpoint, owned by the NetworkPolicy', async () => {
    const kc = server().kubeConfig;
    const c = await start('one');
    await until('leadership', async () => c.isLeader());
    const pes = await until('the PolicyEndpoint', async () => {
      const l = await policyEndpoints(kc, 'web');
      return l.length === 1 && ips(l).length === 2 && l;
    });
    const np = await kc.makeApiClient(NetworkingV1Api).readNamespacedNetworkPolicy({ name: 'web', namespace: NS });
    expect(pes[0].metadata.name).toMatch(/^web-[0-9a-f]{10}$/);
    expect(pes[0].metadata.ownerReferences).toEqual([{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', name: 'web', uid: np.metadata?.uid, controller: true, blockOwnerDeletion: true }]);
    expect(pes[0].spec.podIsolation).toEqual(['Ingress']);
    expect(ips(pes)).toEqual(['10.244.0.11', '10.244.0.12']);
    expect(pes[0].spec.ingress).toEqual([{ cidr: '10.244.0.21', ports: [{ protocol: 'TCP', port: 8080 }] }]);
    expect(c.isReady()).toBe(true);
    const text = await (await fetch(`http://127.0.0.1:${c.ports[0]}/metrics`)).text();
    expect(text).toMatch(/palisade_controller_objects_written_total\{verb="create"\} 1/);
    expect((await fetch(`http://127.0.0.1:${c.ports[0]}/readyz`)).status).toBe(200);
  });

  it('follows a label change and a pod deletion, and does not rewrite what is equal', async () => {
    const kc = server().kubeConfig;
    const [c] = running;
    const core = kc.makeApiClient(CoreV1Api);
    const api = await core.readNamespacedPod({ name: 'api-1', namespace: NS });
    api.metadata!.labels = { app: 'web' };
    await core.replaceNamespacedPod({ name: 'api-1', namespace: NS, body: api });
    await until('api-1 selected', async () => ips(await policyEndpoints(kc, 'web')).length === 3);
    expect((await policyEndpoints(kc, 'web'))[0].spec.ingress).toBeUndefined();
    await core.deleteNamespacedPod({ name: 'web-1', namespace: NS });
    await until('web-1 gone', async () => ips(await policyEndpoints(kc, 'web')).join() === '10.244.0.12,10.244.0.21');
    await c.reconciler.idle();
    const written = async () => (await c.metrics.written.get()).values.reduce((a, v) => a + v.value, 0);
    const before = await written();
    c.reconciler.markAll();
    await c.reconciler.flush();
    expect(await written()).toBe(before);
  });

  it('converges after a restart that missed changes', async () => {
    const kc = server().kubeConfig;
    await stop(running[0]);
    await createPod(kc, 'web-3', { app: 'web' }, '10.244.0.13');
    const c = await start('two');
    await until('leadership', async () => c.isLeader(), 10_000);
    await until('web-3 listed', async () => ips(await policyEndpoints(kc, 'web')).includes('10.244.0.13'));
  });

  it('converges after its watches are cut', async () => {
    const kc = server().kubeConfig;
    const [c] = running;
    c.cutWatches();
    await until('the watches restarted', async () => logs.some((l) => /^two: watch of pods broke; restarting$/.test(l)));
    await createPod(kc, 'web-4', { app: 'web' }, '10.244.0.14');
    await until('web-4 listed', async () => ips(await policyEndpoints(kc, 'web')).includes('10.244.0.14'));
    // An object deleted behind the controller's back is written again.
    const [pe] = await policyEndpoints(kc, 'web');
    await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ ...PE, namespace: NS, name: pe.metadata.name! });
    await until('the PolicyEndpoint restored', async () => (await policyEndpoints(kc, 'web')).length === 1);
  });

  it('with two instances, only the leader writes; the other takes over when it stops', async () => {
    const kc = server().kubeConfig;
    const [first] = running;
    const second = await start('three');
    await new Promise((r) => setTimeout(r, 1000));
    expect([first.isLeader(), second.isLeader()]).toEqual([true, false]);
    const lease = await kc.makeApiClient((await import('@kubernetes/client-node')).CoordinationV1Api).readNamespacedLease({ name: 'palisade-controller', namespace: LEASE_NS });
    expect(lease.spec?.holderIdentity).toBe('two');
    await stop(first);
    await until('the second instance leads', async () => second.isLeader(), 10_000);
    await createPod(kc, 'web-5', { app: 'web' }, '10.244.0.15');
    await until('web-5 listed by the new leader', async () => ips(await policyEndpoints(kc, 'web')).includes('10.244.0.15'));
    const written = (await second.metrics.written.get()).values.reduce((a, v) => a + v.value, 0);
    expect(written).toBeGreaterThan(0);
  });

  it('deletes the PolicyEndpoints of a deleted NetworkPolicy', async () => {
    const kc = server().kubeConfig;
    await kc.makeApiClient(NetworkingV1Api).deleteNamespacedNetworkPolicy({ name: 'web', namespace: NS });
    await until('no PolicyEndpoint left', async () => (await policyEndpoints(kc, 'web')).length === 0);
  });
});
