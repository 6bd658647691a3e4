/**
 * Decoding manifest text the way kubectl 1.30 does, so that what Palisade reads is what a cluster would receive:
 *
 * - a stream whose first non-blank character is `{` is a JSON stream (apimachinery's `GuessJSONStream`): standard JSON,
 *   so trailing commas and unquoted keys are errors; otherwise it is YAML split on `---` lines (apimachinery's
 *   `YAMLReader`: a line starting with `---` followed by nothing but blanks or a comment; anything else after `---`
 *   is an error);
 * - each YAML document is decoded as go-yaml v2 decodes it into `interface{}` and sigs.k8s.io/yaml turns it into JSON:
 *   YAML 1.1 scalars (`yes/no/on/off/y/n` booleans, `010` octal, `0x1F`, `1_000`, timestamps become RFC 3339 text, no
 *   base-60 numbers), duplicate keys keep the last value, `<<` merges applied in order, booleans and numbers as keys
 *   become their text, collection or null keys are errors, and go-yaml's alias-expansion ratio decides what is an
 *   alias bomb (so an anchor used a few hundred times is fine).
 *
 * The YAML syntax itself is read by the `yaml` library in its 1.1 mode; where it and libyaml disagree is listed in the
 * README (Known limits).
 */
import { yamlLib } from './yaml-lib.js';
import { decodeFast } from './decode-fast.js';
import type { Document, Node as YamlNode, Pair } from 'yaml';
import type { JsonObject, JsonValue } from './load.js';

/** A problem found while decoding, at an offset of the decoded text. */
export interface DecodeProblem {
  readonly message: string;
  readonly offset: number;
  readonly severity: 'error' | 'warning';
}

/** One document of a stream: where it starts in the whole text, and its text. */
export interface StreamChunk {
  readonly offset: number;
  readonly text: string;
  /** The splitter already found this document unreadable (its problem is reported). */
  readonly rejected?: boolean;
}

/** True when kubectl would read this text as a JSON stream: its first non-blank character is `{`. */
export function isJsonStream(text: string): boolean {
  const m = /\S/.exec(text);
  return m !== null && m[0] === '{';
}

/**
 * Splits a YAML stream into documents as apimachinery's YAMLReader does: on lines that start with `---` and carry
 * nothing more than blanks or a `#` comment. Any other text after `---` at the start of a line is an error there.
 */
export function splitYamlStream(text: string): { chunks: StreamChunk[]; problems: DecodeProblem[] } {
  const chunks: StreamChunk[] = [];
  const problems: DecodeProblem[] = [];
  let start = 0;
  let lineStart = 0;
  while (lineStart <= text.length) {
    const nl = text.indexOf('\n', lineStart);
    const lineEnd = nl < 0 ? text.length : nl + 1;
    if (text.startsWith('---', lineStart)) {
      const rest = text.slice(lineStart + 3, lineEnd).trim();
      if (rest !== '' && !rest.startsWith('#')) {
        problems.push({ severity: 'error', offset: lineStart, message: `invalid YAML document separator: ${JSON.stringify(rest)} (kubectl reads only comments after ---)` });
      }
      if (lineStart > start) chunks.push({ offset: start, text: text.slice(start, lineStart) });
      start = lineEnd;
    }
    if (nl < 0) break;
    lineStart = lineEnd;
  }
  if (start < text.length) chunks.push({ offset: start, text: text.slice(start) });
  return { chunks, problems };
}

/**
 * Splits a JSON stream into its top-level values (as `json.Decoder` reads one after another) without parsing them.
 * Text that does not start a value ends the stream with an error.
 */
export function splitJsonStream(text: string): { chunks: StreamChunk[]; problems: DecodeProblem[] } {
  const chunks: StreamChunk[] = [];
  const problems: DecodeProblem[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    const start = i;
    const first = text[i];
    if (first !== '{' && first !== '[') {
      // A scalar or garbage: let JSON.parse name the problem on the rest of the line.
      const end = text.indexOf('\n', i);
      chunks.push({ offset: start, text: text.slice(start, end < 0 ? text.length : end) });
      break;
    }
    let depth = 0;
    let tooDeep = false;
    let inString = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') {
        depth++;
        if (depth === MAX_DEPTH + 1) tooDeep = true;
        if (depth === MAX_DEPTH + 1) problems.push({ severity: 'error', offset: i, message: `exceeded max depth of ${MAX_DEPTH} (Go's encoding/json, which kubectl uses, stops there too)` });
      }
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    chunks.push({ offset: start, text: text.slice(start, i), ...(tooDeep ? { rejected: true } : {}) });
    if (depth !== 0) break;
  }
  return { chunks, problems };
}

/** Decodes one JSON value as Go's encoding/json would (duplicate keys: the last wins). */
export function decodeJson(text: string): { value?: JsonValue; problems: DecodeProblem[] } {
  try {
    return { value: JSON.parse(text) as JsonValue, problems: [] };
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    const at = /at position (\d+)/.exec(raw);
    const offset = at ? Number(at[1]) : Math.max(0, text.length - 1);
    const message = raw.replace(/\s*(in JSON )?at position \d+.*$/s, '').replace(/^JSON\.parse: /, '');
    return { problems: [{ severity: 'error', offset, message: `invalid JSON: ${message}` }] };
  }
}

/** go-yaml v2 refuses deeper nesting than this (its parser's `max_flow_level` and `max_indents`). */
export const MAX_DEPTH = 10000;

/** A decoded YAML document: its value (undefined for an empty document), the parsed tree for positions, problems. */
export interface DecodedYaml {
  readonly value?: JsonValue;
  readonly problems: DecodeProblem[];
  /** The parsed document, for field positions; offsets are relative to the decoded text. */
  readonly doc?: Document.Parsed;
  /** The text that was decoded: the input, or the input with under-indented quoted lines re-indented. */
  readonly text: string;
}

const YAML_OPTIONS = { version: '1.1', schema: 'failsafe', uniqueKeys: false, merge: false, prettyErrors: false } as const;

/**
 * Decodes one YAML document (one chunk of {@link splitYamlStream}) as kubectl would. Never throws.
 * @example decodeYaml('labels: {a: yes}').value // { labels: { a: true } }
 */
export function decodeYaml(input: string, opts: { readonly fast?: boolean } = {}): DecodedYaml {
  if (opts.fast !== false) {
    const quick = decodeFast(input);
    if (quick) return { ...(quick.value !== undefined ? { value: quick.value } : {}), problems: [], text: input };
  }
  let text = input;
  let docs: Document.Parsed[];
  try {
    docs = yamlLib().parseAllDocuments(text, YAML_OPTIONS) as Document.Parsed[];
    // libyaml reads the continuation lines of a quoted scalar at any indentation; the yaml library wants them
    // indented. Re-indenting them does not change the value (leading blanks of those lines are folded away).
    for (let attempt = 0; attempt < 50 && hasUnclosedQuote(docs); attempt++) {
      const fixed = reindentQuoted(text, docs);
      if (fixed === undefined || fixed === text) break;
      const again = yamlLib().parseAllDocuments(fixed, YAML_OPTIONS) as Document.Parsed[];
      if (errorCount(again) >= errorCount(docs)) break;
      text = fixed;
      docs = again;
    }
  } catch (e) {
    return { problems: [{ severity: 'error', offset: 0, message: tooDeepOr(e, 'cannot parse this document') }], text };
  }
  const problems: DecodeProblem[] = [];
  const doc = docs[0];
  if (!doc) return { problems, text };
  for (const extra of docs.slice(1)) {
    if (extra.contents !== null) {
      problems.push({ severity: 'error', offset: extra.range[0], message: 'a second YAML document in one part of the stream: separate documents with a line of ---' });
      break;
    }
  }
  for (const err of doc.errors) {
    const deep = err.code === 'RESOURCE_EXHAUSTION' || /call stack/i.test(err.message);
    if (deep && problems.some((p) => p.message === tooDeepText())) continue; // once is enough
    problems.push({ severity: 'error', offset: err.pos[0], message: deep ? tooDeepText() : `invalid YAML: ${firstLine(err.message)}` });
  }
  if (problems.length > 0) return { problems, doc, text };
  const root = doc.contents;
  if (root === null) return { problems, doc, text };
  const decoder = new GoYamlDecoder(text);
  try {
    const value = decoder.decode(root, 1);
    return { value, problems: decoder.problems, doc, text };
  } catch (e) {
    if (e instanceof DecodeFailure) return { problems: [...decoder.problems, { severity: 'error', offset: e.offset, message: e.message }], doc, text };
    return { problems: [{ severity: 'error', offset: 0, message: tooDeepOr(e, 'cannot decode this document') }], doc, text };
  }
}

/**
 * The parsed tree of a chunk, for field positions only (the fast reader keeps none): YAML as {@link decodeYaml}
 * reads it, JSON as YAML's flow style, which it is.
 */
export function parseForPositions(text: string, json: boolean): Document.Parsed | undefined {
  try {
    return (json ? yamlLib().parseDocument(text, { prettyErrors: false, uniqueKeys: false }) : yamlLib().parseAllDocuments(text, YAML_OPTIONS)[0]) as Document.Parsed | undefined;
  } catch {
    return undefined;
  }
}

function errorCount(docs: readonly Document.Parsed[]): number {
  return docs.reduce((n, d) => n + d.errors.length, 0);
}

function hasUnclosedQuote(docs: readonly Document.Parsed[]): boolean {
  return docs.some((d) => d.errors.some((e) => e.code === 'MISSING_CHAR' && /quote/.test(e.message)));
}

/**
 * The text with the continuation lines of the first quoted scalar the yaml library could not close indented one
 * column deeper than the line the scalar starts on; undefined when the scalar cannot be found.
 */
function reindentQuoted(text: string, docs: readonly Document.Parsed[]): string | undefined {
  const err = docs.flatMap((d) => d.errors).find((e) => e.code === 'MISSING_CHAR' && /quote/.test(e.message));
  if (!err) return undefined;
  const q = /"quote/.test(err.message) ? '"' : "'";
  const lineStart = text.lastIndexOf('\n', err.pos[0] - 1) + 1;
  // The opening quote: the first quote of the line that starts a scalar (after `: `, `- `, `[`, `{`, `,` or blanks).
  const line = text.slice(lineStart, err.pos[0] + 1);
  const m = new RegExp(`(^|[:\\-\\[{,]\\s*|^\\s*)${q === '"' ? '"' : "'"}`).exec(line);
  if (!m) return undefined;
  const open = lineStart + m.index + m[0].length - 1;
  let close = -1;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (q === '"' && c === '\\') i++;
    else if (c === q) {
      if (q === "'" && text[i + 1] === "'") i++;
      else {
        close = i;
        break;
      }
    }
  }
  if (close < 0) return undefined;
  const indent = ' '.repeat(open - lineStart + 1);
  const body = text.slice(open, close).replace(/\n(?![ \t]*\r?\n)/g, `\n${indent}`);
  return text.slice(0, open) + body + text.slice(close);
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function tooDeepText(): string {
  return "nesting too deep: Palisade's YAML reader stops at about 800 levels (kubectl's reads up to 10000; no manifest needs that many)";
}

function tooDeepOr(e: unknown, fallback: string): string {
  if (e instanceof RangeError) return tooDeepText();
  return `${fallback}: ${e instanceof Error ? e.message : String(e)}`;
}

class DecodeFailure extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const YAML_TAG = 'tag:yaml.org,2002:';

/** Reads the yaml library's tree into JSON values with go-yaml v2's rules (see the module comment). */
class GoYamlDecoder {
  readonly problems: DecodeProblem[] = [];
  private decodeCount = 0;
  private aliasCount = 0;
  private aliasDepth = 0;
  private readonly anchors = new Map<string, YamlNode>();
  private readonly expanding = new Set<YamlNode>();
  /** Value and decode count of anchored nodes, decoded once. */
  private readonly memo = new Map<YamlNode, { value: JsonValue; size: number }>();

  constructor(private readonly text: string) {}

  decode(node: YamlNode, depth: number): JsonValue {
    this.decodeCount++;
    if (this.aliasDepth > 0) this.aliasCount++;
    if (depth > MAX_DEPTH) throw new DecodeFailure(`exceeded max depth of ${MAX_DEPTH} (kubectl's YAML reader stops there too)`, start(node));
    if (yamlLib().isAlias(node)) return this.alias(node.source, node, depth);
    if (node.anchor && this.aliasDepth === 0) this.anchors.set(node.anchor, node);
    if (yamlLib().isScalar(node)) return this.scalar(node as ScalarNode);
    if (yamlLib().isMap(node)) return this.mapping(node.items as readonly Pair<unknown, unknown>[], node, depth);
    if (yamlLib().isSeq(node)) return node.items.map((item) => (isNode(item) ? this.decode(item, depth + 1) : null));
    return null;
  }

  private alias(name: string, node: YamlNode, depth: number): JsonValue {
    const target = this.anchors.get(name);
    if (!target) throw new DecodeFailure(`unknown anchor '${name}' referenced`, start(node));
    if (this.expanding.has(target)) throw new DecodeFailure(`anchor '${name}' value contains itself`, start(node));
    const known = this.memo.get(target);
    if (known) {
      // Expanding again what was decoded once: go-yaml counts every node of it as decoded through an alias.
      this.decodeCount += known.size;
      this.aliasCount += known.size;
      this.checkAliasRatio(node);
      return known.value;
    }
    this.expanding.add(target);
    this.aliasDepth++;
    const before = this.decodeCount;
    const value = this.decode(target, depth + 1);
    this.aliasDepth--;
    this.expanding.delete(target);
    this.memo.set(target, { value, size: this.decodeCount - before });
    this.checkAliasRatio(node);
    return value;
  }

  /** go-yaml v2's rule (decode.go `allowedAliasRatio`): alias expansion may not dominate a large document. */
  private checkAliasRatio(node: YamlNode): void {
    const d = this.decodeCount;
    const allowed = d <= 400000 ? 0.99 : d >= 4000000 ? 0.1 : 0.99 - (0.89 * (d - 400000)) / 3600000;
    if (this.aliasCount > 100 && d > 1000 && this.aliasCount / d > allowed) {
      throw new DecodeFailure('document contains excessive aliasing (an alias bomb: kubectl refuses it too)', start(node));
    }
  }

  private mapping(pairs: readonly Pair<unknown, unknown>[], node: YamlNode, depth: number): JsonObject {
    if (isFlowTemplate(node, this.text)) throw templateFailure(node);
    const out: Record<string, JsonValue> = {};
    const written = new Set<string>();
    for (const pair of pairs) {
      const key = pair.key;
      const valueNode = isNode(pair.value) ? pair.value : undefined;
      if (yamlLib().isScalar(key) && (key as ScalarNode).type === 'PLAIN' && key.value === '<<' && !(key as ScalarNode).tag) {
        this.merge(valueNode, out, key as YamlNode, depth);
        continue;
      }
      const keyText = this.key(key, node, depth);
      const value = valueNode ? this.decode(valueNode, depth + 1) : null;
      if (!valueNode) this.decodeCount++;
      if (written.has(keyText) && this.aliasDepth === 0) {
        this.problems.push({ severity: 'warning', offset: start(key), message: `duplicate key ${JSON.stringify(keyText)}: the last value is used, as kubectl reads it` });
      }
      written.add(keyText);
      setField(out, keyText, value);
    }
    return out;
  }

  private merge(source: YamlNode | undefined, out: Record<string, JsonValue>, at: YamlNode, depth: number): void {
    const fail = () => new DecodeFailure('map merge requires map or sequence of maps as the value', start(source ?? at));
    const isMapLike = (n: YamlNode): boolean => {
      const target = yamlLib().isAlias(n) ? this.anchors.get(n.source) : n;
      return target !== undefined && yamlLib().isMap(target);
    };
    const mergeOne = (n: YamlNode) => {
      const v = this.decode(n, depth + 1);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fail();
      for (const [k, val] of Object.entries(v)) setField(out, k, val);
    };
    if (!source) throw fail();
    if (yamlLib().isSeq(source)) {
      this.decodeCount++;
      const items = source.items.filter(isNode);
      // Earlier maps take precedence: go-yaml merges them last.
      for (let i = items.length - 1; i >= 0; i--) {
        if (!isMapLike(items[i]!)) throw fail();
        mergeOne(items[i]!);
      }
    } else {
      if (!isMapLike(source)) throw fail();
      mergeOne(source);
    }
  }

  /** A key as sigs.k8s.io/yaml writes it in JSON: strings as they are, numbers and booleans as their text. */
  private key(key: unknown, parent: YamlNode, depth: number): string {
    if (!isNode(key)) {
      this.decodeCount++;
      return ''; // `: value` with no key: go-yaml reads an empty (null) key
    }
    const value = this.decode(key, depth + 1);
    if (typeof value === 'string') return value;
    if (typeof value === 'boolean') return value ? 'true' : 'false';
    if (typeof value === 'number') {
      if (Number.isInteger(value)) return String(value);
      if (Number.isNaN(value)) return '.nan';
      if (!Number.isFinite(value)) return value > 0 ? '.inf' : '-.inf';
      return String(Math.fround(value)).replace(/^(-?)0\./, '$10.');
    }
    if (value !== null && typeof value === 'object' && isFlowTemplate(key, this.text)) throw templateFailure(key);
    if (value === null) throw new DecodeFailure('a mapping key is null (an empty or ~ key): Kubernetes objects need string keys', start(key));
    void parent;
    throw new DecodeFailure('a mapping key is a list or a mapping: Kubernetes objects need string keys', start(key));
  }

  private scalar(node: ScalarNode): JsonValue {
    const raw = typeof node.value === 'string' ? node.value : String(node.value);
    const tag = node.tag;
    if (tag === undefined || tag === '') {
      // Quoted and block scalars are strings; only plain ones are resolved.
      if (node.type !== 'PLAIN') return raw;
      return resolvePlain(raw, true);
    }
    if (!tag.startsWith(YAML_TAG)) return raw; // `!custom` tags: go-yaml keeps the text
    const want = tag.slice(YAML_TAG.length);
    if (want === 'str' || want === 'binary') return raw;
    const resolved = resolvePlain(raw, want === 'timestamp');
    const got = kindOfResolved(resolved, raw);
    if (got === want || (want === 'float' && got === 'int')) return resolved;
    throw new DecodeFailure(`cannot decode !!${got} \`${raw}\` as a !!${want}`, start(node));
  }
}

type ScalarNode = YamlNode & { readonly type?: string; readonly value: unknown; readonly tag?: string };

function isNode(v: unknown): v is YamlNode {
  return yamlLib().isScalar(v) || yamlLib().isMap(v) || yamlLib().isSeq(v) || yamlLib().isAlias(v);
}

function start(node: unknown): number {
  const r = (node as { range?: readonly number[] } | undefined)?.range;
  return r ? r[0]! : 0;
}

function setField(out: Record<string, JsonValue>, key: string, value: JsonValue): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** A flow mapping written as `{{ ... }}`: Go template text that was never rendered. */
function isFlowTemplate(node: unknown, text: string): boolean {
  const r = (node as { range?: readonly number[] }).range;
  return r !== undefined && text.startsWith('{{', r[0]!);
}

function templateFailure(node: unknown): DecodeFailure {
  return new DecodeFailure('this looks like an unrendered Helm/Go template ({{ ... }}): render it first (helm template ... | palisade check -)', start(node));
}

function kindOfResolved(v: JsonValue, raw: string): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) && !/[.eE]/.test(raw) ? 'int' : 'float';
  if (typeof v === 'string' && v !== raw) return 'timestamp';
  return 'str';
}

const PLAIN_VALUES: ReadonlyMap<string, JsonValue> = new Map<string, JsonValue>([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map((s): [string, JsonValue] => [s, true]),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map((s): [string, JsonValue] => [s, false]),
  ...['', '~', 'null', 'Null', 'NULL'].map((s): [string, JsonValue] => [s, null]),
  ...['.nan', '.NaN', '.NAN'].map((s): [string, JsonValue] => [s, Number.NaN]),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s): [string, JsonValue] => [s, Number.POSITIVE_INFINITY]),
  ...['-.inf', '-.Inf', '-.INF'].map((s): [string, JsonValue] => [s, Number.NEGATIVE_INFINITY]),
]);

const FIXED_WORD_STARTS = 'yYnNtTfFoO';
const GO_INT = /^[+-]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/;

/**
 * A plain scalar as go-yaml v2 resolves it (resolve.go): the fixed words, then for text starting with a digit or a
 * sign a timestamp, an integer as Go's `strconv.ParseInt(s, 0, 64)` reads it after dropping `_`, or a float.
 * @param timestamps whether a date is read as a timestamp (plain scalars: yes)
 */
export function resolvePlain(text: string, timestamps: boolean): JsonValue {
  const first = text.charCodeAt(0);
  // Most scalars are names: a letter that starts none of the fixed words cannot resolve to anything but text.
  if (((first >= 97 && first <= 122) || (first >= 65 && first <= 90)) && !FIXED_WORD_STARTS.includes(text[0]!)) return text;
  // Plain decimal numbers (ports, replicas) without a leading zero: the common case, read directly.
  if (first >= 49 && first <= 57 && text.length <= 15) {
    let digits = true;
    for (let i = 1; i < text.length; i++) {
      const d = text.charCodeAt(i);
      if (d < 48 || d > 57) {
        digits = false;
        break;
      }
    }
    if (digits) return Number(text);
  }
  const fixed = PLAIN_VALUES.get(text);
  if (fixed !== undefined || PLAIN_VALUES.has(text)) return fixed ?? null;
  const c = text[0];
  if (c === '.') return DOT_FLOAT.test(text) ? Number(text) : text;
  if (c === undefined || !/[0-9+-]/.test(c)) return text;
  if (timestamps && text.length >= 8 && text.charCodeAt(4) === 45) {
    const t = goTimestamp(text);
    if (t !== undefined) return t;
  }
  const plain = text.replace(/_/g, '');
  if (GO_INT.test(plain)) {
    const negative = plain.startsWith('-');
    const body = plain.replace(/^[+-]/, '');
    const big = /^0[0-7]+$/.test(body) ? BigInt(`0o${body.slice(1)}`) : BigInt(body);
    const n = negative ? -big : big;
    if (n >= -(2n ** 63n) && n < 2n ** 64n) return Number(n);
  }
  if (YAML_FLOAT.test(plain)) return Number(plain);
  return text;
}

const TIMESTAMP = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:([Tt ])(\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * A YAML timestamp as go-yaml v2 reads it (`2006-1-2`, RFC 3339 with short fields, or `2006-1-2 15:4:5` without a zone),
 * written back as Go's JSON encoding of a time.Time (RFC 3339 with nanoseconds trimmed). Undefined when not one.
 */
function goTimestamp(text: string): string | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, sep, h, mi, s, frac, zone] = m;
  if (sep !== undefined && sep !== ' ' && zone === undefined) return undefined; // the T forms need a zone
  if (sep === ' ' && zone !== undefined) return undefined; // the space form has none
  const pad = (v: string | undefined) => (v ?? '0').padStart(2, '0');
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  const daysIn = new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysIn || hour > 23 || minute > 59 || second > 59) return undefined;
  const fraction = frac ? frac.replace(/0+$/, '').replace(/^\.$/, '') : '';
  return `${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}${fraction}${zone ?? 'Z'}`;
}
