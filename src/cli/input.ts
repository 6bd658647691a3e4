/**
 * How analysis commands read their input: manifests from paths (or `-`), or a live cluster through a kubeconfig
 * (`--kubeconfig FILE [--context C]`), with every diagnostic printed; any error stops the command, because an analysis
 * that silently dropped an invalid policy would answer wrongly.
 */
import { Option, type Command } from 'commander';
import { InputError, formatDiagnostic } from '../api/diagnostics.js';
import { readCluster, type ReadResult } from '../model/read.js';
import type { Cluster } from '../model/types.js';
import type { Io } from './program.js';

export interface InputOptions {
  readonly namespace?: string;
  readonly quiet?: boolean;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly lenient?: boolean;
}

/** The options {@link readInput} reads; commands pass their parsed options as they are. */
export interface ReadInputOptions {
  readonly defaultNamespace?: string;
  readonly quiet?: boolean;
  /** `--lenient`: validation errors become warnings and objects are read as Go clients decode them. */
  readonly lenient?: boolean;
  /**
   * Set by the hook of {@link inputOptions} when `--kubeconfig` or `--context` was given: the cluster, already read, or
   * why it could not be (thrown here, inside the action, where commands turn it into a message and exit 1).
   */
  readonly kubeSource?: ReadResult | InputError;
}

/**
 * Adds the options every analysis command shares. With `--kubeconfig` or `--context`, the live cluster is read before
 * the command's action runs (the one asynchronous step), so actions stay as they are.
 */
export function inputOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-n, --namespace <ns>', 'namespace of objects written without one (as kubectl -n)'))
    .addOption(new Option('--default-namespace <ns>', 'same as --namespace').default('default').hideHelp())
    .option('-q, --quiet', 'do not print notes and warnings about the input')
    .option('--lenient', 'analyse what the API server would reject: each validation error becomes a warning and the object is read as Go clients decode it (unreadable parts fail closed)')
    .option('--kubeconfig <file>', 'read a live cluster through this kubeconfig instead of manifests')
    .option('--context <name>', 'kubeconfig context of the live cluster (default: the current context)')
    .hook('preAction', async (command) => {
      const o = command.opts<{ namespace?: string; kubeconfig?: string; context?: string }>();
      if (o.namespace !== undefined) command.setOptionValue('defaultNamespace', o.namespace);
      if (o.kubeconfig === undefined && o.context === undefined) return;
      try {
        const { readKubeCluster } = await import('./kube-source.js'); // the Kubernetes client is heavy: only when asked
        command.setOptionValue('kubeSource', await readKubeCluster({ ...(o.kubeconfig !== undefined ? { kubeconfig: o.kubeconfig } : {}), ...(o.context !== undefined ? { context: o.context } : {}) }));
      } catch (e) {
        command.setOptionValue('kubeSource', e instanceof InputError ? e : new InputError(`cannot read the cluster: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`));
      }
    });
}

/**
 * Reads the input into a cluster — the manifests at `paths`, or the live cluster `--kubeconfig` named — prints notes
 * and warnings to stderr, and throws InputError on any error.
 */
export function readInput(paths: readonly string[], io: Io, opts: ReadInputOptions): ReadResult & { cluster: Cluster } {
  let result: ReadResult;
  if (opts.kubeSource) {
    if (opts.kubeSource instanceof InputError) throw opts.kubeSource;
    if (paths.length > 0) throw new InputError('give manifests or --kubeconfig, not both');
    result = opts.kubeSource;
  } else {
    if (paths.length === 0) throw new InputError('no input: give manifest files, directories, - for standard input, or --kubeconfig for a live cluster');
    result = readCluster(paths, { defaultNamespace: opts.defaultNamespace ?? 'default', readStdin: io.readStdin, lenient: opts.lenient ?? false });
  }
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    throw new InputError(`${errors.length} error${errors.length === 1 ? '' : 's'} in the input; fix them, run \`palisade check\` for the full report, or --lenient to analyse it as Go clients read it`, errors);
  }
  if (!opts.quiet) for (const d of result.diagnostics) io.err(formatDiagnostic(d));
  return result;
}
