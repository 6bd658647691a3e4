#!/usr/bin/env node
/**
 * `palisade` (also `kubectl-palisade`, so `kubectl palisade matrix ...` works as a kubectl plugin).
 */
import { readFileSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE, type Io, type Register } from './program.js';
import { commands } from './commands.js';

/** Runs the program on `argv` (without node and script) and resolves to the exit code. */
export async function run(argv: readonly string[], io: Io, registers: readonly Register[] = commands): Promise<number> {
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
  for (const register of registers) register(program, io, setExit);
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

export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
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

if (isMain()) {
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
