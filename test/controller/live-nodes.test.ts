/**
 * The live controller's Node informer against a real kube-apiserver 1.20: the `nodes` peers of a ClusterNetworkPolicy
 * (v1alpha2) and an AdminNetworkPolicy (v1alpha1) become the nodes' InternalIP/ExternalIP addresses in the
 * ClusterPolicyEndpoints, and follow a relabel, a new address (status subresource) and a deletion; a policy without
 * `nodes` peers is not rewritten by any of it.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1CustomResourceDefinition, type V1NodeAddress } from '@kubernetes/client-node';
import { until } from '../support/until.js';
import { afterAll, describe, expect, it } from 'vitest';

import type { ClusterPolicyEndpoint } from '../../src/api/policyendpoint.js';
import { runController, type RunningController } from '../../src/controller/live.js';
import { kubeApiServer, useKubeApiServer } from '../kube/apiserver.js';
import { deployCrds, installCrds } from '../kube/manifests.js';

const CPE = { group: 'networking.k8s.aws', version: 'v1alpha1', plural: 'clusterpolicyendpoints' } as const;
const TIER_GROUP = 'policy.networking.k8s.io';

/**
 * A CRD that serves a tier kind and keeps whatever spec it is given. The upstream CRDs validate more; the controller
 * under test reads what the API returns, so the schema does not matter here.
 */
function tierCrd(kind: string, plural: string, version: string): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    // The group is a protected *.k8s.io group: the API server asks for the approval annotation the upstream CRDs carry.
    metadata: { name: `${plural}.${TIER_GROUP}`, annotations: { 'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/network-policy-api/pull/30' } },
    spec: {
      group: TIER_GROUP,
      scope: 'Cluster',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } } },
        },
      ],
    },
  };
}

async function clusterPolicyEndpoints(kc: KubeConfig, policy: string): Promise<ClusterPolicyEndpoint[]> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject(CPE)) as { items: ClusterPolicyEndpoint[] };
  return list.items.filter((p) => p.spec.policyRef.name === policy);
}

/** The egress entries of a policy's objects, as `cidr action ports`, sorted. */
async function egress(kc: KubeConfig, policy: string): Promise<string[]> {
  return (await clusterPolicyEndpoints(kc, policy))
    .flatMap((o) => o.spec.egress ?? [])
    .map((e) => `${e.cidr ?? ''} ${e.action}${(e.ports ?? []).map((p) => ` ${p.protocol ?? 'TCP'}/${p.port ?? '*'}`).join('')}`)
    .sort();
}

async function createNode(kc: KubeConfig, name: string, labels: Record<string, string>, addresses: V1NodeAddress[]): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNode({ body: { metadata: { name, labels } } });
  await setAddresses(kc, name, addresses);
}

/** Sets `status.addresses` through the status subresource, as the kubelet does. */
async function setAddresses(kc: KubeConfig, name: string, addresses: V1NodeAddress[]): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const node = await core.readNode({ name });
  node.status = { ...node.status, addresses };
  await core.replaceNodeStatus({ name, body: node });
}

const ip = (type: 'InternalIP' | 'ExternalIP' | 'Hostname', address: string): V1NodeAddress => ({ type, address });

describe.skipIf(!kubeApiServer.available)(kubeApiServer.title('controller Node informer against kube-apiserver 1.20'), () => {
  const server = useKubeApiServer();
  let controller: RunningController | undefined;
  afterAll(async () => {
    await controller?.stop();
  });

  it('sets up CRDs, a namespace with a pod, nodes and tier policies', async () => {
    const kc = server().kubeConfig;
    await installCrds(kc, [
      ...deployCrds(),
      tierCrd('ClusterNetworkPolicy', 'clusternetworkpolicies', 'v1alpha2'),
      tierCrd('AdminNetworkPolicy', 'adminnetworkpolicies', 'v1alpha1'),
    ]);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } } } });
    await core.createNamespacedPod({ namespace: 'shop', body: { metadata: { name: 'web', labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } });
    const pod = await core.readNamespacedPod({ name: 'web', namespace: 'shop' });
    pod.status = { ...pod.status, phase: 'Running', hostIP: '192.0.2.1', podIP: '10.244.0.5', podIPs: [{ ip: '10.244.0.5' }] };
    await core.replaceNamespacedPodStatus({ name: 'web', namespace: 'shop', body: pod });
    await createNode(kc, 'n1', { role: 'worker' }, [ip('InternalIP', '192.0.2.1'), ip('ExternalIP', '198.51.100.1'), ip('Hostname', 'n1')]);
    await createNode(kc, 'n2', { role: 'worker' }, [ip('InternalIP', '192.0.2.2'), ip('Hostname', 'n2')]);
    await createNode(kc, 'n3', { role: 'infra' }, [ip('InternalIP', '192.0.2.3')]);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const create = (version: string, plural: string, body: object) => custom.createClusterCustomObject({ group: TIER_GROUP, version, plural, body });
    await create('v1alpha2', 'clusternetworkpolicies', {
      apiVersion: `${TIER_GROUP}/v1alpha2`,
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'no-kubelet' },
      spec: {
        tier: 'Admin',
        priority: 10,
        subject: { namespaces: {} },
        egress: [{ name: 'kubelet', action: 'Deny', to: [{ nodes: { matchLabels: { role: 'worker' } } }], protocols: [{ tcp: { destinationPort: { number: 10250 } } }] }],
      },
    });
    await create('v1alpha1', 'adminnetworkpolicies', {
      apiVersion: `${TIER_GROUP}/v1alpha1`,
      kind: 'AdminNetworkPolicy',
      metadata: { name: 'infra' },
      spec: { priority: 20, subject: { namespaces: {} }, egress: [{ name: 'infra', action: 'Allow', to: [{ nodes: { matchLabels: { role: 'infra' } } }] }] },
    });
    await create('v1alpha2', 'clusternetworkpolicies', {
      apiVersion: `${TIER_GROUP}/v1alpha2`,
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'metadata' },
      spec: { tier: 'Admin', priority: 5, subject: { namespaces: {} }, egress: [{ action: 'Deny', to: [{ networks: ['169.254.169.254/32'] }] }] },
    });
  });

  it('writes the InternalIP and ExternalIP addresses of the selected nodes, not their hostnames', async () => {
    const kc = server().kubeConfig;
    controller = await runController({ kubeConfig: kc, leaderElect: false, batchWindowMs: 50, watchRetryMs: 200 });
    const want = ['192.0.2.1 Deny TCP/10250', '192.0.2.2 Deny TCP/10250', '198.51.100.1 Deny TCP/10250'];
    await until('the no-kubelet entries', async () => JSON.stringify(await egress(kc, 'no-kubelet')) === JSON.stringify(want));
    expect(await egress(kc, 'no-kubelet')).toEqual(want);
    expect(await egress(kc, 'infra')).toEqual(['192.0.2.3 Accept']);
    const [cpe] = await clusterPolicyEndpoints(kc, 'no-kubelet');
    expect(cpe.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ClusterNetworkPolicy', name: 'no-kubelet' });
    expect(cpe.spec.podSelectorEndpoints).toEqual([{ podIP: '10.244.0.5', hostIP: '192.0.2.1', name: 'web', namespace: 'shop' }]);
    expect(controller.isReady()).toBe(true);
  });

  it('follows a relabel, a new address and a deletion, and leaves a policy without nodes peers alone', async () => {
    const kc = server().kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    await controller!.reconciler.idle();
    const untouched = (await clusterPolicyEndpoints(kc, 'metadata')).map((o) => o.metadata.resourceVersion);
    expect(untouched).toHaveLength(1);

    const n2 = await core.readNode({ name: 'n2' });
    n2.metadata!.labels = { role: 'infra' };
    await core.replaceNode({ name: 'n2', body: n2 });
    await until('n2 moved to infra', async () => (await egress(kc, 'infra')).join() === '192.0.2.2 Accept,192.0.2.3 Accept');
    expect(await egress(kc, 'no-kubelet')).toEqual(['192.0.2.1 Deny TCP/10250', '198.51.100.1 Deny TCP/10250']);

    await setAddresses(kc, 'n1', [ip('InternalIP', '192.0.2.11'), ip('ExternalIP', '198.51.100.1')]);
    await until('n1 readdressed', async () => (await egress(kc, 'no-kubelet')).join() === '192.0.2.11 Deny TCP/10250,198.51.100.1 Deny TCP/10250');

    await core.deleteNode({ name: 'n1' });
    await until('n1 gone', async () => (await egress(kc, 'no-kubelet')).length === 0);
    // The subject pods stay; only the entries went.
    expect((await clusterPolicyEndpoints(kc, 'no-kubelet')).flatMap((o) => o.spec.podSelectorEndpoints ?? [])).toHaveLength(1);
    expect(await egress(kc, 'infra')).toEqual(['192.0.2.2 Accept', '192.0.2.3 Accept']);

    await controller!.reconciler.idle();
    expect((await clusterPolicyEndpoints(kc, 'metadata')).map((o) => o.metadata.resourceVersion)).toEqual(untouched);
  });
});
