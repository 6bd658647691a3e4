/**
 * Where the agent's PolicyEndpoints come from. Lab mode reads them from files; live Kubernetes mode (a watch on
 * `policyendpoints.networking.k8s.aws`) can implement the same interface later.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { isPolicyEndpoint, type PolicyEndpoint } from '../api/policyendpoint.js';

export interface PolicyEndpointSource {
  /** All PolicyEndpoints now. */
  list(): Promise<PolicyEndpoint[]>;
  /** Calls `onChange` (debounced) whenever the set may have changed; returns a function that stops watching. */
  watch(onChange: () => void): () => void;
}

/** Objects of a parsed document: a PolicyEndpoint, a `List`/`PolicyEndpointList`'s items, or an array. */
function flatten(doc: unknown): unknown[] {
  if (Array.isArray(doc)) return doc.flatMap(flatten);
  if (typeof doc === 'object' && doc !== null && Array.isArray((doc as { items?: unknown }).items)) {
    return (doc as { items: unknown[] }).items.flatMap(flatten);
  }
  return [doc];
}

/**
 * PolicyEndpoints from a directory (every `.json`, `.yaml`, `.yml` file in it) or from one file. Other kinds are
 * ignored. A file that fails to parse makes `list()` reject: the agent then keeps its current rules.
 */
export class FilePolicyEndpointSource implements PolicyEndpointSource {
  constructor(private readonly path: string, private readonly debounceMs = 50) {}

  async list(): Promise<PolicyEndpoint[]> {
    const st = await stat(this.path);
    const files = st.isDirectory()
      ? (await readdir(this.path)).filter((f) => /\.(json|ya?ml)$/.test(f) && !f.startsWith('.')).sort().map((f) => join(this.path, f))
      : [this.path];
    const out: PolicyEndpoint[] = [];
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      const docs: unknown[] = f.endsWith('.json') ? [JSON.parse(text)] : parseAllDocuments(text).map((d) => {
        if (d.errors.length > 0) throw new Error(`${f}: ${d.errors[0].message}`);
        return d.toJS();
      });
      for (const o of docs.flatMap(flatten)) if (isPolicyEndpoint(o)) out.push(o);
    }
    return out;
  }

  watch(onChange: () => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    let watcher: FSWatcher | undefined;
    try {
      watcher = fsWatch(this.path, () => {
        clearTimeout(timer);
        timer = setTimeout(onChange, this.debounceMs);
      });
    } catch {
      watcher = undefined;
    }
    return () => {
      clearTimeout(timer);
      watcher?.close();
    };
  }
}

/** A fixed or programmatically replaced list (tests, the lab). */
export class StaticPolicyEndpointSource implements PolicyEndpointSource {
  private listeners = new Set<() => void>();
  constructor(private items: readonly PolicyEndpoint[] = []) {}
  async list(): Promise<PolicyEndpoint[]> {
    return [...this.items];
  }
  /** Replaces the list and notifies watchers. */
  set(items: readonly PolicyEndpoint[]): void {
    this.items = items;
    for (const l of this.listeners) l();
  }
  watch(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }
}
