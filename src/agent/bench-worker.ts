/**
 * The agent benchmarks that run inside the node's network namespace, started by `benchAgent`, as the agent runs in
 * production: in the node's own namespace, so no nft transaction pays for `ip netns exec`. Prints the rows as JSON on
 * stdout.
 *
 * - `ip netns exec plb-n1 node bench-worker.js 1000 10000`: change → enforced for simulated clusters of these sizes;
 * - `ip netns exec plb-n1 node bench-worker.js --node FILE PATTERN`: the busy-node scenario in FILE (JSON, see
 *   `bench-node.ts`), its local pods on the interfaces matching PATTERN.
 */
import { readFile } from 'node:fs/promises';
import { changeLatency } from './bench.js';
import { measureNode, type NodeScenario } from './bench-node.js';

const args = process.argv.slice(2);
const rows = [];
if (args[0] === '--node') {
  const scenario = JSON.parse(await readFile(args[1], 'utf8')) as NodeScenario;
  rows.push(...(await measureNode(scenario, args[2] ?? 'eni*')));
} else {
  for (const n of args.map(Number)) rows.push(...(await changeLatency(n)));
}
process.stdout.write(JSON.stringify(rows));
