/**
 * A fast reader for the plain block YAML most manifests are written in: block mappings and sequences, single-line
 * plain and quoted scalars, single-line flow collections, comments. It returns exactly what {@link decodeYaml} would
 * (go-yaml v2 scalar rules), or `undefined` as soon as it meets anything else — anchors, tags, block scalars,
 * multi-line scalars, merge keys, duplicate keys, odd indentation, errors — so that the full reader decides those.
 * It exists for speed: the full reader builds a syntax tree with positions, which large streams do not need until a
 * diagnostic asks for a position.
 */
import type { JsonObject, JsonValue } from './load.js';
import { resolvePlain } from './decode.js';

interface Line {
  readonly indent: number;
  /** The text after the indentation, with a trailing comment and blanks removed. */
  readonly text: string;
}

class Bail extends Error {}
const BAIL = new Bail();

/** Decodes `text` as one YAML document of the plain block subset; undefined when it is not in that subset. */
export function decodeFast(text: string): { value: JsonValue | undefined } | undefined {
  let lines: Line[];
  try {
    lines = splitLines(text);
  } catch (e) {
    if (e instanceof Bail) return undefined;
    throw e;
  }
  if (lines.length === 0) return { value: undefined };
  const reader = new BlockReader(lines);
  try {
    const value = reader.block(lines[0]!.indent);
    if (reader.pos !== lines.length) return undefined;
    return { value };
  } catch (e) {
    if (e instanceof Bail) return undefined;
    throw e;
  }
}

function splitLines(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  const n = text.length;
  while (start <= n) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    let lineEnd = end;
    if (lineEnd > start && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    let i = start;
    while (i < lineEnd && text.charCodeAt(i) === 32) i++;
    if (i < lineEnd) {
      const c = text.charCodeAt(i);
      if (c === 9) throw BAIL; // a tab in indentation: let the full reader judge
      if (c !== 35) {
        const bodyEnd = contentEnd(text, i, lineEnd);
        if (bodyEnd > i) {
          if (c === 37 || (c === 45 && text.startsWith('---', i)) || (c === 46 && text.startsWith('...', i))) throw BAIL;
          out.push({ indent: i - start, text: text.slice(i, bodyEnd) });
        }
      }
    }
    if (end >= n) break;
    start = end + 1;
  }
  return out;
}

/** Where the line's content ends: before a ` # comment` and trailing blanks; quotes are respected. */
function contentEnd(s: string, from: number, to: number): number {
  let quote = 0;
  let end = to;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (quote !== 0) {
      if (quote === 34 && c === 92) i++;
      else if (c === quote) quote = 0;
    } else if (c === 34 || c === 39) {
      // A quote starts a quoted scalar only where a scalar starts: line start, after ': ', '- ', '[', '{', ','.
      const prev = i === from ? 32 : s.charCodeAt(i - 1);
      if (prev === 32 || prev === 91 || prev === 123 || prev === 44) quote = c;
    } else if (c === 35 && i > from && (s.charCodeAt(i - 1) === 32 || s.charCodeAt(i - 1) === 9)) {
      end = i;
      break;
    }
  }
  if (quote !== 0) throw BAIL; // a quoted scalar continues on the next line
  while (end > from && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 9)) end--;
  return end;
}

class BlockReader {
  pos = 0;
  private depth = 0;
  constructor(private readonly lines: Line[]) {}

  /** The block node starting at the current line, which is at `indent`. */
  block(indent: number): JsonValue {
    // Deep nesting is the full reader's to refuse or accept.
    if (++this.depth > 100) throw BAIL;
    try {
      return this.blockAt(indent);
    } finally {
      this.depth--;
    }
  }

  private blockAt(indent: number): JsonValue {
    const line = this.lines[this.pos]!;
    if (isSeqItem(line.text)) return this.sequence(indent);
    if (findKey(line.text) !== undefined) return this.mapping(indent);
    // A lone scalar (or flow collection) as the whole node.
    this.pos++;
    return inlineValue(line.text);
  }

  private sequence(indent: number): JsonValue[] {
    const out: JsonValue[] = [];
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos]!;
      if (line.indent < indent) break;
      if (line.indent > indent) throw BAIL;
      if (!isSeqItem(line.text)) break; // a compact sequence ends at its parent's next key
      const rest = line.text === '-' ? '' : line.text.slice(2).replace(/^ +/, '');
      if (rest === '') {
        this.pos++;
        out.push(this.nested(indent, false));
      } else {
        // `- key: value` or `- - x`: the rest is a node at its own column.
        const column = indent + line.text.length - rest.length;
        if (isSeqItem(rest) || findKey(rest) !== undefined) {
          this.lines[this.pos] = { indent: column, text: rest };
          out.push(this.block(column));
        } else {
          this.pos++;
          out.push(inlineValue(rest));
          this.noDeeper(indent);
        }
      }
    }
    return out;
  }

  private mapping(indent: number): JsonObject {
    const out: Record<string, JsonValue> = {};
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos]!;
      if (line.indent < indent) break;
      if (line.indent > indent) throw BAIL;
      if (isSeqItem(line.text)) break; // the compact sequence of a parent key ends here
      const found = findKey(line.text);
      if (found === undefined) throw BAIL;
      const [key, rest] = found;
      if (key === '<<' || Object.prototype.hasOwnProperty.call(out, key) || key === '__proto__') throw BAIL;
      this.pos++;
      out[key] = rest === '' ? this.nested(indent, true) : inlineValue(rest);
      if (rest !== '') this.noDeeper(indent);
    }
    return out;
  }

  /** The value of a key or item whose text was empty: a deeper block, a compact sequence (keys only), or null. */
  private nested(indent: number, allowCompactSeq: boolean): JsonValue {
    const next = this.lines[this.pos];
    if (!next) return null;
    if (next.indent > indent) return this.block(next.indent);
    if (allowCompactSeq && next.indent === indent && isSeqItem(next.text)) return this.sequence(indent);
    return null;
  }

  /** After a scalar value nothing may be indented deeper (that would be a multi-line scalar). */
  private noDeeper(indent: number): void {
    const next = this.lines[this.pos];
    if (next && next.indent > indent) throw BAIL;
  }
}

function isSeqItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

/** `key: rest` at the start of a line: the key's JSON text and the rest; undefined when the line is no mapping entry. */
function findKey(text: string): [string, string] | undefined {
  const c = text[0];
  if (c === '"' || c === "'") {
    const end = quotedEnd(text, 0);
    if (end < 0 || text[end + 1] !== ':') return undefined;
    const after = text.slice(end + 2);
    if (after !== '' && after[0] !== ' ') throw BAIL;
    return [quoted(text.slice(0, end + 1)), after.trim()];
  }
  if (c === undefined || '[]{}#&*!|>%@`?,'.includes(c) || (c === '-' && text[1] === ' ') || (c === ':' && text[1] === ' ')) return undefined;
  let i = text.indexOf(':');
  while (i >= 0 && i + 1 < text.length && text[i + 1] !== ' ') i = text.indexOf(':', i + 1);
  if (i < 0) return undefined;
  const raw = text.slice(0, i).trimEnd();
  if (raw === '' || raw.includes(' #')) throw BAIL;
  return [plainKey(raw), text.slice(i + 1).trim()];
}

// A stream repeats a few hundred keys (apiVersion, metadata, name…) thousands of times: each resolved once.
const plainKeys = new Map<string, string>();
const PLAIN_KEYS_MAX = 50_000;

function plainKey(raw: string): string {
  let k = plainKeys.get(raw);
  if (k === undefined) {
    k = keyText(resolvePlain(raw, true));
    if (plainKeys.size < PLAIN_KEYS_MAX) plainKeys.set(raw, k);
  }
  return k;
}

function keyText(v: JsonValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  throw BAIL; // null, float and other keys: the full reader's rules
}

/** A single-line value: a quoted scalar, a flow collection or a plain scalar. */
function inlineValue(text: string): JsonValue {
  const c = text[0];
  if (c === '"' || c === "'") {
    const end = quotedEnd(text, 0);
    if (end !== text.length - 1) throw BAIL;
    return quoted(text);
  }
  if (c === '[' || c === '{') {
    const flow = new FlowReader(text);
    const v = flow.value();
    flow.skipSpaces();
    if (flow.i !== text.length) throw BAIL;
    return v;
  }
  if ('#&*!|>%@`?,]}'.includes(c!) || (c === '-' && (text.length === 1 || text[1] === ' ')) || (c === ':' && (text.length === 1 || text[1] === ' '))) throw BAIL;
  if (text.includes(': ') || text.endsWith(':') || text.includes(' #')) throw BAIL;
  return resolvePlain(text, true);
}

/** The index of the closing quote of the quoted scalar starting at `start`, or -1. */
function quotedEnd(text: string, start: number): number {
  const q = text[start];
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (q === '"' && c === '\\') i++;
    else if (c === q) {
      if (q === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return -1;
}

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', '/': '/', n: '\n', t: '\t', r: '\r', '0': '\0', b: '\b', f: '\f', ' ': ' ' };

/** The value of a whole quoted scalar (quotes included). */
function quoted(text: string): string {
  const body = text.slice(1, -1);
  if (text[0] === "'") return body.replace(/''/g, "'");
  if (!body.includes('\\')) return body;
  return body.replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_m, e: string) => {
    if (e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
    const r = ESCAPES[e];
    if (r === undefined) throw BAIL;
    return r;
  });
}

/** Single-line flow collections: `[a, "b", {c: d}]`. */
class FlowReader {
  i = 0;
  constructor(private readonly s: string) {}

  private depth = 0;

  skipSpaces(): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++;
  }

  value(): JsonValue {
    this.skipSpaces();
    const c = this.s[this.i];
    if (c === '[' || c === '{') {
      // Deep nesting is the full reader's to refuse or accept.
      if (++this.depth > 100) throw BAIL;
      const v = c === '[' ? this.seq() : this.map();
      this.depth--;
      return v;
    }
    if (c === '"' || c === "'") {
      const end = quotedEnd(this.s, this.i);
      if (end < 0) throw BAIL;
      const v = quoted(this.s.slice(this.i, end + 1));
      this.i = end + 1;
      return v;
    }
    return resolvePlain(this.plain(), true);
  }

  private plain(): string {
    const start = this.i;
    const first = this.s[this.i];
    if (first === undefined || '#&*!|>%@`?,[]{}'.includes(first) || (first === '-' && this.s[this.i + 1] === ' ')) throw BAIL;
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === ',' || c === ']' || c === '}' || c === '[' || c === '{') break;
      if (c === ':' && (this.s[this.i + 1] === ' ' || this.s[this.i + 1] === ',' || this.s[this.i + 1] === ']' || this.s[this.i + 1] === '}')) break;
      if (c === '#' && this.s[this.i - 1] === ' ') throw BAIL;
      this.i++;
    }
    const text = this.s.slice(start, this.i).trimEnd();
    if (text === '') throw BAIL;
    return text;
  }

  private seq(): JsonValue[] {
    this.i++;
    const out: JsonValue[] = [];
    this.skipSpaces();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      const v = this.value();
      this.skipSpaces();
      if (this.s[this.i] === ':') throw BAIL; // `[a: b]` single-pair mappings: the full reader
      out.push(v);
      const c = this.s[this.i];
      this.i++;
      if (c === ']') return out;
      if (c !== ',') throw BAIL;
      this.skipSpaces();
      if (this.s[this.i] === ']') throw BAIL; // a trailing comma
    }
  }

  private map(): JsonObject {
    this.i++;
    const out: Record<string, JsonValue> = {};
    this.skipSpaces();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.skipSpaces();
      const c0 = this.s[this.i];
      let key: string;
      if (c0 === '"' || c0 === "'") {
        const end = quotedEnd(this.s, this.i);
        if (end < 0) throw BAIL;
        key = quoted(this.s.slice(this.i, end + 1));
        this.i = end + 1;
      } else {
        if (c0 === '[' || c0 === '{') throw BAIL; // a collection key, perhaps an unrendered template
        key = keyText(resolvePlain(this.plain(), true));
      }
      this.skipSpaces();
      if (this.s[this.i] !== ':') throw BAIL; // `{a, b}`: keys without values
      this.i++;
      if (key === '<<' || key === '__proto__' || Object.prototype.hasOwnProperty.call(out, key)) throw BAIL;
      this.skipSpaces();
      const next = this.s[this.i];
      out[key] = next === ',' || next === '}' ? null : this.value();
      this.skipSpaces();
      const c = this.s[this.i];
      this.i++;
      if (c === '}') return out;
      if (c !== ',') throw BAIL;
      this.skipSpaces();
      if (this.s[this.i] === '}') throw BAIL;
    }
  }
}
