/**
 * Process entry of the node agent (what `deploy/agent.yaml` runs).
 *
 *   node dist/agent/main.js --node NAME [--policy-endpoints DIR|FILE | --kubeconfig FILE [--context C]]
 *     [--mode standard|strict] [--netns NS] [--pod-interfaces 'eni*'] [--flow-logs FILE|-] [--flow-logs-accept]
 *     [--metrics-port 9180] [--manifests PATH]...
 *
 * PolicyEndpoints come from files (`--policy-endpoints`), from the API server of a kubeconfig, or — with neither, as in
 * the DaemonSet — from the API server through the pod's service account (in-cluster config). `--manifests` (optional,
 * repeatable) compiles the engine from manifests to name the deciding rule in flow logs and flag disagreement.
 */
import { parseArgs } from 'node:util';
import { runAgent } from './agent.js';
import type { FlowExplainer } from './flowlog.js';
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
    manifests: { type: 'string', multiple: true },
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

let explain: FlowExplainer | undefined;
if (values.manifests !== undefined) {
  // Loaded only when asked: the engine is not needed to enforce.
  const [{ readCluster }, { compile }, { engineExplainer }] = await Promise.all([import('../model/read.js'), import('../engine/engine.js'), import('./explain.js')]);
  const { cluster, diagnostics } = readCluster(values.manifests);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    process.stderr.write(`--manifests: ${errors.length} error(s) in the manifests; fix them or run \`palisade check\`\n`);
    process.exit(2);
  }
  explain = engineExplainer(compile(cluster));
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
  explain,
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    stopSource();
    agent.stop().then(() => process.exit(0), () => process.exit(1));
  });
}
