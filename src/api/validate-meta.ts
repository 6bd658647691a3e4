/**
 * Object metadata, labels and label selectors, checked as apimachinery's ValidateObjectMeta, ValidateLabels and
 * ValidateLabelSelector check them.
 */
import {
  OBJECT_META_FIELDS,
  checkKnownFields,
  forbidden,
  invalid,
  notSupported,
  readList,
  readObject,
  readString,
  readStringList,
  readStringMap,
  required,
  type FieldError,
  type JsonObject,
  type Path,
} from './validate-fields.js';
import { asNamePrefix, isDNS1123Label, isQualifiedName, isValidLabelValue } from './validate-names.js';

/** Annotations of one object may total at most 256 KiB (keys and values). */
const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** How an object's metadata is checked. */
export interface MetaRules {
  /** The name format of the kind, e.g. `isDNS1123Subdomain`. */
  readonly nameFormat: (name: string) => string[];
  /** Namespaced kinds may carry `metadata.namespace`; cluster-scoped kinds must not. */
  readonly namespaced: boolean;
  /** Report fields that metav1.ObjectMeta does not have (strict kinds: NetworkPolicy and the tier kinds). */
  readonly strict?: boolean;
}

/**
 * Validates a label key (a qualified name).
 *
 * @returns errors at `path`, the labels map (the apiserver names the map, not the key)
 */
export function validateLabelKey(key: string, path: Path): FieldError[] {
  return isQualifiedName(key).map((msg) => invalid(path, key, msg));
}

/**
 * Validates a labels map: keys are qualified names, values label values, every value a string.
 *
 * @param labels the decoded `labels` value (any JSON; wrong types are reported)
 * @param path where it is, e.g. `['metadata', 'labels']`
 * @example validateLabels({ 'app.kubernetes.io/name': 'web' }, ['metadata', 'labels']) // []
 */
export function validateLabels(labels: unknown, path: Path): FieldError[] {
  const out: FieldError[] = [];
  const map = readStringMap(labels, path, out);
  if (!map) return out;
  for (const [key, value] of map) {
    out.push(...validateLabelKey(key, path));
    for (const msg of isValidLabelValue(value)) out.push(invalid(path, value, msg));
  }
  return out;
}

/** Validates an annotations map: keys are qualified names (case-insensitively) and the total size is bounded. */
export function validateAnnotations(annotations: unknown, path: Path): FieldError[] {
  const out: FieldError[] = [];
  const map = readStringMap(annotations, path, out);
  if (!map) return out;
  let total = 0;
  for (const [key, value] of map) {
    for (const msg of isQualifiedName(key.toLowerCase())) out.push(invalid(path, key, msg));
    total += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT) {
    out.push({ path, message: `Too long: may not be more than ${TOTAL_ANNOTATION_SIZE_LIMIT} bytes` });
  }
  return out;
}

/**
 * Validates a metav1.LabelSelector: its shape (unknown fields included), `matchLabels` as labels, and each
 * `matchExpressions` requirement: a qualified-name key, a known operator, values required by In/NotIn and forbidden by
 * Exists/DoesNotExist, each value a label value.
 *
 * @param selector the decoded selector (any JSON; absent or null is no selector and valid)
 * @param path where it is, e.g. `['spec', 'podSelector']`
 * @example validateLabelSelector({ matchExpressions: [{ key: 'tier', operator: 'In' }] }, ['spec', 'podSelector'])
 *   // [{ path: [..., 'matchExpressions', 0, 'values'], message: "Required value: must be specified when ..." }]
 */
export function validateLabelSelector(selector: unknown, path: Path): FieldError[] {
  const out: FieldError[] = [];
  const sel = readObject(selector, path, out);
  if (!sel) return out;
  checkKnownFields(sel, ['matchLabels', 'matchExpressions'], path, out);
  out.push(...validateLabels(sel.matchLabels, [...path, 'matchLabels']));
  const exprs = readList(sel.matchExpressions, [...path, 'matchExpressions'], out);
  exprs?.forEach((expr, i) => out.push(...validateRequirement(expr, [...path, 'matchExpressions', i])));
  return out;
}

function validateRequirement(value: unknown, path: Path): FieldError[] {
  const out: FieldError[] = [];
  const req = readObject(value, path, out);
  if (!req) {
    if (value === null || value === undefined) out.push(required(path));
    return out;
  }
  checkKnownFields(req, ['key', 'operator', 'values'], path, out);
  const key = readString(req.key, [...path, 'key'], out);
  const operator = readString(req.operator, [...path, 'operator'], out);
  const values = readStringList(req.values, [...path, 'values'], out);
  const count = Array.isArray(req.values) ? req.values.length : 0;
  if (operator === undefined) {
    if (req.operator === undefined || req.operator === null) out.push(required([...path, 'operator']));
  } else if (operator === 'In' || operator === 'NotIn') {
    if (count === 0) out.push(required([...path, 'values'], "must be specified when `operator` is 'In' or 'NotIn'"));
  } else if (operator === 'Exists' || operator === 'DoesNotExist') {
    if (count > 0) {
      out.push(forbidden([...path, 'values'], "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    }
  } else {
    const supported = SELECTOR_OPERATORS.join(', ');
    out.push(invalid([...path, 'operator'], operator, `not a valid selector operator (supported: ${supported})`));
  }
  if (key === undefined) {
    if (req.key === undefined || req.key === null) out.push(required([...path, 'key']));
  } else {
    out.push(...validateLabelKey(key, [...path, 'key']));
  }
  values?.forEach(([i, v]) => {
    for (const msg of isValidLabelValue(v)) out.push(invalid([...path, 'values', i], v, msg));
  });
  return out;
}

/**
 * Validates `metadata`: present and an object, a name (or generateName) of the kind's format, a namespace that is a
 * DNS-1123 label on namespaced kinds and absent on cluster-scoped ones, labels and annotations.
 */
export function validateObjectMeta(metadata: unknown, rules: MetaRules, path: Path = ['metadata']): FieldError[] {
  const out: FieldError[] = [];
  const meta = readObject(metadata, path, out);
  if (!meta) {
    if (metadata === undefined || metadata === null) out.push(required([...path, 'name'], 'name or generateName is required'));
    return out;
  }
  if (rules.strict) checkKnownFields(meta, OBJECT_META_FIELDS, path, out);
  validateName(meta, rules, path, out);
  const namespace = readString(meta.namespace, [...path, 'namespace'], out);
  if (namespace !== undefined && namespace !== '') {
    if (!rules.namespaced) out.push(forbidden([...path, 'namespace'], 'not allowed on this type'));
    else for (const msg of isDNS1123Label(namespace)) out.push(invalid([...path, 'namespace'], namespace, msg));
  }
  out.push(...validateLabels(meta.labels, [...path, 'labels']));
  out.push(...validateAnnotations(meta.annotations, [...path, 'annotations']));
  return out;
}

function validateName(meta: JsonObject, rules: MetaRules, path: Path, out: FieldError[]): void {
  const generateName = readString(meta.generateName, [...path, 'generateName'], out);
  if (generateName) {
    for (const msg of asNamePrefix(rules.nameFormat)(generateName)) {
      out.push(invalid([...path, 'generateName'], generateName, msg));
    }
  }
  const name = readString(meta.name, [...path, 'name'], out);
  if (name === undefined && meta.name !== undefined && meta.name !== null) return; // wrong type, reported
  if (!name) {
    if (!generateName) out.push(required([...path, 'name'], 'name or generateName is required'));
    return;
  }
  for (const msg of rules.nameFormat(name)) out.push(invalid([...path, 'name'], name, msg));
}

/** Reports an enum value not in `supported`. */
export function checkEnum(value: string, supported: readonly string[], path: Path, out: FieldError[]): void {
  if (!supported.includes(value)) out.push(notSupported(path, value, supported));
}
