/**
 * The command-line program: one commander program, each command registered from its own module. Input errors print
 * a clear message and exit 1; usage errors exit 2; nothing a user typed ever produces a stack trace.
 */
import { Command, CommanderError } from 'commander';
import { InputError, formatDiagnostic } from '../api/diagnostics.js';

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

/** Output streams, replaceable in tests. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** True when stderr is a terminal: progress is shown only then. */
  readonly interactive: boolean;
  readonly readStdin: () => string;
}

/** A command module adds itself to the program. `setExit` records the exit code for the run. */
export type Register = (program: Command, io: Io, setExit: (code: number) => void) => void;

/** Wraps a command action so input errors become a message and exit code 1. */
export function action<A extends unknown[]>(io: Io, setExit: (code: number) => void, fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof InputError) {
        for (const d of e.diagnostics) io.err(formatDiagnostic(d));
        io.err(`error: ${e.message}`);
        setExit(EXIT_FINDINGS);
        return;
      }
      throw e;
    }
  };
}

export function parsePort(text: string): number {
  // Digits only: Number() would also read "0x50", "1e2" and "80.0".
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CommanderError(EXIT_USAGE, 'palisade.port', `error: port must be a number from 1 to 65535, got "${text}"`);
  return n;
}

export function parseProtocol(text: string): 'TCP' | 'UDP' | 'SCTP' {
  const p = text.toUpperCase();
  if (p !== 'TCP' && p !== 'UDP' && p !== 'SCTP') throw new CommanderError(EXIT_USAGE, 'palisade.protocol', `error: protocol must be TCP, UDP or SCTP, got "${text}"`);
  return p;
}
