/**
 * Diagnostics: what Palisade tells a user about their input. Every one names where (file:line:column), which object and
 * which field path, and what is wrong, so no input error ever reaches the user as a stack trace.
 */

/** A position in a source file; line and column count from 1. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export type Severity = 'error' | 'warning' | 'note';

export interface Diagnostic {
  readonly severity: Severity;
  readonly message: string;
  /** Where, when the diagnostic is about a place in a file. */
  readonly pos?: SourcePos;
  /** The object, as `Kind namespace/name` or `Kind name`. */
  readonly object?: string;
  /** The field path in the apiserver's form, e.g. `spec.ingress[0].from[1].ipBlock.except[0]`. */
  readonly path?: string;
}

/** Formats a diagnostic on one line: `file:line:col: error: NetworkPolicy a/b: spec.x: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  // Objects read from a live cluster have no line: their position is just where they came from.
  const where = !d.pos ? '' : d.pos.line > 0 ? `${d.pos.file}:${d.pos.line}:${d.pos.column}: ` : `${d.pos.file}: `;
  const what = d.object ? `${d.object}: ` : '';
  const path = d.path ? `${d.path}: ` : '';
  return `${where}${d.severity}: ${what}${path}${d.message}`;
}

/** A field path segment: a property name or a list index. */
export type PathSegment = string | number;

/** Renders segments in the apiserver's field-path form: `spec.ingress[0].from`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}

/** Thrown for input a user can fix; the CLI prints its message and exits 1, never its stack. */
export class InputError extends Error {
  constructor(
    message: string,
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(message);
    this.name = 'InputError';
  }
}
