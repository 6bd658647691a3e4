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
import { familyMax, parseCIDR, parseIP } from '../api/ip.js';
import { containsPort } from '../engine/ports.js';

/** The most port/protocol combinations the AWS agent enforces for one CIDR. */
export const AWS_MAX_PORTS_PER_CIDR = 24;

const PEERS = { ingress: 'from', egress: 'to' } as const;

function exceptOnDefaultRoute(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  for (const p of ctx.engine.compiled.networkPolicies) {
    for (const dir of ['ingress', 'egress'] as const) {
      sourceRules(p, dir).forEach((r, i) => {
        (r.peers ?? []).forEach((peer, k) => {
          const block = peer.ipBlock;
          const range = block ? parseCIDR(block.cidr) : undefined;
          if (!block || !range || range.first !== 0n || range.last !== familyMax(range.family) || (block.except ?? []).length === 0) return;
          out.push(
            ctx.finding(
              'aws-except-on-default-route',
              p.source.source,
              policyName(p),
              ['spec', dir, i, PEERS[dir], k, 'ipBlock', 'except'],
              `VPC CNI before v1.15.1 (network policy agent before v1.0.4) ignores except on ${block.cidr}, so ${block.except!.join(', ')} ${block.except!.length === 1 ? 'is' : 'are'} reachable there`,
              'run VPC CNI v1.15.1 or later, or replace the /0 block with CIDRs that leave the excepted addresses out',
            ),
          );
        });
      });
    }
  }
  return out;
}

function tooManyPorts(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  ctx.engine.compiled.networkPolicies.forEach((p, index) => {
    const resolved = resolveNetworkPolicy(ctx.engine, index);
    for (const dir of ['ingress', 'egress'] as const) {
      const over = resolved[dir].filter((e) => (e.ports ?? []).length > AWS_MAX_PORTS_PER_CIDR);
      if (over.length === 0) continue;
      const worst = Math.max(...over.map((e) => (e.ports ?? []).length));
      out.push(
        ctx.finding(
          'aws-too-many-ports',
          p.source.source,
          policyName(p),
          ['spec', dir],
          `resolved for the AWS agent, ${list(over.map((e) => e.cidr))} ${over.length === 1 ? 'gets' : 'get'} up to ${worst} port/protocol combinations in ${dir}, more than the ${AWS_MAX_PORTS_PER_CIDR} the agent enforces per CIDR`,
          'use port ranges (endPort) instead of single ports, or split the peers so no address carries more than 24 ports',
        ),
      );
    }
  });
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
        `pod ${ep.id} has no ownerReferences, and the AWS network policy agent does not enforce ${by} on standalone pods`,
        'run it from a Deployment, StatefulSet, Job or other controller so the agent enforces its policies',
      ),
    );
  });
  return out;
}

function servicePortMismatch(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  const servicePods = ctx.cluster.services.map((svc) => ({ svc, pods: podsOfService(ctx.cluster, svc) }));
  for (const p of ctx.engine.compiled.networkPolicies) {
    if (!p.isolates.egress) continue;
    p.rules.egress.forEach((rule, i) => {
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
  }
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
  'aws-except-on-default-route': exceptOnDefaultRoute,
  'aws-too-many-ports': tooManyPorts,
  'aws-standalone-pod': standalonePod,
  'aws-service-port-mismatch': servicePortMismatch,
  'aws-ipv6-in-ipv4-cluster': ipv6InIPv4Cluster,
  'aws-policyendpoint-chunks': policyEndpointChunks,
};
