import * as v from 'valibot';
import { httpError, type ErrorCode } from '../errors.ts';

/** Plain decimal integer: digits only, at most 9 of them (no sign, exponent, hex or spaces). */
export const INT = '(\\d{1,9})';
/** Plain decimal float per 3.0 §4.7: digits and one dot only (`.5` tolerated, `5.` and `1e3` not). */
export const DEC = '(\\d{1,9}(?:\\.\\d{1,20})?|\\.\\d{1,20})';

/** Anchored regex built from the fragments above. */
export const re = (body: string): RegExp => new RegExp(`^${body}$`);

/** Echo a client value safely in an error message: control characters as `\uXXXX` escapes, at most 40 chars. */
export function echo(value: string): string {
  // Shown, not removed: `jpg%00` must not read back as the valid `jpg` it was refused beside.
  const clean = value.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
}

/**
 * Run a valibot schema over one path segment and turn any failure into a 400.
 * Our own `v.check` messages are specific, so they win over valibot's generic union text.
 */
export function parseSegment<T>(
  schema: v.GenericSchema<string, T>,
  raw: string,
  code: ErrorCode,
  segment: string,
  expected: string,
): T {
  const result = v.safeParse(schema, raw);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const detail = issue.type === 'check' ? issue.message : `expected ${expected}`;
  throw httpError(400, code, `Invalid ${segment} "${echo(raw)}": ${detail}.`);
}
