/**
 * The change → enforced benchmark, run by `benchAgent` inside the node's network namespace
 * (`ip netns exec plb-n1 node bench-worker.js 1000 10000`), as the agent runs in production: in the node's own
 * namespace, so no nft transaction pays for `ip netns exec`. Prints the rows as JSON on stdout.
 */
import { changeLatency } from './bench.js';

const rows = [];
for (const n of process.argv.slice(2).map(Number)) rows.push(...(await changeLatency(n)));
process.stdout.write(JSON.stringify(rows));
