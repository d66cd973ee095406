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
  constructor(
    status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(status, { message });
    this.name = 'HttpError';
  }
}

export function httpError(
  status: ContentfulStatusCode,
  code: ErrorCode,
  message: string,
  headers?: Record<string, string>,
): HttpError {
  return new HttpError(status, code, message, headers);
}

export const isHttpError = (e: unknown): e is HttpError => e instanceof HttpError;
