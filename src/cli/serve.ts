/**
 * `palisade serve PATH...`: a local web UI over the engine — matrix, graph, why, policies in plain words, and an
 * editor whose changes recompute the matrix. Binds to 127.0.0.1 unless told otherwise; stops on SIGINT or SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { STDIN_NAME } from '../api/load.js';
import { defaultStaticDir, isLoopbackHost, startWebServer } from '../web/server.js';
import { Workspace } from '../web/workspace.js';
import { inputOptions, readInput } from './input.js';
import { action, EXIT_USAGE, type Io, type Register } from './program.js';

/** Resolves when the server should stop. */
export type StopSignal = () => Promise<void>;

/** Waits for SIGINT or SIGTERM. */
export const untilSignal: StopSignal = () =>
  new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

/** Like the shared port parser, but 0 (any free port) is allowed. */
function parseListenPort(text: string): number {
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CommanderError(EXIT_USAGE, 'palisade.port', `error: port must be a number from 0 to 65535, got "${text}"`);
  return n;
}

function parseSeconds(text: string): number {
  const n = /^[0-9]{1,4}(\.[0-9]+)?$/.test(text) ? Number(text) : NaN;
  if (!(n > 0)) throw new CommanderError(EXIT_USAGE, 'palisade.evalTimeout', `error: --eval-timeout must be a number of seconds above 0, got "${text}"`);
  return n;
}

interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly defaultNamespace: string;
  readonly quiet?: boolean;
  readonly evalTimeout: number;
}

/** The serve command, stopping when `stop` resolves (tests pass their own). */
export function serveCommand(stop: StopSignal = untilSignal): Register {
  return (program, io: Io, setExit) => {
    inputOptions(
      program
        .command('serve')
        .description('a local web UI: matrix, graph, why, policies in plain words, and a live policy editor')
        .argument('<paths...>', 'files, directories or - for stdin')
        .option('--port <port>', 'port to listen on (0: any free port)', parseListenPort, 8080)
        .option('--host <host>', 'address to listen on; anything but loopback exposes your policies to the network', '127.0.0.1')
        .option('--eval-timeout <seconds>', 'time budget of one edit evaluation (off the request loop); an edit over it gets an error', parseSeconds, 20),
    )
      .addHelpText('after', '\nExamples:\n  palisade serve examples/eks-multi-team/\n  palisade serve manifests/ --port 9000')
      .action(
        action(io, setExit, async (paths: string[], opts: ServeOptions) => {
          let stdinText: string | undefined;
          const captured: Io = { ...io, readStdin: () => (stdinText = io.readStdin()) };
          const read = readInput(paths, captured, opts);
          const texts = new Map<string, string>();
          for (const doc of read.documents) {
            const file = doc.pos.file;
            if (texts.has(file)) continue;
            if (file === STDIN_NAME) texts.set(file, stdinText ?? '');
            else {
              try {
                texts.set(file, readFileSync(file, 'utf8'));
              } catch {
                // Unreadable now: its policies are written out from their values instead.
              }
            }
          }
          const workspace = new Workspace(paths, read, texts, opts.defaultNamespace);
          if (!isLoopbackHost(opts.host)) {
            io.err(`WARNING: --host ${opts.host} is not loopback: anyone who can reach this address reads every policy, comment, file path, pod name and IP you loaded, without authentication. Use --host 127.0.0.1 unless you mean it.`);
          }
          const web = await startWebServer({ workspace, host: opts.host, port: opts.port, evaluator: { inputs: paths, texts: [...texts], defaultNamespace: opts.defaultNamespace, budgetMs: opts.evalTimeout * 1000 } });
          if (!defaultStaticDir()) io.err('warning: the web UI bundle is not built (npm run build:web); only the JSON API under /api/ works');
          io.out(`Palisade UI: ${web.url}  (${read.cluster.endpoints.length} endpoints, ${read.cluster.policies.length + read.cluster.tierPolicies.length} policies; Ctrl-C stops)`);
          await stop();
          await web.close();
        }),
      );
  };
}

/** `palisade serve`. */
export const registerServe: Register = serveCommand();
