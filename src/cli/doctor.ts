/**
 * `palisade doctor --kubeconfig FILE [--context C]`: are the prerequisites of NetworkPolicy on EKS met, and is
 * Palisade's own deployment healthy — each check with pass/warn/fail, its evidence and its fix.
 */
import { Option } from 'commander';
import { gatherFacts, renderDoctor, runChecks } from '../audit/doctor.js';
import { loadKubeConfig } from './kube-source.js';
import { action, EXIT_FINDINGS, type Register } from './program.js';

export const registerDoctor: Register = (program, io, setExit) => {
  program
    .command('doctor')
    .description('check a cluster for NetworkPolicy on EKS: Kubernetes ≥ 1.25, VPC CNI ≥ v1.14 with network policy on, known agent bugs, kernels ≥ 5.10, CRDs, flow logs, Palisade')
    .option('--kubeconfig <file>', 'the kubeconfig of the cluster (default: $KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: the current context)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      [
        '',
        'Reads /version, kube-system/aws-node (its aws-node and aws-eks-nodeagent containers), the amazon-vpc-cni',
        'ConfigMap, the Nodes, the CRDs, and palisade-system when Palisade is deployed. Exit 1 on any failed check.',
        '',
        'Examples:',
        '  palisade doctor --kubeconfig ~/.kube/config',
        '  palisade doctor --kubeconfig ~/.kube/config --context prod -o json',
      ].join('\n'),
    )
    .action(
      action(io, setExit, async (opts: { kubeconfig?: string; context?: string; output: string }) => {
        const kc = loadKubeConfig({ ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}), ...(opts.context !== undefined ? { context: opts.context } : {}) });
        if (io.interactive) io.err(`doctor: reading ${kc.getCurrentCluster()?.server ?? 'the cluster'}`);
        const report = runChecks(await gatherFacts(kc));
        io.out(opts.output === 'json' ? JSON.stringify(report, null, 2) : renderDoctor(report));
        if (report.summary.fail > 0) setExit(EXIT_FINDINGS);
      }),
    );
};
