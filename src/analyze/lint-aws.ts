/**
 * Lint rules of the `aws-vpc-cni` profile: what the AWS VPC CNI network policy controller and node agent do
 * differently from the API. PolicyEndpoints are resolved by Palisade's controller module, the same objects the AWS
 * controller would write.
 */
import type { Finding } from './findings.js';
import { list, policyName, sourceRules, type LintContext } from './lint-context.js';
import { DEFAULT_CHUNK_SIZE } from '../controller/chunk.js';
import { podsOfService } from '../controller/queries.js';
import { policyEndpointsFor, resolveNetworkPolicy } from '../controller/resolve.js';
import { parseCIDR, parseIP } from '../api/ip.js';
import { containsPort, parsePorts } from '../engine/ports.js';
import { awsDivergences } from './aws-enforced.js';
import { describePorts, diffClusters } from './diff.js';

/** The most port/protocol combinations the AWS agent enforces for one CIDR. */
export const AWS_MAX_PORTS_PER_CIDR = 24;

const PEERS = { ingress: 'from', egress: 'to' } as const;

/**
 * Policies whose enforcement on AWS differs from their API meaning: each divergence rewrites the cluster as AWS
 * enforces that policy (aws-enforced.ts), the engine compiles both, and diff.ts lists the connections that differ.
 */
function enforcementDivergences(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  for (const d of awsDivergences(ctx.cluster, ctx.options.awsVersion !== undefined ? { awsVersion: ctx.options.awsVersion } : {})) {
    const diff = diffClusters(d.baseline ?? ctx.cluster, d.enforced);
    const changes = [...diff.opened.map((c) => ({ c, sign: 'opens' })), ...diff.closed.map((c) => ({ c, sign: 'closes' }))];
    if (changes.length === 0) continue;
    const shown = changes.slice(0, 3).map(({ c, sign }) => `${sign} ${c.from} -> ${c.to} ${describePorts(c)}`);
    const more = changes.length > 3 ? ` (+${changes.length - 3} more)` : '';
    out.push(
      ctx.finding(
        d.ruleId,
        d.source,
        d.object,
        d.path,
        `${d.what}; as AWS enforces it, the engine finds ${changes.length} connection${changes.length === 1 ? '' : 's'} that differ: ${shown.join('; ')}${more} [AWS source: ${d.evidence}]`,
        d.rewrite,
      ),
    );
  }
  return out;
}

/** Distinct port/protocol entries, as the AWS agent's map value holds them (one per port or range). */
function portKey(p: { readonly protocol?: string; readonly port?: number; readonly endPort?: number }): string {
  return `${p.protocol ?? 'TCP'}/${p.port ?? '*'}-${p.endPort ?? ''}`;
}

/**
 * The AWS agent merges the ports of every entry for one CIDR of a pod (across all the policies selecting it) into one
 * map value of at most 24 entries (aws/aws-network-policy-agent pkg/fwruleprocessor/fw_rule_processor.go:125-127,
 * pkg/ebpf/c/tc.v4egress.bpf.c:15). Counted per pod, direction and CIDR, over every policy.
 */
function tooManyPorts(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  const resolved = ctx.engine.compiled.networkPolicies.map((p, index) => ({ p, r: resolveNetworkPolicy(ctx.engine, index) }));
  const piles = new Map<string, { ports: Set<string>; policies: Set<number>; cidr: string; dir: 'ingress' | 'egress' }>();
  // Ports as the AWS controller writes them: each port item of the policy's rule, as written (Palisade's own objects
  // merge adjacent ports into ranges, which AWS's do not).
  resolved.forEach(({ p, r }, index) => {
    const spec = p.source.policy.spec;
    for (const rule of r.rules) {
      const written = ((rule.direction === 'ingress' ? spec.ingress : spec.egress)?.[rule.index]?.ports ?? []).map((x) => `${x.protocol ?? 'TCP'}/${String(x.port ?? '')}/${x.endPort ?? ''}`);
      for (const pod of r.pods) {
        for (const e of rule.entries) {
          const key = `${pod.podIP}|${rule.direction}|${e.cidr}`;
          let pile = piles.get(key);
          if (!pile) piles.set(key, (pile = { ports: new Set(), policies: new Set(), cidr: e.cidr, dir: rule.direction }));
          for (const w of written) pile.ports.add(w);
          pile.policies.add(index);
        }
      }
    }
  });
  const reported = new Set<string>();
  for (const pile of piles.values()) {
    if (pile.ports.size <= AWS_MAX_PORTS_PER_CIDR) continue;
    const owners = [...pile.policies].sort((a, b) => a - b);
    const key = `${owners.join(',')}|${pile.dir}`;
    if (reported.has(key)) continue;
    reported.add(key);
    const first = resolved[owners[0]].p;
    const across = owners.length > 1 ? ` across ${list(owners.map((i) => policyName(resolved[i].p)))}` : '';
    out.push(
      ctx.finding(
        'aws-too-many-ports',
        first.source.source,
        policyName(first),
        ['spec', pile.dir],
        `resolved for the AWS agent, ${pile.cidr} gets ${pile.ports.size} port/protocol combinations in ${pile.dir}${across}, more than the ${AWS_MAX_PORTS_PER_CIDR} the agent enforces per CIDR of a pod [AWS source: aws/aws-network-policy-agent pkg/fwruleprocessor/fw_rule_processor.go:125-127, pkg/ebpf/c/tc.v4egress.bpf.c:15]`,
        'use port ranges (endPort) instead of single ports, or split the peers so no address carries more than 24 ports',
      ),
    );
  }
  return out;
}

function standalonePod(ctx: LintContext): Finding[] {
  const { classes, endpointClass } = ctx.engine.compiled;
  const out: Finding[] = [];
  ctx.cluster.endpoints.forEach((ep, i) => {
    if (ep.kind !== 'Pod' || !ep.standalone) return;
    const cls = classes[endpointClass[i]];
    const policies = [...new Set([...cls.networkPolicies.ingress, ...cls.networkPolicies.egress].map((p) => `${p.namespace}/${p.name}`))];
    if (policies.length === 0 && cls.admin.length === 0) return;
    const by = policies.length > 0 ? `NetworkPolicy ${list(policies)}` : `admin-tier ${list(cls.admin.map((p) => p.source.name))}`;
    out.push(
      ctx.finding(
        'aws-standalone-pod',
        ep.source,
        `Pod ${ep.namespace}/${ep.name}`,
        ['metadata'],
        `pod ${ep.id} has no ownerReferences and is selected by ${by}; AWS supports policies only on pods of a controller, because the agent shares one set of rules between the pods whose names differ only after the last "-" (aws/aws-network-policy-agent#327; pkg/utils/utils.go:177-188), which only a controller's naming keeps apart (aws-shared-pod-identifier reports the pods that do share)`,
        'run it from a Deployment, StatefulSet, Job or other controller so the agent enforces its policies',
      ),
    );
  });
  return out;
}

function servicePortMismatch(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  const servicePods = ctx.cluster.services.map((svc) => ({ svc, pods: podsOfService(ctx.cluster, svc) }));
  ctx.engine.compiled.networkPolicies.forEach((p, index) => {
    if (!p.isolates.egress) return;
    const written = resolveNetworkPolicy(ctx.engine, index).rules.filter((r) => r.direction === 'egress');
    p.rules.egress.forEach((rule, i) => {
      const entries = written.find((r) => r.index === rule.index)?.entries ?? [];
      if (rule.peers === null || (rule.ports.fixed.TCP.length === 0 && rule.ports.fixed.UDP.length === 0 && rule.ports.fixed.SCTP.length === 0)) return;
      const peerPods = new Set(rule.peers.flatMap((a) => ctx.endpointsOf(a)));
      for (const { svc, pods } of servicePods) {
        const behind = pods.filter((pod) => peerPods.has(pod));
        if (behind.length === 0) continue;
        for (const sp of svc.ports) {
          const target = sp.targetPort ?? sp.port;
          const targetNumber = typeof target === 'number' ? target : behind[0].ports.find((cp) => cp.name === target && cp.protocol === sp.protocol)?.port;
          if (targetNumber === undefined || targetNumber === sp.port) continue;
          if (!containsPort(rule.ports.fixed, sp.protocol, targetNumber) || containsPort(rule.ports.fixed, sp.protocol, sp.port)) continue;
          // The resolver (as AWS's controller) writes the Service's ClusterIP with its port for selector peers: fine.
          const clusterIPs = new Set(svc.clusterIPs);
          const portText = (e: (typeof entries)[number]) => (e.ports ?? []).filter((x) => (x.protocol ?? 'TCP') === sp.protocol).map((x) => (x.port === undefined ? '1-65535' : `${x.port}-${x.endPort ?? x.port}`)).join(',');
          if (entries.some((e) => clusterIPs.has(e.cidr.replace(/\/(32|128)$/, '')) && ((e.ports ?? []).length === 0 || containsPort({ TCP: [], UDP: [], SCTP: [], [sp.protocol]: parsePorts(portText(e)) }, sp.protocol, sp.port)))) continue;
          out.push(
            ctx.finding(
              'aws-service-port-mismatch',
              p.source.source,
              policyName(p),
              ['spec', 'egress', i, 'ports'],
              `egress[${i}] allows ${sp.protocol}/${targetNumber} to the pods of Service ${svc.namespace}/${svc.name}, but clients connect to its port ${sp.port}, which the AWS agent matches before the Service translates it`,
              `add ${sp.protocol} port ${sp.port} to the rule's ports (or make the Service port equal its targetPort)`,
            ),
          );
        }
      }
    });
  });
  return out;
}

function ipv6InIPv4Cluster(ctx: LintContext): Finding[] {
  const families = new Set(ctx.cluster.endpoints.flatMap((e) => e.ips.map((ip) => parseIP(ip)?.family)));
  if (!families.has(4) || families.has(6)) return [];
  const out: Finding[] = [];
  for (const p of ctx.engine.compiled.networkPolicies) {
    for (const dir of ['ingress', 'egress'] as const) {
      sourceRules(p, dir).forEach((r, i) => {
        (r.peers ?? []).forEach((peer, k) => {
          if (!peer.ipBlock || parseCIDR(peer.ipBlock.cidr)?.family !== 6) return;
          out.push(
            ctx.finding(
              'aws-ipv6-in-ipv4-cluster',
              p.source.source,
              policyName(p),
              ['spec', dir, i, PEERS[dir], k, 'ipBlock', 'cidr'],
              `every pod IP in the input is IPv4, and the AWS agent of an IPv4 cluster ignores the IPv6 block ${peer.ipBlock.cidr}`,
              'nothing to do if the block is there for dual-stack portability; otherwise remove it',
            ),
          );
        });
      });
    }
  }
  return out;
}

function policyEndpointChunks(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  ctx.engine.compiled.networkPolicies.forEach((p, index) => {
    const resolved = resolveNetworkPolicy(ctx.engine, index);
    const pes = policyEndpointsFor(resolved);
    if (pes.length <= 1) return;
    const sizes = `${resolved.pods.length} selected pods, ${resolved.ingress.length} ingress and ${resolved.egress.length} egress entries`;
    out.push(
      ctx.finding(
        'aws-policyendpoint-chunks',
        p.source.source,
        policyName(p),
        ['spec', 'podSelector'],
        `resolves to ${pes.length} PolicyEndpoints (${sizes}; at most ${DEFAULT_CHUNK_SIZE} per list per object), and every pod or peer change rewrites them`,
        'split the policy by pod group, or select peers by namespace rather than many pods, if reconcile time matters',
      ),
    );
  });
  return out;
}

/** The aws-vpc-cni profile's checks by rule id. */
export const awsChecks: Readonly<Record<string, (ctx: LintContext) => Finding[]>> = {
  'aws-except-on-default-route': enforcementDivergences,
  'aws-egress-named-port-dropped': enforcementDivergences,
  'aws-except-across-rules': enforcementDivergences,
  'aws-rule-order-ignored': enforcementDivergences,
  'aws-priority-tie': enforcementDivergences,
  'aws-host-network-peer': enforcementDivergences,
  'aws-shared-pod-identifier': enforcementDivergences,
  'aws-too-many-ports': tooManyPorts,
  'aws-standalone-pod': standalonePod,
  'aws-service-port-mismatch': servicePortMismatch,
  'aws-ipv6-in-ipv4-cluster': ipv6InIPv4Cluster,
  'aws-policyendpoint-chunks': policyEndpointChunks,
};
