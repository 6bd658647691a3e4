/**
 * A cluster of the random generator written back as the manifests a user would apply: Namespaces, Nodes, Pods (with
 * node, IPs and container ports), Deployments for workloads, NetworkPolicies and AWS's ApplicationNetworkPolicies, and
 * each tier policy in the API form of its kind (AWS's own `networking.k8s.aws/v1alpha1` ClusterNetworkPolicy for a tier
 * policy of that group). DNS answers are no API object: {@link clusterDnsAnswers} gives them as `--resolve` pairs. Property tests read these through the YAML loader and validation, as every command does, instead of
 * handing the engine a model nobody decoded.
 */
import { stringify } from 'yaml';
import type { LabelSelector } from '../api/types.js';
import { AWS_API_GROUP, AWS_V1ALPHA1, type ApplicationNetworkPolicy, type AwsClusterNetworkPolicy, type AwsEgressPeer, type AwsEgressRule, type AwsIngressPeer, type AwsIngressRule, type AwsPort, type AwsRuleAction } from '../api/aws-types.js';
import type { Cluster, Endpoint, PolicyObject, TierPeer, TierPodSelector, TierPolicy, TierPort, TierRule } from '../model/types.js';

type Json = { readonly [k: string]: unknown };

function namespaceOf(name: string, labels: Readonly<Record<string, string>>): Json {
  const own = Object.fromEntries(Object.entries(labels).filter(([k]) => k !== 'kubernetes.io/metadata.name'));
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(Object.keys(own).length > 0 ? { labels: own } : {}) } };
}

function containerPorts(ep: Endpoint): Json[] {
  return ep.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.port, protocol: p.protocol }));
}

function podOf(ep: Endpoint): Json {
  const labels = Object.keys(ep.labels).length > 0 ? { labels: ep.labels } : {};
  const containers = [{ name: 'c', image: 'example.invalid/app:1', ...(ep.ports.length > 0 ? { ports: containerPorts(ep) } : {}) }];
  if (ep.kind !== 'Pod') {
    // A workload stands for its replicas; its selector must match the template's labels, so give it one of its own.
    const selector = { 'palisade.dev/workload': ep.name };
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: ep.name, namespace: ep.namespace },
      spec: { selector: { matchLabels: selector }, template: { metadata: { labels: { ...ep.labels, ...selector } }, spec: { containers } } },
    };
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: ep.name, namespace: ep.namespace, ...labels },
    spec: { ...(ep.nodeName ? { nodeName: ep.nodeName } : {}), containers },
    status: {
      phase: 'Running',
      ...(ep.hostIP ? { hostIP: ep.hostIP } : {}),
      ...(ep.ips.length > 0 ? { podIP: ep.ips[0], podIPs: ep.ips.map((ip) => ({ ip })) } : {}),
    },
  };
}

function subjectOf(s: TierPolicy['subject']): Json {
  return s.podSelector === undefined ? { namespaces: s.namespaceSelector } : { pods: { namespaceSelector: s.namespaceSelector, podSelector: s.podSelector } };
}

function peerOf(p: TierPeer): Json {
  switch (p.kind) {
    case 'pods':
      return p.selector.podSelector === undefined ? { namespaces: p.selector.namespaceSelector } : { pods: { namespaceSelector: p.selector.namespaceSelector, podSelector: p.selector.podSelector } };
    case 'networks':
      return { networks: p.cidrs };
    case 'nodes':
      return { nodes: p.nodeSelector as LabelSelector };
    case 'unsupported':
      // A peer drawn without names gets one no DNS answer of the generator names.
      return { domainNames: p.domainNames ? [...p.domainNames] : ['unanswered.example.net'] };
  }
}

function v1alpha1Port(p: TierPort): Json {
  if (p.kind === 'named') return { namedPort: p.name };
  return p.from === p.to ? { portNumber: { protocol: p.protocol, port: p.from } } : { portRange: { protocol: p.protocol, start: p.from, end: p.to } };
}

function v1alpha2Port(p: TierPort): Json {
  if (p.kind === 'named') return { destinationNamedPort: p.name };
  const field = p.protocol.toLowerCase();
  return { [field]: { destinationPort: p.from === p.to ? { number: p.from } : { range: { start: p.from, end: p.to } } } };
}

function ruleOf(kind: string, dir: 'ingress' | 'egress', r: TierRule, i: number): Json {
  const v2 = kind === 'ClusterNetworkPolicy';
  const action = v2 && r.action === 'Allow' ? 'Accept' : r.action;
  const ports = r.ports ? (v2 ? { protocols: r.ports.map(v2Port) } : { ports: r.ports.map(v1alpha1Port) }) : {};
  return { name: r.name ?? `${dir}-${i}`, action, [dir === 'ingress' ? 'from' : 'to']: r.peers.map(peerOf), ...ports };
}
const v2Port = v1alpha2Port;

function awsPort(p: TierPort): AwsPort {
  if (p.kind === 'named') return { namedPort: p.name };
  return p.from === p.to ? { portNumber: { protocol: p.protocol, port: p.from } } : { portRange: { protocol: p.protocol, start: p.from, end: p.to } };
}

function awsPods(s: TierPodSelector): AwsIngressPeer {
  return s.podSelector === undefined ? { namespaces: s.namespaceSelector } : { pods: { namespaceSelector: s.namespaceSelector, podSelector: s.podSelector } };
}

/** AWS's egress peers: namespaces, pods (both selectors required), networks, domainNames; it has no nodes peer. */
function awsEgressPeer(p: TierPeer): AwsEgressPeer {
  switch (p.kind) {
    case 'pods':
      return awsPods(p.selector);
    case 'networks':
      return { networks: p.cidrs };
    case 'nodes':
      throw new Error("AWS's ClusterNetworkPolicy has no nodes peer");
    case 'unsupported':
      return { domainNames: p.domainNames ? [...p.domainNames] : ['unanswered.example.net'] };
  }
}

function awsIngressPeer(p: TierPeer): AwsIngressPeer {
  if (p.kind !== 'pods') throw new Error(`AWS's ClusterNetworkPolicy has no ${p.kind} ingress peer`);
  return awsPods(p.selector);
}

/** The parts of a rule common to both directions: `action: Accept|Deny|Pass`, ports `portNumber`/`portRange`/`namedPort`. */
function awsRuleHead(dir: 'ingress' | 'egress', r: TierRule, i: number): { name: string; action: AwsRuleAction; ports?: AwsPort[] } {
  return { name: r.name ?? `${dir}-${i}`, action: r.action === 'Allow' ? 'Accept' : r.action, ...(r.ports ? { ports: r.ports.map(awsPort) } : {}) };
}

/** A tier policy of AWS's group as `networking.k8s.aws/v1alpha1` ClusterNetworkPolicy (src/api/aws-types.ts). */
function awsClusterNetworkPolicy(t: TierPolicy): AwsClusterNetworkPolicy {
  const ingress: AwsIngressRule[] = t.ingress.map((r, i) => ({ ...awsRuleHead('ingress', r, i), from: r.peers.map(awsIngressPeer) }));
  const egress: AwsEgressRule[] = t.egress.map((r, i) => ({ ...awsRuleHead('egress', r, i), to: r.peers.map(awsEgressPeer) }));
  return {
    apiVersion: AWS_V1ALPHA1,
    kind: 'ClusterNetworkPolicy',
    metadata: { name: t.name },
    spec: {
      tier: t.tier === 'Baseline' ? 'Baseline' : 'Admin',
      priority: t.priority,
      subject: awsPods(t.subject),
      ...(ingress.length > 0 ? { ingress } : {}),
      ...(egress.length > 0 ? { egress } : {}),
    },
  };
}

/** A policy object as written: a NetworkPolicy, or AWS's ApplicationNetworkPolicy in its own apiVersion and kind. */
function policyObject(p: PolicyObject): Json {
  if (p.kind !== 'ApplicationNetworkPolicy') return p.policy as unknown as Json;
  const anp: ApplicationNetworkPolicy = { apiVersion: AWS_V1ALPHA1, kind: 'ApplicationNetworkPolicy', metadata: p.policy.metadata, spec: p.policy.spec };
  return anp as unknown as Json;
}

function tierObject(t: TierPolicy): Json {
  if (t.group === AWS_API_GROUP) return awsClusterNetworkPolicy(t) as unknown as Json;
  const rules = { ingress: t.ingress.map((r, i) => ruleOf(t.kind, 'ingress', r, i)), egress: t.egress.map((r, i) => ruleOf(t.kind, 'egress', r, i)) };
  const lists = { ...(rules.ingress.length > 0 ? { ingress: rules.ingress } : {}), ...(rules.egress.length > 0 ? { egress: rules.egress } : {}) };
  switch (t.kind) {
    case 'AdminNetworkPolicy':
      return { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: t.kind, metadata: { name: t.name }, spec: { priority: t.priority, subject: subjectOf(t.subject), ...lists } };
    case 'BaselineAdminNetworkPolicy':
      return { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: t.kind, metadata: { name: 'default' }, spec: { subject: subjectOf(t.subject), ...lists } };
    default:
      return { apiVersion: 'policy.networking.k8s.io/v1alpha2', kind: 'ClusterNetworkPolicy', metadata: { name: t.name }, spec: { tier: t.tier, priority: t.priority, subject: subjectOf(t.subject), ...lists } };
  }
}

/** The cluster as API objects. */
export function clusterObjects(cluster: Cluster): Json[] {
  return [
    ...[...cluster.namespaces.values()].filter((n) => !n.implicit).map((n) => namespaceOf(n.name, n.labels)),
    ...cluster.nodes.map((n) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name, ...(Object.keys(n.labels).length > 0 ? { labels: n.labels } : {}) },
      status: { addresses: n.addresses.map((address) => ({ type: 'InternalIP', address })) },
    })),
    ...cluster.endpoints.map(podOf),
    ...cluster.policies.map(policyObject),
    ...cluster.tierPolicies.map(tierObject),
  ];
}

/**
 * The cluster's DNS answers as `NAME=IP` pairs, the form `palisade why --resolve NAME=IP` takes them: manifests carry
 * no DNS answers, so a reader adds these with `withDnsAnswers` (src/model/aws.ts), as the CLI does.
 */
export function clusterDnsAnswers(cluster: Cluster): (readonly [string, string])[] {
  return [...(cluster.dns ?? [])].flatMap(([name, ips]) => ips.map((ip) => [name, ip] as const));
}

/** The cluster as one multi-document YAML stream (without its DNS answers: see {@link clusterDnsAnswers}). */
export function clusterYaml(cluster: Cluster): string {
  // YAML 1.1 rules, as kubectl reads them: `y`, `no`, `on` are quoted so they stay strings.
  return clusterObjects(cluster).map((o) => stringify(o, { version: '1.1' })).join('---\n');
}
