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

// Valid segments already parsed, per schema: a viewer's tile URLs repeat their identifier, size,
// rotation, quality and format, and valibot's unions took about an eighth of our code's time per
// stored tile. Outputs are frozen, since callers share them. At most 256 keys of up to 256
// characters per schema (7 schemas: about 1 MiB at most); a full table starts again empty.
const MEMO_ENTRIES = 256;
const MEMO_KEY_CHARS = 256;
const memos = new WeakMap<object, Map<string, unknown>>();

function memoOf<T>(schema: object): Map<string, T> {
  let memo = memos.get(schema);
  if (!memo) memos.set(schema, (memo = new Map()));
  return memo as Map<string, T>;
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
  const memo = memoOf<T>(schema);
  const known = memo.get(raw);
  if (known !== undefined) return known;
  const result = v.safeParse(schema, raw);
  if (result.success) {
    if (raw.length <= MEMO_KEY_CHARS) {
      if (memo.size >= MEMO_ENTRIES) memo.clear();
      memo.set(raw, Object.freeze(result.output));
    }
    return result.output;
  }
  const issue = result.issues[0];
  const detail = issue.type === 'check' ? issue.message : `expected ${expected}`;
  throw httpError(400, code, `Invalid ${segment} "${echo(raw)}": ${detail}.`);
}
