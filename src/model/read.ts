/**
 * The one call every command starts with: load the manifests, validate each object as the apiserver would, and build
 * the cluster model from the valid ones.
 */
import { formatPath } from '../api/diagnostics.js';
import type { Diagnostic } from '../api/diagnostics.js';
import { describeObject, loadManifests } from '../api/load.js';
import type { LoadedDocument } from '../api/load.js';
import { validateObject } from '../api/validate.js';
import type { FieldError } from '../api/validate.js';
import { buildCluster } from './cluster.js';
import { lenientNetworkPolicy } from './lenient.js';
import type { Cluster } from './types.js';

/** Options of {@link readCluster}. */
export interface ReadOptions {
  /** The namespace of namespaced objects written without one. @default "default" */
  readonly defaultNamespace?: string;
  /** Reads all of standard input for the `-` input. @default reads file descriptor 0 */
  readonly readStdin?: () => string;
  /**
   * Read objects as a Go client decodes them without validation: every validation error becomes a warning at its
   * place and the object is kept (see `lenient.ts` for how unreadable parts fail closed). @default false
   */
  readonly lenient?: boolean;
}

/** What {@link readCluster} returns. */
export interface ReadResult {
  readonly cluster: Cluster;
  /** Every object loaded, valid or not, in input order. */
  readonly documents: LoadedDocument[];
  /** Load, validation and model diagnostics, sorted by file, line and column (those without a position first). */
  readonly diagnostics: Diagnostic[];
  /** How many objects failed validation and were left out of the cluster. */
  readonly invalid: number;
}

/**
 * Loads `inputs` (files, directories, `-` for stdin), validates every object, and builds the cluster from the valid
 * ones. Each validation error points at its field (`file:line:column`) and names the object and field path.
 * @example
 * const { cluster, diagnostics } = readCluster(['manifests/']);
 * for (const d of diagnostics) console.error(formatDiagnostic(d));
 */
export function readCluster(inputs: readonly string[], opts: ReadOptions = {}): ReadResult {
  const loaded = loadManifests(inputs, opts.readStdin ? { readStdin: opts.readStdin } : {});
  return readDocuments(loaded.documents, loaded.diagnostics, opts.defaultNamespace, opts.lenient ?? false);
}

const LENIENT = ' (--lenient: kept, read as the Go API types decode it)';

/**
 * Validates documents as the apiserver would: an object with an error is left out (and counted), one with only
 * warnings is kept; every finding becomes a diagnostic at its field.
 */
export function validateDocuments(documents: readonly LoadedDocument[], defaultNamespace?: string, lenient = false): { valid: LoadedDocument[]; diagnostics: Diagnostic[]; invalid: number } {
  const diagnostics: Diagnostic[] = [];
  const valid: LoadedDocument[] = [];
  let invalid = 0;
  for (const doc of documents) {
    const object = describeObject(doc, defaultNamespace);
    let rejected = false;
    let errors: readonly FieldError[];
    try {
      errors = validateObject(doc.value);
    } catch (e) {
      // A validator bug must not surface as a stack trace; the object is left out as if invalid.
      const why = e instanceof Error ? e.message : String(e);
      errors = [{ path: [], message: `internal error while validating: ${why}` }];
    }
    for (const err of errors) {
      const severity = err.severity ?? 'error';
      if (severity === 'error') rejected = true;
      if (lenient && severity === 'error') {
        diagnostics.push({ severity: 'warning', message: `${err.message}${LENIENT}`, pos: doc.position(err.path), object, path: formatPath(err.path) });
      } else diagnostics.push({ severity, message: err.message, pos: doc.position(err.path), object, path: formatPath(err.path) });
    }
    if (rejected && lenient && doc.kind === 'NetworkPolicy' && doc.apiVersion === 'networking.k8s.io/v1') {
      const read = lenientNetworkPolicy(doc.value);
      for (const u of read.unreadable) {
        diagnostics.push({ severity: 'warning', message: `--lenient: cannot be read: ${u.message}`, pos: doc.position(u.path), object, path: formatPath(u.path) });
      }
      valid.push({ ...doc, value: read.value });
      invalid++;
    } else if (rejected && !lenient) invalid++;
    else {
      if (rejected) invalid++;
      valid.push(doc);
    }
  }
  return { valid, diagnostics, invalid };
}

/** Validates documents already loaded (from files or a live cluster) and builds the cluster from the valid ones. */
export function readDocuments(documents: readonly LoadedDocument[], loadDiagnostics: readonly Diagnostic[] = [], defaultNamespace?: string, lenient = false): ReadResult {
  const checked = validateDocuments(documents, defaultNamespace, lenient);
  const built = buildCluster(checked.valid, defaultNamespace !== undefined ? { defaultNamespace } : {});
  // Leniently, what the model cannot use is left out with a warning instead of stopping the analysis.
  const modelDiagnostics = lenient ? built.diagnostics.map((d): Diagnostic => (d.severity === 'error' ? { ...d, severity: 'warning', message: `${d.message} (--lenient)` } : d)) : built.diagnostics;
  const diagnostics = [...loadDiagnostics, ...checked.diagnostics, ...modelDiagnostics];
  return { cluster: built.cluster, documents: [...documents], diagnostics: sortDiagnostics(diagnostics), invalid: checked.invalid };
}

/** Sorts by file, line, column; diagnostics without a position come first; equal positions keep their order. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort((a, b) => {
      const pa = a.d.pos;
      const pb = b.d.pos;
      if (!pa || !pb) return (pa ? 1 : 0) - (pb ? 1 : 0) || a.i - b.i;
      const byFile = pa.file < pb.file ? -1 : pa.file > pb.file ? 1 : 0;
      return byFile || pa.line - pb.line || pa.column - pb.column || a.i - b.i;
    })
    .map(({ d }) => d);
}
