import { httpError, type HttpError } from '../errors.ts';

/** The parts of an AWS SDK (or Node network) error we classify by; never the message. */
interface SdkFault {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $retryable?: { throttling?: boolean };
}

const asFault = (e: unknown): SdkFault => (typeof e === 'object' && e !== null ? (e as SdkFault) : {});

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound']);
const FORBIDDEN = new Set(['AccessDenied', 'Forbidden', 'InvalidObjectState']);
const THROTTLED = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']);
/** The SDK names these TimeoutError too, but the store was never reached: not a timeout. */
const UNREACHABLE = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** S3 asks for a pause; clients and CDNs may retry after this many seconds. */
const RETRY_AFTER = { 'Retry-After': '2' };

export const isRangeNotSatisfiable = (e: unknown): boolean => {
  const f = asFault(e);
  return f.name === 'InvalidRange' || f.$metadata?.httpStatusCode === 416;
};

export const isPreconditionFailed = (e: unknown): boolean => {
  const f = asFault(e);
  return f.name === 'PreconditionFailed' || f.$metadata?.httpStatusCode === 412;
};

/** The bucket is missing: an operator's fault, so a 5xx that no cache keeps. */
export const misconfigured = (): HttpError => httpError(502, 'upstream_error', 'storage is misconfigured');

/**
 * Maps a failed S3 call to the app's HttpError. `timedOut` says our own deadline
 * fired; the messages never name the bucket, key or endpoint.
 */
export function storageError(e: unknown, timedOut: boolean): HttpError {
  const f = asFault(e);
  const status = f.$metadata?.httpStatusCode;
  const name = typeof f.name === 'string' ? f.name : '';
  if (typeof f.code === 'string' && UNREACHABLE.has(f.code) && !timedOut) {
    return httpError(502, 'upstream_error', 'storage could not be reached');
  }
  if (timedOut || name === 'TimeoutError') {
    return httpError(504, 'upstream_timeout', 'storage did not answer in time');
  }
  if (name === 'AbortError') return httpError(502, 'upstream_error', 'the storage request was cancelled');
  if (name === 'NoSuchBucket') return misconfigured();
  if (NOT_FOUND.has(name) || status === 404) return httpError(404, 'not_found', 'no image with that identifier');
  if (FORBIDDEN.has(name) || status === 403) return httpError(403, 'forbidden', 'the image cannot be read');
  if (f.$retryable?.throttling || THROTTLED.has(name) || status === 429) {
    return httpError(503, 'upstream_unavailable', 'storage is busy, try again', RETRY_AFTER);
  }
  if (status === 503 || name === 'ServiceUnavailable') {
    return httpError(503, 'upstream_unavailable', 'storage is unavailable, try again', RETRY_AFTER);
  }
  return httpError(502, 'upstream_error', status === undefined ? 'storage could not be reached' : 'storage failed to read the image');
}

/** One operator log line: what failed and how, no bucket, key or credentials. */
export function describeFault(operation: string, e: unknown): string {
  const f = asFault(e);
  const parts = [`s3 ${operation} failed`, `name=${String(f.name ?? 'unknown')}`];
  if (typeof f.code === 'string') parts.push(`code=${f.code}`);
  if (f.$metadata?.httpStatusCode !== undefined) parts.push(`status=${f.$metadata.httpStatusCode}`);
  if (f.$metadata?.requestId) parts.push(`requestId=${f.$metadata.requestId}`);
  return parts.join(' ');
}
