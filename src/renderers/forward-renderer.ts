import { type ErrorCode, httpError, isHttpError } from '../errors.ts';
import { FORMAT_MEDIA_TYPES } from '../iiif/constants.ts';
import type { RenderPlan } from '../iiif/types.ts';
import type { RenderInput, Renderer } from './renderer.ts';

/** The Cache API surface used here (`caches.default` on Workers), typed structurally. */
export interface ResponseCache {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
}

export interface ForwardRendererOptions {
  /** A Node or Lambda deployment of this server with the same IIIF_PREFIX and identifiers. */
  origin: string;
  timeoutMs: number;
  /** Largest origin answer held in memory (IIIF_FORWARD_MAX_BYTES): an isolate has 128 MB in all. */
  maxBytes: number;
  /** Cache-Control stored with cached renders; it sets their lifetime in the Cache API. */
  cacheControl: string;
  cache?: ResponseCache;
  log?: (line: string, cause?: unknown) => void;
}

/**
 * Records the answer's ETag a cached render was made for: a replaced image, or settings changed
 * since (a lower maxWidth changes `max`), make it render again.
 */
const ANSWER_ETAG = 'X-IIIF-Answer-ETag';

/**
 * Renders by asking another deployment for the canonical URL, so equivalent
 * requests (`full` and `pct:0,0,100,100`, `max` and the full size in pixels)
 * share one origin render and one cache entry.
 */
export function forwardRenderer(options: ForwardRendererOptions): Renderer {
  const { origin, cache, log = () => {} } = options;
  // Bytes of origin answers held at once in this isolate (read, until stored in the cache), whatever the renders in flight.
  const held = { bytes: 0, max: HELD_ANSWERS * options.maxBytes };
  const cached = async (key: string, etag: string) => {
    const hit = await cache?.match(key).catch((e: unknown) => log('render cache read failed', e));
    return hit && hit.headers.get(ANSWER_ETAG) === etag ? hit : undefined;
  };
  return {
    async cached(input) {
      const started = performance.now();
      const hit = await cached(`${origin}${input.canonicalPath}`, input.etag);
      return hit && { body: new Uint8Array(await hit.arrayBuffer()), readMs: performance.now() - started };
    },
    async render(input, plan) {
      const key = `${origin}${input.canonicalPath}`;
      const { body, reserved, etag } = await fetchRender(key, input, plan, options, held);
      try {
        if (!sameVersion(etag, input.etag)) {
          // An origin behind on a replaced image (or reading other objects): its pixels are not
          // the version this ETag names, so they are neither kept nor sent as that version.
          log(`the render origin answered ${input.canonicalPath} with ETag ${etag ?? '(none)'}, not ${input.etag}: sent uncacheable, not kept`);
          return { body, readMs: 0, otherVersion: true };
        }
        const stored = new Response(body, {
          headers: {
            'Content-Type': FORMAT_MEDIA_TYPES[plan.format],
            'Cache-Control': options.cacheControl,
            [ANSWER_ETAG]: input.etag,
          },
        });
        // A fresh Response carries no origin headers (Set-Cookie above all); a failed put only costs a later miss.
        await cache?.put(key, stored).catch((e: unknown) => log('render cache write failed', e));
        return { body, readMs: 0 };
      } finally {
        held.bytes -= reserved;
      }
    },
    // HEAD and conditional requests answer what a GET would: the origin's own header check (a HEAD).
    async check(input, plan) {
      const key = `${origin}${input.canonicalPath}`;
      if (await cached(key, input.etag)) return undefined;
      const etag = await askOrigin(key, 'HEAD', input, plan, options.timeoutMs, async (res) => {
        await res.body?.cancel();
        return res.headers.get('ETag') ?? undefined;
      });
      // As the GET would be answered: not as this version when the origin has another.
      return sameVersion(etag, input.etag) ? undefined : { otherVersion: true };
    },
  };
}

/**
 * Whether the origin's answer is of the version our ETag names: weak comparison (RFC 9110 §8.8.3.2),
 * since a proxy in front of the origin may mark it weak without changing what it names.
 */
const sameVersion = (theirs: string | undefined, ours: string): boolean => theirs !== undefined && theirs.replace(/^W\//, '') === ours.replace(/^W\//, '');

/** Origin answers held at once, in multiples of IIIF_FORWARD_MAX_BYTES (16 MiB × 4 by default: half an isolate). */
const HELD_ANSWERS = 4;
/** Time kept before the request deadline to answer 504 in. */
const DEADLINE_MARGIN_MS = 250;
/** Bytes of an origin's JSON refusal read to pass its reason on. */
const MAX_REFUSAL_BYTES = 4096;
/** What the origin refuses from the request or the source: the same refusal a Node server gives, passed on. */
const PASSED_ON = new Set<number>([400, 422]);
const PASSED_CODES = new Set<ErrorCode>(['bad_request', 'bad_region', 'bad_size', 'bad_rotation', 'bad_quality', 'bad_format', 'over_limit', 'unsupported_source']);

interface Held {
  bytes: number;
  max: number;
}

/**
 * One request to the origin within the render timeout, body included; `take` reads a 200 answer.
 * Failures are mapped to this server's errors and never name the origin.
 */
async function askOrigin<T>(
  url: string,
  method: 'GET' | 'HEAD',
  input: RenderInput,
  plan: RenderPlan,
  timeoutMs: number,
  take: (res: Response, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  // Ends before the request's own deadline, so that a hung origin is a 504, not the request timeout's 503.
  const left = input.deadline === undefined ? timeoutMs : input.deadline - Date.now() - DEADLINE_MARGIN_MS;
  const timeout = AbortSignal.timeout(Math.max(1, Math.min(timeoutMs, left)));
  const signal = input.signal ? AbortSignal.any([input.signal, timeout]) : timeout;
  const mediaType = FORMAT_MEDIA_TYPES[plan.format];
  try {
    const res = await fetch(url, { method, headers: { Accept: mediaType }, redirect: 'manual', signal });
    if (res.status !== 200) throw await originStatusError(res, method, signal);
    if (res.headers.get('Content-Type')?.split(';')[0]?.trim() !== mediaType) {
      await res.body?.cancel();
      throw httpError(502, 'upstream_error', 'the render origin answered with the wrong media type');
    }
    return await take(res, signal);
  } catch (e) {
    if (isHttpError(e)) throw e;
    if (timeout.aborted) throw httpError(504, 'upstream_timeout', 'the render origin did not answer in time', {}, e);
    throw httpError(502, 'upstream_error', 'the render origin could not be reached', {}, e);
  }
}

function fetchRender(url: string, input: RenderInput, plan: RenderPlan, options: ForwardRendererOptions, held: Held): Promise<Fetched> {
  return askOrigin(url, 'GET', input, plan, options.timeoutMs, async (res, signal) => ({
    ...(await readCapped(res, options.maxBytes, signal, held)),
    etag: res.headers.get('ETag') ?? undefined,
  }));
}

interface Fetched extends Capped {
  /** The origin's ETag for its answer: equal to ours only when it rendered the same source version with the same settings. */
  etag: string | undefined;
}

const tooLarge = (maxBytes: number) =>
  httpError(502, 'upstream_error', `the rendered image is larger than IIIF_FORWARD_MAX_BYTES (${maxBytes} bytes); ask for a smaller size`);

interface Capped {
  body: Uint8Array<ArrayBuffer>;
  /** Bytes counted in `held`, which the caller gives back once it has stored the answer. */
  reserved: number;
}

/**
 * The answer's bytes, refused past `maxBytes` (by its Content-Length, or as it streams) or when the
 * isolate already holds its share of answers; the deadline holds while the body streams.
 */
async function readCapped(res: Response, maxBytes: number, signal: AbortSignal, held: Held): Promise<Capped> {
  const declared = Number(res.headers.get('Content-Length'));
  const reader = res.body?.getReader();
  if (!reader) return { body: new Uint8Array(0), reserved: 0 };
  let got = 0;
  let reserved = 0;
  const stopped = new Promise<never>((_, fail) => {
    const stop = () => fail(signal.reason);
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
  // A settled race leaves `stopped` rejected with nobody listening.
  stopped.catch(() => {});
  const reserve = (bytes: number) => {
    if (held.bytes + bytes > held.max) throw httpError(503, 'busy', 'too many large images are being forwarded, try again', { 'Retry-After': '1' });
    held.bytes += bytes;
    reserved += bytes;
  };
  try {
    if (declared > maxBytes) throw tooLarge(maxBytes);
    const chunks: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), stopped]);
      if (done) break;
      got += value.byteLength;
      if (got > maxBytes) throw tooLarge(maxBytes);
      reserve(value.byteLength);
      chunks.push(value);
    }
    const body = new Uint8Array(got);
    let at = 0;
    for (const chunk of chunks) {
      body.set(chunk, at);
      at += chunk.byteLength;
    }
    return { body, reserved };
  } catch (e) {
    held.bytes -= reserved;
    await reader.cancel().catch(() => {});
    throw e;
  }
}

/**
 * The request was validated here, so most origin refusals are an origin fault (502); a refusal of
 * the request or the source (400, 422) is the one a Node server gives, passed on with its reason.
 */
async function originStatusError(res: Response, method: 'GET' | 'HEAD', signal: AbortSignal) {
  const { status } = res;
  const refusal = PASSED_ON.has(status) && method === 'GET' ? await refusalOf(res, signal) : undefined;
  if (!refusal) await res.body?.cancel().catch(() => {});
  if (PASSED_ON.has(status)) {
    const fallback = status === 422 ? 'unsupported_source' : 'bad_request';
    return httpError(status as 400 | 422, refusal?.code ?? fallback, refusal?.message ?? 'the render origin refused this image request');
  }
  if (status === 503 || status === 429) {
    return httpError(503, 'upstream_unavailable', 'the render origin is busy, try again', { 'Retry-After': '1' });
  }
  if (status === 504) return httpError(504, 'upstream_timeout', 'the render origin timed out');
  if (status === 501) return httpError(501, 'not_implemented', 'the render origin cannot produce this image');
  return httpError(502, 'upstream_error', `the render origin failed (status ${status})`);
}

/** The origin's one-line JSON reason, when it is one of ours and short (at most MAX_REFUSAL_BYTES read). */
async function refusalOf(res: Response, signal: AbortSignal): Promise<{ code: ErrorCode; message: string } | undefined> {
  try {
    const { body } = await readCapped(res, MAX_REFUSAL_BYTES, signal, { bytes: 0, max: Infinity });
    const json = JSON.parse(new TextDecoder().decode(body)) as { error?: unknown; message?: unknown };
    const code = PASSED_CODES.has(json.error as ErrorCode) ? (json.error as ErrorCode) : undefined;
    return code && typeof json.message === 'string' ? { code, message: json.message } : undefined;
  } catch {
    return undefined;
  }
}
