/**
 * Loading manifests: files, directories and stdin, YAML (multi-document) or JSON, `List` kinds expanded, every object
 * keeping the line:column of each of its fields so later diagnostics can point at the offending field.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { yamlLib } from './yaml-lib.js';
import type { Document, Node as YamlNode, Pair } from 'yaml';
import type { Diagnostic, PathSegment, SourcePos } from './diagnostics.js';
import { decodeJson, decodeYaml, isJsonStream, parseForPositions, splitJsonStream, splitYamlStream, type DecodeProblem } from './decode.js';

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
  // A byte-order mark is not a column an editor would count.
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines = lineStarts(source);
  const posAt = (offset: number): SourcePos => {
    let lo = 0;
    let hi = lines.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lines[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file, line: lo + 1, column: offset - lines[lo]! + 1 };
  };
  const json = isJsonStream(source);
  const { chunks, problems } = json ? splitJsonStream(source) : splitYamlStream(source);
  for (const p of problems) diagnostics.push({ severity: p.severity, message: p.message, pos: posAt(p.offset) });
  for (const chunk of chunks) {
    if (chunk.rejected) continue;
    const decoded = json ? decodeJsonChunk(chunk.text) : decodeYaml(chunk.text);
    // Offsets of a re-indented chunk still fall on the right line; columns after the fix may shift.
    const at = (offset: number) => posAt(chunk.offset + Math.min(offset, chunk.text.length));
    for (const p of decoded.problems) diagnostics.push({ severity: p.severity, message: p.message, pos: at(p.offset) });
    if (decoded.problems.some((p) => p.severity === 'error')) continue;
    const root = decoded.value;
    if (root === undefined || root === null) continue;
    const locator = chunkLocator(decoded, json);
    const rootPos = at(locator([]));
    if (!isJsonObject(root)) {
      const what = Array.isArray(root) ? 'a list' : `a scalar (${JSON.stringify(root)})`;
      diagnostics.push({ severity: 'error', message: `a manifest document must be a mapping with apiVersion and kind, found ${what}`, pos: rootPos });
      continue;
    }
    addObject(root, [], (path) => at(locator(path)), documents, diagnostics, undefined);
  }
}

/** Field offsets of one decoded chunk, from its parsed tree (JSON chunks are parsed for this only when asked). */
function chunkLocator(decoded: { readonly doc?: Document.Parsed; readonly text: string }, json: boolean): (path: readonly PathSegment[]) => number {
  let doc = decoded.doc;
  let items: number[] | undefined;
  return (path) => {
    // The object's own start needs no tree: its first line that is not blank or a comment; nor do a List's items.
    if (path.length === 0 && !doc) return firstContent(decoded.text);
    if (!doc && !json && path.length === 2 && path[0] === 'items' && typeof path[1] === 'number') {
      items ??= listItemOffsets(decoded.text);
      const at = items[path[1]];
      if (at !== undefined) return at;
    }
    doc ??= parseForPositions(decoded.text, json);
    const root = doc?.contents;
    if (!doc) return 0;
    return root ? locate(root, path, doc) : 0;
  };
}

/**
 * Where each item of a block `items:` list at the top level starts (after its `- `), found by scanning lines: used
 * only for text the fast reader accepted, whose lists are plain block sequences.
 */
function listItemOffsets(text: string): number[] {
  const out: number[] = [];
  const key = /^items:[ \t]*(?:#.*)?$/m.exec(text);
  if (!key) return out;
  let indent = -1;
  let lineStart = text.indexOf('\n', key.index) + 1;
  while (lineStart > 0 && lineStart < text.length) {
    const nl = text.indexOf('\n', lineStart);
    const line = text.slice(lineStart, nl < 0 ? text.length : nl);
    const width = line.length - line.trimStart().length;
    const body = line.trim();
    if (body !== '' && !body.startsWith('#')) {
      const dash = body === '-' || body.startsWith('- ');
      if (indent < 0) {
        if (!dash) break;
        indent = width;
      }
      if (width < indent || (width === indent && !dash)) break; // the list has ended
      if (width === indent) out.push(lineStart + width + (body === '-' ? 1 : 2 + (body.slice(2).length - body.slice(2).trimStart().length)));
    }
    if (nl < 0) break;
    lineStart = nl + 1;
  }
  return out;
}

function firstContent(text: string): number {
  const m = /^(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*/.exec(text);
  return m ? m[0].length : 0;
}

function decodeJsonChunk(text: string): { value?: JsonValue; problems: DecodeProblem[]; text: string } {
  return { ...decodeJson(text), text };
}

function lineStarts(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
}

/** Adds one decoded mapping: a single object, or the items of a list (each with its own position). */
function addObject(
  value: JsonObject,
  prefix: readonly PathSegment[],
  position: (path: readonly PathSegment[]) => SourcePos,
  documents: LoadedDocument[],
  diagnostics: Diagnostic[],
  inherited: { apiVersion: string; kind: string } | undefined,
): void {
  const pos = position(prefix);
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
    itemList.forEach((item, i) => {
      const itemPath = [...prefix, 'items', i];
      if (!isJsonObject(item)) {
        diagnostics.push({ severity: 'error', message: `${kind} item ${i} must be a mapping with apiVersion and kind`, pos: position(itemPath) });
        return;
      }
      addObject(item, itemPath, position, documents, diagnostics, itemType);
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
    position: prefix.length === 0 ? position : (path) => position([...prefix, ...path]),
  });
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
  const target = yamlLib().isAlias(node) ? node.resolve(doc) : node;
  if (!target) return undefined;
  if (yamlLib().isSeq(target) && typeof seg === 'number') {
    const item = target.items[seg];
    return yamlLib().isNode(item) ? { node: item, offset: nodeStart(item) } : undefined;
  }
  if (yamlLib().isMap(target) && typeof seg === 'string') {
    const pairs = target.items as readonly Pair<unknown, unknown>[];
    // Duplicate keys: the last one is the value that counts.
    for (let i = pairs.length - 1; i >= 0; i--) {
      const pair = pairs[i]!;
      if (keyText(pair.key) === seg) {
        const keyOffset = yamlLib().isNode(pair.key) ? nodeStart(pair.key) : nodeStart(target);
        return { node: yamlLib().isNode(pair.value) ? pair.value : undefined, offset: keyOffset };
      }
    }
    for (const pair of pairs) {
      if (keyText(pair.key) === '<<' && yamlLib().isNode(pair.value)) {
        const sources = yamlLib().isSeq(pair.value) ? pair.value.items.filter((n): n is YamlNode => yamlLib().isNode(n)) : [pair.value];
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
  if (yamlLib().isScalar(key)) return typeof key.value === 'symbol' ? key.source : String(key.value);
  if (typeof key === 'string' || typeof key === 'number') return String(key);
  return undefined;
}

function nodeStart(node: YamlNode): number {
  return node.range ? node.range[0] : 0;
}

/** True for a plain object (not an array, not null). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
