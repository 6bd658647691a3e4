/**
 * `palisade lint PATH...`: mistakes in policies that validation cannot see, found with the engine. Exit 1 when any
 * finding has severity error.
 */
import { InvalidArgumentError, Option } from 'commander';
import { validateCIDR } from '../api/validate-ip.js';
import { activeRules, RULES, type LintProfile } from '../analyze/findings.js';
import { lint } from '../analyze/lint.js';
import { countFindings, renderJson, renderText, toSarif } from '../analyze/report.js';
import { inputOptions, readInput } from './input.js';
import { action, EXIT_FINDINGS, type Register } from './program.js';

const VERSION = '0.1.0';

function parseCIDROption(text: string, previous: string[] = []): string[] {
  if (validateCIDR(text, []).some((e) => (e.severity ?? 'error') === 'error')) throw new InvalidArgumentError(`not a CIDR: "${text}" (e.g. 10.0.0.0/16)`);
  return [...previous, text];
}

function parseRuleIds(text: string, previous: string[] = []): string[] {
  const ids = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of ids) if (!RULES.some((r) => r.id === id)) throw new InvalidArgumentError(`no lint rule "${id}"; rules: ${RULES.map((r) => r.id).join(', ')}`);
  return [...previous, ...ids];
}

function parseAwsVersion(text: string): string {
  if (!/^v?\d+(\.\d+){0,2}$/.test(text)) throw new InvalidArgumentError(`not a VPC CNI version: "${text}" (e.g. 1.14.0)`);
  return text.replace(/^v/, '');
}

function rulesHelp(): string {
  const width = Math.max(...RULES.map((r) => r.id.length));
  return RULES.map((r) => `  ${r.id.padEnd(width)}  ${r.severity.padEnd(7)} ${r.profile === 'generic' ? '' : `[${r.profile}] `}${r.enabledByDefault ? '' : '[off by default] '}${r.summary}`).join('\n');
}

export const registerLint: Register = (program, io, setExit) => {
  inputOptions(
    program
      .command('lint')
      .description('find policy mistakes validation cannot see: DNS blocked, selectors matching nothing, AND/OR slips, shadowed rules, ...')
      .argument('[paths...]', 'files, directories or - for stdin (or --kubeconfig for a live cluster)')
      .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'sarif']).default('text'))
      .addOption(new Option('--profile <profile>', 'extra rules for a CNI').choices(['generic', 'aws-vpc-cni']).default('generic'))
      .option('--pod-cidr <cidr>', 'pod network CIDR for ipblock-covers-pods (repeatable; default: the pod IPs in the input)', parseCIDROption)
      .option('--enable <rules>', 'turn on rules that are off by default (comma-separated ids)', parseRuleIds)
      .option('--disable <rules>', 'turn rules off (comma-separated ids)', parseRuleIds)
      .option('--aws-version <version>', 'VPC CNI version for version-bound aws-vpc-cni rules, e.g. 1.14.0 (default: unknown, reported as possible)', parseAwsVersion),
  )
    .addHelpText(
      'after',
      `\nExamples:\n  palisade lint examples/eks-multi-team/\n  palisade lint manifests/ --profile aws-vpc-cni --pod-cidr 10.0.0.0/16\n  palisade lint manifests/ --profile aws-vpc-cni --aws-version 1.14.0\n  palisade lint manifests/ -o sarif > palisade.sarif   # upload with github/codeql-action/upload-sarif\n\nRules:\n${rulesHelp()}\n\nExit status: 0 no error findings (warnings and notes do not fail), 1 an error finding or invalid input, 2 usage error.`,
    )
    .action(
      action(io, setExit, (paths: string[], opts: { output: string; profile: LintProfile; podCidr?: string[]; enable?: string[]; disable?: string[]; awsVersion?: string; defaultNamespace: string; quiet?: boolean }) => {
        const read = readInput(paths, io, opts);
        const options = { profile: opts.profile, ...(opts.podCidr ? { podCIDRs: opts.podCidr } : {}), ...(opts.enable ? { enable: opts.enable } : {}), ...(opts.disable ? { disable: opts.disable } : {}), ...(opts.awsVersion ? { awsVersion: opts.awsVersion } : {}) };
        const findings = lint(read, options);
        if (opts.output === 'json') io.out(renderJson(findings));
        else if (opts.output === 'sarif') io.out(JSON.stringify(toSarif(findings, activeRules(opts.profile, opts.enable, opts.disable), VERSION), null, 2));
        else io.out(renderText(findings));
        if (countFindings(findings).error > 0) setExit(EXIT_FINDINGS);
      }),
    );
};
