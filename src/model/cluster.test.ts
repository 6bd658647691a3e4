import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../api/diagnostics.js';
import { loadManifests, parseManifests } from '../api/load.js';
import { buildCluster, canonicalIP, NAMESPACE_NAME_LABEL } from './cluster.js';
import type { Endpoint } from './types.js';

const F = fileURLToPath(new URL('../../test/fixtures/load/', import.meta.url));

function build(files: readonly string[], opts?: { defaultNamespace?: string }) {
  const loaded = loadManifests(files.map((f) => `${F}${f}`));
  expect(loaded.diagnostics).toEqual([]);
  return buildCluster(loaded.documents, opts);
}

function endpoint(endpoints: readonly Endpoint[], id: string): Endpoint {
  const e = endpoints.find((x) => x.id === id);
  if (!e) throw new Error(`no endpoint ${id}; have ${endpoints.map((x) => x.id).join(', ')}`);
  return e;
}

describe('endpoints', () => {
  const { cluster, diagnostics } = build(['shop.yaml']);

  it('suffixes both endpoints with [Kind] when a Pod and a Deployment share namespace/name', () => {
    expect(cluster.endpoints.map((e) => e.id)).toEqual(['shop/web[Deployment]', 'shop/web[Pod]']);
  });

  it('makes a workload one representative with its template labels and every container port, no IPs', () => {
    const deploy = endpoint(cluster.endpoints, 'shop/web[Deployment]');
    expect(deploy).toMatchObject({ kind: 'Deployment', namespace: 'shop', name: 'web', ips: [] });
    expect(deploy.labels).toEqual({ app: 'web', tier: 'frontend' });
    expect(deploy.ports).toEqual([
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'metrics', port: 9090, protocol: 'TCP' },
      { port: 53, protocol: 'UDP' },
    ]);
    expect(deploy.standalone).toBeUndefined();
    expect(deploy.source).toEqual({ file: `${F}shop.yaml`, line: 10, column: 1 });
  });

  it('reads a Pod: labels, ports, canonical podIPs, node, host IP, standalone', () => {
    const pod = endpoint(cluster.endpoints, 'shop/web[Pod]');
    expect(pod.labels).toEqual({ app: 'web', debug: 'true' });
    expect(pod.ports).toEqual([{ port: 8080, protocol: 'TCP' }]);
    expect(pod.ips).toEqual(['10.244.1.7', 'fd00::a']);
    expect(pod.nodeName).toBe('node-1');
    expect(pod.hostIP).toBe('10.0.0.11');
    expect(pod.standalone).toBe(true);
  });

  it('marks a Pod with ownerReferences as not standalone', () => {
    const { cluster: c } = build(['pods.json']);
    expect(endpoint(c.endpoints, 'data/db-0')).toMatchObject({ standalone: false, ips: ['10.244.2.5'] });
  });

  it('takes status.podIP when podIPs is absent, and ignores addresses that are not IPs', () => {
    const text = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: a, namespace: x}',
      'spec: {containers: [{name: c}]}',
      'status: {podIP: 10.1.2.3}',
      '---',
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: b, namespace: x}',
      'spec: {containers: [{name: c}]}',
      'status: {podIPs: [{ip: not-an-ip}, {ip: "::FFFF:10.9.8.7"}]}',
    ].join('\n');
    const { cluster: c } = buildCluster(parseManifests(text, 'ips.yaml').documents);
    expect(c.endpoints.map((e) => [e.id, e.ips])).toEqual([
      ['x/a', ['10.1.2.3']],
      ['x/b', ['10.9.8.7']],
    ]);
  });

  it('reads a CronJob template at spec.jobTemplate.spec.template', () => {
    const { cluster: c } = build(['cronjob.yaml']);
    expect(c.endpoints).toHaveLength(1);
    expect(c.endpoints[0]).toMatchObject({
      id: 'batch-jobs/report',
      kind: 'CronJob',
      labels: { app: 'report' },
      ports: [{ name: 'push', port: 9091, protocol: 'TCP' }],
      ips: [],
    });
  });

  it('leaves out Succeeded and Failed pods silently, and hostNetwork pods with a note at the field', () => {
    const { cluster: c, diagnostics: d } = build(['lifecycle.yaml']);
    expect(c.endpoints.map((e) => e.id)).toEqual(['monitoring/prometheus']);
    expect(d.map(formatDiagnostic)).toEqual([
      `${F}lifecycle.yaml:7:3: note: Pod monitoring/node-exporter: uses hostNetwork: it is not a pod-network endpoint, and no policy selects it`,
    ]);
    // Kept aside for the AWS profile, whose controller writes a hostNetwork pod's IP (its node's) for a peer selecting it.
    expect(c.hostNetworkPods?.map(({ source: _s, ...h }) => h)).toEqual([
      { namespace: 'monitoring', name: 'node-exporter', labels: {}, ips: ['10.0.0.11'], ports: [{ port: 9100, protocol: 'TCP' }] },
    ]);
  });

  it('leaves out a hostNetwork workload with a note at its template field', () => {
    const text = [
      'apiVersion: apps/v1',
      'kind: DaemonSet',
      'metadata: {name: agent, namespace: kube-system}',
      'spec:',
      '  template:',
      '    spec:',
      '      hostNetwork: true',
      '      containers: [{name: a}]',
    ].join('\n');
    const { cluster: c, diagnostics: d } = buildCluster(parseManifests(text, 'ds.yaml').documents);
    expect(c.endpoints).toEqual([]);
    expect(d.map(formatDiagnostic)).toEqual([
      'ds.yaml:7:7: note: DaemonSet kube-system/agent: uses hostNetwork: it is not a pod-network endpoint, and no policy selects it',
    ]);
  });

  it('reports the kinds it ignores once per kind, with a count, at the first one', () => {
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      `${F}shop.yaml:97:1: note: ignored 2 ConfigMap (v1) objects: Palisade does not read this kind`,
    ]);
  });

  it('ignores NetworkPolicy kinds of other API groups (e.g. Calico) rather than misreading them', () => {
    const text = 'apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\nspec: {selector: all()}\n';
    const { cluster: c, diagnostics: d } = buildCluster(parseManifests(text, 'calico.yaml').documents);
    expect(c.policies).toEqual([]);
    expect(d.map((x) => x.message)).toEqual([
      'ignored 1 NetworkPolicy (projectcalico.org/v3) object: a NetworkPolicy of API group projectcalico.org, not the Kubernetes one Palisade reads',
    ]);
  });

  it('ignores Antrea crd.antrea.io kinds and any unknown API group with a note, never an error (kinds are matched by API group)', () => {
    const text =
      'apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: p}\nspec: {}\n---\n' +
      'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n';
    const { cluster: c, diagnostics: d } = buildCluster(parseManifests(text, 'other.yaml').documents);
    expect(c.tierPolicies).toEqual([]);
    expect(d.map((x) => [x.severity, x.message])).toEqual([
      ['note', 'ignored 1 ClusterNetworkPolicy (crd.antrea.io/v1beta1) object: a ClusterNetworkPolicy of API group crd.antrea.io, not the Kubernetes one Palisade reads'],
      ['note', 'ignored 1 Widget (example.com/v1) object: Palisade does not read the API group example.com'],
    ]);
  });

  it('reads a NetworkPolicy without spec as selecting every pod of its namespace (networking/v1 types.go: non-pointer Spec and PodSelector)', () => {
    const text = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\n';
    const { cluster: c, diagnostics: d } = buildCluster(parseManifests(text, 'np.yaml').documents);
    expect(d).toEqual([]);
    expect(c.policies.map((p) => p.policy.spec)).toEqual([{ podSelector: {} }]);
  });
});

describe('namespaces', () => {
  it('sets kubernetes.io/metadata.name on a declared namespace, overwriting a wrong value, keeping other labels', () => {
    const { cluster } = build(['shop.yaml']);
    expect(cluster.namespaces.get('shop')).toEqual({
      name: 'shop',
      labels: { team: 'storefront', [NAMESPACE_NAME_LABEL]: 'shop' },
      implicit: false,
    });
  });

  it('creates referenced but undeclared namespaces with only the name label, sorted by name', () => {
    const { cluster } = build(['implicit.yaml', 'shop.yaml']);
    expect([...cluster.namespaces.keys()]).toEqual(['billing', 'default', 'shop']);
    expect(cluster.namespaces.get('billing')).toEqual({ name: 'billing', labels: { [NAMESPACE_NAME_LABEL]: 'billing' }, implicit: true });
    expect(cluster.namespaces.get('default')?.implicit).toBe(true);
  });

  it('puts objects without a namespace into the default namespace option', () => {
    const { cluster } = build(['implicit.yaml'], { defaultNamespace: 'team-a' });
    expect(cluster.endpoints.map((e) => e.id)).toEqual(['billing/invoice', 'team-a/no-namespace']);
    expect(cluster.namespaces.has('default')).toBe(false);
  });

  it('counts a namespace referenced only by a left-out pod as existing', () => {
    const { cluster } = build(['lifecycle.yaml']);
    expect([...cluster.namespaces.keys()]).toEqual(['monitoring']);
  });
});

describe('duplicates', () => {
  it('keeps the last of two objects with the same kind, namespace and name, with a note naming both positions (kubectl apply: the last write wins)', () => {
    const { cluster, diagnostics } = build(['duplicate.yaml']);
    expect(cluster.endpoints.map((e) => [e.id, e.labels])).toEqual([['dup/twin', { copy: 'second' }]]);
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      `${F}duplicate.yaml:1:1: note: Pod dup/twin: Pod dup/twin is defined again at ${F}duplicate.yaml:12:1; the later one is used (as kubectl apply would leave it)`,
    ]);
  });

  it('treats a namespace written out and the default one as the same place', () => {
    const text =
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n---\n' +
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec: {containers: []}\n';
    const { cluster, diagnostics } = buildCluster(parseManifests(text, 'd.yaml').documents);
    expect(cluster.endpoints).toHaveLength(1);
    expect(diagnostics.map((d) => d.message)).toEqual(['Pod default/p is defined again at d.yaml:6:1; the later one is used (as kubectl apply would leave it)']);
  });
});

describe('policies, services, nodes', () => {
  it('keeps NetworkPolicies with their namespace filled in and their source', () => {
    const { cluster } = build(['shop.yaml']);
    expect(cluster.policies).toHaveLength(1);
    const [{ policy, source }] = cluster.policies;
    expect(policy.metadata).toEqual({ name: 'web-ingress', namespace: 'shop' });
    expect(policy.spec.podSelector).toEqual({ matchLabels: { app: 'web' } });
    expect(policy.spec.ingress?.[0].ports).toEqual([{ port: 'http' }]);
    expect(source).toEqual({ file: `${F}shop.yaml`, line: 80, column: 1 });
  });

  it('fills in the namespace and an omitted podSelector as the apiserver decodes them', () => {
    const text = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {policyTypes: [Ingress]}\n';
    const { cluster } = buildCluster(parseManifests(text, 'np.yaml').documents, { defaultNamespace: 'prod' });
    expect(cluster.policies[0].policy.metadata.namespace).toBe('prod');
    expect(cluster.policies[0].policy.spec).toEqual({ policyTypes: ['Ingress'], podSelector: {} });
  });

  it('reads a Service: selector, cluster IPs, ports with TCP default and target port', () => {
    const { cluster } = build(['shop.yaml']);
    expect(cluster.services).toEqual([
      {
        namespace: 'shop',
        name: 'web',
        selector: { app: 'web' },
        clusterIPs: ['10.96.0.20'],
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }],
        source: { file: `${F}shop.yaml`, line: 66, column: 1 },
      },
    ]);
  });

  it('does not take clusterIP None of a headless Service as an address', () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: data}\nspec: {clusterIP: None, ports: [{port: 5432, protocol: TCP}]}\n';
    const { cluster } = buildCluster(parseManifests(text, 's.yaml').documents);
    expect(cluster.services[0].clusterIPs).toEqual([]);
    expect(cluster.services[0].selector).toBeUndefined();
  });

  it('reads a Node: labels and IP addresses (not hostnames), canonical', () => {
    const { cluster } = build(['nodes.yaml']);
    expect(cluster.nodes).toEqual([
      {
        name: 'node-1',
        labels: { 'kubernetes.io/hostname': 'node-1', 'topology.kubernetes.io/zone': 'zone-a' },
        addresses: ['10.0.0.11', '2001:db8::11', '203.0.113.11'],
      },
    ]);
    expect(cluster.namespaces.size).toBe(0);
  });

  it('normalises tier policies and reports their problems at the field', () => {
    const { cluster, diagnostics } = build(['tiers.yaml']);
    expect(cluster.tierPolicies.map((t) => [t.kind, t.name, t.tier, t.priority])).toEqual([
      ['AdminNetworkPolicy', 'deny-sensitive', 'Admin', 10],
      ['BaselineAdminNetworkPolicy', 'default', 'Baseline', 0],
      ['ClusterNetworkPolicy', 'allow-monitoring', 'Admin', 5],
    ]);
    const cnp = cluster.tierPolicies[2];
    expect(cnp.subject).toEqual({ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } });
    expect(cnp.ingress[0]).toEqual({
      action: 'Allow',
      peers: [{ kind: 'pods', selector: { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: 'monitoring' } } } }],
      ports: [
        { kind: 'range', protocol: 'TCP', from: 9000, to: 9100 },
        { kind: 'named', name: 'metrics' },
      ],
    });
    expect(cluster.tierPolicies[0].egress[0].ports).toEqual([{ kind: 'range', protocol: 'UDP', from: 53, to: 53 }]);
    expect(cluster.tierPolicies[0].source).toEqual({ file: `${F}tiers.yaml`, line: 1, column: 1 });
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      `${F}tiers.yaml:34:11: warning: AdminNetworkPolicy deny-sensitive: spec.egress[1].to[0]: peer not evaluated by Palisade (domainNames): it fails closed unless a DNS answer (why --resolve NAME=IP) gives one of its names addresses, so for Allow it matches no traffic`,
      `${F}tiers.yaml:85:7: error: ClusterNetworkPolicy bad-action: spec.egress[0].action: Unsupported value: "Allow": supported values: "Accept", "Deny", "Pass"; the policy is ignored`,
    ]);
  });
});

describe('canonicalIP', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['FD00:0:0:0:0:0:0:A', 'fd00::a'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
    ['010.0.0.1', '10.0.0.1'],
  ])('%s → %s', (input, want) => {
    expect(canonicalIP(input)).toBe(want);
  });

  it.each(['fe80::1%eth0', '10.0.0.0/8', 'node-1', '1.2.3', ''])('rejects %j', (input) => {
    expect(canonicalIP(input)).toBeUndefined();
  });
});
