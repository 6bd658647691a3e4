/**
 * Loading manifests: files, directories and stdin, YAML (multi-document) or JSON, `List` kinds expanded, every object
 * keeping the line:column of each of its fields so later diagnostics can point at the offending field.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import type { Document, Node as YamlNode, Pair } from 'yaml';
import type { Diagnostic, PathSegment, SourcePos } from './diagnostics.js';

/** A JSON value as decoded from YAML or JSON. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** One Kubernetes object read from the input, with where each of its fields was written. */
export interface LoadedDocument {
  /** The decoded object (a mapping); for an item of a typed `*List` missing them, `apiVersion`/`kind` are filled in. */
  readonly value: JsonObject;
  readonly apiVersion: string;
  readonly kind: string;
  /** `metadata.name` as written; absent when it is missing or not a string. */
  readonly name?: string;
  /** `metadata.namespace` as written; absent when not written. */
  readonly namespace?: string;
  /** Where the object starts (its first key). */
  readonly pos: SourcePos;
  /**
   * The position of the deepest node that exists on `path` (a key for a mapping field, the item for a list index).
   * @example doc.position(['spec', 'ingress', 0, 'from']) // the `from:` key of the first ingress rule
   */
  position(path: readonly PathSegment[]): SourcePos;
}

/** Options of {@link loadManifests}. */
export interface LoadOptions {
  /** Reads all of standard input for the `-` input. @default reads file descriptor 0 */
  readonly readStdin?: () => string;
}

/** The name stdin takes in diagnostics. */
export const STDIN_NAME = '<stdin>';

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

/** Kinds without a namespace, so `Kind name` (not `Kind default/name`) names them. */
const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'StorageClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'APIService',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
  'CertificateSigningRequest',
  'AdminNetworkPolicy',
  'BaselineAdminNetworkPolicy',
  'ClusterNetworkPolicy',
]);

/** True for the kinds that have no namespace. */
export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED_KINDS.has(kind);
}

/**
 * Names an object for diagnostics: `Kind namespace/name`, or `Kind name` for cluster-scoped kinds. A namespaced object
 * written without a namespace is shown in `defaultNamespace`.
 */
export function describeObject(doc: LoadedDocument, defaultNamespace = 'default'): string {
  const name = doc.name ?? '<unnamed>';
  if (isClusterScoped(doc.kind)) return `${doc.kind} ${name}`;
  return `${doc.kind} ${doc.namespace ?? defaultNamespace}/${name}`;
}

/**
 * Reads manifests from files, directories (recursively, `.yaml`/`.yml`/`.json`, in sorted order, skipping entries whose
 * name starts with `.`) and `-` (stdin). Multi-document YAML, JSON, `List` and every `*List` kind are understood; empty
 * documents are skipped. Problems come back as diagnostics, never as exceptions.
 * @param inputs paths as the user typed them; they name files in diagnostics.
 * @returns the objects in input order, and the diagnostics.
 * @example loadManifests(['deploy/', '-'], { readStdin: () => helmOutput })
 */
export function loadManifests(
  inputs: readonly string[],
  opts: LoadOptions = {},
): { documents: LoadedDocument[]; diagnostics: Diagnostic[] } {
  const documents: LoadedDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  const seenFiles = new Set<string>();
  let stdinRead = false;

  const loadFile = (file: string): void => {
    const key = canonicalPath(file);
    if (seenFiles.has(key)) return;
    seenFiles.add(key);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      diagnostics.push({ severity: 'error', message: `cannot read ${file}: ${errorText(e)}` });
      return;
    }
    parseSource(text, file, documents, diagnostics);
  };

  for (const input of inputs) {
    if (input === '-') {
      if (stdinRead) continue;
      stdinRead = true;
      let text: string;
      try {
        text = (opts.readStdin ?? readStdinSync)();
      } catch (e) {
        diagnostics.push({ severity: 'error', message: `cannot read standard input: ${errorText(e)}` });
        continue;
      }
      parseSource(text, STDIN_NAME, documents, diagnostics);
      continue;
    }
    let isDir: boolean;
    try {
      isDir = statSync(input).isDirectory();
    } catch (e) {
      const missing = e instanceof Error && 'code' in e && e.code === 'ENOENT';
      diagnostics.push({
        severity: 'error',
        message: missing ? `no such file or directory: ${input}` : `cannot read ${input}: ${errorText(e)}`,
      });
      continue;
    }
    if (isDir) {
      for (const file of manifestFiles(input, diagnostics)) loadFile(file);
    } else {
      loadFile(input);
    }
  }
  return { documents, diagnostics };
}

/**
 * Parses one source text (YAML, possibly multi-document, or JSON) into documents.
 * @param file the name used in positions and diagnostics.
 */
export function parseManifests(text: string, file: string): { documents: LoadedDocument[]; diagnostics: Diagnostic[] } {
  const documents: LoadedDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  parseSource(text, file, documents, diagnostics);
  return { documents, diagnostics };
}

function readStdinSync(): string {
  return readFileSync(0, 'utf8');
}

function errorText(e: unknown): string {
  if (e instanceof Error && 'code' in e && typeof e.code === 'string') {
    if (e.code === 'ENOENT') return 'no such file or directory';
    if (e.code === 'EACCES') return 'permission denied';
    if (e.code === 'EISDIR') return 'is a directory';
    return e.code;
  }
  return e instanceof Error ? e.message : String(e);
}

function canonicalPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/** The manifest files under a directory, depth first in code-point order of names; symlink cycles are not followed. */
function manifestFiles(dir: string, diagnostics: Diagnostic[]): string[] {
  const out: string[] = [];
  const visited = new Set<string>();
  const walk = (d: string): void => {
    const real = canonicalPath(d);
    if (visited.has(real)) return;
    visited.add(real);
    let names: string[];
    try {
      names = readdirSync(d);
    } catch (e) {
      diagnostics.push({ severity: 'error', message: `cannot read directory ${d}: ${errorText(e)}` });
      return;
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const path = join(d, name);
      let isDir: boolean;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        continue; // a dangling symlink: nothing to read
      }
      if (isDir) walk(path);
      else if (MANIFEST_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext))) out.push(path);
    }
  };
  walk(dir);
  return out;
}

function parseSource(text: string, file: string, documents: LoadedDocument[], diagnostics: Diagnostic[]): void {
  const lineCounter = new LineCounter();
  const posAt = (offset: number): SourcePos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  // A byte-order mark is not a column an editor would count.
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const syntax = file.toLowerCase().endsWith('.json') ? 'JSON' : 'YAML';
  const message = (code: string, msg: string, at: readonly [number, number]): string => {
    if (code === 'DUPLICATE_KEY') return `duplicate key ${keyAt(source, at[0])}: keys must be unique`;
    return `invalid ${syntax}: ${msg}`;
  };
  const parsed = parseAllDocuments(source, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  for (const doc of parsed) {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        diagnostics.push({ severity: 'error', message: message(err.code, err.message, err.pos), pos: posAt(err.pos[0]) });
      }
      continue;
    }
    for (const warn of doc.warnings) {
      diagnostics.push({ severity: 'warning', message: message(warn.code, warn.message, warn.pos), pos: posAt(warn.pos[0]) });
    }
    const root = doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) continue;
    const rootPos = posAt(nodeStart(root));
    if (!isMap(root)) {
      diagnostics.push({
        severity: 'error',
        message: `a manifest document must be a mapping with apiVersion and kind, found ${nodeKindName(root)}`,
        pos: rootPos,
      });
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      diagnostics.push({ severity: 'error', message: `cannot decode document: ${errorText(e)}`, pos: rootPos });
      continue;
    }
    if (!isJsonObject(value)) continue; // a mapping always decodes to an object
    addObject(value, root, doc, posAt, documents, diagnostics, undefined);
  }
}

/** Adds one decoded mapping: a single object, or the items of a list (each with its own position). */
function addObject(
  value: JsonObject,
  node: YamlNode,
  doc: Document.Parsed,
  posAt: (offset: number) => SourcePos,
  documents: LoadedDocument[],
  diagnostics: Diagnostic[],
  inherited: { apiVersion: string; kind: string } | undefined,
): void {
  const pos = posAt(nodeStart(node));
  let obj = value;
  if (inherited && obj.apiVersion === undefined && obj.kind === undefined) {
    obj = { apiVersion: inherited.apiVersion, kind: inherited.kind, ...obj };
  }
  const { apiVersion, kind } = obj;
  const problems: string[] = [];
  if (apiVersion === undefined || apiVersion === null || apiVersion === '') problems.push('missing apiVersion');
  else if (typeof apiVersion !== 'string') problems.push('apiVersion must be a string');
  if (kind === undefined || kind === null || kind === '') problems.push('missing kind');
  else if (typeof kind !== 'string') problems.push('kind must be a string');
  if (problems.length > 0 || typeof apiVersion !== 'string' || typeof kind !== 'string') {
    diagnostics.push({ severity: 'error', message: `${problems.join(', ')}: not a Kubernetes object`, pos });
    return;
  }

  const items = obj.items;
  if (kind.endsWith('List') && (Array.isArray(items) || items === undefined || items === null)) {
    const itemList: readonly JsonValue[] = Array.isArray(items) ? items : [];
    // A typed list (PodList) may omit kind/apiVersion on items, as the API's list responses do.
    const itemType = kind === 'List' ? undefined : { apiVersion, kind: kind.slice(0, -'List'.length) };
    const seq = lookupNode(node, ['items'], doc);
    itemList.forEach((item, i) => {
      const itemNode = seq ? lookupNode(seq, [i], doc) : undefined;
      const where = itemNode ?? node;
      if (!isJsonObject(item)) {
        diagnostics.push({
          severity: 'error',
          message: `${kind} item ${i} must be a mapping with apiVersion and kind`,
          pos: posAt(nodeStart(where)),
        });
        return;
      }
      addObject(item, where, doc, posAt, documents, diagnostics, itemType);
    });
    return;
  }

  const metadata = obj.metadata;
  const meta = isJsonObject(metadata) ? metadata : undefined;
  const name = typeof meta?.name === 'string' ? meta.name : undefined;
  const namespace = typeof meta?.namespace === 'string' ? meta.namespace : undefined;
  documents.push({
    value: obj,
    apiVersion,
    kind,
    name,
    namespace,
    pos,
    position: (path) => posAt(locate(node, path, doc)),
  });
}

/** The YAML node at `path` below `node`, if every segment exists. */
function lookupNode(node: YamlNode, path: readonly PathSegment[], doc: Document.Parsed): YamlNode | undefined {
  let current: YamlNode | undefined = node;
  for (const seg of path) {
    if (!current) return undefined;
    const step = childOf(current, seg, doc);
    if (!step) return undefined;
    current = step.node;
  }
  return current;
}

/** The start offset of the deepest existing node on `path`: a field's key, or a list item. */
function locate(root: YamlNode, path: readonly PathSegment[], doc: Document.Parsed): number {
  let node: YamlNode | undefined = root;
  let offset = nodeStart(root);
  for (const seg of path) {
    if (!node) break;
    const step = childOf(node, seg, doc);
    if (!step) break;
    offset = step.offset;
    node = step.node;
  }
  return offset;
}

/** One step down: a mapping's field (offset of its key) or a sequence's item. Follows aliases and merge keys. */
function childOf(
  node: YamlNode,
  seg: PathSegment,
  doc: Document.Parsed,
  depth = 0,
): { node: YamlNode | undefined; offset: number } | undefined {
  if (depth > 20) return undefined;
  const target = isAlias(node) ? node.resolve(doc) : node;
  if (!target) return undefined;
  if (isSeq(target) && typeof seg === 'number') {
    const item = target.items[seg];
    return isNode(item) ? { node: item, offset: nodeStart(item) } : undefined;
  }
  if (isMap(target) && typeof seg === 'string') {
    const pairs = target.items as readonly Pair<unknown, unknown>[];
    for (const pair of pairs) {
      if (keyText(pair.key) === seg) {
        const keyOffset = isNode(pair.key) ? nodeStart(pair.key) : nodeStart(target);
        return { node: isNode(pair.value) ? pair.value : undefined, offset: keyOffset };
      }
    }
    for (const pair of pairs) {
      if (keyText(pair.key) === '<<' && isNode(pair.value)) {
        const sources = isSeq(pair.value) ? pair.value.items.filter(isNode) : [pair.value];
        for (const source of sources) {
          const found = childOf(source, seg, doc, depth + 1);
          if (found) return found;
        }
      }
    }
  }
  return undefined;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return typeof key.value === 'symbol' ? key.source : String(key.value);
  if (typeof key === 'string' || typeof key === 'number') return String(key);
  return undefined;
}

/** The key written at `offset`, quoted or plain, for messages. */
function keyAt(text: string, offset: number): string {
  const m = /^(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:,{}[\]\s][^:,{}[\]\n]*)/.exec(text.slice(offset, offset + 300));
  const raw = m ? m[0].trim() : text.slice(offset, offset + 1);
  return raw.startsWith('"') || raw.startsWith("'") ? raw : JSON.stringify(raw);
}

function nodeStart(node: YamlNode): number {
  return node.range ? node.range[0] : 0;
}

function nodeKindName(node: YamlNode): string {
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return `a scalar (${JSON.stringify(node.value)})`;
  if (isAlias(node)) return 'an alias';
  return 'something else';
}

/** True for a plain object (not an array, not null). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
