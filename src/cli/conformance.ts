/**
 * `palisade conformance`: runs the upstream conformance cases (as data under `conformance/`) against the engine.
 */
import { existsSync } from 'node:fs';
import { Option } from 'commander';
import { InputError } from '../api/diagnostics.js';
import { CaseFormatError } from '../conformance/cases.js';
import { SUITES, runConformance, type Suite } from '../conformance/runner.js';
import { EXIT_FINDINGS, EXIT_USAGE, action, type Register } from './program.js';

interface ConformanceFlags {
  readonly suite: Suite | 'all';
  readonly engine?: boolean;
  readonly lab?: boolean;
  readonly case?: string;
  readonly dir?: string;
}

/** Registers `palisade conformance`; exits 1 when any case fails. */
export const registerConformance: Register = (program, io, setExit) => {
  program
    .command('conformance')
    .description('Check Palisade against the Kubernetes and admin-tier network policy conformance cases.')
    .addOption(new Option('--suite <suite>', 'which cases: k8s (NetworkPolicy e2e), tiers (admin tiers) or all').choices([...SUITES, 'all']).default('all'))
    .option('--engine', 'compare with the compiled engine (the default)')
    .option('--lab', 'probe a lab cluster instead of the engine')
    .option('--case <name>', 'run only the case of this name')
    .option('--dir <dir>', 'the folder holding the suites (default: the cases shipped with Palisade)')
    .addHelpText(
      'after',
      `
Each case prints PASS, FAIL (with the cells that differ, as a truth table) or SKIP; the last line counts them.

Example:
  $ palisade conformance --suite tiers --case cnp-admin-ingress-tcp
  PASS cnp-admin-ingress-tcp
  1 passed, 0 failed`,
    )
    .action(
      action(io, setExit, async (flags: ConformanceFlags) => {
        if (flags.engine && flags.lab) {
          io.err('error: --engine and --lab cannot be used together');
          setExit(EXIT_USAGE);
          return;
        }
        if (flags.dir !== undefined && !existsSync(flags.dir)) throw new InputError(`no such directory: ${flags.dir}`);
        let summary;
        try {
          summary = await runConformance({
            suite: flags.suite,
            mode: flags.lab ? 'lab' : 'engine',
            ...(flags.case !== undefined ? { caseName: flags.case } : {}),
            ...(flags.dir !== undefined ? { dir: flags.dir } : {}),
            out: io.out,
          });
        } catch (e) {
          if (e instanceof CaseFormatError) throw new InputError(e.message);
          throw e;
        }
        if (summary.failed > 0) setExit(EXIT_FINDINGS);
      }),
    );
};
