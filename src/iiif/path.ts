import * as v from 'valibot';
import { httpError, isHttpError, type ErrorCode } from '../errors.ts';
import { MAX_IDENTIFIER_LENGTH } from './constants.ts';
import { echo, parseSegment } from './parse.ts';
import { splitQualityFormat } from './quality-format.ts';
import { parseImageRequest } from './request.ts';
import type { IiifPath, IiifVersion, ImageParams } from './types.ts';

export interface SplitOptions {
  /** Stand-in for `/` that some deployments use inside identifiers (e.g. `_SL_`). */
  slashSubstitute?: string;
  /** Version whose syntax decides 404-vs-400 for over-long paths; either version when absent. */
  version?: IiifVersion;
}

/** How emitted URLs spell a `/` inside an identifier. */
export interface EmitOptions {
  slashSubstitute?: string;
  /** IIIF_RAW_SLASH_CANONICAL=as-received: a raw `/`, as serverless-iiif emits it. */
  rawSlash?: boolean;
}

/**
 * A raw-slash path (IIIF_RAW_SLASH_IDS) that is either the base URI of an identifier with slashes or a
 * request with a bad tail: the image existing decides, with one stat (`otherwise` when it does not).
 */
export type RawSlashPath = IiifPath | { kind: 'base-if-exists'; identifier: string; otherwise: unknown };

const EXPECTED = '{identifier}/info.json or {identifier}/{region}/{size}/{rotation}/{quality}.{format}';

const isRelative = (id: string): boolean =>
  id.startsWith('/') || id.includes('\\') || id.split('/').some((s) => s === '.' || s === '..');

const identifierSchema = v.pipe(
  v.string(),
  v.check((s) => s.length > 0, 'empty identifier'),
  v.check((s) => s.length <= MAX_IDENTIFIER_LENGTH, `longer than ${MAX_IDENTIFIER_LENGTH} characters`),
  v.check((s) => !/\p{Cc}/u.test(s), 'identifier may not contain control characters'),
  v.check((s) => !isRelative(s), 'identifier may not contain relative path segments'),
);

const unencodedSlash = () =>
  httpError(404, 'not_found', 'Not found: identifiers containing "/" must encode it as %2F.');

function decode(raw: string, what: string, code: ErrorCode): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw httpError(400, code, `Invalid percent-encoding in ${what} "${echo(raw)}".`);
  }
}

function decodeIdentifier(raw: string, slashSubstitute: string | undefined): string {
  let id = decode(raw, 'identifier', 'bad_identifier');
  if (slashSubstitute) id = id.replaceAll(slashSubstitute, '/');
  return parseSegment(identifierSchema, id, 'bad_identifier', 'identifier', 'a valid identifier');
}

/** Parameters are decoded too, since some clients encode `^`, `!`, `:` or `,`. */
function decodeParams(segments: string[]): ImageParams {
  const [region = '', size = '', rotation = '', last = ''] = segments.map((s) => decode(s, 'image parameter', 'bad_request'));
  return { region, size, rotation, ...splitQualityFormat(last) };
}

/** Why the tail is not a valid image request, or undefined when it is (a 501 such as jp2 is valid syntax). */
function tailError(tail: string[], version: IiifVersion): unknown {
  try {
    parseImageRequest(version, decodeParams(tail));
    return undefined;
  } catch (e) {
    return isHttpError(e) && e.status === 501 ? undefined : e;
  }
}

/** Paths longer than an image request: 404 when the tail is valid (the identifier had a raw `/`), else the tail's 400. */
function rejectLongPath(tail: string[], version: IiifVersion | undefined): never {
  const errors = (version ? [version] : ([3, 2] as const)).map((ver) => tailError(tail, ver));
  if (errors.every((e) => e !== undefined)) throw errors[0];
  throw unencodedSlash();
}

/**
 * Split the raw, still percent-encoded path after `{prefix}/{version}/`. Splitting happens before
 * decoding so that `%2F` inside an identifier never separates segments.
 */
export function splitIiifPath(rest: string, opts: SplitOptions = {}): IiifPath {
  const segments = rest.split('/');
  const n = segments.length;
  const last = segments[n - 1] ?? '';
  // The base URI, also with a trailing slash (which Cantaloupe redirects too).
  if (n === 1 || (n === 2 && last === '')) return { kind: 'base', identifier: decodeIdentifier(segments[0] ?? '', opts.slashSubstitute) };
  if (last === 'info.json') {
    if (n > 2) throw unencodedSlash();
    return { kind: 'info', identifier: decodeIdentifier(segments[0] ?? '', opts.slashSubstitute) };
  }
  if (n > 5) rejectLongPath(segments.slice(-4), opts.version);
  if (n < 5) throw httpError(400, 'bad_request', `Malformed IIIF path: expected ${EXPECTED}.`);
  const identifier = decodeIdentifier(segments[0] ?? '', opts.slashSubstitute);
  return { kind: 'image', identifier, params: decodeParams(segments.slice(1)) };
}

/**
 * serverless-iiif's parse: the IIIF tail has a fixed length, so the identifier is everything before
 * `info.json` or before the last four segments, raw `/` included. Only a path whose tail is not a
 * valid request needs the source: the base URI of a deep identifier, or the tail's own error.
 */
export function splitRawSlashPath(rest: string, opts: SplitOptions = {}): RawSlashPath {
  const segments = rest.split('/');
  const n = segments.length;
  if (n === 1 || (n === 2 && segments[1] === '')) return splitIiifPath(rest, opts);
  const identifier = (parts: string[]) => decodeIdentifier(parts.join('/'), opts.slashSubstitute);
  if (segments[n - 1] === 'info.json') return { kind: 'info', identifier: identifier(segments.slice(0, -1)) };
  if (n > 4) {
    const tail = segments.slice(-4);
    const errors = (opts.version ? [opts.version] : ([3, 2] as const)).map((ver) => tailError(tail, ver));
    if (errors.some((e) => e === undefined)) return { kind: 'image', identifier: identifier(segments.slice(0, -4)), params: decodeParams(tail) };
    return { kind: 'base-if-exists', identifier: identifier(segments), otherwise: errors[0] };
  }
  const otherwise = httpError(400, 'bad_request', `Malformed IIIF path: expected ${EXPECTED}.`);
  return { kind: 'base-if-exists', identifier: identifier(segments), otherwise };
}

/** Percent-encode an identifier for use in URLs (info.json `id`, Link headers): `a/b` → `a%2Fb`. */
export function encodeIdentifier(id: string): string {
  return encodeURIComponent(id);
}

/** An identifier as this deployment spells it in the URLs it emits (info.json `id`, Link, Location). */
export function emitIdentifier(id: string, opts: EmitOptions): string {
  if (!opts.slashSubstitute && !opts.rawSlash) return encodeURIComponent(id);
  const separator = opts.slashSubstitute ? encodeURIComponent(opts.slashSubstitute) : '/';
  return id.split('/').map(encodeURIComponent).join(separator);
}
