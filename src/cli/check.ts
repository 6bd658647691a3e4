/**
 * `palisade check PATH...`: the validation report. Exit 0 valid, 1 invalid, 2 usage.
 */
import { formatDiagnostic, type Diagnostic } from '../api/diagnostics.js';
import { readCluster } from '../model/read.js';
import type { Cluster } from '../model/types.js';
import { action, EXIT_FINDINGS, type Register } from './program.js';

/** Cluster-level warnings that no single object shows: admin-tier policies sharing a priority. */
export function clusterWarnings(cluster: Cluster): Diagnostic[] {
  const out: Diagnostic[] = [];
  const byPriority = new Map<string, string[]>();
  for (const p of cluster.tierPolicies) {
    if (p.kind === 'BaselineAdminNetworkPolicy') continue;
    const key = `${p.tier}/${p.priority}`;
    byPriority.set(key, [...(byPriority.get(key) ?? []), p.name]);
  }
  for (const [key, names] of byPriority) {
    if (names.length < 2) continue;
    const [tier, priority] = key.split('/');
    const first = cluster.tierPolicies.find((p) => p.name === names[0]);
    out.push({
      severity: 'warning',
      pos: first?.source,
      message: `${tier} tier policies ${names.sort().join(', ')} share priority ${priority}; their order is undefined upstream (Palisade evaluates them by name)`,
    });
  }
  return out;
}

export const registerCheck: Register = (program, io, setExit) => {
  program
    .command('check')
    .description('validate manifests as the Kubernetes API server would (NetworkPolicy, admin tiers, pods, workloads, ...)')
    .argument('<paths...>', 'files, directories (recursive .yaml/.yml/.json) or - for stdin')
    .option('-n, --namespace <ns>', 'namespace of objects written without one (as kubectl -n)', 'default')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText('after', '\nExample:\n  palisade check examples/eks-multi-team/\n  helm template ./chart | palisade check -\n\nExit status: 0 valid, 1 invalid, 2 usage error.')
    .action(
      action(io, setExit, (paths: string[], opts: { namespace: string; output: string }) => {
        const result = readCluster(paths, { defaultNamespace: opts.namespace, readStdin: io.readStdin });
        const diagnostics = [...result.diagnostics, ...clusterWarnings(result.cluster)];
        const errors = diagnostics.filter((d) => d.severity === 'error').length;
        const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
        if (opts.output === 'json') {
          io.out(JSON.stringify({ objects: result.documents.length, invalid: result.invalid, errors, warnings, diagnostics }, null, 2));
        } else {
          for (const d of diagnostics) io.out(formatDiagnostic(d));
          io.out(`${result.documents.length} object${result.documents.length === 1 ? '' : 's'} checked: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}${errors === 0 ? ' — valid' : ''}`);
        }
        if (errors > 0) setExit(EXIT_FINDINGS);
      }),
    );
};
