/**
 * A generator of multi-team clusters for benchmarks: N pods in namespaces owned by teams, M NetworkPolicies in the
 * shapes real tenants write (default deny, team isolation, app-to-app rules with ports and named ports, DNS and internet
 * egress with an except), and optionally a few admin-tier ClusterNetworkPolicies over the lot.
 */
import type { NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule } from '../api/types.js';
import type { Cluster, Endpoint, NamespaceInfo, PolicyObject, TierPolicy } from '../model/types.js';

export interface BenchClusterOptions {
  readonly pods: number;
  readonly policies: number;
  /** Admin and baseline tier policies to add. @default 0 */
  readonly tierPolicies?: number;
}

const APPS_PER_NAMESPACE = 10;
const POLICIES_PER_NAMESPACE = 10;
const NAMESPACES_PER_TEAM = 5;

function ipOf(i: number): string {
  // 10.0.0.0/8 leaves room for 16 M pods.
  const n = i + 256;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function namespacePolicies(ns: string, team: string, index: number): NetworkPolicy[] {
  const np = (name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: ns },
    spec,
  });
  const dns: NetworkPolicyEgressRule = {
    to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
    ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
  };
  const internet: NetworkPolicyEgressRule = { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32', '10.0.0.0/8'] } }] };
  const out: NetworkPolicy[] = [
    np('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    np('allow-team', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team } } }] }] }),
    np('egress', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { team } } }] }, dns, internet] }),
  ];
  // App chains: app-k accepts app-(k-1) on its named port and a port range, and the office network on 443.
  for (let k = 1; out.length < POLICIES_PER_NAMESPACE; k++) {
    const ingress: NetworkPolicyIngressRule[] = [
      { from: [{ podSelector: { matchLabels: { app: `app-${k - 1}` } } }], ports: [{ protocol: 'TCP', port: 'http' }, { protocol: 'TCP', port: 9000, endPort: 9100 }] },
      { from: [{ ipBlock: { cidr: `203.0.${(index + k) % 256}.0/24` } }], ports: [{ protocol: 'TCP', port: 443 }] },
    ];
    if (k % 3 === 0) ingress.push({ from: [{ namespaceSelector: { matchLabels: { role: 'monitoring' } }, podSelector: { matchLabels: { app: 'prometheus' } } }], ports: [{ protocol: 'TCP', port: 9090 }] });
    out.push(np(`app-${k}`, { podSelector: { matchLabels: { app: `app-${k}` } }, ingress }));
  }
  return out;
}

/** Builds the cluster; deterministic for the same options. */
export function benchCluster(opts: BenchClusterOptions): Cluster {
  const namespaceCount = Math.max(1, Math.ceil(opts.policies / POLICIES_PER_NAMESPACE));
  const namespaces = new Map<string, NamespaceInfo>();
  const endpoints: Endpoint[] = [];
  const policies: PolicyObject[] = [];
  namespaces.set('kube-system', { name: 'kube-system', implicit: false, labels: { 'kubernetes.io/metadata.name': 'kube-system' } });
  endpoints.push({
    id: 'kube-system/coredns',
    kind: 'Pod',
    namespace: 'kube-system',
    name: 'coredns',
    labels: { 'k8s-app': 'kube-dns' },
    ips: [ipOf(0)],
    ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }],
  });
  const podsPerNamespace = Math.max(1, Math.floor((opts.pods - 1) / namespaceCount));
  for (let n = 0; n < namespaceCount; n++) {
    const ns = `ns-${n}`;
    const team = `team-${Math.floor(n / NAMESPACES_PER_TEAM)}`;
    const labels: Record<string, string> = { 'kubernetes.io/metadata.name': ns, team };
    if (n === 0) labels.role = 'monitoring';
    namespaces.set(ns, { name: ns, implicit: false, labels });
    for (let p = 0; p < podsPerNamespace && endpoints.length < opts.pods; p++) {
      const app = n === 0 && p === 0 ? 'prometheus' : `app-${p % APPS_PER_NAMESPACE}`;
      endpoints.push({
        id: `${ns}/pod-${p}`,
        kind: 'Pod',
        namespace: ns,
        name: `pod-${p}`,
        labels: { app, 'pod-template-hash': `h${p % 3}` },
        ips: [ipOf(endpoints.length)],
        ports: [{ name: 'http', port: 8080 + (p % APPS_PER_NAMESPACE), protocol: 'TCP' }, { name: 'metrics', port: 9090, protocol: 'TCP' }],
      });
    }
    for (const policy of namespacePolicies(ns, team, n)) if (policies.length < opts.policies) policies.push({ policy });
  }
  const tierPolicies: TierPolicy[] = [];
  for (let t = 0; t < (opts.tierPolicies ?? 0); t++) {
    const team = `team-${t}`;
    tierPolicies.push({
      tier: t % 4 === 3 ? 'Baseline' : 'Admin',
      name: `tenant-${t}`,
      priority: t,
      kind: 'ClusterNetworkPolicy',
      subject: { namespaceSelector: { matchLabels: { team } } },
      ingress: [
        { name: 'same-team', action: 'Pass', peers: [{ kind: 'pods', selector: { namespaceSelector: { matchLabels: { team } } } }] },
        { name: 'monitoring', action: 'Allow', peers: [{ kind: 'pods', selector: { namespaceSelector: { matchLabels: { role: 'monitoring' } } } }], ports: [{ kind: 'range', protocol: 'TCP', from: 9090, to: 9090 }] },
        { name: 'others', action: 'Deny', peers: [{ kind: 'pods', selector: { namespaceSelector: {} } }] },
      ],
      egress: [{ name: 'metadata', action: 'Deny', peers: [{ kind: 'networks', cidrs: ['169.254.169.254/32'] }] }],
    });
  }
  return { namespaces, endpoints, policies, tierPolicies, nodes: [], services: [] };
}
