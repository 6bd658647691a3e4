/**
 * How analysis commands read their input: manifests from paths (or `-`), with every diagnostic printed; any error
 * stops the command, because an analysis that silently dropped an invalid policy would answer wrongly.
 */
import { Option, type Command } from 'commander';
import { InputError, formatDiagnostic } from '../api/diagnostics.js';
import { readCluster, type ReadResult } from '../api/read.js';
import type { Cluster } from '../model/types.js';
import type { Io } from './program.js';

export interface InputOptions {
  readonly namespace?: string;
  readonly quiet?: boolean;
}

/** Adds the options every analysis command shares. */
export function inputOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-n, --namespace <ns>', 'namespace of objects written without one (as kubectl -n)'))
    .addOption(new Option('--default-namespace <ns>', 'same as --namespace').default('default').hideHelp())
    .option('-q, --quiet', 'do not print notes and warnings about the input')
    .hook('preAction', (command) => {
      const ns = command.opts<{ namespace?: string }>().namespace;
      if (ns !== undefined) command.setOptionValue('defaultNamespace', ns);
    });
}

/** Reads manifests into a cluster; prints notes and warnings to stderr; throws InputError on any error. */
export function readInput(paths: readonly string[], io: Io, opts: { defaultNamespace?: string; quiet?: boolean }): ReadResult & { cluster: Cluster } {
  if (paths.length === 0) throw new InputError('no input: give manifest files, directories, or - for standard input');
  const result = readCluster(paths, { defaultNamespace: opts.defaultNamespace ?? 'default', readStdin: io.readStdin });
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    throw new InputError(`${errors.length} error${errors.length === 1 ? '' : 's'} in the input; fix them or run \`palisade check\` for the full report`, errors);
  }
  if (!opts.quiet) for (const d of result.diagnostics) io.err(formatDiagnostic(d));
  return result;
}
