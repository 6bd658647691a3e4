/**
 * The live controller with AWS's own kinds against a real kube-apiserver 1.20: an AWS `networking.k8s.aws/v1alpha1`
 * ClusterNetworkPolicy gets ClusterPolicyEndpoints it owns, an ApplicationNetworkPolicy PolicyEndpoints it owns (beside
 * a NetworkPolicy of the same name, which keeps its own), both follow a pod, and deleting either policy removes its
 * objects (the controller does this; the test server runs no garbage collector).
 */
import { CoreV1Api, CustomObjectsApi, NetworkingV1Api, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { until } from '../support/until.js';
import { afterAll, describe, expect, it } from 'vitest';

import type { ClusterPolicyEndpoint, PolicyEndpoint } from '../../src/api/policyendpoint.js';
import { runController, type RunningController } from '../../src/controller/live.js';
import { kubeApiServer, useKubeApiServer } from '../kube/apiserver.js';
import { deployCrds, installCrds } from '../kube/manifests.js';

const AWS = { group: 'networking.k8s.aws', version: 'v1alpha1' } as const;
const NS = 'shop';

/**
 * A CRD serving one of AWS's policy kinds that keeps whatever spec it is given. AWS's CRDs validate more (with CEL rules
 * this 1.20 server does not know); the controller reads what the API returns, so the schema does not matter here.
 */
function awsCrd(kind: string, plural: string, scope: 'Cluster' | 'Namespaced'): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${AWS.group}` },
    spec: {
      group: AWS.group,
      scope,
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: AWS.version, served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } } } }],
    },
  };
}

async function clusterPolicyEndpoints(kc: KubeConfig, policy: string): Promise<ClusterPolicyEndpoint[]> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ ...AWS, plural: 'clusterpolicyendpoints' })) as { items: ClusterPolicyEndpoint[] };
  return list.items.filter((p) => p.spec.policyRef.name === policy);
}

/** The PolicyEndpoints of `policy` owned by `ownerKind`. */
async function policyEndpoints(kc: KubeConfig, policy: string, ownerKind: string): Promise<PolicyEndpoint[]> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ ...AWS, namespace: NS, plural: 'policyendpoints' })) as { items: PolicyEndpoint[] };
  return list.items.filter((p) => p.spec.policyRef.name === policy && p.metadata.ownerReferences?.[0]?.kind === ownerKind);
}

async function createPod(kc: KubeConfig, name: string, labels: Record<string, string>, ip: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({ namespace: NS, body: { metadata: { name, labels }, spec: { containers: [{ name: 'c', image: 'x' }] } } });
  const pod = await core.readNamespacedPod({ name, namespace: NS });
  pod.status = { ...pod.status, phase: 'Running', hostIP: '192.0.2.1', podIP: ip, podIPs: [{ ip }] };
  await core.replaceNamespacedPodStatus({ name, namespace: NS, body: pod });
}

const pods = (objects: readonly { spec: { podSelectorEndpoints?: readonly { podIP: string }[] } }[]) => objects.flatMap((o) => (o.spec.podSelectorEndpoints ?? []).map((p) => p.podIP)).sort();

describe.skipIf(!kubeApiServer.available)(kubeApiServer.title("controller with AWS's ClusterNetworkPolicy and ApplicationNetworkPolicy against kube-apiserver 1.20"), () => {
  const server = useKubeApiServer();
  let controller: RunningController | undefined;
  const logs: string[] = [];
  afterAll(async () => {
    await controller?.stop();
  });

  it("sets up CRDs (Palisade's and AWS's policy kinds), a namespace, a pod and the policies", async () => {
    const kc = server().kubeConfig;
    await installCrds(kc, [...deployCrds(), awsCrd('ClusterNetworkPolicy', 'clusternetworkpolicies', 'Cluster'), awsCrd('ApplicationNetworkPolicy', 'applicationnetworkpolicies', 'Namespaced')]);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS, labels: { team: 'red' } } } });
    await createPod(kc, 'web', { app: 'web' }, '10.244.0.5');
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createClusterCustomObject({
      ...AWS,
      plural: 'clusternetworkpolicies',
      body: {
        apiVersion: 'networking.k8s.aws/v1alpha1',
        kind: 'ClusterNetworkPolicy',
        metadata: { name: 'no-metadata' },
        spec: {
          tier: 'Admin',
          priority: 10,
          subject: { namespaces: { matchLabels: { team: 'red' } } },
          egress: [
            { name: 'api', action: 'Accept', to: [{ domainNames: ['api.example.com'] }, { networks: ['203.0.113.0/24'] }], ports: [{ portNumber: { protocol: 'TCP', port: 443 } }] },
            { name: 'imds', action: 'Deny', to: [{ networks: ['169.254.169.254/32'] }] },
            { name: 'rest', action: 'Pass', to: [{ namespaces: {} }] },
          ],
        },
      },
    });
    await custom.createNamespacedCustomObject({
      ...AWS,
      namespace: NS,
      plural: 'applicationnetworkpolicies',
      body: {
        apiVersion: 'networking.k8s.aws/v1alpha1',
        kind: 'ApplicationNetworkPolicy',
        metadata: { name: 'web' },
        spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ to: [{ domainNames: ['*.example.com'] }] }, { to: [{ ipBlock: { cidr: '198.51.100.0/24' } }], ports: [{ protocol: 'UDP', port: 53 }] }] },
      },
    });
    // A NetworkPolicy of the same namespace and name: its PolicyEndpoints are its own.
    await kc.makeApiClient(NetworkingV1Api).createNamespacedNetworkPolicy({
      namespace: NS,
      body: { metadata: { name: 'web' }, spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ _from: [{ podSelector: {} }] }] } },
    });
  });

  it("writes ClusterPolicyEndpoints owned by AWS's ClusterNetworkPolicy, and PolicyEndpoints owned by the ApplicationNetworkPolicy", async () => {
    const kc = server().kubeConfig;
    controller = await runController({ kubeConfig: kc, leaderElect: false, batchWindowMs: 50, watchRetryMs: 200, log: (_l, msg, f) => logs.push(`${msg} ${JSON.stringify(f ?? {})}`) });
    expect(logs.find((l) => l.startsWith('controller started'))).toMatch(/clusternetworkpolicies\.networking\.k8s\.aws.*applicationnetworkpolicies\.networking\.k8s\.aws/);

    const [cpe] = await until('the ClusterPolicyEndpoint', async () => {
      const l = await clusterPolicyEndpoints(kc, 'no-metadata');
      return l.length > 0 && l;
    });
    const cnp = (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({ ...AWS, plural: 'clusternetworkpolicies', name: 'no-metadata' })) as { metadata: { uid: string } };
    expect(cpe.metadata.ownerReferences).toEqual([{ apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ClusterNetworkPolicy', name: 'no-metadata', uid: cnp.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(cpe.spec).toMatchObject({ tier: 'Admin', priority: 10, subject: { namespaces: { matchLabels: { team: 'red' } } } });
    expect(cpe.spec.podSelectorEndpoints).toEqual([{ podIP: '10.244.0.5', hostIP: '192.0.2.1', name: 'web', namespace: NS }]);
    // The domain name carries no address (no DNS answers here): the rule's network stays; then Deny, then Pass (the pods
    // of every namespace, and the ClusterIP of the apiserver's own `kubernetes` Service in default).
    const kubernetes = await kc.makeApiClient(CoreV1Api).readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    expect((cpe.spec.egress ?? []).map((e) => `${e.cidr ?? e.domainName} ${e.action}${(e.ports ?? []).map((p) => ` ${p.protocol ?? 'TCP'}/${p.port ?? '*'}`).join('')}`)).toEqual([
      '203.0.113.0/24 Accept TCP/443',
      '169.254.169.254/32 Deny',
      `${kubernetes.spec?.clusterIP} Pass`,
      '10.244.0.5 Pass',
    ]);

    const [pe] = await until('the ApplicationNetworkPolicy PolicyEndpoint', async () => {
      const l = await policyEndpoints(kc, 'web', 'ApplicationNetworkPolicy');
      return l.length > 0 && l;
    });
    expect(pe.metadata.ownerReferences?.[0]).toMatchObject({ apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ApplicationNetworkPolicy', name: 'web' });
    expect(pe.spec).toMatchObject({ policyRef: { name: 'web', namespace: NS }, podIsolation: ['Egress'], egress: [{ cidr: '198.51.100.0/24', ports: [{ protocol: 'UDP', port: 53 }] }] });
    const np = await until('the NetworkPolicy PolicyEndpoint', async () => {
      const l = await policyEndpoints(kc, 'web', 'NetworkPolicy');
      return l.length > 0 && l;
    });
    expect(np[0].metadata.name).not.toBe(pe.metadata.name);
    expect(np[0].spec.podIsolation).toEqual(['Ingress']);
    expect(controller.isReady()).toBe(true);
  });

  it('follows a new pod, and removes the objects of each deleted policy', async () => {
    const kc = server().kubeConfig;
    await createPod(kc, 'web2', { app: 'web' }, '10.244.0.6');
    await until('the new pod in both', async () => pods(await clusterPolicyEndpoints(kc, 'no-metadata')).join() === '10.244.0.5,10.244.0.6' && pods(await policyEndpoints(kc, 'web', 'ApplicationNetworkPolicy')).join() === '10.244.0.5,10.244.0.6');

    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.deleteClusterCustomObject({ ...AWS, plural: 'clusternetworkpolicies', name: 'no-metadata' });
    await until('the ClusterPolicyEndpoints gone', async () => (await clusterPolicyEndpoints(kc, 'no-metadata')).length === 0);
    await custom.deleteNamespacedCustomObject({ ...AWS, namespace: NS, plural: 'applicationnetworkpolicies', name: 'web' });
    await until('the ApplicationNetworkPolicy PolicyEndpoints gone', async () => (await policyEndpoints(kc, 'web', 'ApplicationNetworkPolicy')).length === 0);
    // The NetworkPolicy of the same name keeps its objects.
    await controller!.reconciler.idle();
    expect(await policyEndpoints(kc, 'web', 'NetworkPolicy')).toHaveLength(1);
  });
});
