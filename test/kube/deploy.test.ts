/**
 * The manifests under deploy/: every file parses, the objects say what the design says (CRD identity, two controller
 * replicas with leader election, a host-network agent with NET_ADMIN, least-privilege RBAC), the Helm chart's CRDs and
 * values agree with them, and, when a real API server is available, the CRDs and RBAC are accepted by it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import {
  KubernetesObjectApi,
  V1ClusterRole,
  V1DaemonSet,
  V1Deployment,
  V1PolicyRule,
  V1Role,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { kubeApiServer, useKubeApiServer } from './apiserver.js';
import {
  DEPLOY_DIR,
  deployCrds,
  deployObjects,
  installCrds,
  manifestFiles,
  parseManifestFile,
  typedObjects,
} from './manifests.js';

/** The plain manifests; the Helm chart is checked against them separately. */
const objects = deployObjects().filter((m) => !m.file.startsWith('helm/'));

function one<T>(kind: string, name: string): T {
  const found = objects.filter((m) => m.object.kind === kind && m.object.metadata?.name === name);
  expect(found.map((m) => m.file), `${kind}/${name}`).toHaveLength(1);
  return found[0].object as T;
}

/** The verbs a set of rules grants on group/resource (`*` counts). */
function verbs(rules: readonly V1PolicyRule[] | undefined, group: string, resource: string): string[] {
  return (rules ?? [])
    .filter((r) => (r.apiGroups ?? []).some((g) => g === group || g === '*'))
    .filter((r) => (r.resources ?? []).some((x) => x === resource || x === '*'))
    .flatMap((r) => r.verbs);
}

/** What the informers and watches call (no `get`: nothing reads single objects; test/kube/rbac.test.ts). */
const READ = ['list', 'watch'];

/** An OpenAPI v3 schema node with its wire field names (the client's typed model renames `enum` and `default`). */
interface Schema {
  readonly type?: string;
  readonly format?: string;
  readonly enum?: string[];
  readonly default?: unknown;
  readonly required?: string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly properties?: Record<string, Schema>;
  readonly items?: Schema;
}

/** A CRD as written in the file. */
interface WireCrd {
  readonly apiVersion: string;
  readonly spec: {
    readonly group: string;
    readonly names: Record<string, unknown>;
    readonly scope: string;
    readonly versions: ReadonlyArray<{
      readonly name: string;
      readonly served: boolean;
      readonly storage: boolean;
      readonly subresources?: Record<string, unknown>;
      readonly schema: { readonly openAPIV3Schema: Schema };
    }>;
  };
}

/** The `spec` schema of a CRD's only version. */
function specSchema(crd: WireCrd): Schema {
  expect(crd.spec.versions).toHaveLength(1);
  return crd.spec.versions[0].schema.openAPIV3Schema.properties!.spec;
}
const WRITE = ['create', 'update', 'patch', 'delete'];

describe('deploy/ manifests', () => {
  it('every YAML file outside Helm templates parses', () => {
    const files = manifestFiles();
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) expect(() => parseManifestFile(file), file).not.toThrow();
    expect(files.some((f) => f.includes('/templates/'))).toBe(false);
  });

  it('every object has a kind, a name, and the namespace palisade-system when namespaced', () => {
    const clusterScoped = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding']);
    expect(objects.length).toBeGreaterThan(10);
    for (const { file, object } of objects) {
      expect(object.metadata?.name, file).toBeTruthy();
      if (!clusterScoped.has(object.kind!)) expect(object.metadata?.namespace, `${file} ${object.kind}`).toBe('palisade-system');
    }
  });

  describe('CRDs', () => {
    const crds = deployCrds();

    it('PolicyEndpoint: networking.k8s.aws/v1alpha1, namespaced, with the AWS schema', () => {
      const crd = one<WireCrd>('CustomResourceDefinition', 'policyendpoints.networking.k8s.aws');
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(crd.spec.group).toBe('networking.k8s.aws');
      expect(crd.spec.names).toMatchObject({ kind: 'PolicyEndpoint', plural: 'policyendpoints', listKind: 'PolicyEndpointList' });
      expect(crd.spec.scope).toBe('Namespaced');
      expect(crd.spec.versions[0]).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
      const spec = specSchema(crd);
      expect(spec.required).toEqual(['policyRef']);
      expect(Object.keys(spec.properties!).sort()).toEqual(
        ['egress', 'ingress', 'podIsolation', 'podSelector', 'podSelectorEndpoints', 'policyRef'].sort(),
      );
      expect(spec.properties!.policyRef.required).toEqual(['name', 'namespace']);
      const endpoint = spec.properties!.podSelectorEndpoints.items!;
      expect(endpoint.required).toEqual(['hostIP', 'name', 'namespace', 'podIP']);
      expect(Object.keys(endpoint.properties!).sort()).toEqual(['hostIP', 'name', 'namespace', 'podIP']);
      for (const direction of ['ingress', 'egress']) {
        const rule = spec.properties![direction].items!;
        // AWS's EndpointInfo: cidr is optional (a domainName entry has none).
        expect(rule.required).toBeUndefined();
        expect(Object.keys(rule.properties!).sort()).toEqual(['cidr', 'domainName', 'except', 'ports']);
        expect(rule.properties!.except).toEqual(expect.objectContaining({ type: 'array', items: { type: 'string' } }));
        const port = rule.properties!.ports.items!.properties!;
        expect(port.protocol).toMatchObject({ type: 'string', default: 'TCP' });
        expect(port.port).toMatchObject({ type: 'integer', format: 'int32', minimum: 0, maximum: 65535 });
        expect(port.endPort).toMatchObject({ type: 'integer', format: 'int32', minimum: 0, maximum: 65535 });
      }
    });

    it('ClusterPolicyEndpoint: networking.k8s.aws/v1alpha1, cluster-scoped, tier + priority + actions', () => {
      const crd = one<WireCrd>('CustomResourceDefinition', 'clusterpolicyendpoints.networking.k8s.aws');
      expect(crd.spec.group).toBe('networking.k8s.aws');
      expect(crd.spec.names).toMatchObject({ kind: 'ClusterPolicyEndpoint', plural: 'clusterpolicyendpoints', shortNames: ['cpe'] });
      expect(crd.spec.scope).toBe('Cluster');
      expect(crd.spec.versions[0]).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
      const spec = specSchema(crd);
      expect(spec.required).toEqual(['policyRef', 'priority', 'subject', 'tier']);
      expect(spec.properties!.tier.enum).toEqual(['Admin', 'Baseline']);
      expect(spec.properties!.priority).toMatchObject({ type: 'integer', format: 'int32' });
      expect(spec.properties!.policyRef.required).toEqual(['name']);
      expect(Object.keys(spec.properties!).sort()).toEqual(['egress', 'ingress', 'podSelectorEndpoints', 'policyRef', 'priority', 'subject', 'tier']);
      for (const direction of ['ingress', 'egress']) {
        const rule = spec.properties![direction].items!;
        expect(rule.required).toEqual(['action']);
        expect(rule.properties!.action.enum).toEqual(['Accept', 'Deny', 'Pass']);
        expect(Object.keys(rule.properties!).sort()).toEqual(['action', 'cidr', 'domainName', 'ports']);
        expect(rule.properties!.ports.items!.properties!.protocol).toMatchObject({ type: 'string', default: 'TCP' });
      }
    });

    it('the Helm chart ships the same CRDs, byte for byte', () => {
      expect(crds.map((c) => c.metadata?.name).sort()).toEqual([
        'clusterpolicyendpoints.networking.k8s.aws',
        'policyendpoints.networking.k8s.aws',
      ]);
      for (const crd of crds) {
        const file = `${crd.metadata!.name}.yaml`;
        expect(readFileSync(join(DEPLOY_DIR, 'helm/palisade/crds', file), 'utf8'), file).toBe(
          readFileSync(join(DEPLOY_DIR, 'crds', file), 'utf8'),
        );
      }
    });
  });

  describe('controller', () => {
    const deployment = one<V1Deployment>('Deployment', 'palisade-controller');
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0];

    it('runs 2 replicas with leader election, as its own service account', () => {
      expect(deployment.spec!.replicas).toBe(2);
      expect(container.args).toContain('--leader-elect');
      expect(pod.serviceAccountName).toBe('palisade-controller');
      expect(deployment.spec!.selector.matchLabels).toEqual(
        Object.fromEntries(Object.entries(deployment.spec!.template.metadata!.labels!).filter(([k]) => k in deployment.spec!.selector.matchLabels!)),
      );
    });

    it('probes /healthz and /readyz and exposes metrics', () => {
      expect(container.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'health' });
      expect(container.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
      expect(container.ports?.map((p) => p.name).sort()).toEqual(['health', 'metrics']);
    });

    it('runs unprivileged', () => {
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(pod.hostNetwork).toBeFalsy();
    });
  });

  describe('agent', () => {
    const daemonSet = one<V1DaemonSet>('DaemonSet', 'palisade-agent');
    const pod = daemonSet.spec!.template.spec!;
    const container = pod.containers[0];

    it('runs in the host network with NET_ADMIN, on every node', () => {
      expect(pod.hostNetwork).toBe(true);
      expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
      expect(container.securityContext?.capabilities?.add).toContain('NET_ADMIN');
      expect(pod.tolerations).toContainEqual({ operator: 'Exists' });
      expect(pod.serviceAccountName).toBe('palisade-agent');
    });

    it('runs `palisade agent` (the image entry point) and is probed on /healthz at the node loopback it listens on', () => {
      const metricsPort = Number(/--metrics-port=(\d+)/.exec(container.args!.join(' '))?.[1]);
      expect(container.command).toBeUndefined();
      expect(container.args?.[0]).toBe('agent');
      expect(container.args).toContain('--node=$(NODE_NAME)');
      for (const probe of [container.livenessProbe, container.readinessProbe]) {
        expect(probe?.httpGet).toEqual({ host: '127.0.0.1', path: '/healthz', port: metricsPort });
      }
      // No hostPath at all (the xtables lock was never used: the agent drives nft only).
      expect(pod.volumes?.some((v) => v.hostPath)).toBe(false);
    });
  });

  describe('RBAC', () => {
    const controller = one<V1ClusterRole>('ClusterRole', 'palisade-controller');
    const lease = one<V1Role>('Role', 'palisade-controller-leader-election');
    const agent = one<V1ClusterRole>('ClusterRole', 'palisade-agent');

    it('controller watches what policies select and the policies of every tier', () => {
      for (const [group, resource] of [
        ['', 'namespaces'],
        ['', 'nodes'],
        ['', 'pods'],
        ['', 'services'],
        ['networking.k8s.io', 'networkpolicies'],
        ['policy.networking.k8s.io', 'adminnetworkpolicies'],
        ['policy.networking.k8s.io', 'baselineadminnetworkpolicies'],
        ['policy.networking.k8s.io', 'clusternetworkpolicies'],
      ]) {
        expect(verbs(controller.rules, group, resource), `${group}/${resource}`).toEqual(expect.arrayContaining(READ));
        expect(verbs(controller.rules, group, resource).filter((v) => WRITE.includes(v)), `${group}/${resource}`).toEqual([]);
      }
    });

    it('controller writes (Cluster)PolicyEndpoints and its Lease, nothing else', () => {
      for (const resource of ['policyendpoints', 'clusterpolicyendpoints']) {
        expect(verbs(controller.rules, 'networking.k8s.aws', resource)).toEqual([...READ, 'create', 'update', 'delete']);
      }
      expect(lease.metadata?.namespace).toBe('palisade-system');
      expect(verbs(lease.rules, 'coordination.k8s.io', 'leases').sort()).toEqual(['create', 'get', 'update']);
      // get and update only on the controller's own Lease.
      expect(lease.rules!.filter((r) => r.verbs.includes('update')).map((r) => r.resourceNames)).toEqual([['palisade-controller']]);
      const writable = (controller.rules ?? [])
        .filter((r) => r.verbs.some((v) => WRITE.includes(v)))
        .flatMap((r) => r.resources ?? []);
      expect(writable.sort()).toEqual(['clusterpolicyendpoints', 'policyendpoints']);
      expect((controller.rules ?? []).flatMap((r) => r.verbs)).not.toContain('*');
    });

    it('agent only lists and watches the (Cluster)PolicyEndpoints', () => {
      for (const [group, resource] of [
        ['networking.k8s.aws', 'policyendpoints'],
        ['networking.k8s.aws', 'clusterpolicyendpoints'],
      ]) {
        expect(verbs(agent.rules, group, resource), `${group}/${resource}`).toEqual(READ);
      }
      expect(verbs(agent.rules, '', 'pods')).toEqual([]);
      const writable = (agent.rules ?? []).filter((r) => r.verbs.some((v) => WRITE.includes(v))).flatMap((r) => r.resources ?? []);
      expect(writable).toEqual([]);
    });

    it('bindings give each role to its own service account', () => {
      for (const [kind, name, sa] of [
        ['ClusterRoleBinding', 'palisade-controller', 'palisade-controller'],
        ['RoleBinding', 'palisade-controller-leader-election', 'palisade-controller'],
        ['ClusterRoleBinding', 'palisade-agent', 'palisade-agent'],
      ]) {
        const binding = one<{ roleRef: { name: string }; subjects: Array<{ kind: string; name: string; namespace: string }> }>(kind, name);
        expect(binding.roleRef.name).toBe(name);
        expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: 'palisade-system' }]);
        one('ServiceAccount', sa);
      }
    });
  });

  describe('Helm chart', () => {
    const chartDir = join(DEPLOY_DIR, 'helm/palisade');
    const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;

    it('defaults match the plain manifests', () => {
      const deployment = one<V1Deployment>('Deployment', 'palisade-controller');
      const agent = one<V1DaemonSet>('DaemonSet', 'palisade-agent');
      expect(values).toMatchObject({
        controller: {
          replicas: deployment.spec!.replicas,
          metricsPort: 8080,
          healthPort: 8081,
          leaderElection: { enabled: true },
          resources: deployment.spec!.template.spec!.containers[0].resources,
        },
        agent: {
          metricsPort: 9253,
          privileged: false,
          resources: agent.spec!.template.spec!.containers[0].resources,
        },
      });
    });

    it('every .Values path a template uses exists in values.yaml', () => {
      const templatesDir = join(chartDir, 'templates');
      const templates = readdirSync(templatesDir).map((name) => join(templatesDir, name));
      expect(templates.length).toBeGreaterThanOrEqual(4);
      for (const file of templates) {
        for (const [, path] of readFileSync(file, 'utf8').matchAll(/\.Values\.([\w.]+)/g)) {
          let node: unknown = values;
          for (const key of path.split('.')) {
            expect(node !== null && typeof node === 'object' && key in node, `${file}: .Values.${path}`).toBe(true);
            node = (node as Record<string, unknown>)[key];
          }
        }
      }
    });
  });
});

describe.skipIf(!kubeApiServer.available)(kubeApiServer.title('deploy/ on kube-apiserver 1.20'), () => {
  const server = useKubeApiServer();
  // Typed models, so the client serialises every field (see Manifest).
  const plain = (kinds: string[]) =>
    manifestFiles()
      .filter((f) => !f.includes('/helm/'))
      .flatMap(typedObjects)
      .filter((o) => kinds.includes(o.kind!));

  it('accepts the CRDs', async () => {
    const stored = await installCrds(server().kubeConfig, deployCrds());
    expect(stored.map((c) => [c.metadata?.name, c.spec.scope]).sort()).toEqual([
      ['clusterpolicyendpoints.networking.k8s.aws', 'Cluster'],
      ['policyendpoints.networking.k8s.aws', 'Namespaced'],
    ]);
    // The typed client renames enum to _enum (but leaves `items`, typed any, with wire names): check both reached the server.
    const cpe = stored.find((c) => c.spec.names.kind === 'ClusterPolicyEndpoint')!;
    const spec = cpe.spec.versions[0].schema!.openAPIV3Schema!.properties!.spec;
    expect(spec.properties!.tier._enum).toEqual(['Admin', 'Baseline']);
    expect(spec.properties!.egress.items).toMatchObject({
      properties: { ports: { items: { properties: { protocol: { type: 'string', default: 'TCP' } } } } },
    });
  });

  it('accepts the namespace, service accounts and RBAC', async () => {
    const api = KubernetesObjectApi.makeApiClient(server().kubeConfig);
    const toApply = plain(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
    expect(toApply.length).toBe(9);
    for (const object of toApply) {
      const created = await api.create(object);
      expect(created.metadata?.uid, `${object.kind}/${object.metadata?.name}`).toBeTruthy();
    }
    const role = await api.read<V1ClusterRole>({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'palisade-agent' } });
    expect(verbs(role.rules, 'networking.k8s.aws', 'policyendpoints')).toEqual(READ);
  });

  it('accepts the controller Deployment and agent DaemonSet (server-side dry run)', async () => {
    const api = KubernetesObjectApi.makeApiClient(server().kubeConfig);
    for (const object of plain(['Deployment', 'DaemonSet', 'Service'])) {
      const created = await api.create(object, undefined, 'All');
      expect(created.kind).toBe(object.kind);
    }
  });
});
