/**
 * Process entry of the node agent (lab mode: PolicyEndpoints from files).
 *
 *   node dist/agent/main.js --node n1 --policy-endpoints /etc/palisade/pe [--mode strict] [--netns pl-n1]
 *     [--pod-interfaces 'eni*'] [--flow-logs FILE|-] [--flow-logs-accept] [--metrics-port 9180]
 */
import { parseArgs } from 'node:util';
import { runAgent } from './agent.js';
import { FilePolicyEndpointSource } from './source.js';

const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    'policy-endpoints': { type: 'string' },
    mode: { type: 'string', default: 'standard' },
    netns: { type: 'string' },
    'pod-interfaces': { type: 'string' },
    'flow-logs': { type: 'string' },
    'flow-logs-accept': { type: 'boolean', default: false },
    'metrics-port': { type: 'string' },
  },
});

if (!values.node || !values['policy-endpoints'] || (values.mode !== 'standard' && values.mode !== 'strict')) {
  process.stderr.write('usage: main.js --node NAME --policy-endpoints DIR|FILE [--mode standard|strict] [--netns NS] ...\n');
  process.exit(2);
}

const flowFile = values['flow-logs'];
const agent = await runAgent({
  node: values.node,
  input: new FilePolicyEndpointSource(values['policy-endpoints']),
  enforcingMode: values.mode,
  netns: values.netns,
  podInterfaces: values['pod-interfaces'],
  flowLogs: flowFile === undefined ? undefined : { file: flowFile === '-' ? undefined : flowFile, accept: values['flow-logs-accept'] },
  metricsPort: values['metrics-port'] === undefined ? undefined : Number(values['metrics-port']),
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    agent.stop().then(() => process.exit(0), () => process.exit(1));
  });
}
