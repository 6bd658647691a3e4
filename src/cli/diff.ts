/**
 * `palisade diff OLD NEW`: the connections a change opens and closes, with the policy responsible for each.
 */
import { Option } from 'commander';
import { InputError } from '../api/diagnostics.js';
import { describePorts, diffClusters, groupChanges, isEmptyDiff, type ConnectionChange, type ReachabilityDiff } from '../analyze/diff.js';
import type { LoadedDocument } from '../api/load.js';
import { readDocuments } from '../model/read.js';
import { inputOptions, readInput, type ReadInputOptions } from './input.js';
import { action, EXIT_FINDINGS, type Register } from './program.js';

function because(c: ConnectionChange): string {
  return c.causes.map((x) => `${x.direction}: ${x.summary}`).join('; ');
}

function endpointsText(d: ReachabilityDiff): string[] {
  const lines: string[] = [];
  if (d.endpoints.added.length > 0) lines.push('', `Endpoints added (${d.endpoints.added.length}):`, ...d.endpoints.added.map((e) => `  + ${e.id} (${e.kind})`));
  if (d.endpoints.removed.length > 0) lines.push('', `Endpoints removed (${d.endpoints.removed.length}):`, ...d.endpoints.removed.map((e) => `  - ${e.id} (${e.kind})`));
  return lines;
}

/** The terminal report: opened, then closed connections grouped by namespaces and ports, each with its cause. */
export function renderDiffTable(d: ReachabilityDiff): string {
  if (isEmptyDiff(d)) return 'No change in reachability.';
  const lines: string[] = [];
  const section = (title: string, mark: string, changes: readonly ConnectionChange[]) => {
    if (changes.length === 0) return;
    if (lines.length > 0) lines.push('');
    lines.push(`${title} (${changes.length}):`);
    for (const g of groupChanges(changes)) {
      lines.push(`  ${g.title}`);
      const width = Math.max(...g.changes.map((c) => `${c.from} -> ${c.to}`.length));
      for (const c of g.changes) lines.push(`    ${mark} ${`${c.from} -> ${c.to}`.padEnd(width)}  ${because(c)} (${c.probe.protocol}/${c.probe.port})`);
    }
  };
  section('Opened', '+', d.opened);
  section('Closed', '-', d.closed);
  lines.push(...endpointsText(d));
  return lines.join('\n').replace(/^\n/, '');
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

export function renderDiffMarkdown(d: ReachabilityDiff): string {
  if (isEmptyDiff(d)) return 'No change in reachability.';
  const lines: string[] = [];
  const table = (title: string, changes: readonly ConnectionChange[]) => {
    if (changes.length === 0) return;
    lines.push(`### ${title} (${changes.length})`, '', '| from | to | ports | because |', '|---|---|---|---|');
    for (const c of changes) lines.push(`| \`${c.from}\` | \`${c.to}\` | ${describePorts(c)} | ${mdCell(because(c))} |`);
    lines.push('');
  };
  table('Opened', d.opened);
  table('Closed', d.closed);
  if (d.endpoints.added.length > 0) lines.push(`### Endpoints added (${d.endpoints.added.length})`, '', ...d.endpoints.added.map((e) => `- \`${e.id}\` (${e.kind})`), '');
  if (d.endpoints.removed.length > 0) lines.push(`### Endpoints removed (${d.endpoints.removed.length})`, '', ...d.endpoints.removed.map((e) => `- \`${e.id}\` (${e.kind})`), '');
  return lines.join('\n').trimEnd();
}

export const registerDiff: Register = (program, io, setExit) => {
  inputOptions(
    program
      .command('diff')
      .description('connections opened and closed between two versions of the manifests, with the policy responsible for each')
      .argument('<old>', 'the manifests before: a file, a directory, or - for stdin (with --kubeconfig: the manifests after)')
      .argument('[new]', 'the manifests after: a file, a directory, or - for stdin')
      .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'md']).default('table'))
      .option('--exit-code', 'exit 1 when reachability changed (like git diff --exit-code)'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  palisade diff main/manifests/ manifests/\n  git show HEAD~1:policies.yaml | palisade diff - policies.yaml -o md\n  palisade diff old/ new/ --exit-code -q   # in CI: fail when a change opens or closes anything\n  palisade diff --kubeconfig ~/.kube/config policies/   # what applying policies/ would change in the live cluster\n\nExit status: 0, or with --exit-code 1 when anything changed; 1 invalid input; 2 usage error.',
    )
    .action(
      action(io, setExit, (first: string, second: string | undefined, opts: ReadInputOptions & { output: string; exitCode?: boolean; defaultNamespace: string; quiet?: boolean }) => {
        let before;
        let after;
        if (opts.kubeSource) {
          // The live cluster is OLD; NEW is the live cluster with the given manifests applied (same kind, namespace and
          // name replaced), as `kubectl apply` would leave it.
          if (second !== undefined) throw new InputError('with --kubeconfig, give only NEW: the live cluster is OLD');
          before = readInput([], io, opts);
          const applied = readInput([first], io, { ...opts, kubeSource: undefined });
          const key = (d: LoadedDocument) => `${d.kind}\u0000${d.namespace ?? opts.defaultNamespace}\u0000${d.name ?? ''}`;
          const replaced = new Set(applied.documents.map(key));
          after = readDocuments([...before.documents.filter((d) => !replaced.has(key(d))), ...applied.documents], [], opts.defaultNamespace);
        } else {
          if (second === undefined) throw new InputError('give OLD and NEW (or --kubeconfig and NEW)');
          if (first === '-' && second === '-') throw new InputError('only one of OLD and NEW can be - (standard input)');
          before = readInput([first], io, opts);
          after = readInput([second], io, opts);
        }
        const d = diffClusters(before.cluster, after.cluster);
        if (opts.output === 'json') io.out(JSON.stringify(d, null, 2));
        else if (opts.output === 'md') io.out(renderDiffMarkdown(d));
        else io.out(renderDiffTable(d));
        if (opts.exitCode && !isEmptyDiff(d)) setExit(EXIT_FINDINGS);
      }),
    );
};
