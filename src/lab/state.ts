/**
 * What a lab created, on disk under /run/palisade-lab/, written before each thing is created so that `labDown` can
 * remove everything even after a crash.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Protocol } from '../api/types.js';

export const DEFAULT_STATE_DIR = '/run/palisade-lab';
export const DEFAULT_PREFIX = 'pl-';

export interface LabPort {
  readonly port: number;
  readonly protocol: Protocol;
}

/** A pod or external host with a probe helper. */
export interface LabEndpoint {
  /** `namespace/name` for pods, `internet` / `metadata` for the external hosts. */
  readonly id: string;
  readonly netns: string;
  readonly ip: string;
  /** Its IPv6 address, in a dual-stack lab. */
  readonly ip6?: string;
  readonly ports: readonly LabPort[];
  readonly sock: string;
  readonly kind: 'pod' | 'external';
}

export interface LabState {
  readonly prefix: string;
  /** Every namespace created (or about to be), in creation order. */
  netns: string[];
  endpoints: LabEndpoint[];
  helperPids: number[];
}

export function statePath(stateDir: string, prefix: string): string {
  return join(stateDir, `${prefix}state.json`);
}

export async function readState(stateDir: string, prefix: string): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(statePath(stateDir, prefix), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

const writing = new Map<string, Promise<void>>();
let tmpCounter = 0;

/**
 * Writes atomically (temp file + rename) so a crash never leaves a torn state file. Writes of one file are serialised
 * and each uses its own temp name: two helpers starting in parallel once raced on one temp file.
 */
export function writeState(stateDir: string, s: LabState): Promise<void> {
  const p = statePath(stateDir, s.prefix);
  const text = JSON.stringify(s, null, 1);
  const next = (writing.get(p) ?? Promise.resolve()).then(async () => {
    await mkdir(stateDir, { recursive: true });
    const tmp = `${p}.${process.pid}.${++tmpCounter}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, p);
  });
  writing.set(p, next.catch(() => undefined));
  return next;
}

export async function removeState(stateDir: string, prefix: string): Promise<void> {
  await rm(statePath(stateDir, prefix), { force: true });
}
