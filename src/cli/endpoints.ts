/**
 * `palisade endpoints PATH...`: the PolicyEndpoints (and ClusterPolicyEndpoints) the controller would write for the
 * manifests, as YAML or JSON; or, as a table, which IPs each policy applies to and which peers each rule allows.
 */
import { CommanderError, Option } from 'commander';
import { stringify } from 'yaml';
import type { PolicyEndpointPort } from '../api/policyendpoint.js';
import { DEFAULT_CHUNK_SIZE } from '../controller/chunk.js';
import {
  clusterPolicyEndpointsFor,
  policyEndpointsFor,
  resolveNetworkPolicy,
  resolveTierPolicy,
  type ResolvedRule,
} from '../controller/resolve.js';
import { compile, type Engine } from '../engine/engine.js';
import { inputOptions, readInput } from './input.js';
import { action, EXIT_USAGE, type Register } from './program.js';

function parseChunkSize(text: string): number {
  const n = Number(text);
  // The code `palisade.port` is the one run() prints as a usage error (exit 2).
  if (!Number.isInteger(n) || n < 1) throw new CommanderError(EXIT_USAGE, 'palisade.port', `error: --endpoint-chunk-size must be a positive integer, got "${text}"`);
  return n;
}

function formatPort(p: PolicyEndpointPort): string {
  const proto = p.protocol ?? 'TCP';
  if (p.port === undefined) return `${proto} all`;
  return p.endPort !== undefined ? `${proto} ${p.port}-${p.endPort}` : `${proto} ${p.port}`;
}

/**
 * Entries of one rule grouped by their ports, so a rule reads as "these peers, on these ports". A pod that two peers
 * of the rule both match is one address, listed once.
 */
function ruleRows(rule: ResolvedRule): { peers: string; ports: string }[] {
  if (rule.dropped) return [{ peers: `(nothing: ${rule.dropped})`, ports: '' }];
  if (rule.entries.length === 0) return [{ peers: '(no peer resolves to an address)', ports: '' }];
  const byPorts = new Map<string, Set<string>>();
  for (const e of rule.entries) {
    const ports = e.ports && e.ports.length > 0 ? e.ports.map(formatPort).join(', ') : 'all';
    const peer = e.except && e.except.length > 0 ? `${e.cidr} except ${e.except.join(' ')}` : e.cidr;
    const set = byPorts.get(ports);
    if (set) set.add(peer);
    else byPorts.set(ports, new Set([peer]));
  }
  return [...byPorts].map(([ports, peers]) => ({ peers: [...peers].join(', '), ports }));
}

interface Row {
  readonly policy: string;
  readonly rule: string;
  readonly peers: string;
  readonly ports: string;
}

function policyRows(policy: string, pods: readonly { podIP: string }[], rules: readonly ResolvedRule[], isolation: readonly string[], label: (r: ResolvedRule) => string): Row[] {
  const rows: Row[] = [{ policy, rule: 'applies to', peers: pods.length > 0 ? pods.map((p) => p.podIP).join(', ') : '(no pod with an IP)', ports: '' }];
  for (const dir of ['ingress', 'egress'] as const) {
    const mine = rules.filter((r) => r.direction === dir);
    if (mine.length === 0 && isolation.includes(dir === 'ingress' ? 'Ingress' : 'Egress')) rows.push({ policy: '', rule: dir, peers: '(isolated, no rules: nothing allowed)', ports: '' });
    for (const r of mine) for (const x of ruleRows(r)) rows.push({ policy: '', rule: label(r), ...x });
  }
  return rows;
}

/** The "which IPs does this policy apply to" view: per policy its selected pod IPs, per rule its peers and ports. */
export function renderEndpointsTable(engine: Engine): string {
  const rows: Row[] = [];
  engine.compiled.networkPolicies.forEach((_, i) => {
    const r = resolveNetworkPolicy(engine, i);
    rows.push(...policyRows(`${r.namespace}/${r.name}`, r.pods, r.rules, r.podIsolation, (x) => `${x.direction}[${x.index}]`));
  });
  engine.compiled.tierPolicies.forEach((_, i) => {
    const r = resolveTierPolicy(engine, i);
    const s = r.source;
    rows.push(...policyRows(`${s.kind} ${s.name} (${s.tier} ${s.priority})`, r.pods, r.rules, [], (x) => `${x.direction}[${x.index}] ${x.action}${x.name ? ` ${x.name}` : ''}`));
  });
  if (rows.length === 0) return 'no NetworkPolicy or admin-tier policy in the input';
  const header: Row = { policy: 'POLICY', rule: 'RULE', peers: 'PEERS', ports: 'PORTS' };
  const all = [header, ...rows];
  const w = (k: keyof Row) => Math.max(...all.map((r) => r[k].length));
  const [wp, wr, we] = [w('policy'), w('rule'), w('peers')];
  return all.map((r) => `${r.policy.padEnd(wp)}  ${r.rule.padEnd(wr)}  ${r.peers.padEnd(we)}  ${r.ports}`.trimEnd()).join('\n');
}

/** Every object the controller would write, NetworkPolicies first (input order), then tier policies (tier order). */
export function endpointObjects(engine: Engine, chunkSize: number): unknown[] {
  return [
    ...engine.compiled.networkPolicies.flatMap((_, i) => policyEndpointsFor(resolveNetworkPolicy(engine, i), { chunkSize })),
    ...engine.compiled.tierPolicies.flatMap((_, i) => clusterPolicyEndpointsFor(resolveTierPolicy(engine, i), { chunkSize })),
  ];
}

export const registerEndpoints: Register = (program, io, setExit) => {
  inputOptions(
    program
      .command('endpoints')
      .description('the PolicyEndpoints (AWS VPC CNI format) the controller writes: which IPs each policy applies to and allows')
      .argument('[paths...]', 'files, directories or - for stdin (or --kubeconfig for a live cluster)')
      .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'yaml', 'json']).default('table'))
      .addOption(new Option('--endpoint-chunk-size <n>', 'at most this many entries per list per object').argParser(parseChunkSize).default(DEFAULT_CHUNK_SIZE)),
  )
    .addHelpText(
      'after',
      [
        '',
        'Pods are written as bare pod IPs, ipBlocks as written; a rule without peers is 0.0.0.0/0 and ::/0. Admin-tier',
        'policies become cluster-scoped ClusterPolicyEndpoints with tier, priority and each entry\'s action.',
        '',
        'Examples:',
        '  palisade endpoints examples/eks-multi-team/',
        '  palisade endpoints manifests/ -o yaml > policyendpoints.yaml',
        '  helm template ./chart | palisade endpoints - -o json --endpoint-chunk-size 100',
        '  palisade endpoints --kubeconfig ~/.kube/config --context prod',
      ].join('\n'),
    )
    .action(
      action(io, setExit, (paths: string[], opts: { output: string; endpointChunkSize: number; defaultNamespace: string; quiet?: boolean }) => {
        const { cluster } = readInput(paths, io, opts);
        const engine = compile(cluster);
        switch (opts.output) {
          case 'json':
            io.out(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: endpointObjects(engine, opts.endpointChunkSize) }, null, 2));
            break;
          case 'yaml':
            io.out(endpointObjects(engine, opts.endpointChunkSize).map((o) => stringify(o).trimEnd()).join('\n---\n'));
            break;
          default:
            io.out(renderEndpointsTable(engine));
        }
      }),
    );
};

