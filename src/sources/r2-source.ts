import { httpError, isHttpError } from '../errors.ts';
import { SourceChangedError, type ByteRange, type ImageSource, type SourceObject } from './source.ts';
import { objectKey } from './key-template.ts';
import { hintsFromMetadata } from './s3-hints.ts';

/** The parts of a Workers R2 object this source reads (structural, so no workers-types). */
export interface R2ObjectLike {
  size: number;
  etag: string;
  httpEtag?: string;
  uploaded?: Date;
  customMetadata?: Record<string, string>;
}

export interface R2BucketLike {
  head(key: string): Promise<R2ObjectLike | null>;
  get(
    key: string,
    options?: { range?: { offset: number; length: number }; onlyIf?: { etagMatches: string } },
  ): Promise<(R2ObjectLike & { arrayBuffer?(): Promise<ArrayBuffer> }) | null>;
}

export interface R2SourceOptions {
  bucket: R2BucketLike;
  /** Prepended to every key, e.g. `images/` (IIIF_S3_PREFIX). */
  prefix?: string;
  /** Every `%s` becomes the identifier (IIIF_S3_KEY_TEMPLATE); default `%s`. */
  keyTemplate?: string;
  /** R2 bindings take no AbortSignal, so each call is raced against this deadline. */
  timeoutMs: number;
}

const MAX_KEY_BYTES = 1024;
/** R2 error codes in binding messages: invalid key name, range not satisfiable, rate limited / unavailable. */
const INVALID_KEY = /\(10020\)/;
const BAD_RANGE = /\(10039\)/;
const BUSY = /\((10043|10058)\)/;

const notFound = () => httpError(404, 'not_found', 'no image with that identifier');
const messageOf = (e: unknown) => (e instanceof Error ? e.message : '');

/** Images in an R2 bucket bound to the Worker, keyed like the S3 source; geometry hints from custom metadata. */
export function r2Source(options: R2SourceOptions): ImageSource {
  const { bucket, timeoutMs } = options;
  const template = { prefix: options.prefix ?? '', template: options.keyTemplate ?? '%s' };

  const keyOf = (identifier: string): string => {
    const key = objectKey(identifier, template);
    if (new TextEncoder().encode(key).length > MAX_KEY_BYTES) throw notFound();
    return key;
  };

  return {
    kind: 'r2',
    async stat(identifier, signal): Promise<SourceObject> {
      const object = await call(() => bucket.head(keyOf(identifier)), timeoutMs, signal);
      if (!object) throw notFound();
      const hints = hintsFromMetadata(object.customMetadata);
      return {
        etag: object.httpEtag ?? `"${object.etag}"`,
        size: object.size,
        ...(object.uploaded ? { lastModified: object.uploaded } : {}),
        ...(hints ? { hints } : {}),
      };
    },
    async read(identifier, range?: ByteRange, signal?: AbortSignal, etag?: string): Promise<Uint8Array> {
      if (range && range.length <= 0) return new Uint8Array(0);
      // stat's ETag is R2's httpEtag (quoted); onlyIf and object.etag use the bare one.
      const bare = etag?.replace(/^W\//, '').replace(/^"|"$/g, '');
      const options = { ...(range ? { range } : {}), ...(bare ? { onlyIf: { etagMatches: bare } } : {}) };
      return call(
        async () => {
          const object = await bucket.get(keyOf(identifier), range || bare ? options : undefined).catch((e: unknown) => {
            // A range starting past the end is a short read of nothing, not an error.
            if (range && BAD_RANGE.test(messageOf(e))) return 'empty' as const;
            throw e;
          });
          if (object === 'empty') return new Uint8Array(0);
          if (!object) throw notFound();
          // A failed onlyIf answers the object's metadata without a body.
          if (!object.arrayBuffer || (bare !== undefined && object.etag !== bare)) throw new SourceChangedError();
          return new Uint8Array(await object.arrayBuffer());
        },
        timeoutMs,
        signal,
      );
    },
  };
}

/** Runs one R2 call, body included, under a deadline and the request's signal; failures become safe HTTP errors. */
async function call<T>(run: () => Promise<T>, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const stop = signal ? AbortSignal.any([deadline, signal]) : deadline;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(httpError(504, 'upstream_timeout', 'storage did not answer in time'));
    if (stop.aborted) onAbort();
    else stop.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([run(), aborted]);
  } catch (e) {
    throw toHttpError(e);
  } finally {
    stop.removeEventListener('abort', onAbort);
  }
}

function toHttpError(e: unknown): unknown {
  if (isHttpError(e)) return e;
  const message = messageOf(e);
  if (INVALID_KEY.test(message)) return notFound();
  if (BUSY.test(message)) return httpError(503, 'upstream_unavailable', 'storage is busy, try again', { 'Retry-After': '1' }, e);
  return httpError(502, 'upstream_error', 'storage failed to read the image', {}, e);
}
