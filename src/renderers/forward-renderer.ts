import { httpError, isHttpError } from '../errors.ts';
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
  return {
    async render(input, plan) {
      const key = `${origin}${input.canonicalPath}`;
      const started = performance.now();
      const hit = await cache?.match(key).catch((e: unknown) => log('render cache read failed', e));
      if (hit && hit.headers.get(ANSWER_ETAG) === input.etag) {
        return { body: new Uint8Array(await hit.arrayBuffer()), readMs: performance.now() - started };
      }
      const body = await fetchRender(key, input, plan, options.timeoutMs);
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
    },
  };
}

async function fetchRender(
  url: string,
  input: RenderInput,
  plan: RenderPlan,
  timeoutMs: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = input.signal ? AbortSignal.any([input.signal, timeout]) : timeout;
  const mediaType = FORMAT_MEDIA_TYPES[plan.format];
  try {
    const res = await fetch(url, { headers: { Accept: mediaType }, redirect: 'manual', signal });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw originStatusError(res.status);
    }
    if (res.headers.get('Content-Type')?.split(';')[0]?.trim() !== mediaType) {
      await res.body?.cancel();
      throw httpError(502, 'upstream_error', 'the render origin answered with the wrong media type');
    }
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    if (isHttpError(e)) throw e;
    if (timeout.aborted) throw httpError(504, 'upstream_timeout', 'the render origin did not answer in time');
    throw httpError(502, 'upstream_error', 'the render origin could not be reached');
  }
}

/** The request was already validated here, so any origin refusal is an origin fault, not the client's. */
function originStatusError(status: number) {
  if (status === 503 || status === 429) {
    return httpError(503, 'upstream_unavailable', 'the render origin is busy, try again', { 'Retry-After': '1' });
  }
  if (status === 504) return httpError(504, 'upstream_timeout', 'the render origin timed out');
  if (status === 501) return httpError(501, 'not_implemented', 'the render origin cannot produce this image');
  return httpError(502, 'upstream_error', `the render origin failed (status ${status})`);
}
