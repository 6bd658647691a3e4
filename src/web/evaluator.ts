/**
 * Evaluation of edited policy texts off the server's request loop: one worker thread (`evaluate-worker.ts`) holds a
 * copy of the workspace and answers one request at a time; each request gets a time budget, and one that runs over it
 * ends the thread (a fresh one starts for the next request) and is answered with a clear error. The loaded policies'
 * answers stay on the main thread: they were computed at start.
 */
import { Worker } from 'node:worker_threads';
import type { MatrixOptions } from '../engine/engine.js';
import type { EvaluateRequest } from './protocol.js';
import type { WhyQuery } from './workspace.js';

/** What the worker is built from: the server's inputs and the text of every file it read. */
export interface EvaluatorSetup {
  readonly inputs: readonly string[];
  readonly texts: readonly (readonly [string, string])[];
  readonly defaultNamespace: string;
}

/** One request to the worker. */
export type EvaluatorRequest = { readonly id: number } & (
  | { readonly method: 'evaluate'; readonly request: EvaluateRequest }
  | { readonly method: 'why'; readonly query: WhyQuery }
  | { readonly method: 'policies'; readonly yaml: string }
  | { readonly method: 'matrix'; readonly yaml: string; readonly options: MatrixOptions }
);

type Question = EvaluatorRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** The worker's reply to an {@link EvaluatorRequest}. */
interface Reply {
  readonly id?: number;
  readonly ready?: boolean;
  readonly value?: unknown;
  readonly error?: string;
  readonly input?: boolean;
}

/** An edit that ran over its time budget, or a worker that failed: the server answers 503 with the message. */
export class EvaluationTimeout extends Error {}

/** An error in the edited text: the server answers 400 with the message. */
export class EvaluationInputError extends Error {}

interface Pending {
  readonly question: Question;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
}

/** Where the worker script is: beside this module, TypeScript when running from sources (tests). */
function workerScript(): { url: URL; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(`./evaluate-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  // From sources the thread needs TypeScript: a loader that transpiles with esbuild (a devDependency).
  const execArgv = fromSource ? ['--import', new URL('../../scripts/ts-worker-hooks.mjs', import.meta.url).href] : [];
  return { url, execArgv };
}

/** Options of {@link EditEvaluator}. */
export interface EvaluatorOptions {
  /** Time budget of one request, from when the worker starts on it. @default 20000 */
  readonly budgetMs?: number;
  /** Heap of the worker thread. @default 1024 */
  readonly maxHeapMb?: number;
}

/** Runs edit evaluations in a worker thread, one at a time, each within a time budget. */
export class EditEvaluator {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly queue: Pending[] = [];
  private current: (Pending & { id: number; timer: NodeJS.Timeout | undefined }) | undefined;
  private nextId = 1;
  private closed = false;
  readonly budgetMs: number;

  constructor(
    private readonly setup: EvaluatorSetup,
    private readonly opts: EvaluatorOptions = {},
  ) {
    this.budgetMs = opts.budgetMs ?? 20_000;
  }

  /** Asks the worker; resolves with its answer, rejects with {@link EvaluationTimeout} or {@link EvaluationInputError}. */
  ask<T>(question: Question): Promise<T> {
    if (this.closed) return Promise.reject(new EvaluationTimeout('the server is stopping'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ question, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private start(): void {
    const { url, execArgv } = workerScript();
    const worker = new Worker(url, { workerData: this.setup, execArgv, resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb ?? 1024 } });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      const onReady = (m: Reply) => {
        if (m.ready) {
          worker.off('message', onReady);
          resolve();
        }
      };
      worker.on('message', onReady);
      worker.once('error', reject);
    });
    worker.on('message', (m: Reply) => this.reply(m));
    worker.on('error', (e: Error) => this.failed(worker, e.message));
    worker.on('exit', () => this.failed(worker, 'the evaluation worker stopped'));
  }

  private failed(worker: Worker, why: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const c = this.current;
    this.current = undefined;
    if (c) {
      clearTimeout(c.timer);
      c.reject(new EvaluationTimeout(`evaluating the edit failed: ${why}`));
    }
    this.pump();
  }

  private pump(): void {
    if (this.current || this.closed) return;
    const next = this.queue.shift();
    if (!next) return;
    if (!this.worker) this.start();
    const worker = this.worker!;
    const id = this.nextId++;
    this.current = { ...next, id, timer: undefined };
    // The budget runs from when the worker starts on the request (its own start-up is not the edit's cost).
    this.ready!.then(
      () => {
        if (this.current?.id !== id) return;
        this.current.timer = setTimeout(() => {
          if (this.current?.id !== id) return;
          this.current = undefined;
          this.worker = undefined;
          void worker.terminate();
          next.reject(new EvaluationTimeout(`evaluating the edit took longer than ${this.budgetMs / 1000} s and was stopped: make the edit smaller (fewer documents, policies or rules)`));
          this.pump();
        }, this.budgetMs);
        worker.postMessage({ id, ...next.question });
      },
      (e: unknown) => this.failed(worker, e instanceof Error ? e.message : String(e)),
    );
  }

  private reply(m: Reply): void {
    const c = this.current;
    if (m.id === undefined || !c || c.id !== m.id) return;
    clearTimeout(c.timer);
    this.current = undefined;
    if (m.error !== undefined) c.reject(m.input ? new EvaluationInputError(m.error) : new Error(m.error));
    else c.resolve(m.value);
    this.pump();
  }

  /** Ends the worker; pending requests are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new EvaluationTimeout('the server is stopping'));
    const w = this.worker;
    this.worker = undefined;
    if (this.current) {
      clearTimeout(this.current.timer);
      this.current.reject(new EvaluationTimeout('the server is stopping'));
      this.current = undefined;
    }
    await w?.terminate();
  }
}
