/**
 * `palisade controller`: resolves NetworkPolicies (and admin-tier policies, and AWS's ClusterNetworkPolicy and
 * ApplicationNetworkPolicy) into PolicyEndpoints in a live cluster,
 * as the AWS network policy controller does, until SIGINT or SIGTERM.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { CommanderError, Option } from 'commander';
import pino from 'pino';
import { InputError } from '../api/diagnostics.js';
import { DEFAULT_CHUNK_SIZE } from '../controller/chunk.js';
import { runController } from '../controller/live.js';
import { action, EXIT_USAGE, type Register } from './program.js';

function nonNegativeInt(flag: string) {
  return (text: string): number => {
    const n = Number(text);
    // The code `palisade.port` is the one run() prints as a usage error (exit 2).
    if (!Number.isInteger(n) || n < 0) throw new CommanderError(EXIT_USAGE, 'palisade.port', `error: ${flag} must be a non-negative integer, got "${text}"`);
    return n;
  };
}

function parseBool(text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new CommanderError(EXIT_USAGE, 'palisade.leaderElect', `error: --leader-elect takes true or false, got "${text}"`);
}

/** `host:port`, `:port` or `[v6]:port`, as controller-runtime's --metrics-bind-address. */
function parseBindAddress(text: string): { host?: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CommanderError(EXIT_USAGE, 'palisade.port', `error: --metrics-bind-address must be HOST:PORT or :PORT, got "${text}"`);
  const host = m[1] ?? m[2];
  return host ? { host, port } : { port };
}

interface Opts {
  kubeconfig?: string;
  context?: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionLease: string;
  leaderElectionId?: string;
  batchWindow: number;
  metricsPort: number;
  metricsBindAddress?: { host?: string; port: number };
  healthPort?: number;
  endpointChunkSize: number;
}

export const registerController: Register = (program, io, setExit) => {
  program
    .command('controller')
    .description('resolve policies into PolicyEndpoints (AWS VPC CNI format) in a live cluster, continuously')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account)')
    .option('--context <name>', 'kubeconfig context')
    .addOption(new Option('--leader-elect [enabled]', 'elect one active instance through a Lease (default); --leader-elect=false runs as the only instance').argParser(parseBool).default(true))
    .option('--no-leader-elect', 'run as the only instance')
    .addOption(new Option('--leader-election-namespace <ns>', 'namespace of the Lease').env('POD_NAMESPACE').default('palisade-system'))
    .option('--leader-election-lease <name>', 'name of the Lease', 'palisade-controller')
    .addOption(new Option('--leader-election-id <id>', 'this instance in the Lease (default: hostname_pid)').env('POD_NAME'))
    .addOption(new Option('--batch-window <ms>', 'gather a burst of events this long before reconciling').argParser(nonNegativeInt('--batch-window')).default(100))
    .addOption(new Option('--metrics-port <port>', 'serve /metrics, /healthz and /readyz on this port').argParser(nonNegativeInt('--metrics-port')).default(8080))
    .addOption(new Option('--metrics-bind-address <host:port>', 'where the metrics server listens, e.g. 127.0.0.1:8080 or :8080 (overrides --metrics-port; default every address)').argParser(parseBindAddress))
    .addOption(new Option('--health-port <port>', 'also serve /healthz and /readyz on this port').argParser(nonNegativeInt('--health-port')))
    .addOption(new Option('--endpoint-chunk-size <n>', 'at most this many entries per list per PolicyEndpoint').argParser(nonNegativeInt('--endpoint-chunk-size')).default(DEFAULT_CHUNK_SIZE))
    .addHelpText(
      'after',
      [
        '',
        'Needs the PolicyEndpoint CRD (deploy/crds/); watches ClusterPolicyEndpoints and the admin-tier kinds when installed.',
        '',
        'Examples:',
        '  palisade controller --kubeconfig ~/.kube/config --context kind-dev --no-leader-elect',
        '  palisade controller --leader-election-namespace palisade-system --metrics-port 8080 --health-port 8081',
        '  palisade controller --leader-elect=false --metrics-bind-address 127.0.0.1:8080 --health-port 8081',
      ].join('\n'),
    )
    .action(
      action(io, setExit, async (opts: Opts) => {
        if (opts.endpointChunkSize < 1) throw new InputError('--endpoint-chunk-size must be at least 1');
        const kc = new KubeConfig();
        try {
          if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
          else kc.loadFromDefault();
          if (opts.context) kc.setCurrentContext(opts.context);
        } catch (e) {
          throw new InputError(`cannot load the kubeconfig: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (!kc.getCurrentCluster()) throw new InputError('the kubeconfig has no current cluster (use --context)');
        const logger = pino({ name: 'palisade-controller' }, pino.destination(2));
        const c = await runController({
          kubeConfig: kc,
          leaderElect: opts.leaderElect,
          leaseNamespace: opts.leaderElectionNamespace,
          leaseName: opts.leaderElectionLease,
          ...(opts.leaderElectionId ? { identity: opts.leaderElectionId } : {}),
          batchWindowMs: opts.batchWindow,
          chunkSize: opts.endpointChunkSize,
          metricsPort: opts.metricsBindAddress?.port ?? opts.metricsPort,
          ...(opts.metricsBindAddress?.host !== undefined ? { metricsHost: opts.metricsBindAddress.host } : {}),
          ...(opts.healthPort !== undefined ? { healthPort: opts.healthPort } : {}),
          log: (level, msg, fields) => logger[level](fields ?? {}, msg),
        });
        await new Promise<void>((resolve) => {
          const done = () => resolve();
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
        });
        await c.stop();
      }),
    );
};
