/**
 * `doctor`, `audit endpoints --kubeconfig` and `audit flowlogs --kubeconfig` against a real kube-apiserver 1.20 made to
 * look like EKS: the bundled example's namespaces, pods (with IPs and nodes) and policies; an `aws-node` DaemonSet with
 * the VPC CNI and node agent containers and their flags; the `amazon-vpc-cni` ConfigMap; Nodes with kernels (written
 * through the status subresource); the PolicyEndpoint CRD of deploy/crds; and PolicyEndpoints created exactly as the
 * AWS controller creates them (generateName, random order, chunks, annotations, AWS's port order).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, type V1CustomResourceDefinition, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadManifests } from '../../src/api/load.js';
import type { PolicyEndpoint } from '../../src/api/policyendpoint.js';
import { run } from '../../src/cli/main.js';
import { readKubeCluster } from '../../src/cli/kube-source.js';
import type { Io } from '../../src/cli/program.js';
import { resolvePolicyEndpoints } from '../../src/controller/resolve.js';
import { compile } from '../../src/engine/engine.js';
import { kubeApiServer, useKubeApiServer } from '../kube/apiserver.js';
import { awsWritten } from './aws-style.js';

const EXAMPLE = 'examples/eks-multi-team/';
const ECR = '602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon';

async function palisade(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => '' };
  const code = await run(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

type Obj = Record<string, unknown> & { metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

/** The aws-node DaemonSet as the vpc-cni add-on v1.15.0 installs it (the versions of aws/aws-network-policy-agent#105). */
const awsNode: Obj = {
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: { name: 'aws-node', namespace: 'kube-system', labels: { 'k8s-app': 'aws-node' } },
  spec: {
    selector: { matchLabels: { 'k8s-app': 'aws-node' } },
    template: {
      metadata: { labels: { 'k8s-app': 'aws-node' } },
      spec: {
        hostNetwork: true,
        initContainers: [{ name: 'aws-vpc-cni-init', image: `${ECR}/amazon-k8s-cni-init:v1.15.0-eksbuild.2` }],
        containers: [
          { name: 'aws-node', image: `${ECR}/amazon-k8s-cni:v1.15.0-eksbuild.2`, env: [{ name: 'NETWORK_POLICY_ENFORCING_MODE', value: 'standard' }] },
          {
            name: 'aws-eks-nodeagent',
            image: `${ECR}/aws-network-policy-agent:v1.0.2-eksbuild.1`,
            args: ['--enable-ipv6=false', '--enable-network-policy=true', '--enable-cloudwatch-logs=false', '--enable-policy-event-logs=true', '--metrics-bind-addr=:8162', '--health-probe-bind-addr=:8163'],
          },
        ],
      },
    },
  },
};

const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'amazon-vpc-cni', namespace: 'kube-system' }, data: { 'enable-network-policy-controller': 'true', 'enable-windows-ipam': 'false' } };

const nodes: [string, string][] = [
  ['node-1', '5.10.192-183.736.amzn2.x86_64'],
  ['node-2', '6.1.84-99.169.amzn2023.x86_64'],
];

function crd(file: string): V1CustomResourceDefinition {
  return parseAllDocuments(readFileSync(file, 'utf8'))[0].toJS() as V1CustomResourceDefinition;
}

async function ignoreExisting(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if ((e as { code?: number }).code !== 409) throw e;
  }
}

describe.skipIf(!kubeApiServer.available)(kubeApiServer.title('audit and doctor against kube-apiserver 1.20 made to look like EKS'), () => {
  const server = useKubeApiServer();
  const kubeconfig = () => join(server().dir, 'kubeconfig');

  it('sets up the EKS-like cluster: example objects, aws-node, amazon-vpc-cni, Nodes with kernels, the CRD', async () => {
    const kc = server().kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({ body: crd('deploy/crds/policyendpoints.networking.k8s.aws.yaml') });
    for (const [name, kernel] of nodes) {
      await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name } } } });
      const node = await core.readNode({ name });
      const status: V1Node['status'] = { ...node.status, nodeInfo: { architecture: 'amd64', bootID: '', containerRuntimeVersion: 'containerd://1.7.11', kernelVersion: kernel, kubeProxyVersion: 'v1.29.0', kubeletVersion: 'v1.29.0-eks-5e0fdde', machineID: '', operatingSystem: 'linux', osImage: 'Amazon Linux 2', systemUUID: '' } };
      await core.replaceNodeStatus({ name, body: { ...node, status } });
    }
    await kc.makeApiClient(AppsV1Api).createNamespacedDaemonSet({ namespace: 'kube-system', body: awsNode });
    await core.createNamespacedConfigMap({ namespace: 'kube-system', body: configMap });
    const { documents } = loadManifests([join(EXAMPLE, 'namespaces.yaml'), join(EXAMPLE, 'workloads.yaml'), join(EXAMPLE, 'policies-team-a.yaml'), join(EXAMPLE, 'policies-team-b.yaml')]);
    for (const d of documents) {
      const o = JSON.parse(JSON.stringify(d.value)) as Obj & { spec?: Record<string, unknown>; status?: V1Pod['status'] };
      const ns = o.metadata.namespace ?? 'default';
      switch (d.kind) {
        case 'Namespace':
          await ignoreExisting(core.createNamespace({ body: o }));
          break;
        case 'Pod': {
          const { status, ...body } = o;
          const spec = body.spec as { containers: { image?: string }[] };
          for (const c of spec.containers) c.image ??= 'registry.k8s.io/pause:3.9';
          await core.createNamespacedPod({ namespace: ns, body: body as V1Pod });
          const created = await core.readNamespacedPod({ name: o.metadata.name, namespace: ns });
          await core.replaceNamespacedPodStatus({ name: o.metadata.name, namespace: ns, body: { ...created, status: { ...created.status, ...status, podIPs: status?.podIP ? [{ ip: status.podIP }] : [] } } });
          break;
        }
        case 'Service': {
          // The test server's service range is not the example's: let it allocate the ClusterIP.
          const { clusterIP: _ip, ...spec } = o.spec ?? {};
          const { status: _status, ...service } = o;
          await core.createNamespacedService({ namespace: ns, body: { ...service, spec } });
          break;
        }
        case 'NetworkPolicy':
          await custom.createNamespacedCustomObject({ group: 'networking.k8s.io', version: 'v1', namespace: ns, plural: 'networkpolicies', body: o });
          break;
      }
    }
    const read = await readKubeCluster({ kubeconfig: kubeconfig() });
    expect(read.cluster.policies).toHaveLength(16);
    expect(read.cluster.endpoints.filter((e) => e.ips.length > 0)).toHaveLength(10);
  });

  it('doctor: 1.20 fails the version check (exit 1); the EKS fixtures pass their checks; the except bug of agent v1.0.2 fails', async () => {
    const r = await palisade(['doctor', '--kubeconfig', kubeconfig(), '-o', 'json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as { checks: { id: string; status: string; evidence: string }[]; summary: Record<string, number> };
    const by = new Map(report.checks.map((c) => [c.id, c]));
    expect(by.get('kubernetes-version')).toMatchObject({ status: 'fail', evidence: 'API server v1.20.2 is older than 1.25' });
    expect(by.get('vpc-cni-version')?.status).toBe('pass');
    expect(by.get('vpc-cni-version')?.evidence).toContain('amazon-k8s-cni:v1.15.0-eksbuild.2');
    expect(by.get('network-policy-controller')?.status).toBe('pass');
    expect(by.get('node-agent')?.status).toBe('pass');
    expect(by.get('known-bug-except-on-catch-all')?.status).toBe('fail');
    expect(by.get('node-kernel')).toMatchObject({ status: 'pass', evidence: 'node-1 5.10.192-183.736.amzn2.x86_64, node-2 6.1.84-99.169.amzn2023.x86_64' });
    expect(by.get('policyendpoint-crd')?.status).toBe('pass');
    expect(by.get('flow-logs')?.status).toBe('pass');
    expect(by.get('palisade')?.status).toBe('pass');
    expect(report.summary.fail).toBe(report.checks.filter((c) => c.status === 'fail').length);
    const text = await palisade(['doctor', '--kubeconfig', kubeconfig()]);
    expect(text.code).toBe(1);
    expect(text.out).toContain('FAIL  Kubernetes ≥ 1.25');
  });

  it('doctor: the ConfigMap switched off, and an old kernel, fail with evidence', async () => {
    const core = server().kubeConfig.makeApiClient(CoreV1Api);
    await core.replaceNamespacedConfigMap({ name: 'amazon-vpc-cni', namespace: 'kube-system', body: { ...configMap, data: { 'enable-network-policy-controller': 'false' } } });
    const node = await core.readNode({ name: 'node-2' });
    await core.replaceNodeStatus({ name: 'node-2', body: { ...node, status: { ...node.status, nodeInfo: { ...node.status!.nodeInfo!, kernelVersion: '4.14.336-257.562.amzn2.x86_64' } } } });
    const r = await palisade(['doctor', '--kubeconfig', kubeconfig(), '-o', 'json']);
    const by = new Map((JSON.parse(r.out) as { checks: { id: string; status: string; evidence: string }[] }).checks.map((c) => [c.id, c]));
    expect(by.get('network-policy-controller')).toMatchObject({ status: 'fail', evidence: 'enable-network-policy-controller: "false"' });
    expect(by.get('node-kernel')).toMatchObject({ status: 'fail', evidence: 'kernel older than 5.10 on node-2 (4.14.336-257.562.amzn2.x86_64)' });
    await core.replaceNamespacedConfigMap({ name: 'amazon-vpc-cni', namespace: 'kube-system', body: configMap });
  });

  it('audit endpoints --kubeconfig: PolicyEndpoints created as the AWS controller creates them compare equal (exit 0)', async () => {
    const kc = server().kubeConfig;
    const custom = kc.makeApiClient(CustomObjectsApi);
    const live = compile((await readKubeCluster({ kubeconfig: kubeconfig() })).cluster);
    // Chunks of 2 entries, so policies span several objects, as the AWS controller splits large policies.
    const objects = awsWritten(resolvePolicyEndpoints(live), { seed: 20, chunkSize: 2 });
    for (const o of objects) {
      const ns = (o.metadata as { namespace: string }).namespace;
      await custom.createNamespacedCustomObject({ group: 'networking.k8s.aws', version: 'v1alpha1', namespace: ns, plural: 'policyendpoints', body: o });
    }
    const listed = (await custom.listClusterCustomObject({ group: 'networking.k8s.aws', version: 'v1alpha1', plural: 'policyendpoints' })) as { items: PolicyEndpoint[] };
    expect(listed.items.length).toBe(objects.length);
    expect(listed.items.length).toBeGreaterThan(16);
    // The server generated the names from generateName: `<policy>-` and five characters.
    expect(listed.items.every((pe) => new RegExp(`^${pe.spec.policyRef.name}-[a-z0-9]{5}$`).test(pe.metadata.name ?? ''))).toBe(true);
    const r = await palisade(['audit', 'endpoints', '--kubeconfig', kubeconfig(), '-o', 'json', '-q']);
    const json = JSON.parse(r.out) as { policies: { policy: string; status: string; objects: string[] }[] };
    expect(json.policies.filter((p) => p.status !== 'equal')).toEqual([]);
    expect(json.policies).toHaveLength(16);
    expect(r.code).toBe(0);
  });

  it('audit endpoints --kubeconfig: an entry removed from one chunk on the server is reported with the flow it closes (exit 1)', async () => {
    const custom = server().kubeConfig.makeApiClient(CustomObjectsApi);
    const listed = (await custom.listClusterCustomObject({ group: 'networking.k8s.aws', version: 'v1alpha1', plural: 'policyendpoints' })) as { items: PolicyEndpoint[] };
    const target = listed.items.find((pe) => pe.spec.policyRef.name === 'access-nginx' && (pe.spec.ingress ?? []).some((e) => e.cidr === '10.0.1.12'))!;
    const body = { ...target, spec: { ...target.spec, ingress: (target.spec.ingress ?? []).filter((e) => e.cidr !== '10.0.1.12') } };
    await custom.replaceNamespacedCustomObject({ group: 'networking.k8s.aws', version: 'v1alpha1', namespace: 'a', plural: 'policyendpoints', name: target.metadata.name!, body });
    const r = await palisade(['audit', 'endpoints', '--kubeconfig', kubeconfig(), '-o', 'json', '-q']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out) as { policies: { policy: string; status: string; differences: { change: string; entry: string; effect: string; flows: { from: string; to: string; effect: string }[] }[] }[] };
    const differs = json.policies.filter((p) => p.status !== 'equal');
    expect(differs.map((p) => p.policy)).toEqual(['a/access-nginx']);
    expect(differs[0].differences.map((d) => [d.change, d.entry, d.effect])).toEqual([['missing', '10.0.1.12', 'closes']]);
    expect(differs[0].differences[0].flows.map((f) => [f.from, f.to, f.effect])).toEqual([['a/client', 'a/nginx', 'closes']]);
  });

  it('audit flowlogs --kubeconfig: the pods come from the cluster; the except bug line is a mismatch on node-1', async () => {
    const r = await palisade(['audit', 'flowlogs', '--kubeconfig', kubeconfig(), '--log', 'examples/eks-aws/network-policy-agent.log', '-o', 'json', '-q']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out) as { flows: number; unparsed: number; mismatches: { line: number; from: string; dst: string; node: string }[] };
    expect(json.flows).toBe(7);
    expect(json.unparsed).toBe(1);
    expect(json.mismatches.map((m) => [m.line, m.from, m.dst, m.node])).toEqual([[4, 'a/client', '169.254.169.254', 'node-1']]);
  });
});
