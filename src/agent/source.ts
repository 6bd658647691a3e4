/**
 * Where the agent's PolicyEndpoints and ClusterPolicyEndpoints come from: files (lab mode), a list set by the program
 * (tests, the lab), or the Kubernetes API (`kube-source.ts`).
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { isClusterPolicyEndpoint, isPolicyEndpoint, type ClusterPolicyEndpoint, type PolicyEndpoint } from '../api/policyendpoint.js';

export interface PolicyEndpointSource {
  /** All PolicyEndpoints now. */
  list(): Promise<PolicyEndpoint[]>;
  /** All ClusterPolicyEndpoints (admin tiers) now. @default none (a source without them) */
  listCluster?(): Promise<ClusterPolicyEndpoint[]>;
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
 * PolicyEndpoints and ClusterPolicyEndpoints from a directory (every `.json`, `.yaml`, `.yml` file in it) or from one
 * file. Other kinds are ignored. A file that fails to parse makes `list()` reject: the agent then keeps its current rules.
 */
export class FilePolicyEndpointSource implements PolicyEndpointSource {
  constructor(private readonly path: string, private readonly debounceMs = 50) {}

  async list(): Promise<PolicyEndpoint[]> {
    return (await this.read()).filter(isPolicyEndpoint);
  }

  async listCluster(): Promise<ClusterPolicyEndpoint[]> {
    return (await this.read()).filter(isClusterPolicyEndpoint);
  }

  private async read(): Promise<unknown[]> {
    const st = await stat(this.path);
    const files = st.isDirectory()
      ? (await readdir(this.path)).filter((f) => /\.(json|ya?ml)$/.test(f) && !f.startsWith('.')).sort().map((f) => join(this.path, f))
      : [this.path];
    const out: unknown[] = [];
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      const docs: unknown[] = f.endsWith('.json') ? [JSON.parse(text)] : parseAllDocuments(text).map((d) => {
        if (d.errors.length > 0) throw new Error(`${f}: ${d.errors[0].message}`);
        return d.toJS();
      });
      out.push(...docs.flatMap(flatten));
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
  constructor(private items: readonly PolicyEndpoint[] = [], private cluster: readonly ClusterPolicyEndpoint[] = []) {}
  async list(): Promise<PolicyEndpoint[]> {
    return [...this.items];
  }
  async listCluster(): Promise<ClusterPolicyEndpoint[]> {
    return [...this.cluster];
  }
  /** Replaces the lists (`cluster` only when given) and notifies watchers. */
  set(items: readonly PolicyEndpoint[], cluster?: readonly ClusterPolicyEndpoint[]): void {
    this.items = items;
    if (cluster) this.cluster = cluster;
    for (const l of this.listeners) l();
  }
  watch(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }
}
