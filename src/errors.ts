import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Machine-readable reason carried by every HTTP error the app emits. */
export type ErrorCode =
  | 'bad_request'
  | 'bad_identifier'
  | 'bad_region'
  | 'bad_size'
  | 'bad_rotation'
  | 'bad_quality'
  | 'bad_format'
  | 'over_limit'
  | 'forbidden'
  | 'not_found'
  | 'not_implemented'
  | 'method_not_allowed'
  | 'precondition_failed'
  | 'unsupported_source'
  | 'upstream_error'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'busy'
  | 'internal';

/**
 * The one error type of the app. `message` is a short, safe sentence sent to
 * the client as is, so it must never contain paths, bucket names or stack text.
 * A Hono HTTPException, so that Hono's own middleware (timeout) can raise it.
 */
export class HttpError extends HTTPException {
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    code: ErrorCode,
    message: string,
    headers: Record<string, string> = {},
    cause?: unknown,
  ) {
    super(status, { message, cause });
    this.name = 'HttpError';
    this.code = code;
    this.headers = headers;
  }
}

export function httpError(
  status: ContentfulStatusCode,
  code: ErrorCode,
  message: string,
  headers?: Record<string, string>,
  /** Logged with a 5xx, never sent. */
  cause?: unknown,
): HttpError {
  return new HttpError(status, code, message, headers, cause);
}

export const isHttpError = (e: unknown): e is HttpError => e instanceof HttpError;

/** The request timeout's answer (IIIF_REQUEST_TIMEOUT_MS). */
export const tooLong = () => httpError(503, 'busy', 'the request took too long, try again later', { 'Retry-After': '5' });
