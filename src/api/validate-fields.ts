/**
 * Field errors in the apiserver's words, and typed reads of a decoded JSON value that report wrong types and unknown
 * fields instead of throwing.
 */
import type { PathSegment } from './diagnostics.js';

/** One validation error: the field path in segments and what is wrong, in the apiserver's words. */
export interface FieldError {
  readonly path: readonly PathSegment[];
  readonly message: string;
  /** `error` rejects the object; `warning` and `note` are reported and the object is kept. @default "error" */
  readonly severity?: 'error' | 'warning' | 'note';
}

export type Path = readonly PathSegment[];

/** A decoded JSON object. */
export type JsonObject = { readonly [key: string]: unknown };

/** Renders a value the way the apiserver quotes it in `Invalid value: …`. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'null';
  return Array.isArray(value) ? 'list' : 'object';
}

export function invalid(path: Path, value: unknown, detail: string): FieldError {
  return { path, message: `Invalid value: ${showValue(value)}: ${detail}` };
}

export function required(path: Path, detail = ''): FieldError {
  return { path, message: detail ? `Required value: ${detail}` : 'Required value' };
}

export function forbidden(path: Path, detail: string): FieldError {
  return { path, message: `Forbidden: ${detail}` };
}

export function notSupported(path: Path, value: unknown, supported: readonly string[]): FieldError {
  const list = supported.map((s) => JSON.stringify(s)).join(', ');
  return { path, message: `Unsupported value: ${showValue(value)}: supported values: ${list}` };
}

export function duplicate(path: Path, value: unknown): FieldError {
  return { path, message: `Duplicate value: ${showValue(value)}` };
}

export function tooMany(path: Path, count: number, max: number): FieldError {
  return { path, message: `Too many: ${count}: must have at most ${max} items` };
}

export function tooFew(path: Path, min: number): FieldError {
  return { path, message: `Invalid value: 0: must have at least ${min} item${min === 1 ? '' : 's'}` };
}

export function tooLong(path: Path, max: number): FieldError {
  return { path, message: `Too long: may not be more than ${max} bytes` };
}

export function warning(path: Path, message: string): FieldError {
  return { path, message, severity: 'warning' };
}

// ---------------------------------------------------------------- shape

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  return `a ${typeof value}`;
}

function wrongType(path: Path, value: unknown, expected: string): FieldError {
  return { path, message: `must be ${expected} (got ${kindOf(value)})` };
}

/**
 * Reads an optional object field. Absent and null read as undefined (JSON null decodes to an unset field); any other
 * non-object is reported.
 */
export function readObject(value: unknown, path: Path, out: FieldError[]): JsonObject | undefined {
  if (value === undefined || value === null) return undefined;
  if (isObject(value)) return value;
  out.push(wrongType(path, value, 'an object'));
  return undefined;
}

/** Reads an optional list field; absent and null read as undefined. */
export function readList(value: unknown, path: Path, out: FieldError[]): readonly unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value;
  out.push(wrongType(path, value, 'a list'));
  return undefined;
}

/** Reads an optional string field; absent and null read as undefined. */
export function readString(value: unknown, path: Path, out: FieldError[]): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  out.push(wrongType(path, value, 'a string'));
  return undefined;
}

/** Reads an optional integer field (int32 range); absent and null read as undefined. */
export function readInteger(value: unknown, path: Path, out: FieldError[]): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (value < -2147483648 || value > 2147483647) {
      out.push(invalid(path, value, 'must fit in a 32-bit integer'));
      return undefined;
    }
    return value;
  }
  out.push(wrongType(path, value, 'an integer'));
  return undefined;
}

/** Reads an optional boolean field; absent and null read as undefined. */
export function readBoolean(value: unknown, path: Path, out: FieldError[]): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  out.push(wrongType(path, value, 'a boolean'));
  return undefined;
}

/** Reads an int-or-string field (a port): a number or a string; absent and null read as undefined. */
export function readIntOrString(value: unknown, path: Path, out: FieldError[]): number | string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  out.push(wrongType(path, value, 'an integer or a string'));
  return undefined;
}

/** Reads a map of strings (labels, annotations, selectors); entries whose value is not a string are reported. */
export function readStringMap(value: unknown, path: Path, out: FieldError[]): ReadonlyMap<string, string> | undefined {
  const obj = readObject(value, path, out);
  if (!obj) return undefined;
  const map = new Map<string, string>();
  for (const [key, v] of Object.entries(obj)) {
    if (typeof v === 'string') map.set(key, v);
    else out.push(wrongType([...path, key], v, 'a string'));
  }
  return map;
}

/** A string item of a list with its index in the list as written. */
export type IndexedString = readonly [index: number, text: string];

/** Reads a list of strings; items that are not strings are reported and left out (indices are kept). */
export function readStringList(value: unknown, path: Path, out: FieldError[]): readonly IndexedString[] | undefined {
  const list = readList(value, path, out);
  if (!list) return undefined;
  const strings: IndexedString[] = [];
  list.forEach((item, i) => {
    if (typeof item === 'string') strings.push([i, item]);
    else out.push(wrongType([...path, i], item, 'a string'));
  });
  return strings;
}

/** Reports every field of `obj` not in `known`, as strict decoding (kubectl --validate=strict) does. */
export function checkKnownFields(obj: JsonObject, known: readonly string[], path: Path, out: FieldError[]): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) out.push({ path: [...path, key], message: `unknown field ${JSON.stringify(key)}` });
  }
}

/** The fields of metav1.ObjectMeta, for unknown-field checks. */
export const OBJECT_META_FIELDS: readonly string[] = [
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
];

/** Names the fields of `obj` that are set (not absent, not null), among `fields`. */
export function setFields(obj: JsonObject, fields: readonly string[]): string[] {
  return fields.filter((f) => obj[f] !== undefined && obj[f] !== null);
}
