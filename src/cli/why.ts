/**
 * `palisade why FROM TO --port P`: the verdict of one flow, and for each direction who decided it.
 */
import { Option } from 'commander';
import type { Protocol } from '../api/types.js';
import { compile } from '../engine/engine.js';
import type { DirectionVerdict, Verdict } from '../engine/types.js';
import { InvalidArgumentError } from 'commander';
import { domainPeers, parseDnsAnswer, withDnsAnswers } from '../model/aws.js';
import { inputOptions, readInput } from './input.js';
import { action, parsePort, parseProtocol, type Register } from './program.js';

/** `--resolve NAME=IP`, repeatable: the DNS answers domainNames peers are matched against. */
function collectAnswer(text: string, previous: readonly (readonly [string, string])[] = []): (readonly [string, string])[] {
  const answer = parseDnsAnswer(text);
  if (typeof answer === 'string') throw new InvalidArgumentError(answer);
  return [...previous, answer];
}

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
      .option('--resolve <name=ip>', 'a DNS answer for domainNames peers (repeatable); without one they fail closed', collectAnswer)
      .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text')),
  )
    .addHelpText('after', '\nExamples:\n  palisade why a/client a/nginx --port 80 examples/eks-multi-team/\n  palisade why a/client 169.254.169.254 --port 80 examples/eks-multi-team/ -o json\n  palisade why shop/web 203.0.113.7 --port 443 --resolve api.example.com=203.0.113.7 policies/')
    .action(
      action(io, setExit, (from: string, to: string, paths: string[], opts: { port: number; protocol: Protocol; output: string; defaultNamespace: string; quiet?: boolean; resolve?: (readonly [string, string])[] }) => {
        const { cluster } = readInput(paths, io, opts);
        const resolved = withDnsAnswers(cluster, opts.resolve ?? []);
        const engine = compile(resolved);
        // An IP that belongs to a pod names the pod (the verdict keeps the address: in a dual-stack cluster it is
        // exact for that address's family).
        const podOf = (text: string): string | undefined => {
          const end = engine.resolve(text);
          return end.kind === 'endpoint' && end.endpoint.id !== text ? end.endpoint.id : undefined;
        };
        const v = engine.verdict({ from, to, protocol: opts.protocol, port: opts.port });
        const shown = { ...v, flow: { ...v.flow, from: podOf(from) ?? from, to: podOf(to) ?? to } };
        if (opts.output === 'json') {
          io.out(JSON.stringify(shown, null, 2));
          return;
        }
        for (const text of [from, to]) {
          const id = podOf(text);
          if (id) io.out(`(${text} is the IP of ${id})`);
        }

        // The engine cannot know DNS answers: say which domainNames peers it read as matching no address.
        const unanswered = domainPeers(resolved).filter((d) => !d.answered);
        const notes = unanswered.map((d) => `  note: ${d.where} (${d.names.join(', ')}): no --resolve answer, so it matches no address (fail closed)`);
        io.out([renderVerdict(shown), ...notes].join('\n'));
      }),
    );
};
