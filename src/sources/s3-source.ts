import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { isSourceChanged, SourceChangedError, type ByteRange, type ImageSource, type SourceObject } from './source.ts';
import { objectKey } from './key-template.ts';
import { httpError } from '../errors.ts';
import { describeFault, isPreconditionFailed, isRangeNotSatisfiable, misconfigured, storageError } from './s3-errors.ts';
import { hintsFromMetadata } from './s3-hints.ts';

export interface S3SourceOptions {
  bucket: string;
  /** Prepended to every key, e.g. `images/`. */
  prefix?: string;
  /** Every `%s` is replaced by the identifier; default `%s`. */
  keyTemplate?: string;
  /** Shared by all requests of the process (see createS3Client). */
  client: S3Client;
  /** Deadline for each store call, body included (IIIF_SOURCE_TIMEOUT_MS). */
  timeoutMs: number;
  /** Operator log for upstream faults (5xx, timeouts); never sees bucket, key or credentials. */
  log?: (line: string) => void;
}

/** How long a HeadBucket answer is trusted; it is only asked after a HeadObject 404. */
const BUCKET_CHECK_MS = 60_000;

/** Images in an S3 (or S3-compatible) bucket, read with HeadObject and ranged GetObject. */
export function s3Source(options: S3SourceOptions): ImageSource {
  const { bucket, client, timeoutMs, log } = options;
  const template = { prefix: options.prefix ?? '', template: options.keyTemplate ?? '%s' };
  let bucketCheck: { at: number; missing: Promise<boolean> } | undefined;

  /**
   * HeadObject's 404 has no body, so a missing key and a missing bucket look alike; a missing
   * bucket is misconfiguration (a 5xx no cache keeps), not a missing image. Any answer but
   * a 404 (403 without s3:ListBucket, a fault) counts as "the bucket is there".
   */
  function bucketMissing(): Promise<boolean> {
    if (!bucketCheck || performance.now() - bucketCheck.at > BUCKET_CHECK_MS) {
      const missing = client
        .send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(timeoutMs) })
        .then(
          () => false,
          (e: unknown) => storageError(e, false).status === 404,
        );
      bucketCheck = { at: performance.now(), missing };
    }
    return bucketCheck.missing;
  }

  /** Runs one call under our deadline and the caller's signal, mapping every failure to an HttpError. */
  async function call<T>(operation: string, signal: AbortSignal | undefined, run: (s: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([deadline, signal]) : deadline;
    try {
      return await run(combined);
    } catch (e) {
      if (isSourceChanged(e)) throw e;
      const error = storageError(e, deadline.aborted);
      if (error.status < 500) throw error;
      const fault = describeFault(operation, e);
      log?.(fault);
      // The request's log line names the failed call (the same words, no bucket, key or credentials); the client does not.
      throw httpError(error.status, error.code, error.message, error.headers, new Error(fault));
    }
  }

  return {
    kind: 's3',
    async stat(identifier, signal): Promise<SourceObject> {
      try {
        return await head(identifier, signal);
      } catch (e) {
        if ((e as { status?: number }).status === 404 && (await bucketMissing())) {
          log?.('s3 HeadObject failed name=NoSuchBucket (the configured bucket does not exist)');
          throw misconfigured();
        }
        throw e;
      }
    },
    read(identifier, range?: ByteRange, signal?: AbortSignal, known?: string): Promise<Uint8Array> {
      if (range && range.length <= 0) return Promise.resolve(new Uint8Array(0));
      // Only a store's own ETag can be matched (not the size-date stand-in of stores without one).
      const etag = known?.startsWith('"') ? known : undefined;
      return call('GetObject', signal, async (abortSignal) => {
        const command = new GetObjectCommand({
          Bucket: bucket,
          Key: objectKey(identifier, template),
          // Absolute ranges only: suffix ranges are not portable across S3-compatible stores.
          ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
          // The bytes must be the version stat saw; the ETag is compared again below for stores that ignore If-Match.
          ...(etag ? { IfMatch: etag } : {}),
        });
        const object = await client.send(command, { abortSignal }).catch((e: unknown) => {
          // A range starting past the end is a short read of nothing, not an error.
          if (range && isRangeNotSatisfiable(e)) return undefined;
          if (etag && isPreconditionFailed(e)) throw new SourceChangedError();
          throw e;
        });
        if (etag && object?.ETag !== undefined && object.ETag !== etag) {
          if (object.Body instanceof Readable) object.Body.destroy();
          throw new SourceChangedError();
        }
        return object?.Body ? readBody(object.Body, abortSignal) : new Uint8Array(0);
      });
    },
  };

  function head(identifier: string, signal: AbortSignal | undefined): Promise<SourceObject> {
    return call('HeadObject', signal, async (abortSignal) => {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(identifier, template) }), { abortSignal });
      const size = head.ContentLength ?? 0;
      const hints = hintsFromMetadata(head.Metadata);
      return {
        // Stores without ETags still change size or date when the bytes change.
        etag: head.ETag ?? `${size}-${head.LastModified?.getTime() ?? 0}`,
        size,
        ...(head.LastModified ? { lastModified: head.LastModified } : {}),
        ...(hints ? { hints } : {}),
      };
    });
  }
}

type Body = { transformToByteArray(): Promise<Uint8Array> };

/** Reads the body under the same signal: the SDK's own abort may no longer apply once headers arrived. */
async function readBody(body: Body, signal: AbortSignal): Promise<Uint8Array> {
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      if (body instanceof Readable) body.destroy();
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([body.transformToByteArray(), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
