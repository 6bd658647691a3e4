/**
 * `lint`: mistakes in policies that validation cannot see, found with the engine. Which pods a selector or peer matches
 * comes from the engine's atoms; whether traffic is allowed comes from `engine.allowedPorts`. Each rule is one function
 * from the lint context to findings.
 */
import type { SourcePos } from '../api/diagnostics.js';
import type { LoadedDocument } from '../api/load.js';
import type { NetworkPolicyPeer } from '../api/types.js';
import type { CompiledNetworkPolicy, CompiledRule } from '../engine/compile.js';
import { familyMax, ipBlockRanges, parseCIDR, type AddressRange } from '../api/ip.js';
import { containsPort, isEverything, isNothing, subtractAll } from '../engine/ports.js';
import { matchesSelector } from '../engine/selector.js';
import type { Cluster, Endpoint } from '../model/types.js';
import { awsChecks } from './lint-aws.js';
import { activeRules, type Finding } from './findings.js';
import { LintContext, list, PEERS, policyName, sourceRules, type LintOptions, type SourceRule } from './lint-context.js';

export { LintContext, type LintOptions } from './lint-context.js';

/**
 * The classes a rule's peers match, with ipBlock peers counting only external ranges: whether an ipBlock matches pod
 * IPs depends on the CNI, and authors write them for addresses outside the cluster. `all` for a rule without peers.
 */
function ruleClasses(ctx: LintContext, rule: CompiledRule): Set<number> | 'all' {
  if (rule.peers === null) return 'all';
  const { atoms, atomClasses, classes } = ctx.engine.compiled;
  const out = new Set<number>();
  for (const a of rule.peers) {
    const address = atoms[a].ranges !== undefined;
    for (const c of atomClasses[a]) if (!address || classes[c].external) out.add(c);
  }
  return out;
}

// ---------------------------------------------------------------- checks

const KUBE_DNS = { matchLabels: { 'k8s-app': 'kube-dns' } };

function dnsEgressBlocked(ctx: LintContext): Finding[] {
  const { cluster, engine } = ctx;
  const { classes, endpointClass, networkPolicies } = engine.compiled;
  const dnsPods = cluster.endpoints.filter((e) => matchesSelector(KUBE_DNS, e.labels));
  const failing = new Map<CompiledNetworkPolicy, { pods: string[]; missing: Set<string> }>();
  cluster.endpoints.forEach((ep, i) => {
    if (dnsPods.includes(ep)) return;
    const cls = classes[endpointClass[i]];
    const isolating = cls.networkPolicies.egress;
    if (isolating.length === 0) return;
    let missing: string[];
    if (dnsPods.length > 0) {
      // Ask the engine: can this pod reach some DNS pod on UDP/53 and TCP/53?
      const reach = dnsPods.map((d) => engine.allowedPorts(ep.id, d.id));
      missing = (['UDP', 'TCP'] as const).filter((proto) => !reach.some((p) => containsPort(p, proto, 53)));
    } else {
      // No DNS pod loaded: some egress rule must at least name port 53 of each protocol (or every port).
      const rules = isolating.flatMap((p) => p.rules.egress);
      missing = (['UDP', 'TCP'] as const).filter((proto) => !rules.some((r) => containsPort(r.ports.fixed, proto, 53)));
    }
    if (missing.length === 0) return;
    const first = networkPolicies.find((p) => isolating.includes(p))!;
    const entry = failing.get(first) ?? { pods: [], missing: new Set() };
    entry.pods.push(ep.id);
    for (const m of missing) entry.missing.add(m);
    failing.set(first, entry);
  });
  return [...failing].map(([p, { pods, missing }]) => {
    const what = [...missing].sort().reverse().map((m) => `${m}/53`).join(' and ');
    const where = dnsPods.length > 0 ? `kube-dns (${dnsPods[0].id})` : 'kube-dns';
    const path = p.source.policy.spec.policyTypes ? ['spec', 'policyTypes'] : ['spec', 'egress'];
    return ctx.finding(
      'dns-egress-blocked',
      p.source.source,
      policyName(p),
      path,
      `isolates egress of ${list(pods)} but no policy lets ${pods.length === 1 ? 'it' : 'them'} reach ${where} on ${what}, so name resolution fails`,
      'add an egress rule to {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}} (one peer) with ports UDP 53 and TCP 53',
    );
  });
}

function policySelectsNothing(ctx: LintContext): Finding[] {
  return ctx.engine.compiled.networkPolicies
    .filter((p) => ctx.hasEndpoints(p.namespace) && ctx.engine.compiled.atoms[p.subject].endpoints.length === 0)
    .map((p) =>
      ctx.finding(
        'policy-selects-nothing',
        p.source.source,
        policyName(p),
        ['spec', 'podSelector'],
        `the podSelector matches none of the ${ctx.cluster.endpoints.filter((e) => e.namespace === p.namespace).length} pods and workloads of namespace ${p.namespace}, so the policy does nothing`,
        'correct the labels in spec.podSelector (compare with the pod template labels), or delete the policy',
      ),
    );
}

function peerMatchesNothing(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  for (const p of ctx.engine.compiled.networkPolicies) {
    for (const dir of ['ingress', 'egress'] as const) {
      sourceRules(p, dir).forEach((r, i) => {
        (r.peers ?? []).forEach((peer, k) => {
          if (peer.ipBlock || peer.domainNames) return;
          const path = ['spec', dir, i, PEERS[dir], k];
          const namespaces = peer.namespaceSelector
            ? [...ctx.cluster.namespaces.values()].filter((ns) => matchesSelector(peer.namespaceSelector!, ns.labels)).map((ns) => ns.name)
            : [p.namespace];
          if (namespaces.length === 0) {
            out.push(
              ctx.finding('peer-matches-nothing', p.source.source, policyName(p), [...path, 'namespaceSelector'], 'the namespaceSelector matches no namespace in the input, so this peer admits nothing', 'correct the labels (every namespace has kubernetes.io/metadata.name: <name>), or label the namespaces'),
            );
            return;
          }
          const atom = p.rules[dir][i].peers?.[k];
          if (atom === undefined || ctx.engine.compiled.atoms[atom].endpoints.length > 0) return;
          if (!namespaces.some((ns) => ctx.hasEndpoints(ns))) return;
          if (peer.namespaceSelector && peer.podSelector) return; // peer-and-meant-or looks at these
          out.push(
            ctx.finding('peer-matches-nothing', p.source.source, policyName(p), [...path, 'podSelector'], `the podSelector matches no pod in ${namespaces.length === 1 ? `namespace ${namespaces[0]}` : `namespaces ${list(namespaces)}`}, so this peer admits nothing`, 'correct the labels in podSelector (compare with the pod template labels)'),
          );
        });
      });
    }
  }
  return out;
}

function namedPortUnknown(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  for (const p of ctx.engine.compiled.networkPolicies) {
    for (const dir of ['ingress', 'egress'] as const) {
      sourceRules(p, dir).forEach((r, i) => {
        const compiled = p.rules[dir][i];
        let destinations: Endpoint[];
        if (dir === 'ingress') destinations = ctx.endpointsOf(p.subject);
        else if (compiled.peers === null) destinations = [...ctx.cluster.endpoints];
        else destinations = [...new Set(compiled.peers.flatMap((a) => ctx.endpointsOf(a)))];
        if (destinations.length === 0) return;
        (r.ports ?? []).forEach((port, k) => {
          if (typeof port.port !== 'string') return;
          const protocol = port.protocol ?? 'TCP';
          if (destinations.some((d) => d.ports.some((cp) => cp.name === port.port && cp.protocol === protocol))) return;
          out.push(
            ctx.finding(
              'named-port-unknown',
              p.source.source,
              policyName(p),
              ['spec', dir, i, 'ports', k, 'port'],
              `no ${dir === 'ingress' ? 'selected' : 'destination'} pod (${list(destinations.map((d) => d.id))}) has a ${protocol} container port named "${port.port}", so this port admits nothing`,
              'use the name of a containerPort of the destination pods (or its number), or add the name to their containers',
            ),
          );
        });
      });
    }
  }
  return out;
}

function andOrConfusion(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  const lone = (peer: NetworkPolicyPeer, field: 'namespaceSelector' | 'podSelector') => peer[field] !== undefined && Object.keys(peer).filter((k) => peer[k as keyof NetworkPolicyPeer] !== undefined).length === 1;
  for (const p of ctx.engine.compiled.networkPolicies) {
    for (const dir of ['ingress', 'egress'] as const) {
      sourceRules(p, dir).forEach((r, i) => {
        const peers = r.peers ?? [];
        const key = PEERS[dir];
        if (peers.length === 2) {
          const nsIdx = peers.findIndex((x) => lone(x, 'namespaceSelector'));
          const podIdx = peers.findIndex((x) => lone(x, 'podSelector'));
          if (nsIdx >= 0 && podIdx >= 0) {
            out.push(
              ctx.finding(
                'peer-or-meant-and',
                p.source.source,
                policyName(p),
                ['spec', dir, i, key, podIdx],
                `${key}[${nsIdx}] (namespaceSelector) and ${key}[${podIdx}] (podSelector) are two peers, OR'ed: every pod of the selected namespaces, or the selected pods of namespace ${p.namespace}`,
                `if you meant the selected pods in the selected namespaces, make them one peer: remove the \`-\` before podSelector so both selectors sit in one item`,
              ),
            );
          }
        }
        peers.forEach((peer, k) => {
          if (!peer.namespaceSelector || !peer.podSelector) return;
          const atom = p.rules[dir][i].peers?.[k];
          if (atom === undefined || ctx.engine.compiled.atoms[atom].endpoints.length > 0) return;
          const inOwn = ctx.cluster.endpoints.filter((e) => e.namespace === p.namespace && matchesSelector(peer.podSelector!, e.labels));
          const nsPods = ctx.cluster.endpoints.filter((e) => matchesSelector(peer.namespaceSelector!, ctx.cluster.namespaces.get(e.namespace)?.labels ?? {}));
          if (inOwn.length === 0 || nsPods.length === 0) return;
          out.push(
            ctx.finding(
              'peer-and-meant-or',
              p.source.source,
              policyName(p),
              ['spec', dir, i, key, k],
              `this one peer requires both selectors (AND) and matches no pod, but its podSelector alone matches ${list(inOwn.map((e) => e.id))} and its namespaceSelector alone matches ${list(nsPods.map((e) => e.id))}`,
              'if you meant either (OR), split it into two peers: put a `-` before podSelector',
            ),
          );
        });
      });
    }
  }
  return out;
}

function ruleSplitByDash(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  for (const p of ctx.engine.compiled.networkPolicies) {
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = sourceRules(p, dir);
      const onlyPorts = (r: SourceRule | undefined) => r !== undefined && r.peers === undefined && (r.ports ?? []).length > 0;
      const onlyPeers = (r: SourceRule | undefined) => r !== undefined && (r.peers ?? []).length > 0 && r.ports === undefined;
      rules.forEach((r, i) => {
        if (!onlyPorts(r)) return;
        const j = onlyPeers(rules[i - 1]) ? i - 1 : onlyPeers(rules[i + 1]) ? i + 1 : -1;
        if (j < 0) return;
        const key = PEERS[dir];
        out.push(
          ctx.finding(
            'rule-split-by-dash',
            p.source.source,
            policyName(p),
            ['spec', dir, i, 'ports'],
            `${dir}[${i}] has ports but no ${key}, so it admits ${dir === 'ingress' ? 'every source' : 'every destination'} on those ports, and ${dir}[${j}] has ${key} but no ports, so it admits every port: a \`-\` before \`ports\` probably split one rule in two`,
            `remove the \`-\` before \`ports\` so ${key} and ports are one rule`,
          ),
        );
      });
    }
  }
  return out;
}

function namespaceWithoutDefaultDeny(ctx: LintContext): Finding[] {
  const { classes, endpointClass } = ctx.engine.compiled;
  const open = new Map<string, { ingress: string[]; egress: string[]; source?: SourcePos }>();
  ctx.cluster.endpoints.forEach((ep, i) => {
    const cls = classes[endpointClass[i]];
    const entry = open.get(ep.namespace) ?? { ingress: [], egress: [], source: ep.source };
    if (cls.networkPolicies.ingress.length === 0 && cls.admin.length === 0) entry.ingress.push(ep.id);
    if (cls.networkPolicies.egress.length === 0 && cls.admin.length === 0) entry.egress.push(ep.id);
    open.set(ep.namespace, entry);
  });
  const out: Finding[] = [];
  for (const [ns, { ingress, egress, source }] of open) {
    if (ingress.length === 0 && egress.length === 0) continue;
    const nsSource = ctx.namespaceSource(ns);
    const dirs = [ingress.length > 0 ? 'ingress' : '', egress.length > 0 ? 'egress' : ''].filter(Boolean).join(' and ');
    const pods = [...new Set([...ingress, ...egress])];
    out.push(
      ctx.finding(
        'namespace-without-default-deny',
        nsSource ?? source,
        nsSource ? `Namespace ${ns}` : `namespace ${ns}`,
        nsSource ? ['metadata', 'name'] : [],
        `namespace ${ns} has no default deny: ${list(pods)} ${pods.length === 1 ? 'is' : 'are'} not isolated for ${dirs}, so anything not denied elsewhere reaches ${pods.length === 1 ? 'it' : 'them'}`,
        `add a NetworkPolicy in ${ns} with podSelector: {} and policyTypes: [Ingress, Egress] and no rules, then allow what is needed`,
      ),
    );
  }
  return out;
}

function ruleAllowsEverything(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  const { classes, externals, ipv6Shown } = ctx.engine.compiled;
  // IPv6 addresses count only where some policy names an IPv6 block, as the matrix shows them.
  const everyClass = classes.filter((c) => !c.external || ipv6Shown || c.members.some((m) => externals[m].family === 4));
  for (const p of ctx.engine.compiled.networkPolicies) {
    for (const dir of ['ingress', 'egress'] as const) {
      if (!p.isolates[dir]) continue;
      p.rules[dir].forEach((rule, i) => {
        if (!isEverything(rule.ports.fixed)) return;
        const matched = ruleClasses(ctx, rule);
        if (matched !== 'all' && everyClass.some((c) => !matched.has(c.id))) return;
        const how = rule.peers === null ? `it has no ${PEERS[dir]} and no ports` : 'its peers cover every pod and every address, on every port';
        out.push(
          ctx.finding(
            'rule-allows-everything',
            p.source.source,
            policyName(p),
            ['spec', dir, i],
            `${dir}[${i}] admits all ${dir} traffic of the pods it selects (${how}), so the policy isolates nothing in this direction`,
            `narrow the rule with ${PEERS[dir]} peers and ports, or remove ${dir === 'ingress' ? 'Ingress' : 'Egress'} from policyTypes if the pods are meant to be open`,
          ),
        );
      });
    }
  }
  return out;
}

function ruleShadowed(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  const nps = ctx.engine.compiled.networkPolicies;
  const subjects = nps.map((p) => new Set(ctx.engine.compiled.atoms[p.subject].endpoints));
  const subset = (a: Set<number> | 'all', b: Set<number> | 'all') => b === 'all' || (a !== 'all' && [...a].every((x) => b.has(x)));
  for (let pi = 0; pi < nps.length; pi++) {
    const p = nps[pi];
    if (subjects[pi].size === 0) continue;
    for (const dir of ['ingress', 'egress'] as const) {
      if (!p.isolates[dir]) continue;
      p.rules[dir].forEach((rule, ri) => {
        const mine = ruleClasses(ctx, rule);
        if (mine !== 'all' && mine.size === 0) return;
        for (let qi = 0; qi < nps.length; qi++) {
          const q = nps[qi];
          if (!q.isolates[dir] || q.namespace !== p.namespace) continue;
          if (![...subjects[pi]].every((e) => subjects[qi].has(e))) continue;
          const hit = q.rules[dir].find((other, oi) => {
            if (qi === pi && oi === ri) return false;
            const theirs = ruleClasses(ctx, other);
            if (!subset(mine, theirs)) return false;
            if (!isNothing(subtractAll(rule.ports.fixed, other.ports.fixed))) return false;
            if (rule.ports.named.some((n) => !other.ports.named.some((m) => m.name === n.name && m.protocol === n.protocol)) && !isEverything(other.ports.fixed)) return false;
            // Two rules covering each other: only the later one is reported.
            const mutual = subset(theirs, mine) && isNothing(subtractAll(other.ports.fixed, rule.ports.fixed)) && other.ports.named.length === rule.ports.named.length;
            return !mutual || qi < pi || (qi === pi && oi < ri);
          });
          if (!hit) continue;
          const by = qi === pi ? `${dir}[${hit.index}] of the same policy` : `${dir}[${hit.index}] of NetworkPolicy ${q.namespace}/${q.name}, which selects the same pods`;
          out.push(
            ctx.finding(
              'rule-shadowed',
              p.source.source,
              policyName(p),
              ['spec', dir, ri],
              `${dir}[${ri}] admits nothing that ${by} does not already admit`,
              'delete this rule, or narrow the other one if this rule was meant to be the only way in',
            ),
          );
          return;
        }
      });
    }
  }
  return out;
}

function ipBlockCoversPods(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  const podRanges = (ctx.options.podCIDRs ?? []).map((c) => parseCIDR(c)).filter((r): r is AddressRange => r !== undefined);
  for (const p of ctx.engine.compiled.networkPolicies) {
    for (const dir of ['ingress', 'egress'] as const) {
      sourceRules(p, dir).forEach((r, i) => {
        (r.peers ?? []).forEach((peer, k) => {
          if (!peer.ipBlock) return;
          const block = parseCIDR(peer.ipBlock.cidr);
          if (!block || (block.first === 0n && block.last === familyMax(block.family))) return; // the default route is the internet rule
          const ranges = ipBlockRanges(peer.ipBlock.cidr, peer.ipBlock.except ?? []);
          let covered: string;
          if (podRanges.length > 0) {
            const overlaps = (pr: AddressRange) => ranges.some((x) => x.family === pr.family && x.first <= pr.last && pr.first <= x.last);
            const hits = (ctx.options.podCIDRs ?? []).filter((c) => { const pr = parseCIDR(c); return pr !== undefined && overlaps(pr); });
            if (hits.length === 0) return;
            covered = `the pod network ${hits.join(', ')}`;
          } else {
            const atom = p.rules[dir][i].peers?.[k];
            const pods = atom === undefined ? [] : ctx.endpointsOf(atom);
            if (pods.length === 0) return;
            covered = `the IPs of ${list(pods.map((e) => e.id))}`;
          }
          out.push(
            ctx.finding(
              'ipblock-covers-pods',
              p.source.source,
              policyName(p),
              ['spec', dir, i, PEERS[dir], k, 'ipBlock', 'cidr'],
              `ipBlock ${peer.ipBlock.cidr} covers ${covered}; pod IPs change on every restart and whether ipBlock matches them depends on the CNI`,
              'select these pods with podSelector/namespaceSelector instead, and keep ipBlock for addresses outside the cluster (or add the pod CIDR to except)',
            ),
          );
        });
      });
    }
  }
  return out;
}

export type Check = (ctx: LintContext) => Finding[];

const CHECKS: Readonly<Record<string, Check>> = {
  'dns-egress-blocked': dnsEgressBlocked,
  'policy-selects-nothing': policySelectsNothing,
  'peer-matches-nothing': peerMatchesNothing,
  'named-port-unknown': namedPortUnknown,
  'peer-or-meant-and': andOrConfusion,
  'peer-and-meant-or': andOrConfusion,
  'rule-split-by-dash': ruleSplitByDash,
  'namespace-without-default-deny': namespaceWithoutDefaultDeny,
  'rule-allows-everything': ruleAllowsEverything,
  'rule-shadowed': ruleShadowed,
  'ipblock-covers-pods': ipBlockCoversPods,
  ...awsChecks,
};

/**
 * Lints a cluster read with `readCluster`: every active rule's findings, sorted by file, line and column.
 * @example lint(readCluster(['manifests/']), { profile: 'aws-vpc-cni' }).filter((f) => f.severity === 'error')
 */
export function lint(input: { readonly cluster: Cluster; readonly documents: readonly LoadedDocument[] }, options: LintOptions = {}): Finding[] {
  const ctx = new LintContext(input.cluster, input.documents, options);
  const rules = activeRules(options.profile ?? 'generic', options.enable, options.disable);
  const ran = new Set<Check>();
  const findings: Finding[] = [];
  for (const rule of rules) {
    const check = CHECKS[rule.id];
    if (!check || ran.has(check)) continue;
    ran.add(check);
    findings.push(...check(ctx));
  }
  const active = new Set(rules.map((r) => r.id));
  return sortFindings(findings.filter((f) => active.has(f.ruleId)));
}

export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => {
    const pa = a.pos;
    const pb = b.pos;
    if (!pa || !pb) return (pa ? 1 : 0) - (pb ? 1 : 0);
    return (pa.file < pb.file ? -1 : pa.file > pb.file ? 1 : 0) || pa.line - pb.line || pa.column - pb.column || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0);
  });
}
