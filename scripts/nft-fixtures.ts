/**
 * Regenerates test/fixtures/nft/*.json (root): compiles a few random nodes' tables, loads each into a throwaway network
 * namespace, and stores what `nft -j list table inet palisade` prints next to the compiler's input. The fixtures are
 * machine output, read back by test/nft/kernel.test.ts.
 *
 *   sudo npx vite-node scripts/nft-fixtures.ts [--pick]     # --pick: list the richest seeds instead of writing
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../src/controller/resolve.js';
import { compile } from '../src/engine/engine.js';
import { compileNode, countState, type CompileOptions, type NodeInput } from '../src/nft/compile.js';
import { renderFull } from '../src/nft/script.js';
import { clusterArb } from '../src/scenarios/random.js';

const NETNS = 'pkf-fixtures';

function nodeInput(seed: number, mode: 'standard' | 'strict'): NodeInput {
  const [cluster] = fc.sample(clusterArb({ tiers: true, maxPods: 8, maxPolicies: 4 }), { numRuns: 1, seed });
  const engine = compile(cluster);
  const node = cluster.nodes[0];
  const pods = cluster.endpoints
    .filter((e) => e.kind === 'Pod' && e.nodeName === node.name && e.ips.length > 0)
    .map((e, i) => ({ name: e.name, namespace: e.namespace, ips: e.ips, ifname: `eni${i}` }));
  return { policyEndpoints: resolvePolicyEndpoints(engine), clusterPolicyEndpoints: resolveClusterPolicyEndpoints(engine), pods, nodeAddresses: [...node.addresses, 'fd00:99::11'], mode };
}

if (process.argv.includes('--pick')) {
  const scored = [];
  for (let seed = 1; seed <= 400; seed++) {
    const s = compileNode(nodeInput(seed, 'standard'));
    const names = [...s.sets.keys()];
    scored.push({ seed, elements: countState(s).elements, cp: names.filter((n) => n.startsWith('cp_')).length, pe: names.filter((n) => n.startsWith('pe_')).length, six: names.filter((n) => /6[ap]$/.test(n)).length });
  }
  scored.sort((a, b) => (process.env.BY_PE ? b.pe * 10 - a.pe * 10 : 0) + b.cp * 3 + b.pe + b.elements / 4 - (a.cp * 3 + a.pe + a.elements / 4));
  console.log(scored.slice(0, 15));
  process.exit(0);
}

const FIXTURES: { file: string; seed: number; mode: 'standard' | 'strict'; options: CompileOptions }[] = [
  { file: 'tiers-standard', seed: 250, mode: 'standard', options: {} },
  { file: 'tiers-strict-logs', seed: 99, mode: 'strict', options: { logGroup: 7, logAccept: true, podInterfaces: 'eni*' } },
  { file: 'networkpolicy-logs', seed: 92, mode: 'standard', options: { logGroup: 7 } },
];

execFileSync('ip', ['netns', 'add', NETNS]);
try {
  for (const f of FIXTURES) {
    const input = nodeInput(f.seed, f.mode);
    writeFileSync('/tmp/pkf-table.nft', renderFull(compileNode(input, f.options)));
    execFileSync('ip', ['netns', 'exec', NETNS, 'nft', '-f', '/tmp/pkf-table.nft']);
    const nft = JSON.parse(execFileSync('ip', ['netns', 'exec', NETNS, 'nft', '-j', 'list', 'table', 'inet', 'palisade'], { encoding: 'utf8' })) as unknown;
    const version = execFileSync('nft', ['--version'], { encoding: 'utf8' }).trim();
    const fixture = { about: `nft -j list table inet palisade after loading renderFull(compileNode(input, options)); ${version}; seed ${f.seed} of scripts/nft-fixtures.ts`, input, options: f.options, nft };
    writeFileSync(`test/fixtures/nft/${f.file}.json`, JSON.stringify(fixture, null, 1) + '\n');
    console.log(`test/fixtures/nft/${f.file}.json`);
  }
} finally {
  execFileSync('ip', ['netns', 'del', NETNS]);
}
