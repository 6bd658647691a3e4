/**
 * Smoke test of the real API server: the objects Palisade reads and writes round-trip through kube-apiserver 1.20,
 * and a watch delivers an event for the PolicyEndpoint CRD from deploy/.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  NetworkingV1Api,
  V1NetworkPolicy,
  V1Pod,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { kubeApiServer, useKubeApiServer } from './apiserver.js';
import { deployCrds, installCrds } from './manifests.js';

const NS = 'smoke';
const PE = { group: 'networking.k8s.aws', version: 'v1alpha1', plural: 'policyendpoints' } as const;

describe.skipIf(!kubeApiServer.available)(kubeApiServer.title('kube-apiserver 1.20 smoke'), () => {
  const server = useKubeApiServer();

  it('is kube-apiserver 1.20.2 on loopback, with the default namespace', async () => {
    const cluster = server().kubeConfig.getCurrentCluster();
    expect(cluster?.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const version = await server().kubeConfig.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.20\.2/);
    const core = server().kubeConfig.makeApiClient(CoreV1Api);
    // The server's bootstrap controller creates `default` shortly after it answers (kube-system may come first).
    let names: (string | undefined)[] = [];
    for (let i = 0; i < 100 && !names.includes('default'); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
    }
    expect(names).toContain('default');
  });

  it('installs the PolicyEndpoint CRD from deploy/', async () => {
    const crd = deployCrds().find((c) => c.spec.names.kind === 'PolicyEndpoint');
    expect(crd).toBeDefined();
    const [stored] = await installCrds(server().kubeConfig, [crd!]);
    expect(stored.spec.group).toBe('networking.k8s.aws');
    expect(stored.spec.scope).toBe('Namespaced');
    expect(stored.spec.versions.map((v) => v.name)).toEqual(['v1alpha1']);
  });

  it('creates and reads back a namespace, with the 1.21+ name label set by hand', async () => {
    const core = server().kubeConfig.makeApiClient(CoreV1Api);
    // API 1.20 does not add kubernetes.io/metadata.name; fixtures must.
    await core.createNamespace({
      body: { metadata: { name: NS, labels: { 'kubernetes.io/metadata.name': NS, team: 'a' } } },
    });
    const ns = await core.readNamespace({ name: NS });
    expect(ns.metadata?.labels).toEqual({ 'kubernetes.io/metadata.name': NS, team: 'a' });
  });

  it('creates a pod and sets status.podIP through the status subresource', async () => {
    const core = server().kubeConfig.makeApiClient(CoreV1Api);
    const body: V1Pod = {
      metadata: { name: 'web', namespace: NS, labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ name: 'http', containerPort: 80 }] }] },
    };
    await core.createNamespacedPod({ namespace: NS, body });
    // No scheduler or kubelet: the pod stays Pending until we write its status ourselves.
    const created = await core.readNamespacedPod({ name: 'web', namespace: NS });
    expect(created.status?.podIP).toBeUndefined();
    created.status = {
      ...created.status,
      phase: 'Running',
      hostIP: '192.0.2.1',
      podIP: '10.244.1.5',
      podIPs: [{ ip: '10.244.1.5' }],
    };
    await core.replaceNamespacedPodStatus({ name: 'web', namespace: NS, body: created });
    const pod = await core.readNamespacedPod({ name: 'web', namespace: NS });
    expect(pod.status?.podIP).toBe('10.244.1.5');
    expect(pod.status?.hostIP).toBe('192.0.2.1');
    expect(pod.status?.phase).toBe('Running');
    expect(pod.metadata?.labels).toEqual({ app: 'web' });
  });

  it('creates and reads back a NetworkPolicy, peers grouped as written', async () => {
    const net = server().kubeConfig.makeApiClient(NetworkingV1Api);
    const body: V1NetworkPolicy = {
      metadata: { name: 'allow-team-a', namespace: NS },
      spec: {
        podSelector: { matchLabels: { app: 'web' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            // One peer with both selectors (AND), and a second peer (OR).
            _from: [
              { namespaceSelector: { matchLabels: { team: 'a' } }, podSelector: { matchLabels: { role: 'client' } } },
              { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
            ],
            ports: [{ protocol: 'TCP', port: 80 }],
          },
        ],
      },
    };
    await net.createNamespacedNetworkPolicy({ namespace: NS, body });
    const np = await net.readNamespacedNetworkPolicy({ name: 'allow-team-a', namespace: NS });
    expect(np.spec?.podSelector).toEqual({ matchLabels: { app: 'web' } });
    expect(np.spec?.policyTypes).toEqual(['Ingress']);
    const peers = np.spec?.ingress?.[0]._from ?? [];
    expect(peers).toHaveLength(2);
    expect(peers[0].namespaceSelector?.matchLabels).toEqual({ team: 'a' });
    expect(peers[0].podSelector?.matchLabels).toEqual({ role: 'client' });
    expect(peers[1].ipBlock).toEqual({ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] });
    expect(np.spec?.ingress?.[0].ports).toEqual([{ protocol: 'TCP', port: 80 }]);
  });

  it('creates a PolicyEndpoint, reads it back with the CRD default applied, and watches its update', async () => {
    const custom = server().kubeConfig.makeApiClient(CustomObjectsApi);
    const body = {
      apiVersion: `${PE.group}/${PE.version}`,
      kind: 'PolicyEndpoint',
      metadata: { name: 'allow-team-a-x7k2p', namespace: NS },
      spec: {
        podSelector: { matchLabels: { app: 'web' } },
        policyRef: { name: 'allow-team-a', namespace: NS },
        podIsolation: ['Ingress'],
        podSelectorEndpoints: [{ hostIP: '192.0.2.1', podIP: '10.244.1.5', name: 'web', namespace: NS }],
        // No protocol: the schema's default (TCP) must be filled in by the server.
        ingress: [{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'], ports: [{ port: 80 }] }],
        egress: [{ cidr: '0.0.0.0/0', ports: [{ protocol: 'UDP', port: 53, endPort: 54 }] }],
      },
    };
    const created = await custom.createNamespacedCustomObject({ ...PE, namespace: NS, body });
    const read = await custom.getNamespacedCustomObject({ ...PE, namespace: NS, name: body.metadata.name });
    expect(read.spec.policyRef).toEqual({ name: 'allow-team-a', namespace: NS });
    expect(read.spec.podSelectorEndpoints).toEqual(body.spec.podSelectorEndpoints);
    expect(read.spec.ingress).toEqual([{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'], ports: [{ protocol: 'TCP', port: 80 }] }]);
    expect(read.spec.egress[0].ports).toEqual([{ protocol: 'UDP', port: 53, endPort: 54 }]);

    // Watch from the version we hold, then change the object: exactly that change must arrive.
    const events: Array<{ phase: string; name: string; cidr: string }> = [];
    let gotEvent!: () => void;
    const arrived = new Promise<void>((done) => (gotEvent = done));
    const watch = new Watch(server().kubeConfig);
    const controller = await watch.watch(
      `/apis/${PE.group}/${PE.version}/namespaces/${NS}/${PE.plural}`,
      { resourceVersion: created.metadata.resourceVersion, allowWatchBookmarks: false },
      (phase, obj: { metadata: { name: string }; spec: { ingress: Array<{ cidr: string }> } }) => {
        events.push({ phase, name: obj.metadata.name, cidr: obj.spec.ingress[0].cidr });
        gotEvent();
      },
      () => undefined,
    );
    try {
      read.spec.ingress[0].cidr = '10.0.0.0/16';
      await custom.replaceNamespacedCustomObject({ ...PE, namespace: NS, name: body.metadata.name, body: read });
      await Promise.race([
        arrived,
        new Promise((_, fail) => setTimeout(() => fail(new Error('no watch event within 10 s')), 10_000)),
      ]);
    } finally {
      controller.abort();
    }
    expect(events[0]).toEqual({ phase: 'MODIFIED', name: body.metadata.name, cidr: '10.0.0.0/16' });
  });

  it('rejects a PolicyEndpoint without policyRef (required by the schema)', async () => {
    const custom = server().kubeConfig.makeApiClient(CustomObjectsApi);
    const body = {
      apiVersion: `${PE.group}/${PE.version}`,
      kind: 'PolicyEndpoint',
      metadata: { name: 'no-ref', namespace: NS },
      spec: { podIsolation: ['Ingress'] },
    };
    await expect(custom.createNamespacedCustomObject({ ...PE, namespace: NS, body })).rejects.toMatchObject({ code: 422 });
  });
});
