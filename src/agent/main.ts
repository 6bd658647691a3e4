/**
 * Process entry of the node agent (what `deploy/agent.yaml` runs).
 *
 *   node dist/agent/main.js --node NAME [--policy-endpoints DIR|FILE | --kubeconfig FILE [--context C]]
 *     [--mode standard|strict] [--netns NS] [--pod-interfaces 'eni*'] [--flow-logs FILE|-] [--flow-logs-accept]
 *     [--metrics-port 9180]
 *
 * PolicyEndpoints come from files (`--policy-endpoints`), from the API server of a kubeconfig, or — with neither, as in
 * the DaemonSet — from the API server through the pod's service account (in-cluster config).
 */
import { parseArgs } from 'node:util';
import { runAgent } from './agent.js';
import { FilePolicyEndpointSource, type PolicyEndpointSource } from './source.js';

const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    'policy-endpoints': { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    mode: { type: 'string', default: 'standard' },
    netns: { type: 'string' },
    'pod-interfaces': { type: 'string' },
    'flow-logs': { type: 'string' },
    'flow-logs-accept': { type: 'boolean', default: false },
    'metrics-port': { type: 'string' },
  },
});

const usage = 'usage: main.js --node NAME [--policy-endpoints DIR|FILE | --kubeconfig FILE [--context C]] [--mode standard|strict] [--netns NS] ...\n';
if (!values.node || (values.mode !== 'standard' && values.mode !== 'strict') || (values['policy-endpoints'] !== undefined && (values.kubeconfig !== undefined || values.context !== undefined))) {
  process.stderr.write(usage);
  process.exit(2);
}

let input: PolicyEndpointSource;
let stopSource = () => undefined as void;
if (values['policy-endpoints'] !== undefined) {
  input = new FilePolicyEndpointSource(values['policy-endpoints']);
} else {
  // Loaded only in live mode: the client library takes a while to import.
  const { KubePolicyEndpointSource, loadKubeConfig } = await import('./kube-source.js');
  const kube = new KubePolicyEndpointSource({
    kubeConfig: await loadKubeConfig({ kubeconfig: values.kubeconfig, context: values.context }),
    log: (level, msg, fields) => process.stderr.write(JSON.stringify({ level, node: values.node, msg, ...fields }) + '\n'),
  });
  await kube.start();
  input = kube;
  stopSource = () => kube.stop();
}

const flowFile = values['flow-logs'];
const agent = await runAgent({
  node: values.node,
  input,
  enforcingMode: values.mode,
  netns: values.netns,
  podInterfaces: values['pod-interfaces'],
  flowLogs: flowFile === undefined ? undefined : { file: flowFile === '-' ? undefined : flowFile, accept: values['flow-logs-accept'] },
  metricsPort: values['metrics-port'] === undefined ? undefined : Number(values['metrics-port']),
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    stopSource();
    agent.stop().then(() => process.exit(0), () => process.exit(1));
  });
}
