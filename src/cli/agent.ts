/**
 * `palisade agent`: the node agent in the foreground. It keeps this node's `inet palisade` nftables table equal to
 * what the PolicyEndpoints and ClusterPolicyEndpoints selecting its pods ask for, until SIGTERM or SIGINT. They come
 * from files (`--policy-endpoints`), from the API server of a kubeconfig, or in-cluster from the pod's service account.
 */
import { CommanderError, InvalidArgumentError, Option } from 'commander';
import { runAgent } from '../agent/agent.js';
import { engineExplainer } from '../agent/explain.js';
import { configureFlowLogFormat, NEWEST_FLOW_LOG_FORMAT, resolveFlowLogFormat, type FlowExplainer } from '../agent/flowlog.js';
import { FilePolicyEndpointSource, type PolicyEndpointSource } from '../agent/source.js';
import { labRequirements } from '../lab/requirements.js';
import { compile } from '../engine/engine.js';
import type { EnforcingMode } from '../nft/compile.js';
import { addAgentVerify } from './agent-verify.js';
import { readInput } from './input.js';
import { interfacePatternProblem } from '../nft/names.js';
import { EXIT_FINDINGS, EXIT_USAGE, action, parsePort, type Register } from './program.js';

function parseInterfacePattern(text: string): string {
  const problem = interfacePatternProblem(text);
  if (problem) throw new CommanderError(EXIT_USAGE, 'palisade.podInterfaces', `error: --pod-interfaces: ${problem}`);
  return text;
}

/** `--flow-log-format`: an AWS agent version (or family); every flow record of this process is written in it. */
function parseFlowLogFormat(text: string): string {
  const version = resolveFlowLogFormat(text);
  if (!version) throw new InvalidArgumentError(`unknown AWS network policy agent version "${text}" (e.g. v1.2.7, v1.3.0, ${NEWEST_FLOW_LOG_FORMAT}, or v1.0, v1.2, v1.3)`);
  configureFlowLogFormat(version);
  return version;
}

interface AgentFlags {
  /** Required; checked in the action, since a required option of `agent` would be required by `agent verify` too. */
  readonly node?: string;
  readonly policyEndpoints?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly enforcingMode: EnforcingMode;
  readonly flowLogs?: string;
  readonly flowLogsAccept?: boolean;
  readonly manifests?: string[];
  readonly metricsPort?: number;
  readonly netns?: string;
  readonly podInterfaces: string;
  readonly selfCheckInterval: number;
  readonly selfCheckMaxCells: number;
}

function parseCells(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of cells, at least 1');
  return n;
}

function parseSeconds(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 86_400) throw new InvalidArgumentError('a whole number of seconds from 0 (off) to 86400');
  return n;
}

/**
 * Registers `palisade agent`. The action resolves when the agent has stopped, so `run` returns only then.
 * @param signals where the stop signal comes from; tests pass an emitter. @default process
 */
export function agentCommand(signals: Pick<NodeJS.Process, 'once' | 'off'> = process): Register {
  return (program, io, setExit) => {
    const agent = program
      .command('agent')
      .description("Run the node agent: enforce this node's PolicyEndpoints with nftables, until SIGTERM or SIGINT (root).")
      .option('--node <name>', 'this node\'s name (a label on metrics and flow logs); required')
      .option('--policy-endpoints <dir>', 'a directory (or file) of (Cluster)PolicyEndpoint objects, YAML or JSON, watched for changes')
      .option('--kubeconfig <file>', 'follow (Cluster)PolicyEndpoints on the API server of this kubeconfig (default without --policy-endpoints: in-cluster)')
      .option('--context <name>', 'the kubeconfig context to use')
      .addOption(new Option('--enforcing-mode <mode>', 'standard: a pod no policy selects is open; strict: it is denied').choices(['standard', 'strict']).default('standard'))
      .option('--flow-logs <file>', 'append AWS-format flow-log lines (JSON) to FILE, or `-` for standard output')
      .option('--flow-logs-accept', 'log accepted new connections too (denials are always logged)')
      .option('--flow-log-format <version>', `the AWS network policy agent version whose flow-log line format to write (v1.0.8 … ${NEWEST_FLOW_LOG_FORMAT}, or v1.0, v1.2, v1.3)`, parseFlowLogFormat, NEWEST_FLOW_LOG_FORMAT)
      .option('--manifests <paths...>', 'explain flow logs with the engine compiled from these manifests: adds the deciding policy, rule and engine verdict, and flags disagreement')
      .option('--metrics-port <port>', 'serve /metrics and /healthz on 127.0.0.1:PORT', parsePort)
      .option('--netns <name>', 'program the table of this network namespace (`ip netns` name) instead of the own one')
      .addOption(new Option('--pod-interfaces <glob>', 'host-side interfaces of pods, as an nft wildcard (1-15 of A-Z a-z 0-9 _ . @ -, optionally ending in *)').default('eni*').argParser(parseInterfacePattern))
      .addOption(new Option('--self-check-interval <seconds>', 'read the kernel table back and prove it equal to the PolicyEndpoints every SECONDS and after each sync; 0 = off').argParser(parseSeconds).default(60))
      .addOption(new Option('--self-check-max-cells <n>', 'skip (with a warning and a metric) a self-check whose proof would walk more cells than N; it runs on the agent\'s thread').argParser(parseCells).default(500_000))
      .addHelpText(
        'after',
        `
Needs root and the nft and ip commands (and tcpdump for --flow-logs): apt-get install -y nftables iproute2 tcpdump.
The PolicyEndpoints are those Palisade's controller (or the AWS network policy controller) writes; write them with
\`palisade endpoints PATH -o yaml\` to try the agent without a cluster. Without --policy-endpoints the agent lists and
watches them on the API server (--kubeconfig, else the in-cluster service account), relisting after a broken watch.

Examples:
  $ sudo palisade agent --node node-1 --policy-endpoints /etc/palisade/pe --flow-logs /var/log/palisade/flows.log --metrics-port 9180
  $ sudo palisade agent --node node-1 --kubeconfig ~/.kube/config --context prod
  $ sudo palisade agent verify --node node-1 --policy-endpoints /etc/palisade/pe   # prove the kernel's table (see agent verify --help)

Flow-log explanations (--manifests PATH...): the kernel knows which policy decided a connection, not which rule (a
policy's entries share one set). With --manifests the agent compiles the engine from the manifests given (read once, at
start) and adds to every flow-log line the engine's "policy", "rule" ({"index", "name"}), "engineVerdict" and
"engineTier"; when the engine's verdict differs from the kernel's the line gets "mismatch": true and the agent logs a
warning (metric palisade_agent_flow_verdict_mismatches_total). In a live cluster this is optional: enforcement never
depends on it, and the explanations are only as current as the manifests you pass.
  $ sudo palisade agent --node node-1 --policy-endpoints /etc/palisade/pe --flow-logs - --manifests manifests/`,
      )
      .action(
        action(io, setExit, async (flags: AgentFlags) => {
          if (flags.node === undefined) {
            io.err("error: required option '--node <name>' not specified");
            setExit(EXIT_USAGE);
            return;
          }
          const node = flags.node;
          const why = labRequirements();
          if (why && !(why.startsWith('missing tcpdump') && flags.flowLogs === undefined)) {
            io.err(`error: the agent cannot run here: ${why.replace(/^the lab/, 'the agent')}`);
            setExit(EXIT_FINDINGS);
            return;
          }
          if (flags.policyEndpoints !== undefined && (flags.kubeconfig !== undefined || flags.context !== undefined)) {
            io.err('error: --policy-endpoints reads files; it cannot be combined with --kubeconfig or --context');
            setExit(EXIT_FINDINGS);
            return;
          }
          let explain: FlowExplainer | undefined;
          if (flags.manifests !== undefined) {
            if (flags.flowLogs === undefined) io.err('note: --manifests explains flow logs; without --flow-logs it has no effect');
            // An error in the manifests stops here (InputError): an explainer missing a policy would report false mismatches.
            const { cluster } = readInput(flags.manifests, io, { defaultNamespace: 'default' });
            explain = engineExplainer(compile(cluster));
          }
          let agent;
          let stopSource = () => undefined as void;
          try {
            let input: PolicyEndpointSource;
            if (flags.policyEndpoints !== undefined) input = new FilePolicyEndpointSource(flags.policyEndpoints);
            else {
              const { KubePolicyEndpointSource, loadKubeConfig } = await import('../agent/kube-source.js');
              const kube = new KubePolicyEndpointSource({
                kubeConfig: await loadKubeConfig({ kubeconfig: flags.kubeconfig, context: flags.context }),
                log: (level, msg) => io.err(`${level}: ${msg}`),
              });
              await kube.start();
              input = kube;
              stopSource = () => kube.stop();
            }
            agent = await runAgent({
              node,
              input,
              enforcingMode: flags.enforcingMode,
              podInterfaces: flags.podInterfaces,
              selfCheckIntervalMs: flags.selfCheckInterval * 1000,
              selfCheckMaxCells: flags.selfCheckMaxCells,
              ...(flags.netns !== undefined ? { netns: flags.netns } : {}),
              ...(flags.flowLogs !== undefined ? { flowLogs: { ...(flags.flowLogs === '-' ? {} : { file: flags.flowLogs }), accept: flags.flowLogsAccept ?? false } } : {}),
              ...(flags.metricsPort !== undefined ? { metricsPort: flags.metricsPort } : {}),
              ...(explain ? { explain } : {}),
            });
          } catch (e) {
            stopSource();
            io.err(`error: the agent could not start: ${e instanceof Error ? e.message : String(e)}`);
            setExit(EXIT_FINDINGS);
            return;
          }
          const running = agent;
          await new Promise<void>((resolve) => {
            const stop = () => {
              signals.off('SIGTERM', stop);
              signals.off('SIGINT', stop);
              stopSource();
              running.stop().then(resolve, (e: unknown) => {
                io.err(`error: stopping: ${e instanceof Error ? e.message : String(e)}`);
                setExit(EXIT_FINDINGS);
                resolve();
              });
            };
            signals.once('SIGTERM', stop);
            signals.once('SIGINT', stop);
          });
        }),
      );
    addAgentVerify(agent, io, setExit);
  };
}

/** `palisade agent`, stopped by the process's SIGTERM or SIGINT. */
export const registerAgent: Register = agentCommand();
