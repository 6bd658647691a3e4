/**
 * Runs nft transactions, optionally inside a network namespace (`ip netns exec`). A script is first written in full
 * to a file and only then handed to `nft -f FILE`: piping it to `nft -f -` would let an agent killed mid-write hand nft
 * a truncated — yet syntactically valid — transaction.
 */
import { execFile } from 'node:child_process';
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
