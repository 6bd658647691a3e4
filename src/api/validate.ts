/**
 * Apiserver-equivalent validation (placeholder signature; the full rules land in this file).
 */
import type { PathSegment } from './diagnostics.js';

/** One validation error: the field path in segments and what is wrong, in the apiserver's words. */
export interface FieldError {
  readonly path: readonly PathSegment[];
  readonly message: string;
  /** `error` rejects the object; `warning` is reported and the object is kept. */
  readonly severity?: 'error' | 'warning';
}

/** Validates one decoded object (JSON value) of any kind Palisade reads; other kinds return no errors. */
export function validateObject(_obj: unknown): FieldError[] {
  return [];
}
