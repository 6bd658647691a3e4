/** Clusters for the analyze tests, read from real files through the same reader as the CLI. */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { readCluster, type ReadResult } from '../../src/model/read.js';
import type { Io } from '../../src/cli/program.js';
import { run } from '../../src/cli/main.js';
import { loadAllCommands } from '../../src/cli/commands.js';
import { registerDiff } from '../../src/cli/diff.js';
import { registerGenerate } from '../../src/cli/generate.js';
import { registerLint } from '../../src/cli/lint.js';

export type Obj = Record<string, unknown>;

export function ns(name: string, labels: Record<string, string> = {}): Obj {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export interface PodOpts {
  labels?: Record<string, string>;
  ip?: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  /** Give the pod an owner (a ReplicaSet), as controllers do. @default true */
  owned?: boolean;
}

export function pod(namespace: string, name: string, o: PodOpts = {}): Obj {
  const owned = o.owned ?? true;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: o.labels ?? { app: name },
      ...(owned ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-rs`, uid: `uid-${namespace}-${name}`, controller: true }] } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'x', ...(o.ports ? { ports: o.ports } : {}) }] },
    status: { phase: 'Running', ...(o.ip ? { podIP: o.ip, podIPs: [{ ip: o.ip }] } : {}) },
  };
}

export function np(namespace: string, name: string, spec: Obj): Obj {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

export function svc(namespace: string, name: string, spec: Obj): Obj {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec };
}

/** A fresh temporary directory. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'palisade-analyze-'));
}

/** Writes files (path → objects, or raw text) under a fresh directory and returns it. */
export function writeTree(files: Record<string, readonly Obj[] | string>): string {
  const dir = tempDir();
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, typeof content === 'string' ? content : content.map((o) => stringify(o, { aliasDuplicateObjects: false })).join('---\n'));
  }
  return dir;
}

/** Reads objects written to one YAML file, failing the test on any input error. */
export function readObjects(objects: readonly Obj[]): ReadResult {
  const dir = writeTree({ 'input.yaml': objects });
  const result = readCluster([join(dir, 'input.yaml')]);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((d) => `${d.path}: ${d.message}`).join('; '));
  return result;
}

/** Runs the CLI with the analyze commands registered, capturing output. */
export async function cli(argv: readonly string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => stdin };
  const mine = [registerGenerate, registerLint, registerDiff];
  // The lead may already have registered them in commands.ts; register each once.
  const commands = await loadAllCommands();
  const code = await run(argv, io, [...commands.filter((r) => !mine.includes(r)), ...mine]);
  return { code, out: out.join('\n'), err: err.join('\n') };
}
