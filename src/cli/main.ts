#!/usr/bin/env node
/**
 * `palisade` (also `kubectl-palisade`, so `kubectl palisade matrix ...` works as a kubectl plugin).
 */
import { readFileSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE, type Io, type Register } from './program.js';
import { commandTable } from './commands.js';

/**
 * The commands a run needs: the one named on the command line (also after `help`), loaded; the others only listed
 * by name and description, for `--help`.
 */
async function registersFor(argv: readonly string[]): Promise<Register[]> {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return Promise.all(
    commandTable.map(async (entry): Promise<Register> => {
      if (entry.name === name) return entry.load();
      return (program) => {
        program.command(entry.name).description(entry.description);
      };
    }),
  );
}

/**
 * Runs the program on `argv` (without node and script) and resolves to the exit code.
 * @param registers the commands to register; by default only the one `argv` names is loaded.
 */
export async function run(argv: readonly string[], io: Io, registers?: readonly Register[]): Promise<number> {
  const chosen = registers ?? (await registersFor(argv));
  let exit = 0;
  const setExit = (code: number) => {
    exit = Math.max(exit, code);
  };
  const program = new Command()
    .name('palisade')
    .description('Kubernetes network policy, complete: check, matrix, why, explain and more, on one semantic core.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .showHelpAfterError('(run with --help for usage and an example)');
  for (const register of chosen) register(program, io, setExit);
  for (const cmd of program.commands) cmd.exitOverride().configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      if (e.code.startsWith('palisade.')) io.err(e.message);
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    throw e;
  }
  return exit;
}

/**
 * Terminal-safe text: control characters (and the bidirectional overrides) an object name could carry are shown
 * escaped, so a name cannot move the cursor, clear the screen or reorder what is printed. Newlines and tabs stay.
 */
export function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return `\\u${code.toString(16).padStart(4, '0')}`; // valid in JSON and YAML strings too
  });
}

export const processIo: Io = {
  out: (text) => process.stdout.write(`${escapeControl(text)}\n`),
  err: (text) => process.stderr.write(`${escapeControl(text)}\n`),
  interactive: Boolean(process.stderr.isTTY),
  readStdin: () => readFileSync(0, 'utf8'),
};

function isMain(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** A reader that went away (`palisade why --help | head`) ends the program quietly, as other command-line tools do. */
function exitOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

if (isMain()) {
  exitOnClosedPipe(process.stdout);
  exitOnClosedPipe(process.stderr);
  run(process.argv.slice(2), processIo).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      // A bug, not an input error: say so plainly, with the stack for a bug report.
      process.stderr.write(`palisade: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
