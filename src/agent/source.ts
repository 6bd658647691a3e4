/**
 * Where the agent's PolicyEndpoints and ClusterPolicyEndpoints come from: files (lab mode), a list set by the program
 * (tests, the lab), or the Kubernetes API (`kube-source.ts`).
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isNode, LineCounter, parseAllDocuments } from 'yaml';
import { formatDiagnostic, InputError, type PathSegment } from '../api/diagnostics.js';
import type { ClusterPolicyEndpoint, PolicyEndpoint } from '../api/policyendpoint.js';
import { checkEndpointObjects, type CheckedEndpoints, type RawEndpointObject, type UnenforceableEntry } from '../api/validate-policyendpoint.js';

export interface PolicyEndpointSource {
  /** All PolicyEndpoints now. */
  list(): Promise<PolicyEndpoint[]>;
  /** All ClusterPolicyEndpoints (admin tiers) now. @default none (a source without them) */
  listCluster?(): Promise<ClusterPolicyEndpoint[]>;
  /** Calls `onChange` (debounced) whenever the set may have changed; returns a function that stops watching. */
  watch(onChange: () => void): () => void;
  /**
   * Entries of the objects last listed that the agent does not enforce (a `domainName`, no `cidr`, …): the source
   * left them out after validation. @default none
   */
  unenforceable?(): readonly UnenforceableEntry[];
}

/** Objects of a parsed document with their path in it: a PolicyEndpoint, a `List`'s items, or an array. */
function flatten(doc: unknown, at: readonly PathSegment[] = []): { value: unknown; at: readonly PathSegment[] }[] {
  if (Array.isArray(doc)) return doc.flatMap((d, i) => flatten(d, [...at, i]));
  if (typeof doc === 'object' && doc !== null && Array.isArray((doc as { items?: unknown }).items)) {
    return (doc as { items: unknown[] }).items.flatMap((d, i) => flatten(d, [...at, 'items', i]));
  }
  return [{ value: doc, at }];
}

/**
 * PolicyEndpoints and ClusterPolicyEndpoints from a directory (every `.json`, `.yaml`, `.yml` file in it) or from one
 * file. Other kinds are ignored. A file that fails to parse makes `list()` reject: the agent then keeps its current rules.
 */
export class FilePolicyEndpointSource implements PolicyEndpointSource {
  private dropped: readonly UnenforceableEntry[] = [];

  constructor(private readonly path: string, private readonly debounceMs = 50) {}

  /** The valid PolicyEndpoints; rejects (naming file:line, object and field) when any object is invalid. */
  async list(): Promise<PolicyEndpoint[]> {
    return (await this.check()).policyEndpoints;
  }

  async listCluster(): Promise<ClusterPolicyEndpoint[]> {
    return (await this.check()).clusterPolicyEndpoints;
  }

  unenforceable(): readonly UnenforceableEntry[] {
    return this.dropped;
  }

  private async check(): Promise<CheckedEndpoints> {
    const checked = checkEndpointObjects(await this.read());
    if (checked.errors.length > 0) throw new InputError(`${checked.errors.length} invalid field(s); keeping the current rules:\n${checked.errors.map(formatDiagnostic).join('\n')}`);
    this.dropped = checked.unenforceable;
    return checked;
  }

  private async read(): Promise<RawEndpointObject[]> {
    const st = await stat(this.path);
    const files = st.isDirectory()
      ? (await readdir(this.path)).filter((f) => /\.(json|ya?ml)$/.test(f) && !f.startsWith('.')).sort().map((f) => join(this.path, f))
      : [this.path];
    const out: RawEndpointObject[] = [];
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      // JSON files too go through the YAML parser (JSON is YAML): it knows the line of every field.
      const lines = new LineCounter();
      for (const d of parseAllDocuments(text, { lineCounter: lines })) {
        if (d.errors.length > 0) {
          const at = lines.linePos(d.errors[0].pos[0]);
          throw new InputError(`${f}:${at.line}:${at.col}: ${d.errors[0].message.split('\n')[0]}`);
        }
        const lineAt = (path: readonly PathSegment[]): number | undefined => {
          const node = d.getIn(path, true);
          return isNode(node) && node.range ? lines.linePos(node.range[0]).line : undefined;
        };
        for (const { value, at } of flatten(d.toJS())) {
          out.push({ value, source: f, line: lineAt(at), lineOf: (path) => {
            // The line of the deepest part of the path that exists (a missing field: its parent).
            for (let n = path.length; n >= 0; n--) {
              const line = lineAt([...at, ...path.slice(0, n)]);
              if (line !== undefined) return line;
            }
            return undefined;
          } });
        }
      }
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
