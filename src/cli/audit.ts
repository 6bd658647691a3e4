/**
 * `palisade audit endpoints|flowlogs`: AWS's own artefacts — the PolicyEndpoints its controller wrote, the flow log
 * its node agent wrote — checked against the engine.
 */
import { Option } from 'commander';
import { InputError } from '../api/diagnostics.js';
import { auditEndpoints, renderEndpointsAudit } from '../audit/endpoints.js';
import { auditFlowLogs, readFlowLogFile, type FlowLogAudit } from '../audit/flowlog.js';
import { listAwsObjects, readAwsObjects, type AwsObjects } from '../audit/read.js';
import { compile } from '../engine/engine.js';
import { inputOptions, readInput, type ReadInputOptions } from './input.js';
import { loadKubeConfig } from './kube-source.js';
import { action, EXIT_FINDINGS, type Io, type Register } from './program.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

type AuditOptions = ReadInputOptions & { kubeconfig?: string; context?: string; output: string };

function progress(io: Io, text: string): void {
  if (io.interactive) io.err(`audit: ${text}`);
}

/** The text report of a flow-log audit. */
export function renderFlowLogAudit(a: FlowLogAudit): string {
  const lines: string[] = [];
  for (const m of a.mismatches) {
    const from = m.from.includes('/') ? m.from : m.src;
    const to = m.to.includes('/') ? m.to : m.dst;
    lines.push(`${m.file}:${m.line}: MISMATCH ${from} -> ${to} ${m.protocol}/${m.port}${m.aws.direction ? ` ${m.aws.direction}` : ''} (node ${m.node})`);
    lines.push(`    AWS: ${m.aws.verdict}${m.aws.tier ? ` (tier ${m.aws.tier})` : ''}`);
    for (const e of m.engine) lines.push(`    engine ${e.direction}: ${e.allowed ? 'allowed' : 'DENIED'} — ${e.why}`);
  }
  if (a.byPolicy.length > 0) {
    lines.push('', 'per policy (the engine\'s deciding policy, or the policies isolating the pod when none allows):');
    for (const p of a.byPolicy) lines.push(`  ${p.policy}: ${p.flows} flow${p.flows === 1 ? '' : 's'}, ${p.mismatches} mismatch${p.mismatches === 1 ? '' : 'es'}`);
  }
  if (a.byNode.length > 0) {
    lines.push('', 'per node:');
    for (const n of a.byNode) lines.push(`  ${n.node}: ${n.flows} flow${n.flows === 1 ? '' : 's'}, ${n.mismatches} mismatch${n.mismatches === 1 ? '' : 'es'}`);
  }
  for (const u of a.unparsedLines.slice(0, 10)) lines.push(`${u.file}:${u.line}: note: flow line not read: ${u.reason}`);
  lines.push(
    `${a.flows} flows: ${a.mismatches.length} mismatch${a.mismatches.length === 1 ? '' : 'es'} with the engine, ${a.notCompared} not compared (ICMP, conntrack expiry), ${a.unparsed} flow line${a.unparsed === 1 ? '' : 's'} not read`,
  );
  return lines.join('\n');
}

export const registerAudit: Register = (program, io, setExit) => {
  const audit = program
    .command('audit')
    .description("check AWS's own artefacts against the engine: the PolicyEndpoints its controller wrote, its node agent's flow log")
    .addHelpText('after', ['', 'Examples:', '  palisade audit endpoints examples/eks-multi-team/ --endpoints examples/eks-aws/policyendpoints.yaml', '  palisade audit flowlogs examples/eks-multi-team/ --log examples/eks-aws/network-policy-agent.log'].join('\n'));

  inputOptions(
    audit
      .command('endpoints')
      .description('compare the PolicyEndpoints that exist with the ones the engine says must exist, per policy')
      .argument('[paths...]', 'manifests: files, directories or - (or --kubeconfig, which reads both the cluster and its PolicyEndpoints)')
      .option('--endpoints <file>', 'what `kubectl get policyendpoints -A -o yaml` prints (a List or multi-document YAML/JSON; - for stdin)', collect)
      .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text')),
  )
    .addHelpText(
      'after',
      [
        '',
        "Each policy's chunks merge by policyRef and compare as unordered sets (names, generateName suffixes, annotations",
        'and order are ignored). Every missing or extra address or port lists the flows it opens or closes, with the',
        "engine's reason. Exit 0 when every policy is equal, 1 otherwise.",
        '',
        'Examples:',
        '  kubectl get policyendpoints -A -o yaml > pe.yaml',
        '  palisade audit endpoints manifests/ --endpoints pe.yaml',
        '  palisade audit endpoints examples/eks-multi-team/ --endpoints examples/eks-aws/policyendpoints.yaml -o json',
        '  palisade audit endpoints --kubeconfig ~/.kube/config --context prod',
      ].join('\n'),
    )
    .action(
      action(io, setExit, async (paths: string[], opts: AuditOptions & { endpoints?: string[] }) => {
        const { cluster } = readInput(paths, io, opts);
        let objects: AwsObjects;
        if (opts.endpoints && opts.endpoints.length > 0) objects = readAwsObjects(opts.endpoints, io.readStdin);
        else if (opts.kubeconfig !== undefined || opts.context !== undefined) {
          progress(io, 'listing PolicyEndpoints');
          objects = await listAwsObjects(loadKubeConfig({ ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}), ...(opts.context !== undefined ? { context: opts.context } : {}) }));
        } else throw new InputError('no PolicyEndpoints: give --endpoints FILE (what `kubectl get policyendpoints -A -o yaml` prints) or --kubeconfig');
        progress(io, `comparing ${objects.policyEndpoints.length} PolicyEndpoints with the engine`);
        const result = auditEndpoints(compile(cluster), objects.policyEndpoints, objects.clusterPolicyEndpoints);
        io.out(opts.output === 'json' ? JSON.stringify(result, null, 2) : renderEndpointsAudit(result));
        if (result.policies.some((p) => p.status !== 'equal')) setExit(EXIT_FINDINGS);
      }),
    );

  inputOptions(
    audit
      .command('flowlogs')
      .description("compare every flow of the AWS node agent's log with the engine's verdict")
      .argument('[paths...]', 'manifests: files, directories or - (or --kubeconfig for the pods and policies of a live cluster)')
      .option('--log <file>', 'a network-policy-agent.log, a rotated .gz, or a CloudWatch export (repeat for several; - for stdin)', collect)
      .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text')),
  )
    .addHelpText(
      'after',
      [
        '',
        'Reads every form the agent has written: v1.0–v1.2.1 JSON keys ("Flow Info:  " with Src IP, Dest IP, …),',
        'v1.2.2+ "Flow Info: Src IP: … Verdict DENY Direction egress", v1.3+ with ", Tier …", the IPv6 agent\'s colon form,',
        'and CloudWatch lines (Node: …;SIP: …;PolicyVerdict: …). Other lines are skipped, broken flow lines counted.',
        "A mismatch is a flow where AWS's verdict contradicts the engine's for the direction the line names (both",
        'probed directions when it names none). Exit 1 on any mismatch.',
        '',
        'Examples:',
        '  palisade audit flowlogs examples/eks-multi-team/ --log examples/eks-aws/network-policy-agent.log',
        '  palisade audit flowlogs manifests/ --log node1.log --log node1-2025-01-01T00-00-00.000.log.gz -o json',
        '  palisade audit flowlogs --kubeconfig ~/.kube/config --log network-policy-agent.log',
      ].join('\n'),
    )
    .action(
      action(io, setExit, (paths: string[], opts: AuditOptions & { log?: string[] }) => {
        if (!opts.log || opts.log.length === 0) throw new InputError('no flow log: give --log FILE (repeat for several files)');
        const { cluster } = readInput(paths, io, opts);
        const engine = compile(cluster);
        const sources = opts.log.map((file) => {
          progress(io, `reading ${file}`);
          return readFlowLogFile(file, io.readStdin);
        });
        const result = auditFlowLogs(engine, sources);
        if (opts.output === 'json') {
          const { cells: _cells, ...json } = result;
          io.out(JSON.stringify(json, null, 2));
        } else io.out(renderFlowLogAudit(result));
        if (result.mismatches.length > 0) setExit(EXIT_FINDINGS);
      }),
    );
};
