/**
 * Policies generated from a tenants file, in one of two tiers:
 *
 * - `namespace`: NetworkPolicies in every team namespace — default deny both ways, then allows for the team, cluster
 *   DNS, the shared services, and the internet minus the blocked addresses. Tenants own these objects' namespace, so
 *   they could delete them; use it where namespace owners are trusted.
 * - `admin`: one ClusterNetworkPolicy (Admin tier) per team, which tenants cannot override: DNS and shared services
 *   Accept, the team's own namespaces and (when allowed) the internet Pass down to the NetworkPolicies the namespace
 *   owners write, every other pod and the blocked addresses Deny.
 *
 * Namespaces are selected by `kubernetes.io/metadata.name`, which the apiserver sets on every namespace, so the output
 * does not depend on labels someone must remember to add.
 */
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from '../api/types.js';
import type { ClusterNetworkPolicy, ClusterNetworkPolicyEgressRule, ClusterNetworkPolicyIngressRule, ClusterNetworkPolicyProtocol } from '../api/tier-types.js';
import { TIER_V1ALPHA2 } from '../api/tier-types.js';
import { AWS_V1ALPHA1 } from '../api/aws-types.js';
import type { AwsClusterNetworkPolicy, AwsEgressPeer, AwsEgressRule, AwsIngressPeer, AwsIngressRule, AwsPort, AwsSubject } from '../api/aws-types.js';
import { parseCIDRText } from '../api/validate-ip.js';
import { teamsOf, type Access, type SharedService, type Team, type TenantPort, type Tenants } from './tenants.js';

export type GeneratedTier = 'namespace' | 'admin';

/**
 * Whose admin-tier kind `--tier admin` writes: `upstream`, network-policy-api's ClusterNetworkPolicy
 * (policy.networking.k8s.io/v1alpha2); `aws`, AWS's own ClusterNetworkPolicy (networking.k8s.aws/v1alpha1), which the
 * AWS network policy controller of EKS serves.
 */
export type GeneratedApi = 'upstream' | 'aws';

/** One output file: its name under the output directory and the objects it holds. */
export interface GeneratedFile {
  readonly file: string;
  readonly objects: readonly (NetworkPolicy | ClusterNetworkPolicy | AwsClusterNetworkPolicy)[];
}

const NAME_LABEL = 'kubernetes.io/metadata.name';
const MANAGED = { 'app.kubernetes.io/managed-by': 'palisade' } as const;
/** The first admin-tier priority; team i gets FIRST_PRIORITY + i, so the order is stable and never shared. */
const FIRST_PRIORITY = 100;

function namespacesSelector(namespaces: readonly string[]) {
  return { matchExpressions: [{ key: NAME_LABEL, operator: 'In' as const, values: [...namespaces] }] };
}

function byFamily(cidrs: readonly string[]): { 4: string[]; 6: string[] } {
  const out: { 4: string[]; 6: string[] } = { 4: [], 6: [] };
  for (const c of cidrs) {
    const parsed = parseCIDRText(c);
    if (parsed) out[parsed.family].push(c);
  }
  return out;
}

function npPorts(ports: readonly TenantPort[]): NetworkPolicyPort[] | undefined {
  if (ports.length === 0) return undefined;
  return ports.map((p) => ({ protocol: p.protocol, port: p.port, ...(p.endPort !== undefined ? { endPort: p.endPort } : {}) }));
}

function servicePeer(svc: { readonly namespace: string; readonly podLabels?: Readonly<Record<string, string>> }): NetworkPolicyPeer {
  return {
    namespaceSelector: { matchLabels: { [NAME_LABEL]: svc.namespace } },
    podSelector: svc.podLabels ? { matchLabels: { ...svc.podLabels } } : {},
  };
}

function grants(access: Access | undefined, team: Team, all: readonly Team[]): boolean {
  return teamsOf(access, all).some((t) => t.name === team.name);
}

function labels(team: Team) {
  return { ...MANAGED, 'palisade.dev/team': team.name };
}

// ---------------------------------------------------------------- namespace tier

function networkPolicy(namespace: string, name: string, team: Team, spec: NetworkPolicy['spec']): NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace, labels: labels(team) }, spec };
}

/** The NetworkPolicies of one team namespace. */
export function namespacePolicies(tenants: Tenants, team: Team, namespace: string): NetworkPolicy[] {
  const { teams, sharedServices, dns, blocked } = tenants;
  const out: NetworkPolicy[] = [
    networkPolicy(namespace, 'tenant-default-deny', team, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    networkPolicy(namespace, 'tenant-allow-team', team, {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ namespaceSelector: namespacesSelector(team.namespaces) }] }],
      egress: [{ to: [{ namespaceSelector: namespacesSelector(team.namespaces) }] }],
    }),
    networkPolicy(namespace, 'tenant-allow-dns', team, {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [servicePeer(dns)], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }],
    }),
  ];
  const reachable = sharedServices.filter((s) => grants(s.reachableFrom, team, teams));
  const reaching = sharedServices.filter((s) => grants(s.reaches, team, teams));
  if (reachable.length > 0 || reaching.length > 0) {
    const egress = reachable.map((s) => ({ to: [servicePeer(s)], ...withPorts(s.reachableFrom!) }));
    const ingress = reaching.map((s) => ({ from: [servicePeer(s)], ...withPorts(s.reaches!) }));
    out.push(
      networkPolicy(namespace, 'tenant-allow-shared-services', team, {
        podSelector: {},
        policyTypes: [...(ingress.length > 0 ? (['Ingress'] as const) : []), ...(egress.length > 0 ? (['Egress'] as const) : [])],
        ...(ingress.length > 0 ? { ingress } : {}),
        ...(egress.length > 0 ? { egress } : {}),
      }),
    );
  }
  if (team.internet) {
    const except = byFamily(blocked);
    const block = (cidr: string, ex: readonly string[]): NetworkPolicyPeer => ({ ipBlock: { cidr, ...(ex.length > 0 ? { except: [...ex] } : {}) } });
    out.push(
      networkPolicy(namespace, 'tenant-allow-internet', team, {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [block('0.0.0.0/0', except[4]), block('::/0', except[6])] }],
      }),
    );
  }
  return out;
}

function withPorts(access: Access): { ports?: NetworkPolicyPort[] } {
  const ports = npPorts(access.ports);
  return ports ? { ports } : {};
}

// ---------------------------------------------------------------- admin tier

function cnpProtocols(ports: readonly TenantPort[]): ClusterNetworkPolicyProtocol[] | undefined {
  if (ports.length === 0) return undefined;
  return ports.map((p) => {
    const destinationPort = p.endPort !== undefined ? { range: { start: p.port, end: p.endPort } } : { number: p.port };
    const match = { destinationPort };
    return p.protocol === 'UDP' ? { udp: match } : p.protocol === 'SCTP' ? { sctp: match } : { tcp: match };
  });
}

function cnpPods(svc: { readonly namespace: string; readonly podLabels?: Readonly<Record<string, string>> }) {
  return { pods: { namespaceSelector: { matchLabels: { [NAME_LABEL]: svc.namespace } }, podSelector: svc.podLabels ? { matchLabels: { ...svc.podLabels } } : {} } };
}

function protocolsOf(access: Access): { protocols?: ClusterNetworkPolicyProtocol[] } {
  const protocols = cnpProtocols(access.ports);
  return protocols ? { protocols } : {};
}

/** The Admin-tier ClusterNetworkPolicy of one team. */
export function teamClusterPolicy(tenants: Tenants, team: Team, priority: number): ClusterNetworkPolicy {
  const { teams, sharedServices, dns, blocked } = tenants;
  const own = { namespaces: namespacesSelector(team.namespaces) };
  const reachable = sharedServices.filter((s) => grants(s.reachableFrom, team, teams));
  const reaching = sharedServices.filter((s) => grants(s.reaches, team, teams));
  const egress: ClusterNetworkPolicyEgressRule[] = [
    { name: 'dns', action: 'Accept', to: [cnpPods(dns)], protocols: [{ udp: { destinationPort: { number: 53 } } }, { tcp: { destinationPort: { number: 53 } } }] },
    ...reachable.map((s: SharedService): ClusterNetworkPolicyEgressRule => ({ name: `shared-${s.name}`, action: 'Accept', to: [cnpPods(s)], ...protocolsOf(s.reachableFrom!) })),
    { name: 'own-team', action: 'Pass', to: [own] },
    { name: 'other-pods', action: 'Deny', to: [{ namespaces: {} }] },
    ...(blocked.length > 0 ? [{ name: 'blocked', action: 'Deny' as const, to: [{ networks: [...blocked] }] }] : []),
    { name: team.internet ? 'internet' : 'no-internet', action: team.internet ? 'Pass' : 'Deny', to: [{ networks: ['0.0.0.0/0', '::/0'] }] },
  ];
  const ingress: ClusterNetworkPolicyIngressRule[] = [
    ...reaching.map((s: SharedService): ClusterNetworkPolicyIngressRule => ({ name: `shared-${s.name}`, action: 'Accept', from: [cnpPods(s)], ...protocolsOf(s.reaches!) })),
    { name: 'own-team', action: 'Pass', from: [own] },
    { name: 'other-pods', action: 'Deny', from: [{ namespaces: {} }] },
  ];
  return {
    apiVersion: TIER_V1ALPHA2,
    kind: 'ClusterNetworkPolicy',
    metadata: { name: `tenant-${team.name}`, labels: labels(team) },
    spec: { tier: 'Admin', priority, subject: own, ingress, egress },
  };
}

// ---------------------------------------------------------------- AWS's ClusterNetworkPolicy

function awsPorts(protocols: readonly ClusterNetworkPolicyProtocol[] | undefined): { ports?: AwsPort[] } {
  if (!protocols) return {};
  const ports = protocols.map((p): AwsPort => {
    const [protocol, match] = p.udp ? (['UDP', p.udp] as const) : p.sctp ? (['SCTP', p.sctp] as const) : (['TCP', p.tcp] as const);
    const dest = match?.destinationPort;
    if (dest?.range) return { portRange: { protocol, start: dest.range.start, end: dest.range.end } };
    return { portNumber: { protocol, port: dest?.number ?? 1 } };
  });
  return { ports };
}

/**
 * The same team policy as AWS's own ClusterNetworkPolicy (networking.k8s.aws/v1alpha1): the platform team's admin tier
 * on EKS — DNS Accept, the instance metadata service (IMDS) and other blocked addresses Deny, other teams Deny, the
 * own team and the internet Pass. Ports become `portNumber`/`portRange`; peers keep their shape.
 */
export function awsTeamClusterPolicy(tenants: Tenants, team: Team, priority: number): AwsClusterNetworkPolicy {
  const upstream = teamClusterPolicy(tenants, team, priority);
  const { spec } = upstream;
  const egress = (spec.egress ?? []).map((r): AwsEgressRule => ({ ...(r.name ? { name: r.name } : {}), action: r.action, to: r.to.map((peer) => ({ ...peer }) as AwsEgressPeer), ...awsPorts(r.protocols) }));
  const ingress = (spec.ingress ?? []).map((r): AwsIngressRule => ({ ...(r.name ? { name: r.name } : {}), action: r.action, from: r.from.map((peer) => ({ ...peer }) as AwsIngressPeer), ...awsPorts(r.protocols) }));
  return {
    apiVersion: AWS_V1ALPHA1,
    kind: 'ClusterNetworkPolicy',
    metadata: upstream.metadata,
    spec: { tier: 'Admin', priority, subject: spec.subject as AwsSubject, ingress, egress },
  };
}

/**
 * Every generated object, grouped into files: one per team namespace (`<namespace>.yaml`) for the namespace tier, one
 * per policy (`<policy>.yaml`) for the admin tier, in the upstream or AWS kind.
 * @example generate(tenants, 'namespace').map((f) => f.file) // ['payments.yaml', 'payments-db.yaml', ...]
 * @example generate(tenants, 'admin', 'aws') // AWS ClusterNetworkPolicies, one per team
 */
export function generate(tenants: Tenants, tier: GeneratedTier, api: GeneratedApi = 'upstream'): GeneratedFile[] {
  if (tier === 'admin') {
    return tenants.teams.map((team, i) => {
      const policy = api === 'aws' ? awsTeamClusterPolicy(tenants, team, FIRST_PRIORITY + i) : teamClusterPolicy(tenants, team, FIRST_PRIORITY + i);
      return { file: `${policy.metadata.name}.yaml`, objects: [policy] };
    });
  }
  return tenants.teams.flatMap((team) => team.namespaces.map((ns) => ({ file: `${ns}.yaml`, objects: namespacePolicies(tenants, team, ns) })));
}
