/**
 * `palisade why FROM TO --port P`: the verdict of one flow, and for each direction who decided it.
 */
import { Option } from 'commander';
import type { Protocol } from '../api/types.js';
import { compile } from '../engine/engine.js';
import type { DirectionVerdict, Verdict } from '../engine/types.js';
import { inputOptions, readInput } from './input.js';
import { action, parsePort, parseProtocol, type Register } from './program.js';

function describeDirection(d: DirectionVerdict, end: string): string {
  const verdict = d.allowed ? 'allowed' : 'DENIED';
  return `  ${d.direction.padEnd(7)} (${end}): ${verdict} — ${d.summary}`;
}

export function renderVerdict(v: Verdict): string {
  const { flow } = v;
  return [
    `${flow.from} -> ${flow.to} ${flow.protocol}/${flow.port}: ${v.allowed ? 'ALLOWED' : 'DENIED'}`,
    describeDirection(v.egress, `${flow.from} sending`),
    describeDirection(v.ingress, `${flow.to} receiving`),
  ].join('\n');
}

export const registerWhy: Register = (program, io, setExit) => {
  inputOptions(
    program
      .command('why')
      .description('explain one flow: the verdict, and which tier, policy and rule decided each direction')
      .argument('<from>', 'source: endpoint id (namespace/name), external range id, or IP address')
      .argument('<to>', 'destination: endpoint id, external range id, or IP address')
      .argument('[paths...]', 'files, directories or - for stdin (or --kubeconfig for a live cluster)')
      .requiredOption('--port <port>', 'destination port', parsePort)
      .option('--protocol <protocol>', 'TCP, UDP or SCTP', parseProtocol, 'TCP' as Protocol)
      .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text')),
  )
    .addHelpText('after', '\nExamples:\n  palisade why a/client a/nginx --port 80 examples/eks-multi-team/\n  palisade why a/client 169.254.169.254 --port 80 examples/eks-multi-team/ -o json')
    .action(
      action(io, setExit, (from: string, to: string, paths: string[], opts: { port: number; protocol: Protocol; output: string; defaultNamespace: string; quiet?: boolean }) => {
        const { cluster } = readInput(paths, io, opts);
        const engine = compile(cluster);
        // An IP that belongs to a pod names the pod: the answer is about it, not about an address.
        const named = (text: string): string => {
          const end = engine.resolve(text);
          return end.kind === 'endpoint' ? end.endpoint.id : text;
        };
        const [src, dst] = [named(from), named(to)];
        const v = engine.verdict({ from: src, to: dst, protocol: opts.protocol, port: opts.port });
        if (opts.output === 'json') io.out(JSON.stringify(v, null, 2));
        else {
          for (const [text, id] of [[from, src], [to, dst]] as const) if (text !== id) io.out(`(${text} is the IP of ${id})`);
          io.out(renderVerdict(v));
        }
      }),
    );
};
