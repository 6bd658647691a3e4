/**
 * Random small clusters for property tests and lab verification: namespaces, pods with labels, IPs and named ports,
 * NetworkPolicies using every peer and port form, and admin/baseline tier policies with every action and peer kind;
 * with `aws`, also AWS's ApplicationNetworkPolicy and ClusterNetworkPolicy with domainNames peers and DNS answers.
 * Values are drawn from small pools so that selectors, blocks and names often collide, which is where bugs live.
 */
import fc from 'fast-check';
import type { LabelSelector, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, Protocol } from '../api/types.js';
import { parseCIDR } from '../api/ip.js';
import type { Cluster, Endpoint, EndpointPort, NamespaceInfo, NodeInfo, PolicyObject, TierPeer, TierPolicy, TierPort, TierRule } from '../model/types.js';

const NAMESPACES = ['x', 'y', 'z'] as const;
const PROTOCOLS: Protocol[] = ['TCP', 'UDP', 'SCTP'];
const LABEL_KEYS = ['app', 'role'] as const;
const LABEL_VALUES = ['a', 'b'] as const;
/** Pod addresses: IPv4 in 10.0.0.0/29 and 10.0.1.0/30, IPv6 in fd00::/125. */
const POD_V4 = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.1.1', '10.0.1.2'];
const POD_V6 = ['fd00::1', 'fd00::2', 'fd00::3', 'fd00::4'];
const NODE_ADDRESSES = ['192.168.0.1', '192.168.0.2'];
/** Blocks around the pod and node addresses, and the usual suspects. */
const CIDRS = ['10.0.0.0/24', '10.0.0.0/30', '10.0.0.4/31', '10.0.0.2/32', '10.0.1.0/24', '0.0.0.0/0', '192.168.0.0/16', '169.254.169.254/32', 'fd00::/64', 'fd00::2/127', '::/0'];
const NAMED = [
  { name: 'http', port: 80, protocol: 'TCP' as Protocol },
  { name: 'http', port: 8080, protocol: 'TCP' as Protocol },
  { name: 'dns', port: 53, protocol: 'UDP' as Protocol },
  { name: 'dns', port: 53, protocol: 'TCP' as Protocol },
  { name: 'metrics', port: 9090, protocol: 'TCP' as Protocol },
  { name: 'sctp-a', port: 81, protocol: 'SCTP' as Protocol },
];
/** Ports probed by the tests: the named ones, range edges and strangers. */
export const PROBE_PORTS = [1, 53, 80, 81, 443, 8080, 9090, 65535];
/** External addresses probed by the tests, next to every block edge used above. */
export const PROBE_ADDRESSES = ['10.0.0.7', '10.0.0.200', '10.0.1.9', '10.0.2.1', '8.8.8.8', '169.254.169.254', '192.168.0.1', '192.168.0.2', '192.168.5.5', 'fd00::9', 'fd00::3:1', '2001:db8::1'];

/** Domain name patterns of domainNames peers, and the names DNS answers are drawn for (AWS's kinds). */
const DOMAIN_PATTERNS = ['api.example.com', '*.example.com', 'example.com', 'other.org'];
const DNS_NAMES = ['api.example.com', 'a.b.example.com', 'example.com'];
/** Addresses DNS answers point at: external probes, a pod, a node. */
const DNS_ADDRESSES = ['8.8.8.8', '10.0.0.2', '169.254.169.254', '192.168.0.2', 'fd00::9'];

const labelsArb = fc.record({ app: fc.constantFrom(...LABEL_VALUES), role: fc.constantFrom(...LABEL_VALUES) }, { requiredKeys: [] });

const selectorArb: fc.Arbitrary<LabelSelector> = fc.oneof(
  fc.constant({}),
  fc.record({ matchLabels: labelsArb }),
  fc.record({
    matchExpressions: fc.array(
      fc.oneof(
        fc.record({ key: fc.constantFrom<string>(...LABEL_KEYS, 'ns', 'team'), operator: fc.constantFrom('In' as const, 'NotIn' as const), values: fc.subarray([...LABEL_VALUES, 'x', 'y'], { minLength: 1 }) }),
        fc.record({ key: fc.constantFrom<string>(...LABEL_KEYS, 'team'), operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
      ),
      { minLength: 1, maxLength: 2 },
    ),
  }),
);

const nsSelectorArb: fc.Arbitrary<LabelSelector> = fc.oneof(
  fc.constant({}),
  fc.record({ matchLabels: fc.record({ team: fc.constantFrom('red', 'blue') }) }),
  fc.record({ matchLabels: fc.record({ 'kubernetes.io/metadata.name': fc.constantFrom(...NAMESPACES) }) }),
  fc.record({ matchExpressions: fc.constant([{ key: 'team', operator: 'NotIn' as const, values: ['red'] }]) }),
);

const cidrArb = fc.constantFrom(...CIDRS);

const ipBlockArb = cidrArb.chain((cidr) => {
  const inside = CIDRS.filter((c) => c !== cidr && isStrictlyInside(c, cidr));
  return inside.length === 0 ? fc.constant({ cidr }) : fc.record({ cidr: fc.constant(cidr), except: fc.subarray(inside, { minLength: 1 }) }, { requiredKeys: ['cidr'] });
});

const npPeerArb: fc.Arbitrary<NetworkPolicyPeer> = fc.oneof(
  fc.record({ podSelector: selectorArb }),
  fc.record({ namespaceSelector: nsSelectorArb }),
  fc.record({ podSelector: selectorArb, namespaceSelector: nsSelectorArb }),
  fc.record({ ipBlock: ipBlockArb }),
);

const npPortArb: fc.Arbitrary<NetworkPolicyPort> = fc.oneof(
  fc.record({ protocol: fc.constantFrom(...PROTOCOLS) }, { requiredKeys: [] }),
  fc.record({ protocol: fc.constantFrom(...PROTOCOLS), port: fc.constantFrom(53, 80, 81, 8080) }, { requiredKeys: ['port'] }),
  fc.record({ protocol: fc.constantFrom(...PROTOCOLS), port: fc.constantFrom(53, 80), endPort: fc.constantFrom(81, 443, 9090) }, { requiredKeys: ['port', 'endPort'] }),
  fc.record({ protocol: fc.constantFrom(...PROTOCOLS), port: fc.constantFrom('http', 'dns', 'metrics', 'sctp-a', 'none') }, { requiredKeys: ['port'] }),
);

const domainNamesArb = fc.subarray(DOMAIN_PATTERNS, { minLength: 1, maxLength: 2 });

/** An ApplicationNetworkPolicy's egress peers add domainNames. */
const anpPeerArb: fc.Arbitrary<NetworkPolicyPeer> = fc.oneof({ weight: 3, arbitrary: npPeerArb }, { weight: 1, arbitrary: domainNamesArb.map((domainNames) => ({ domainNames })) });

const npRuleArb = fc.record(
  { peers: fc.array(npPeerArb, { maxLength: 2 }), ports: fc.array(npPortArb, { maxLength: 2 }) },
  { requiredKeys: [] },
);

const anpEgressRuleArb = fc.record(
  { peers: fc.array(anpPeerArb, { maxLength: 2 }), ports: fc.array(npPortArb, { maxLength: 2 }) },
  { requiredKeys: [] },
);

const networkPolicyArb = (name: string, aws = false): fc.Arbitrary<NetworkPolicy> =>
  fc
    .record(
      {
        namespace: fc.constantFrom(...NAMESPACES),
        podSelector: selectorArb,
        policyTypes: fc.subarray(['Ingress', 'Egress'] as const, { minLength: 1 }),
        ingress: fc.array(npRuleArb, { maxLength: 2 }),
        egress: fc.array(aws ? anpEgressRuleArb : npRuleArb, { maxLength: 2 }),
      },
      { requiredKeys: ['namespace', 'podSelector'] },
    )
    .map((r) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name, namespace: r.namespace },
      spec: {
        podSelector: r.podSelector,
        ...(r.policyTypes ? { policyTypes: r.policyTypes } : {}),
        ...(r.ingress ? { ingress: r.ingress.map((x) => ({ ...(x.peers ? { from: x.peers } : {}), ...(x.ports ? { ports: x.ports } : {}) })) } : {}),
        ...(r.egress ? { egress: r.egress.map((x) => ({ ...(x.peers ? { to: x.peers } : {}), ...(x.ports ? { ports: x.ports } : {}) })) } : {}),
      },
    }));

const podsPeerArb: fc.Arbitrary<TierPeer> = fc
  .record({ namespaceSelector: nsSelectorArb, podSelector: selectorArb }, { requiredKeys: ['namespaceSelector'] })
  .map((selector) => ({ kind: 'pods' as const, selector }));
/** Peers that name addresses or names, not pods: the APIs forbid named ports in a rule that has one. */
const networksPeerArb: fc.Arbitrary<TierPeer> = fc.subarray(CIDRS, { minLength: 1, maxLength: 2 }).map((cidrs) => ({ kind: 'networks' as const, cidrs }));
const nodesPeerArb: fc.Arbitrary<TierPeer> = fc.constantFrom<LabelSelector>({}, { matchLabels: { zone: 'one' } }).map((nodeSelector) => ({ kind: 'nodes' as const, nodeSelector }));
/** BaselineAdminNetworkPolicy has no domainNames peer; the other kinds do (and Palisade cannot evaluate it). */
const addressPeerArb = (kind: TierKindChoice): fc.Arbitrary<TierPeer> =>
  kind === 'BaselineAdminNetworkPolicy'
    ? fc.oneof({ weight: 2, arbitrary: networksPeerArb }, { weight: 1, arbitrary: nodesPeerArb })
    : fc.oneof({ weight: 2, arbitrary: networksPeerArb }, { weight: 1, arbitrary: nodesPeerArb }, { weight: 1, arbitrary: fc.constant({ kind: 'unsupported' as const, what: 'domainNames' }) });

/** Tier peers with domainNames that DNS answers can resolve (upstream and AWS kinds alike). */
const tierPeerWithDomainsArb: fc.Arbitrary<TierPeer> = fc.oneof(
  { weight: 2, arbitrary: networksPeerArb },
  { weight: 1, arbitrary: nodesPeerArb },
  { weight: 1, arbitrary: domainNamesArb.map((domainNames): TierPeer => ({ kind: 'unsupported' as const, what: 'domainNames', domainNames })) },
);

const tierPortArb: fc.Arbitrary<TierPort> = fc.oneof(
  fc.record({ protocol: fc.constantFrom(...PROTOCOLS), port: fc.constantFrom(53, 80, 81) }).map((p) => ({ kind: 'range' as const, protocol: p.protocol, from: p.port, to: p.port })),
  fc.record({ protocol: fc.constantFrom(...PROTOCOLS), from: fc.constantFrom(1, 80), to: fc.constantFrom(81, 8080) }).map((p) => ({ kind: 'range' as const, ...p })),
  fc.constantFrom('http', 'dns', 'none').map((name) => ({ kind: 'named' as const, name })),
);

/** The tier kinds and the actions each allows. */
type TierKindChoice = 'ClusterNetworkPolicy' | 'AdminNetworkPolicy' | 'BaselineAdminNetworkPolicy';

/** A rule with an address peer keeps only its numeric ports: such a rule names no port by name. */
function numericPortsBesideAddresses(r: TierRule): TierRule {
  if (!r.ports || r.peers.every((p) => p.kind === 'pods')) return r;
  const numeric = r.ports.filter((p) => p.kind === 'range');
  return numeric.length > 0 ? { ...r, ports: numeric } : { action: r.action, peers: r.peers };
}

/**
 * A rule valid for its kind and direction: ingress peers are pods only; a rule with an address peer names no port by
 * name; BaselineAdminNetworkPolicy has no Pass.
 */
const tierRuleArb = (kind: TierKindChoice, dir: 'ingress' | 'egress', aws = false): fc.Arbitrary<TierRule> =>
  fc
    .record(
      {
        action: kind === 'BaselineAdminNetworkPolicy' ? fc.constantFrom('Allow' as const, 'Deny' as const) : fc.constantFrom('Allow' as const, 'Deny' as const, 'Pass' as const),
        peers: fc.array(dir === 'ingress' ? podsPeerArb : fc.oneof({ weight: 3, arbitrary: podsPeerArb }, { weight: 2, arbitrary: aws && kind === 'ClusterNetworkPolicy' ? tierPeerWithDomainsArb : addressPeerArb(kind) }), { minLength: 1, maxLength: 2 }),
        ports: fc.array(tierPortArb, { minLength: 1, maxLength: 2 }),
      },
      { requiredKeys: ['action', 'peers'] },
    )
    .map(numericPortsBesideAddresses);

/**
 * A rule of AWS's own ClusterNetworkPolicy (networking.k8s.aws): its egress peers are namespaces, pods, networks and
 * domainNames (no nodes), and domainNames only in Accept rules (a CEL rule of the CRD).
 */
const awsTierRuleArb = (dir: 'ingress' | 'egress'): fc.Arbitrary<TierRule> =>
  fc.constantFrom('Allow' as const, 'Deny' as const, 'Pass' as const).chain((action) => {
    const domains = domainNamesArb.map((domainNames): TierPeer => ({ kind: 'unsupported' as const, what: 'domainNames', domainNames }));
    const address = action === 'Allow' ? fc.oneof({ weight: 1, arbitrary: networksPeerArb }, { weight: 2, arbitrary: domains }) : networksPeerArb;
    return fc
      .record(
        {
          action: fc.constant(action),
          peers: fc.array(dir === 'ingress' ? podsPeerArb : fc.oneof({ weight: 3, arbitrary: podsPeerArb }, { weight: 2, arbitrary: address }), { minLength: 1, maxLength: 2 }),
          ports: fc.array(tierPortArb, { minLength: 1, maxLength: 2 }),
        },
        { requiredKeys: ['action', 'peers'] },
      )
      .map(numericPortsBesideAddresses);
  });

/** AWS's own ClusterNetworkPolicy: either tier, priority, a subject, AWS's rules. */
const awsTierPolicyArb = (name: string): fc.Arbitrary<TierPolicy> =>
  fc.record({
    tier: fc.constantFrom('Admin' as const, 'Baseline' as const),
    name: fc.constant(name),
    priority: fc.integer({ min: 0, max: 3 }),
    kind: fc.constant('ClusterNetworkPolicy'),
    group: fc.constant('networking.k8s.aws' as const),
    subject: fc.record({ namespaceSelector: nsSelectorArb, podSelector: selectorArb }, { requiredKeys: ['namespaceSelector'] }),
    ingress: fc.array(awsTierRuleArb('ingress'), { maxLength: 3 }),
    egress: fc.array(awsTierRuleArb('egress'), { maxLength: 3 }),
  });

const tierPolicyArb = (name: string, kinds: readonly TierKindChoice[], aws = false): fc.Arbitrary<TierPolicy> =>
  aws ? fc.oneof({ weight: 1, arbitrary: awsTierPolicyArb(name) }, { weight: 2, arbitrary: upstreamTierPolicyArb(name, kinds, true) }) : upstreamTierPolicyArb(name, kinds, false);

const upstreamTierPolicyArb = (name: string, kinds: readonly TierKindChoice[], aws: boolean): fc.Arbitrary<TierPolicy> =>
  fc.constantFrom(...kinds).chain((kind) =>
    (kind === 'ClusterNetworkPolicy' ? fc.constantFrom('Admin' as const, 'Baseline' as const) : fc.constant(kind === 'AdminNetworkPolicy' ? ('Admin' as const) : ('Baseline' as const))).chain((tier) =>
      fc.record({
        tier: fc.constant(tier),
        name: fc.constant(kind === 'BaselineAdminNetworkPolicy' ? 'default' : name),
        priority: kind === 'BaselineAdminNetworkPolicy' ? fc.constant(0) : fc.integer({ min: 0, max: 3 }),
        kind: fc.constant(kind),
        subject: fc.record({ namespaceSelector: nsSelectorArb, podSelector: selectorArb }, { requiredKeys: ['namespaceSelector'] }),
        ingress: fc.array(tierRuleArb(kind, 'ingress', aws), { maxLength: 3 }),
        egress: fc.array(tierRuleArb(kind, 'egress', aws), { maxLength: 3 }),
      }),
    ),
  );

const endpointArb = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  labels: labelsArb,
  ports: fc.subarray(NAMED, { maxLength: 3 }),
  v6: fc.boolean(),
  workload: fc.boolean(),
});

export interface RandomScenarioOptions {
  readonly tiers?: boolean;
  readonly maxPods?: number;
  readonly maxPolicies?: number;
  /** Pods get IPv4 addresses only (the netns lab probes IPv4). @default false */
  readonly ipv4Only?: boolean;
  /** Every endpoint is a Pod with an IP, never a workload without one. @default false */
  readonly podsOnly?: boolean;
  /**
   * AWS's kinds too: NetworkPolicies may be ApplicationNetworkPolicies with domainNames egress peers, tier policies
   * AWS ClusterNetworkPolicies, domainNames peers everywhere, and random DNS answers for them. @default false
   */
  readonly aws?: boolean;
}

/** A random cluster. */
export function clusterArb(opts: RandomScenarioOptions = {}): fc.Arbitrary<Cluster> {
  const maxPods = opts.maxPods ?? 6;
  const maxPolicies = opts.maxPolicies ?? 4;
  return fc
    .record({
      teams: fc.tuple(fc.constantFrom('red', 'blue'), fc.constantFrom('red', 'blue'), fc.constantFrom('red', 'blue')),
      endpoints: fc.array(
        opts.ipv4Only || opts.podsOnly
          ? endpointArb.map((e) => ({ ...e, v6: opts.ipv4Only ? false : e.v6, workload: opts.podsOnly ? false : e.workload }))
          : endpointArb,
        { minLength: 1, maxLength: maxPods },
      ),
      policyCount: fc.integer({ min: 0, max: maxPolicies }),
      tierCount: fc.integer({ min: 0, max: opts.tiers ? 3 : 0 }),
      nodeZone: fc.boolean(),
      // Drawn only for AWS scenarios, so the other scenarios (and the lab's seeded samples) stay as they were.
      anp: opts.aws ? fc.array(fc.boolean(), { minLength: maxPolicies, maxLength: maxPolicies }) : fc.constant([] as boolean[]),
      dns: opts.aws ? fc.array(fc.tuple(fc.constantFrom(...DNS_NAMES), fc.constantFrom(...DNS_ADDRESSES)), { maxLength: 3 }) : fc.constant([] as [string, string][]),
      // AWS's kinds may take the name of the first upstream policy (np0 in its namespace, the first tier policy's).
      alias: opts.aws ? fc.array(fc.boolean(), { minLength: maxPolicies + 3, maxLength: maxPolicies + 3 }) : fc.constant([] as boolean[]),
    })
    .chain((r) =>
      fc.record({
        base: fc.constant(r),
        policies: fc.tuple(...Array.from({ length: r.policyCount }, (_, i) => networkPolicyArb(`np${i}`, opts.aws === true && r.anp[i]))),
        // At most one BaselineAdminNetworkPolicy (it is a singleton named "default"): only the first may be one.
        tiers: fc.tuple(...Array.from({ length: r.tierCount }, (_, i) => tierPolicyArb(`tp${i}`, i === 0 ? ['ClusterNetworkPolicy', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy'] : ['ClusterNetworkPolicy', 'AdminNetworkPolicy'], opts.aws === true))),
      }),
    )
    .map(({ base, policies, tiers }) => {
      const namespaces = new Map<string, NamespaceInfo>();
      NAMESPACES.forEach((name, i) => {
        namespaces.set(name, { name, implicit: false, labels: { 'kubernetes.io/metadata.name': name, ns: name, team: base.teams[i] } });
      });
      const endpoints: Endpoint[] = base.endpoints.map((e, i) => {
        const ports: EndpointPort[] = e.ports.filter((p, j, all) => all.findIndex((q) => q.name === p.name) === j);
        const ips = e.workload ? [] : [POD_V4[i % POD_V4.length], ...(e.v6 ? [POD_V6[i % POD_V6.length]] : [])];
        // Pods alternate between the two nodes, so every node has local and remote pods.
        const node = e.workload ? {} : { nodeName: `node${i % 2}`, hostIP: NODE_ADDRESSES[i % 2] };
        return {
          id: `${e.namespace}/p${i}`,
          kind: e.workload ? 'Deployment' : 'Pod',
          namespace: e.namespace,
          name: `p${i}`,
          labels: e.labels,
          ips,
          ports,
          ...node,
        };
      });
      const nodes: NodeInfo[] = NODE_ADDRESSES.map((address, i) => ({ name: `node${i}`, labels: (i === 0 && base.nodeZone ? { zone: 'one' } : {}) as Record<string, string>, addresses: [address] }));
      const policyObjects: PolicyObject[] = policies.map((policy, i) => {
        if (!(opts.aws === true && base.anp[i])) return { policy };
        // An ApplicationNetworkPolicy named as the NetworkPolicy np0 in its namespace: each keeps its own objects.
        const first = policies[0];
        const renamed = i > 0 && base.alias[i] && !base.anp[0] ? { ...policy, metadata: { ...policy.metadata, name: first.metadata.name, namespace: first.metadata.namespace } } : policy;
        return { policy: renamed, kind: 'ApplicationNetworkPolicy', group: 'networking.k8s.aws' };
      });
      // AWS's ClusterNetworkPolicy named as the first tier policy when that one is of another kind or group.
      const tierPolicies: TierPolicy[] = [];
      tiers.forEach((t, i) => {
        const first = tiers[0];
        const alias = i > 0 && t.group !== undefined && base.alias[maxPolicies + i] && first.group === undefined;
        tierPolicies.push(alias && !tierPolicies.some((o) => o.group && o.name === first.name) ? { ...t, name: first.name } : t);
      });
      const dns = new Map<string, string[]>();
      for (const [name, ip] of base.dns) dns.set(name, [...(dns.get(name) ?? []), ip]);
      return { namespaces, endpoints, policies: policyObjects, tierPolicies, nodes, services: [], ...(opts.aws ? { dns } : {}) };
    });
}

function isStrictlyInside(inner: string, outer: string): boolean {
  const a = parseCIDR(inner);
  const b = parseCIDR(outer);
  if (!a || !b || a.family !== b.family) return false;
  return a.first >= b.first && a.last <= b.last && (a.first !== b.first || a.last !== b.last);
}
