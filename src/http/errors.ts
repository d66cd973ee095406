import type { Context } from 'hono';
import type { Config } from '../config.ts';
import { HttpError, httpError, isHttpError } from '../errors.ts';
import { echo } from '../iiif/parse.ts';
import { served, utf8Length } from '../log/request-log.ts';

/**
 * Every failure ends here: one line of JSON with the status, a machine code and
 * a safe message. Unknown errors become a bare 500. The cause of any 5xx goes to
 * the request's log line (src/log/request-log.ts), never to the client.
 */
export function errorHandler(config: Config) {
  return (err: Error, c: Context): Response => {
    const e: HttpError = isHttpError(err) ? err : httpError(500, 'internal', 'internal server error');
    // A stored image we cannot read is the operator's to fix, whatever its status: they hear of it too.
    if (e.status >= 500 || e.cause !== undefined || e.code === 'unsupported_source') c.set('failure', err);
    for (const [name, value] of Object.entries(e.headers)) c.header(name, value);
    // An error may say it must not be cached (e.g. one caused by a request header the cache key lacks).
    if (!e.headers['Cache-Control']) c.header('Cache-Control', e.status >= 500 ? 'no-store' : config.IIIF_CACHE_CONTROL_ERROR);
    const body = JSON.stringify({ status: e.status, error: e.code, message: e.message });
    served(c, e.code, utf8Length(body));
    return c.body(body, e.status as 400, { 'Content-Type': 'application/json' });
  };
}

export function notFound(c: Context): Response {
  throw httpError(404, 'not_found', `no route for ${echo(c.req.path)}`);
}
