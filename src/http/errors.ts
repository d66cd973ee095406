import type { Context } from 'hono';
import type { Config } from '../config.ts';
import { HttpError, httpError, isHttpError } from '../errors.ts';
import { echo } from '../iiif/parse.ts';

/** Log line for operators: status and code only, never request secrets or storage names. */
export type ErrorLogger = (line: string, cause?: unknown) => void;

/**
 * Every failure ends here: one line of JSON with the status, a machine code and
 * a safe message. Unknown errors become a bare 500 and are logged, not shown.
 */
export function errorHandler(config: Config, log: ErrorLogger) {
  return (err: Error, c: Context): Response => {
    let e: HttpError;
    if (isHttpError(err)) {
      e = err;
    } else {
      log(`unexpected error on ${c.req.method} ${c.req.path}`, err);
      e = httpError(500, 'internal', 'internal server error');
    }
    for (const [name, value] of Object.entries(e.headers)) c.header(name, value);
    // An error may say it must not be cached (e.g. one caused by a request header the cache key lacks).
    if (!e.headers['Cache-Control']) c.header('Cache-Control', e.status >= 500 ? 'no-store' : config.IIIF_CACHE_CONTROL_ERROR);
    return c.json({ status: e.status, error: e.code, message: e.message }, e.status as 400);
  };
}

export function notFound(c: Context): Response {
  throw httpError(404, 'not_found', `no route for ${echo(c.req.path)}`);
}
