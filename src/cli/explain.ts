/**
 * `palisade explain PATH...`: every policy in plain words (see analyze/explain.ts).
 */
import { Option } from 'commander';
import { explain } from '../analyze/explain.js';
import { compile } from '../engine/engine.js';
import { inputOptions, readInput } from './input.js';
import { action, type Register } from './program.js';

export const registerExplain: Register = (program, io, setExit) => {
  inputOptions(
    program
      .command('explain')
      .description('every policy in plain words: what it applies to, and each rule with its peers as the API groups them')
      .argument('[paths...]', 'files, directories or - for stdin (or --kubeconfig for a live cluster)')
      .addOption(new Option('-o, --output <format>', 'output format').choices(['text']).default('text')),
  )
    .addHelpText('after', '\nExample:\n  palisade explain examples/eks-multi-team/')
    .action(
      action(io, setExit, (paths: string[], opts: { defaultNamespace: string; quiet?: boolean }) => {
        const { cluster } = readInput(paths, io, opts);
        io.out(explain(compile(cluster)));
      }),
    );
};
