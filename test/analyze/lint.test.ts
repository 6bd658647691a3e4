import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCluster } from '../../src/model/read.js';
import { RULES, activeRules, type LintProfile } from '../../src/analyze/findings.js';
import { generate } from '../../src/analyze/generate.js';
import { lint, type LintOptions } from '../../src/analyze/lint.js';
import { toSarif } from '../../src/analyze/report.js';
import { readTenants } from '../../src/analyze/tenants.js';
import { cli, np, ns, pod, readObjects, svc, writeTree, type Obj } from './support.js';

const DNS_PEER = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } };
const DNS_PORTS = [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }];

/** A small cluster: DNS, a shop namespace (web, db) and an ops namespace (prom), with a sound baseline in shop. */
function base(o: { coredns?: boolean; webOwned?: boolean } = {}): Obj[] {
  return [
    ns('kube-system'),
    ...(o.coredns ?? true ? [pod('kube-system', 'coredns', { labels: { 'k8s-app': 'kube-dns' }, ip: '10.0.0.10', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53 }] })] : []),
    ns('shop', { team: 'shop' }),
    pod('shop', 'web', { labels: { app: 'web' }, ip: '10.0.1.1', ports: [{ name: 'http', containerPort: 8080 }], owned: o.webOwned ?? true }),
    pod('shop', 'db', { labels: { app: 'db' }, ip: '10.0.1.2', ports: [{ name: 'postgres', containerPort: 5432 }] }),
    ns('ops', { team: 'ops' }),
    pod('ops', 'prom', { labels: { app: 'prom' }, ip: '10.0.2.1' }),
    np('shop', 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    np('shop', 'allow-dns', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [DNS_PEER], ports: DNS_PORTS }] }),
  ];
}

const web = { matchLabels: { app: 'web' } };
const ingressTo = (name: string, ingress: unknown[]) => np('shop', name, { podSelector: web, policyTypes: ['Ingress'], ingress });
const egressFrom = (name: string, egress: unknown[]) => np('shop', name, { podSelector: web, policyTypes: ['Egress'], egress });
const ports = (n: number) => Array.from({ length: n }, (_, i) => ({ port: 1000 + i }));
/** db accepts web, so that only web's egress decides whether web reaches db. */
const DB_IN = np('shop', 'db-in', { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: web }] }] });
const DB_PODS = { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } } };
/** An AWS ClusterNetworkPolicy (networking.k8s.aws/v1alpha1) on namespace shop with the given egress rules. */
function awsCnp(name: string, egress: readonly Obj[], priority = 5): Obj {
  return { apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ClusterNetworkPolicy', metadata: { name }, spec: { tier: 'Admin', priority, subject: { namespaces: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } }, egress } };
}
/** A hostNetwork pod as `kubectl get -o yaml` shows one: its pod IP is its node's address. */
function hostPod(namespace: string, name: string, labels: Record<string, string>, nodeIP: string, node: string): Obj {
  const p = pod(namespace, name, { labels, ip: nodeIP, ports: [{ name: 'metrics', containerPort: 9100 }] }) as { spec: Obj; status: Obj };
  return { ...p, spec: { ...p.spec, hostNetwork: true, nodeName: node }, status: { ...p.status, hostIP: nodeIP } };
}
/** A monitoring namespace: Prometheus on the pod network, node-exporter on the host network of node ip-10-0-50-7. */
const MONITORING = [
  ns('monitoring'),
  pod('monitoring', 'prometheus-0', { labels: { app: 'prometheus' }, ip: '10.0.3.5' }),
  hostPod('monitoring', 'node-exporter-7xk2p', { app: 'node-exporter' }, '10.0.50.7', 'ip-10-0-50-7'),
];
const MONITORING_NS = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };
/** redis-0, redis-1 of a StatefulSet, and the standalone pod `kubectl run redis-client` makes: all three are redis@shop. */
const REDIS = [
  pod('shop', 'redis-0', { labels: { app: 'redis' }, ip: '10.0.1.20', ports: [{ name: 'redis', containerPort: 6379 }] }),
  pod('shop', 'redis-1', { labels: { app: 'redis' }, ip: '10.0.1.21', ports: [{ name: 'redis', containerPort: 6379 }] }),
];
/** ops (whose egress no policy isolates) reaches redis on 6379. */
const REDIS_IN = np('shop', 'redis-in', { podSelector: { matchLabels: { app: 'redis' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }], ports: [{ port: 6379 }] }] });
const client = (name: string) => pod('shop', name, { labels: { run: name }, ip: '10.0.1.30', owned: false });
const manyPods = (n: number) => Array.from({ length: n }, (_, i) => pod('bulk', `p${i}`, { labels: { app: 'bulk' }, ip: `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}` }));
const bulkPolicy = np('bulk', 'deny', { podSelector: { matchLabels: { app: 'bulk' } }, policyTypes: ['Ingress'] });

interface Case {
  readonly rule: string;
  readonly bad: Obj[];
  readonly good: Obj[];
  readonly options?: LintOptions;
  /** The field path the finding points at. */
  readonly path: string;
}

const cases: Case[] = [
  {
    rule: 'dns-egress-blocked',
    bad: base().filter((o) => (o.metadata as { name: string }).name !== 'allow-dns'),
    good: base(),
    path: 'spec.policyTypes',
  },
  {
    rule: 'dns-egress-blocked',
    // No DNS pod loaded: the rules are inspected instead, and TCP/53 is missing.
    bad: [...base({ coredns: false }).slice(0, -1), np('shop', 'allow-dns', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 53 }] }] })],
    good: base({ coredns: false }),
    path: 'spec.policyTypes',
  },
  {
    rule: 'policy-selects-nothing',
    bad: [...base(), np('shop', 'typo', { podSelector: { matchLabels: { app: 'wbe' } }, policyTypes: ['Ingress'] })],
    good: [...base(), np('shop', 'typo', { podSelector: web, policyTypes: ['Ingress'] })],
    path: 'spec.podSelector',
  },
  {
    rule: 'peer-matches-nothing',
    bad: [...base(), ingressTo('from-nothing', [{ from: [{ podSelector: { matchLabels: { app: 'nope' } } }] }])],
    good: [...base(), ingressTo('from-nothing', [{ from: [{ podSelector: { matchLabels: { app: 'db' } } }] }])],
    path: 'spec.ingress[0].from[0].podSelector',
  },
  {
    rule: 'peer-matches-nothing',
    bad: [...base(), ingressTo('from-nowhere', [{ from: [{ namespaceSelector: { matchLabels: { team: 'nope' } } }] }])],
    good: [...base(), ingressTo('from-nowhere', [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }] }])],
    path: 'spec.ingress[0].from[0].namespaceSelector',
  },
  {
    rule: 'named-port-unknown',
    bad: [...base(), ingressTo('named', [{ from: [{ podSelector: {} }], ports: [{ port: 'htp' }] }])],
    good: [...base(), ingressTo('named', [{ from: [{ podSelector: {} }], ports: [{ port: 'http' }] }])],
    path: 'spec.ingress[0].ports[0].port',
  },
  {
    rule: 'peer-or-meant-and',
    bad: [...base(), ingressTo('prom', [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }, { podSelector: { matchLabels: { app: 'prom' } } }] }])],
    good: [...base(), ingressTo('prom', [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } }, podSelector: { matchLabels: { app: 'prom' } } }] }])],
    path: 'spec.ingress[0].from[1]',
  },
  {
    rule: 'peer-and-meant-or',
    bad: [...base(), ingressTo('db-or-ops', [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } }, podSelector: { matchLabels: { app: 'db' } } }] }])],
    good: [...base(), ingressTo('db-or-ops', [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }, { podSelector: { matchLabels: { app: 'db' } } }] }])],
    path: 'spec.ingress[0].from[0]',
  },
  {
    rule: 'rule-split-by-dash',
    bad: [...base(), ingressTo('split', [{ from: [{ podSelector: { matchLabels: { app: 'db' } } }] }, { ports: [{ port: 8080 }] }])],
    good: [...base(), ingressTo('split', [{ from: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 8080 }] }])],
    path: 'spec.ingress[1].ports',
  },
  {
    rule: 'namespace-without-default-deny',
    bad: [...base(), np('kube-system', 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    good: [...base(), ...['kube-system', 'ops'].map((n) => np(n, 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }))],
    options: { enable: ['namespace-without-default-deny'] },
    path: 'metadata.name',
  },
  {
    rule: 'rule-allows-everything',
    bad: [...base(), ingressTo('open', [{}])],
    good: [...base(), ingressTo('open', [{ from: [{ podSelector: {} }] }])],
    path: 'spec.ingress[0]',
  },
  {
    rule: 'rule-allows-everything',
    bad: [...base(), egressFrom('open', [{ to: [{ namespaceSelector: {} }, { ipBlock: { cidr: '0.0.0.0/0' } }] }])],
    good: [...base(), egressFrom('open', [{ to: [{ namespaceSelector: {} }, { ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }] }])],
    path: 'spec.egress[0]',
  },
  {
    rule: 'rule-shadowed',
    bad: [...base(), ingressTo('prom', [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }], ports: [{ port: 8080 }] }, { from: [{ namespaceSelector: { matchLabels: { team: 'ops' } }, podSelector: { matchLabels: { app: 'prom' } } }], ports: [{ port: 8080 }] }])],
    good: [...base(), ingressTo('prom', [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }], ports: [{ port: 8080 }] }, { from: [{ namespaceSelector: { matchLabels: { team: 'ops' } }, podSelector: { matchLabels: { app: 'prom' } } }], ports: [{ port: 9090 }] }])],
    path: 'spec.ingress[1]',
  },
  {
    rule: 'rule-shadowed',
    // Across policies selecting the same pods.
    bad: [...base(), egressFrom('dns-again', [{ to: [DNS_PEER], ports: [{ protocol: 'UDP', port: 53 }] }])],
    good: [...base(), egressFrom('dns-again', [{ to: [DNS_PEER], ports: [{ protocol: 'UDP', port: 5353 }] }])],
    path: 'spec.egress[0]',
  },
  {
    rule: 'ipblock-covers-pods',
    bad: [...base(), egressFrom('by-ip', [{ to: [{ ipBlock: { cidr: '10.0.1.0/24' } }] }])],
    good: [...base(), egressFrom('by-ip', [{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }] }])],
    path: 'spec.egress[0].to[0].ipBlock.cidr',
  },
  {
    rule: 'ipblock-covers-pods',
    // With --pod-cidr: a block inside the pod network, though no loaded pod has an address in it.
    bad: [...base(), egressFrom('by-ip', [{ to: [{ ipBlock: { cidr: '10.0.200.0/24' } }] }])],
    good: [...base(), egressFrom('by-ip', [{ to: [{ ipBlock: { cidr: '10.1.200.0/24' } }] }])],
    options: { podCIDRs: ['10.0.0.0/16'] },
    path: 'spec.egress[0].to[0].ipBlock.cidr',
  },
  {
    rule: 'aws-except-on-default-route',
    bad: [...base(), egressFrom('internet', [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }] }])],
    good: [...base(), egressFrom('internet', [{ to: [{ ipBlock: { cidr: '0.0.0.0/1' } }, { ipBlock: { cidr: '128.0.0.0/1' } }] }])],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.egress[0].to[0].ipBlock.except',
  },
  {
    rule: 'aws-too-many-ports',
    bad: [...base(), egressFrom('ports', [{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: ports(25) }])],
    good: [...base(), egressFrom('ports', [{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: ports(24) }])],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.egress',
  },
  {
    rule: 'aws-standalone-pod',
    bad: base({ webOwned: false }),
    good: base(),
    options: { profile: 'aws-vpc-cni' },
    path: 'metadata',
  },
  {
    rule: 'aws-service-port-mismatch',
    // An ipBlock peer covers the Service's pods but not its ClusterIP, so nothing writes the Service port.
    bad: [...base(), svc('shop', 'db', { clusterIP: '172.20.0.20', selector: { app: 'db' }, ports: [{ port: 80, targetPort: 5432 }] }), egressFrom('to-db', [{ to: [{ ipBlock: { cidr: '10.0.1.0/24' } }], ports: [{ port: 5432 }] }])],
    // The former false positive: for a podSelector peer the resolver (as AWS's controller) writes ClusterIP:80.
    good: [...base(), svc('shop', 'db', { clusterIP: '172.20.0.20', selector: { app: 'db' }, ports: [{ port: 80, targetPort: 5432 }] }), egressFrom('to-db', [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ port: 5432 }] }])],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.egress[0].ports',
  },
  {
    rule: 'aws-egress-named-port-dropped',
    // aws/amazon-network-policy-controller-k8s pkg/resolvers/endpoints.go:209-223: CIDR entries carry numeric ports only.
    bad: [...base(), DB_IN, egressFrom('named', [{ to: [{ ipBlock: { cidr: '10.0.1.0/24' } }], ports: [{ port: 'postgres' }] }])],
    good: [...base(), DB_IN, egressFrom('named', [{ to: [{ ipBlock: { cidr: '10.0.1.0/24' } }], ports: [{ port: 5432 }] }])],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.egress[0].ports',
  },
  {
    rule: 'aws-except-across-rules',
    // aws/aws-network-policy-agent pkg/fwruleprocessor/fw_rule_processor.go:144-160: every except becomes a deny entry.
    bad: [...base(), egressFrom('blocks', [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['203.0.113.0/24'] } }] }, { to: [{ ipBlock: { cidr: '203.0.0.0/16' } }], ports: [{ port: 443 }] }])],
    good: [...base(), egressFrom('blocks', [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['203.0.113.0/24'] } }] }, { to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 443 }] }])],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.egress[1].to[0].ipBlock',
  },
  {
    rule: 'aws-except-across-rules',
    // Across policies: the agent merges every PolicyEndpoint of the pod (controllers/policyendpoints_controller.go:445-505),
    // so platform's except of the metadata address is denied inside link-local's block too.
    bad: [...base(), np('shop', 'platform-egress', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }] }] }), egressFrom('link-local', [{ to: [{ ipBlock: { cidr: '169.254.0.0/16' } }] }])],
    good: [...base(), np('shop', 'platform-egress', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }] }] }), egressFrom('link-local', [{ to: [{ ipBlock: { cidr: '169.254.169.254/32' } }] }])],
    options: { profile: 'aws-vpc-cni', awsVersion: '1.19.0' },
    path: 'spec.egress[0].to[0].ipBlock',
  },
  {
    rule: 'aws-rule-order-ignored',
    // aws/aws-network-policy-agent pkg/ebpf/c/tc.v4egress.bpf.c:156-179: at one priority Deny wins, whatever the order.
    bad: [...base(), DB_IN, awsCnp('order', [{ name: 'db', action: 'Accept', to: [DB_PODS] }, { name: 'rest', action: 'Deny', to: [{ namespaces: {} }] }])],
    good: [...base(), DB_IN, awsCnp('order', [{ name: 'rest', action: 'Deny', to: [{ namespaces: {} }] }, { name: 'db', action: 'Accept', to: [DB_PODS] }])],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.egress[0]',
  },
  {
    rule: 'aws-priority-tie',
    // Two policies at priority 5: Palisade (by name) lets allow-db's Accept decide web -> db; AWS's agent ranks Deny first.
    bad: [...base(), DB_IN, awsCnp('allow-db', [{ action: 'Accept', to: [DB_PODS] }]), awsCnp('deny-all', [{ action: 'Deny', to: [{ namespaces: {} }] }])],
    // The same tie where no address is matched by both: the outcome does not depend on it.
    good: [...base(), DB_IN, awsCnp('allow-db', [{ action: 'Accept', to: [DB_PODS] }]), awsCnp('deny-ops', [{ action: 'Deny', to: [{ namespaces: { matchLabels: { team: 'ops' } } }] }])],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.priority',
  },
  {
    rule: 'aws-host-network-peer',
    // aws/amazon-network-policy-controller-k8s pkg/resolvers/endpoints.go:118-131: node-exporter's pod IP (the node) is written.
    bad: [...base(), ...MONITORING, ingressTo('scrape', [{ from: [MONITORING_NS], ports: [{ port: 8080 }] }])],
    good: [...base(), ...MONITORING, ingressTo('scrape', [{ from: [{ ...MONITORING_NS, podSelector: { matchLabels: { app: 'prometheus' } } }], ports: [{ port: 8080 }] }])],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.ingress[0].from[0]',
  },
  {
    rule: 'aws-shared-pod-identifier',
    // aws/aws-network-policy-agent pkg/utils/utils.go:177-188: redis-0, redis-1 and redis-client are all redis@shop.
    bad: [...base(), ...REDIS, client('redis-client'), REDIS_IN],
    good: [...base(), ...REDIS, client('toolbox'), REDIS_IN],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.podSelector',
  },
  {
    rule: 'aws-ipv6-in-ipv4-cluster',
    bad: [...base(), egressFrom('v6', [{ to: [{ ipBlock: { cidr: '2001:db8::/32' } }] }])],
    good: [...base(), egressFrom('v6', [{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }] }])],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.egress[0].to[0].ipBlock.cidr',
  },
  {
    rule: 'aws-policyendpoint-chunks',
    bad: [...base(), ns('bulk'), ...manyPods(201), bulkPolicy],
    good: [...base(), ns('bulk'), ...manyPods(200), bulkPolicy],
    options: { profile: 'aws-vpc-cni' },
    path: 'spec.podSelector',
  },
];

describe('lint --profile aws-vpc-cni --aws-version: version-bound rules', () => {
  const input = [...base(), egressFrom('internet', [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }] }])];
  const findings = (awsVersion?: string) => lint(readObjects(input), { profile: 'aws-vpc-cni', ...(awsVersion ? { awsVersion } : {}) }).filter((f) => f.ruleId === 'aws-except-on-default-route');
  it('VPC CNI 1.14.0: except on 0.0.0.0/0 ignored, the flows to 169.254.169.254 computed by the engine', () => {
    const f = findings('1.14.0');
    expect(f).toHaveLength(1);
    expect(f[0].message).toContain('opens shop/web -> 169.254.169.254');
  });
  it('VPC CNI 1.15.1 and later: not reported (aws/aws-network-policy-agent v1.0.4 applies except on /0)', () => {
    expect(findings('1.15.1')).toEqual([]);
    expect(findings('1.19.2')).toEqual([]);
  });
});

describe('lint --profile aws-vpc-cni: the flows the engine finds on the cluster as AWS enforces it', () => {
  const aws = (objects: Obj[], rule: string) => lint(readObjects(objects), { profile: 'aws-vpc-cni' }).filter((f) => f.ruleId === rule);

  it('aws-priority-tie: the Deny of the later policy closes web -> db, and only the effect across policies is reported', () => {
    const f = aws([...base(), DB_IN, awsCnp('allow-db', [{ action: 'Accept', to: [DB_PODS] }]), awsCnp('deny-all', [{ action: 'Deny', to: [{ namespaces: {} }] }])], 'aws-priority-tie');
    expect(f).toHaveLength(1);
    expect(f[0].object).toBe('ClusterNetworkPolicy (networking.k8s.aws) allow-db');
    expect(f[0].message).toContain('allow-db, deny-all share priority 5 in the Admin tier');
    expect(f[0].message).toContain('closes shop/web -> shop/db all ports');
    expect(f[0].message).toContain('clusterpolicyendpoints_controller.go:306-364');
    expect(f[0].message).toContain('clusternetworkpolicy_types.go:98-104');
  });

  it('aws-priority-tie: Pass at a tie loses to Accept on AWS (the NetworkPolicy tier is not reached)', () => {
    // pass-db hands web -> db to the NetworkPolicy tier (web's egress allows only DNS there); allow-db accepts it on AWS.
    const input = [...base(), DB_IN, awsCnp('a-pass-db', [{ action: 'Pass', to: [DB_PODS] }]), awsCnp('b-allow-db', [{ action: 'Accept', to: [DB_PODS] }])];
    const f = aws(input, 'aws-priority-tie');
    expect(f).toHaveLength(1);
    expect(f[0].message).toContain('opens shop/web -> shop/db');
  });

  it('aws-priority-tie: different priorities or the upstream kinds are not ties AWS resolves', () => {
    const distinct = [...base(), DB_IN, awsCnp('allow-db', [{ action: 'Accept', to: [DB_PODS] }], 4), awsCnp('deny-all', [{ action: 'Deny', to: [{ namespaces: {} }] }])];
    expect(aws(distinct, 'aws-priority-tie')).toEqual([]);
  });

  it('aws-priority-tie: a tie inside one policy is aws-rule-order-ignored, not reported twice', () => {
    const input = [...base(), DB_IN, awsCnp('order', [{ action: 'Accept', to: [DB_PODS] }, { action: 'Deny', to: [{ namespaces: {} }] }]), awsCnp('other', [{ action: 'Deny', to: [{ namespaces: { matchLabels: { team: 'ops' } } }] }])];
    expect(aws(input, 'aws-rule-order-ignored')).toHaveLength(1);
    expect(aws(input, 'aws-priority-tie')).toEqual([]);
  });

  it('aws-except-across-rules across policies: only the pods both policies select lose the excepted address', () => {
    // imds-block selects web only; link-local selects every pod of shop: db keeps 169.254.169.254.
    const input = [...base(), egressFrom('imds-block', [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }] }]), np('shop', 'link-local', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '169.254.0.0/16' } }] }] })];
    const f = lint(readObjects(input), { profile: 'aws-vpc-cni', awsVersion: '1.19.0' }).filter((x) => x.ruleId === 'aws-except-across-rules');
    expect(f).toHaveLength(1);
    expect(f[0].object).toBe('NetworkPolicy shop/link-local');
    expect(f[0].message).toContain('169.254.169.254/32 (excepted by NetworkPolicy shop/imds-block) is denied inside this policy\'s blocks too, for shop/web');
    expect(f[0].message).toContain('closes shop/web -> 169.254.169.254 all ports');
    expect(f[0].message).not.toContain('shop/db ->');
    expect(f[0].message).toContain('policyendpoints_controller.go:445-505');
  });

  it('aws-host-network-peer: the node address of node-exporter reaches web on 8080, computed by the engine', () => {
    const f = aws([...base(), ...MONITORING, ingressTo('scrape', [{ from: [MONITORING_NS], ports: [{ port: 8080 }] }])], 'aws-host-network-peer');
    expect(f).toHaveLength(1);
    expect(f[0].message).toContain('monitoring/node-exporter-7xk2p (10.0.50.7 on ip-10-0-50-7)');
    expect(f[0].message).toContain('opens 10.0.50.7 -> shop/web TCP 8080');
    expect(f[0].message).not.toContain('prometheus');
    expect(f[0].message).toContain('pkg/resolvers/endpoints.go:118-131');
  });

  it('aws-host-network-peer: egress to a hostNetwork pod by podSelector, its named port resolved on that pod', () => {
    const input = [...base(), ...MONITORING, np('shop', 'to-exporter', { podSelector: web, policyTypes: ['Egress'], egress: [{ to: [{ ...MONITORING_NS, podSelector: { matchLabels: { app: 'node-exporter' } } }], ports: [{ port: 'metrics' }] }] })];
    const f = aws(input, 'aws-host-network-peer');
    expect(f).toHaveLength(1);
    expect(f[0].path).toBe('spec.egress[0].to[0]');
    expect(f[0].message).toContain('opens shop/web -> 10.0.50.7 TCP 9100');
  });

  it('aws-host-network-peer: a hostNetwork pod without a pod IP in its status is written by no one', () => {
    const bare = hostPod('monitoring', 'node-exporter-7xk2p', { app: 'node-exporter' }, '10.0.50.7', 'ip-10-0-50-7') as { status: Obj };
    const input = [...base(), ns('monitoring'), { ...bare, status: { phase: 'Running' } }, ingressTo('scrape', [{ from: [MONITORING_NS], ports: [{ port: 8080 }] }])];
    expect(aws(input, 'aws-host-network-peer')).toEqual([]);
  });

  it('aws-host-network-peer: an AWS ClusterNetworkPolicy namespaces peer with a hostNetwork pod accepts its node address', () => {
    const input = [...base(), ...MONITORING, awsCnp('to-monitoring', [{ action: 'Accept', to: [{ namespaces: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] }])];
    const f = aws(input, 'aws-host-network-peer');
    expect(f).toHaveLength(1);
    expect(f[0].object).toBe('ClusterNetworkPolicy (networking.k8s.aws) to-monitoring');
    expect(f[0].path).toBe('spec.egress[0].to');
    expect(f[0].message).toContain('opens shop/web -> 10.0.50.7 all ports');
    expect(f[0].message).toContain('clusternetworkpolicy_resolver.go:280-305');
  });

  it('aws-host-network-peer: no finding where AWS and Palisade agree, the node-exporter on web\'s own node (always admitted by both)', () => {
    // aws/aws-network-policy-agent pkg/fwruleprocessor/fw_rule_processor.go:81-85 and 371-374: the node's own address is
    // always allowed; the engine admits a pod's own node too. Only web is selected, and it runs on ip-10-0-50-7.
    const onNode = base().map((o) => ((o.metadata as { name: string }).name === 'web' ? { ...o, status: { ...(o.status as Obj), hostIP: '10.0.50.7' } } : o));
    expect(aws([...onNode, ...MONITORING, ingressTo('scrape', [{ from: [MONITORING_NS], ports: [{ port: 8080 }] }])], 'aws-host-network-peer')).toEqual([]);
  });

  it('a policy that selects only a hostNetwork pod: AWS skips it (controller endpoints.go:300-305, agent policyendpoints_controller.go:645-649), and so does Palisade', () => {
    const input = [...base(), ...MONITORING, np('monitoring', 'exporter-in', { podSelector: { matchLabels: { app: 'node-exporter' } }, policyTypes: ['Ingress'] })];
    const all = lint(readObjects(input), { profile: 'aws-vpc-cni' });
    expect(all.filter((f) => f.ruleId === 'policy-selects-nothing').map((f) => f.object)).toEqual(['NetworkPolicy monitoring/exporter-in']);
    expect(all.filter((f) => f.ruleId.startsWith('aws-') && f.object === 'NetworkPolicy monitoring/exporter-in')).toEqual([]);
  });

  it('aws-shared-pod-identifier: redis-in applies to redis-client too and lets ops reach it on 6379', () => {
    const f = aws([...base(), ...REDIS, client('redis-client'), REDIS_IN], 'aws-shared-pod-identifier');
    expect(f).toHaveLength(1);
    expect(f[0].object).toBe('NetworkPolicy shop/redis-in');
    expect(f[0].message).toContain('redis-0, redis-1, redis-client share the identifier redis@shop');
    expect(f[0].message).toContain('opens ops/prom -> shop/redis-client TCP 6379');
    expect(f[0].message).toContain('pkg/utils/utils.go:177-188');
  });

  it('aws-shared-pod-identifier: both directions, a policy of the standalone pod applies to the StatefulSet pods too', () => {
    const toolsEgress = np('shop', 'client-egress', { podSelector: { matchLabels: { run: 'redis-client' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }] }] });
    const f = aws([...base(), ...REDIS, client('redis-client'), REDIS_IN, toolsEgress], 'aws-shared-pod-identifier');
    expect(f.map((x) => x.object).sort()).toEqual(['NetworkPolicy shop/client-egress', 'NetworkPolicy shop/redis-in']);
    const egress = f.find((x) => x.object === 'NetworkPolicy shop/client-egress')!;
    expect(egress.message).toContain('shop/redis-0 -> 203.0.113.0-203.0.113.255');
  });

  it('aws-shared-pod-identifier: an AWS ClusterNetworkPolicy whose subject picks redis also reaches redis-client', () => {
    const admit = { apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ClusterNetworkPolicy', metadata: { name: 'ops-to-redis' }, spec: { tier: 'Admin', priority: 10, subject: { pods: { namespaceSelector: { matchLabels: { team: 'shop' } }, podSelector: { matchLabels: { app: 'redis' } } } }, ingress: [{ action: 'Accept', from: [{ namespaces: { matchLabels: { team: 'ops' } } }] }] } };
    const f = aws([...base(), ...REDIS, client('redis-client'), admit], 'aws-shared-pod-identifier');
    expect(f).toHaveLength(1);
    expect(f[0].object).toBe('ClusterNetworkPolicy (networking.k8s.aws) ops-to-redis');
    expect(f[0].path).toBe('spec.subject');
    expect(f[0].message).toContain('opens ops/prom -> shop/redis-client all ports');
    expect(f[0].message).toContain('clusterpolicyendpoints_controller.go:183-195');
  });

  it('aws-shared-pod-identifier from manifests alone: a StatefulSet redis and a Pod redis-client, without any pod status', () => {
    const sts = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'redis', namespace: 'shop' }, spec: { serviceName: 'redis', selector: { matchLabels: { app: 'redis' } }, template: { metadata: { labels: { app: 'redis' } }, spec: { containers: [{ name: 'redis', image: 'redis:7', ports: [{ containerPort: 6379 }] }] } } } };
    const debug = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'redis-client', namespace: 'shop', labels: { run: 'redis-client' } }, spec: { containers: [{ name: 'c', image: 'redis:7' }] } };
    const f = aws([...base(), sts, debug, REDIS_IN], 'aws-shared-pod-identifier');
    expect(f).toHaveLength(1);
    expect(f[0].message).toContain('the pods of StatefulSet redis, redis-client share the identifier redis@shop');
    expect(f[0].message).toContain('opens ops/prom -> shop/redis-client TCP 6379');
    // A Deployment's pods are <name>-<template hash>-<suffix>: nothing else shares their identifier.
    const deploy = { ...sts, kind: 'Deployment', spec: { selector: sts.spec.selector, template: sts.spec.template } };
    expect(aws([...base(), deploy, debug, REDIS_IN], 'aws-shared-pod-identifier')).toEqual([]);
  });

  it('aws-shared-pod-identifier: replicas of one ReplicaSet share an identifier and the same policies: nothing to report', () => {
    const replicas = ['x2x9k', 'p8q7r'].map((s, i) => pod('shop', `api-7d9f8c5b4-${s}`, { labels: { app: 'api' }, ip: `10.0.1.${40 + i}` }));
    const input = [...base(), ...replicas, np('shop', 'api-in', { podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: web }] }] })];
    expect(aws(input, 'aws-shared-pod-identifier')).toEqual([]);
  });
});

describe('lint --profile aws-vpc-cni: ports per CIDR and Service ports', () => {
  const aws = (objects: Obj[], rule: string) => lint(readObjects(objects), { profile: 'aws-vpc-cni' }).filter((f) => f.ruleId === rule);

  it('aws-too-many-ports: ports of two policies piling up on one CIDR of one pod are counted together', () => {
    const half = (name: string, from: number) => egressFrom(name, [{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: Array.from({ length: 13 }, (_, i) => ({ port: from + i })) }]);
    const f = aws([...base(), half('ports-a', 1000), half('ports-b', 2000)], 'aws-too-many-ports');
    expect(f).toHaveLength(1);
    expect(f[0].message).toContain('203.0.113.0/24 gets 26 port/protocol combinations in egress across');
    expect(f[0].message).toContain('shop/ports-a');
    expect(f[0].message).toContain('shop/ports-b');
    // Each alone is within the limit.
    expect(aws([...base(), half('ports-a', 1000)], 'aws-too-many-ports')).toEqual([]);
  });

  it('aws-service-port-mismatch: no finding where the resolver writes the ClusterIP with the Service port (podSelector and namespaceSelector peers)', () => {
    const db = svc('shop', 'db', { clusterIP: '172.20.0.20', selector: { app: 'db' }, ports: [{ port: 80, targetPort: 5432 }] });
    // pkg/resolvers/endpoints.go:456-557: a Service whose selector the peer's podSelector matches (an absent one matches
    // every Service of the namespace) gets its ClusterIP with the Service port.
    const peers = [{ podSelector: { matchLabels: { app: 'db' } } }, { namespaceSelector: { matchLabels: { team: 'shop' } }, podSelector: { matchLabels: { app: 'db' } } }, { namespaceSelector: { matchLabels: { team: 'shop' } } }];
    for (const peer of peers) expect(aws([...base(), db, egressFrom('to-db', [{ to: [peer], ports: [{ port: 5432 }] }])], 'aws-service-port-mismatch')).toEqual([]);
    // A named targetPort resolved through the pod's container port: also written with port 80.
    const named = svc('shop', 'db', { clusterIP: '172.20.0.20', selector: { app: 'db' }, ports: [{ port: 80, targetPort: 'postgres' }] });
    expect(aws([...base(), named, egressFrom('to-db', [{ to: [peers[0]], ports: [{ port: 5432 }] }])], 'aws-service-port-mismatch')).toEqual([]);
  });
});

describe('lint rules: each fires on a minimal bad input and not on the good one', () => {
  for (const c of cases) {
    it(`${c.rule} (${c.path})`, () => {
      const bad = lint(readObjects(c.bad), c.options).filter((f) => f.ruleId === c.rule);
      const good = lint(readObjects(c.good), c.options).filter((f) => f.ruleId === c.rule);
      expect(bad.length, JSON.stringify(bad)).toBeGreaterThan(0);
      expect(good, JSON.stringify(good)).toEqual([]);
      const f = bad[0];
      expect(f.path).toBe(c.path);
      expect(f.pos?.file).toMatch(/input\.yaml$/);
      expect(f.pos?.line).toBeGreaterThan(0);
      expect(f.message.length).toBeGreaterThan(20);
      expect(f.fix.length).toBeGreaterThan(10);
      expect(f.severity).toBe(RULES.find((r) => r.id === c.rule)!.severity);
    });
  }

  it('every rule has a case', () => {
    expect(new Set(cases.map((c) => c.rule))).toEqual(new Set(RULES.map((r) => r.id)));
  });

  it('aws-vpc-cni rules stay off in the generic profile, and off-by-default rules need --enable', () => {
    for (const c of cases) {
      const rule = RULES.find((r) => r.id === c.rule)!;
      if (rule.profile === 'generic' && rule.enabledByDefault) continue;
      expect(lint(readObjects(c.bad)).filter((f) => f.ruleId === c.rule)).toEqual([]);
    }
  });

  it('--disable turns a rule off', () => {
    const c = cases[0];
    expect(lint(readObjects(c.bad), { disable: [c.rule] }).filter((f) => f.ruleId === c.rule)).toEqual([]);
  });
});

describe('lint on realistic input', () => {
  it('the eks-multi-team example: one OR-vs-AND warning, on the item as written', () => {
    const findings = lint(readCluster(['examples/eks-multi-team/']));
    expect(findings.map((f) => [f.ruleId, f.object, f.path, `${f.pos?.file}:${f.pos?.line}:${f.pos?.column}`])).toEqual([
      ['peer-or-meant-and', 'NetworkPolicy b/allow-team-and-monitoring', 'spec.ingress[0].from[1]', 'examples/eks-multi-team/policies-team-a.yaml:67:7'],
    ]);
  });

  it('the eks-multi-team example with the aws-vpc-cni profile: the /0 excepts and the standalone pods', () => {
    const findings = lint(readCluster(['examples/eks-multi-team/']), { profile: 'aws-vpc-cni' });
    const byRule = (id: string) => findings.filter((f) => f.ruleId === id).map((f) => f.object);
    expect(byRule('aws-except-on-default-route')).toEqual(['NetworkPolicy a/allow-egress', 'NetworkPolicy b/allow-egress', 'NetworkPolicy c/allow-egress', 'NetworkPolicy d/allow-team', 'NetworkPolicy e/allow-team', 'NetworkPolicy f/allow-team']);
    // Every pod of the example is standalone; kube-system/coredns is selected by no policy.
    expect(byRule('aws-standalone-pod')).toHaveLength(9);
    // Every pod name is its own identifier, no hostNetwork pod, no AWS ClusterNetworkPolicy.
    for (const id of ['aws-shared-pod-identifier', 'aws-host-network-peer', 'aws-priority-tie']) expect(byRule(id)).toEqual([]);
    expect(findings.some((f) => f.severity === 'error')).toBe(false);
  });

  for (const tier of ['namespace', 'admin'] as const) {
    it(`the generated tenants policies (${tier} tier) with pods in every namespace: no findings`, () => {
      const { tenants } = readTenants('examples/tenants/tenants.yaml');
      const objects: Obj[] = [ns('kube-system'), pod('kube-system', 'coredns', { labels: { 'k8s-app': 'kube-dns' }, ip: '10.0.0.10' })];
      let n = 1;
      for (const t of tenants.teams) for (const name of t.namespaces) objects.push(ns(name), pod(name, 'app', { ip: `10.0.3.${n++}`, ports: [{ name: 'metrics', containerPort: 9090 }] }));
      for (const s of tenants.sharedServices) objects.push(ns(s.namespace), pod(s.namespace, s.name, { labels: { ...(s.podLabels ?? {}) }, ip: `10.0.4.${n++}` }));
      objects.push(...(generate(tenants, tier).flatMap((f) => f.objects) as unknown as Obj[]));
      expect(lint(readObjects(objects), { profile: 'generic' })).toEqual([]);
    });
  }
});

describe('lint output', () => {
  const bad = writeTree({ 'bad.yaml': [...base().filter((o) => (o.metadata as { name: string }).name !== 'allow-dns'), ingressTo('prom', [{ from: [{ namespaceSelector: { matchLabels: { team: 'ops' } } }, { podSelector: { matchLabels: { app: 'db' } } }] }])] });

  it('text: file:line:column, severity and rule id, object, field path, message, then the fix; exit 1 on an error finding', async () => {
    const r = await cli(['lint', bad, '-q']);
    expect(r.code).toBe(1);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/bad\.yaml:\d+:\d+: error\[dns-egress-blocked\]: NetworkPolicy shop\/default-deny: spec\.policyTypes: isolates egress of shop\/db, shop\/web but no policy lets them reach kube-dns \(kube-system\/coredns\) on UDP\/53 and TCP\/53/);
    expect(lines[1]).toMatch(/^ {4}fix: add an egress rule/);
    expect(lines.at(-1)).toBe('1 error, 1 warning, 0 notes');
  });

  it('exit 0 when only warnings', async () => {
    const r = await cli(['lint', 'examples/eks-multi-team/', '-q']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('warning[peer-or-meant-and]');
  });

  it('json: a summary and the findings', async () => {
    const r = await cli(['lint', bad, '-q', '-o', 'json']);
    const json = JSON.parse(r.out) as { summary: { error: number; warning: number }; findings: { ruleId: string; pos: { line: number } }[] };
    expect(json.summary).toEqual({ error: 1, warning: 1, note: 0 });
    expect(json.findings.map((f) => f.ruleId)).toEqual(['dns-egress-blocked', 'peer-or-meant-and']);
  });

  it('sarif: the 2.1.0 shape GitHub code scanning loads', async () => {
    const r = await cli(['lint', bad, '-q', '-o', 'sarif', '--profile', 'aws-vpc-cni']);
    expect(r.code).toBe(1);
    const log = JSON.parse(r.out);
    expect(log.version).toBe('2.1.0');
    expect(log.$schema).toMatch(/sarif-2\.1\.0/);
    expect(log.runs).toHaveLength(1);
    const driver = log.runs[0].tool.driver;
    expect(driver.name).toBe('palisade');
    const ids = driver.rules.map((x: { id: string }) => x.id);
    expect(ids).toEqual(activeRules('aws-vpc-cni' as LintProfile).map((x) => x.id));
    for (const rule of driver.rules) expect(typeof rule.shortDescription.text).toBe('string');
    expect(log.runs[0].results.length).toBe(2);
    for (const res of log.runs[0].results) {
      expect(ids).toContain(res.ruleId);
      expect(driver.rules[res.ruleIndex].id).toBe(res.ruleId);
      expect(['error', 'warning', 'note']).toContain(res.level);
      expect(typeof res.message.text).toBe('string');
      const loc = res.locations[0].physicalLocation;
      expect(loc.artifactLocation.uri).toMatch(/bad\.yaml$/);
      expect(loc.artifactLocation.uri).not.toContain('\\');
      expect(Number.isInteger(loc.region.startLine) && loc.region.startLine >= 1).toBe(true);
    }
  });

  it('toSarif: relative URIs from the working directory', () => {
    const log = toSarif([{ ruleId: 'rule-shadowed', severity: 'warning', message: 'm', fix: 'f', pos: { file: join(process.cwd(), 'a', 'b.yaml'), line: 3, column: 5 } }], RULES, '0.1.0');
    const res = log.runs[0].results[0] as { locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] };
    expect(res.locations[0].physicalLocation.artifactLocation.uri).toBe('a/b.yaml');
    expect(res.locations[0].physicalLocation.region.startLine).toBe(3);
    const outside = toSarif([{ ruleId: 'rule-shadowed', severity: 'warning', message: 'm', fix: 'f', pos: { file: '/elsewhere/b.yaml', line: 1, column: 1 } }], RULES, '0.1.0', '/work/repo');
    expect((outside.runs[0].results[0] as typeof res).locations[0].physicalLocation.artifactLocation.uri).toBe('file:///elsewhere/b.yaml');
  });

  it('rejects an unknown rule id and a bad --pod-cidr as usage errors', async () => {
    expect((await cli(['lint', bad, '--enable', 'no-such-rule'])).code).toBe(2);
    expect((await cli(['lint', bad, '--pod-cidr', '10.0.0.0/99'])).code).toBe(2);
  });

  it('has --help with an example and the rule list', async () => {
    const r = await cli(['lint', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('palisade lint examples/eks-multi-team/');
    for (const rule of RULES) expect(r.out).toContain(rule.id);
  });
});
