/**
 * Runs nft transactions, optionally inside a network namespace (`ip netns exec`). A script is first written in full
 * to a file and only then handed to `nft -f FILE`: piping it to `nft -f -` would let an agent killed mid-write hand nft
 * a truncated — yet syntactically valid — transaction.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where commands run: the current network namespace, or a named one. */
export interface Netns {
  /** `ip netns` name. @default undefined (the agent's own namespace) */
  readonly netns?: string;
}

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command (in `netns` when given); rejects with stderr on a non-zero exit. */
export function run(cmd: string, args: readonly string[], where: Netns = {}, timeoutMs = 30_000): Promise<CommandResult> {
  const [file, argv] = where.netns ? ['ip', ['netns', 'exec', where.netns, cmd, ...args]] : [cmd, [...args]];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** Applies one nft script as one transaction. Does nothing for an empty script. */
export async function applyScript(script: string, where: Netns = {}): Promise<void> {
  if (script === '') return;
  const dir = await mkdtemp(join(tmpdir(), 'palisade-nft-'));
  const file = join(dir, 'tx.nft');
  try {
    await writeFile(file, script, { flag: 'wx' });
    await run('nft', ['-f', file], where);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Removes the table if present (agent uninstall, lab teardown). */
export async function deleteTable(table: string, where: Netns = {}): Promise<void> {
  await applyScript(`add table inet ${table}\ndelete table inet ${table}\n`, where);
}

/** Reads the named counters of the table (for /metrics; never on the sync path). */
export async function readCounters(table: string, where: Netns = {}): Promise<Map<string, number>> {
  const { stdout } = await run('nft', ['-j', 'list', 'counters', 'table', 'inet', table], where);
  const out = new Map<string, number>();
  const parsed = JSON.parse(stdout) as { nftables: { counter?: { name: string; packets: number } }[] };
  for (const o of parsed.nftables) if (o.counter) out.set(o.counter.name, o.counter.packets);
  return out;
}

/**
 * A long-lived `nft -i` (in `netns` when given) that applies transactions one at a time. Each transaction is written
 * in full to a file first and then handed over as one `include "FILE"` line: nft reads the file as one batch, so an
 * agent killed at any moment leaves all-old or all-new (a cut-off line is a syntax error, never a shorter batch).
 *
 * Why not `nft -f` per transaction: nft's exit closes its netlink socket, and the kernel makes that close wait until
 * objects the transaction removed are freed (an RCU grace period, ~15 ms here) — after the commit, so time spent on
 * nothing. A session keeps the socket, and also pays `ip netns exec` and nft's start-up once.
 */
export class NftSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private dir: string | undefined;
  private out = '';
  private seq = 0;
  private waiting: { marker: string; resolve: (text: string) => void; reject: (e: Error) => void } | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly where: Netns = {}, private readonly timeoutMs = 30_000) {}

  /** Applies one script as one transaction; rejects with nft's errors (the kernel then kept the previous state). */
  apply(script: string): Promise<void> {
    if (script === '') return Promise.resolve();
    const next = this.queue.then(() => this.applyNow(script));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The directory holding the transaction files while they are applied (`tx-N.nft`), once the session started. */
  get directory(): string | undefined {
    return this.dir;
  }

  /** Ends the nft process. */
  async close(): Promise<void> {
    await this.queue;
    this.stopChild();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private async applyNow(script: string): Promise<void> {
    const child = await this.ensure();
    const file = join(this.dir!, `tx-${++this.seq}.nft`);
    // Synchronous on purpose: a small file in a directory of our own takes well under a millisecond, while a round trip
    // through libuv's thread pool took up to 9 ms on a busy node (measured), on the path from a change to the kernel.
    writeFileSync(file, script, { flag: 'wx' });
    // The marker is a file that never exists: its "File not found" error ends this transaction's output.
    const marker = join(this.dir!, `end-${this.seq}`);
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiting = undefined;
          this.stopChild();
          reject(new Error(`nft did not answer within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
        this.waiting = {
          marker,
          resolve: (t) => { clearTimeout(timer); resolve(t); },
          reject: (e) => { clearTimeout(timer); reject(e); },
        };
        child.stdin.write(`include "${file}"\ninclude "${marker}"\n`);
      });
      const errors = text.split('\n').filter((l) => /Error:/.test(l));
      if (errors.length > 0) throw new Error(`nft ${file}: ${text.trim()}`);
    } finally {
      rmSync(file, { force: true });
    }
  }

  private async ensure(): Promise<ChildProcessWithoutNullStreams> {
    if (this.child && this.child.exitCode === null && !this.child.killed) return this.child;
    this.dir ??= await mkdtemp(join(tmpdir(), 'palisade-nft-'));
    const argv = ['sh', '-c', 'exec nft -i 2>&1'];
    const child = this.where.netns ? spawn('ip', ['netns', 'exec', this.where.netns, ...argv]) : spawn(argv[0], argv.slice(1));
    this.out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => this.onOutput(d));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(new Error(`nft exited (${code ?? signal}): ${this.out.trim()}`));
    });
    child.on('error', (e) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(e);
    });
    this.child = child;
    return child;
  }

  private onOutput(d: string): void {
    this.out += d;
    const w = this.waiting;
    if (!w) return;
    const end = `Error: File not found: ${w.marker}\n`;
    const at = this.out.indexOf(end);
    if (at < 0) return;
    const text = this.out.slice(0, at);
    // What follows the marker's own error line (its echo and carets) is dropped once the next transaction starts.
    this.out = '';
    this.waiting = undefined;
    w.resolve(text.replace(/^include "[^"]*end-\d+"\n\^+\n/gm, ''));
  }

  private stopChild(): void {
    const c = this.child;
    this.child = undefined;
    if (c && c.exitCode === null) {
      c.stdin.end();
      c.kill('SIGTERM');
    }
  }
}
