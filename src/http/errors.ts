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
const REPRESENTATION_HEADERS = ['ETag', 'Last-Modified', 'Link'];

export function errorHandler(config: Config) {
  return (err: Error, c: Context): Response => {
    const e: HttpError = isHttpError(err) ? err : httpError(500, 'internal', 'internal server error');
    // A stored image we cannot read is the operator's to fix, whatever its status: they hear of it too.
    if (e.status >= 500 || e.cause !== undefined || e.code === 'unsupported_source') c.set('failure', err);
    const answer = errorAnswer(e, config);
    // What a route set for the image it meant to send (validators, canonical Link) is not this answer's.
    for (const name of REPRESENTATION_HEADERS) c.header(name, undefined);
    for (const [name, value] of answer.headers) c.header(name, value);
    // A HEAD answer sends no body bytes, though its Content-Length states the body a GET gets.
    served(c, e.code, c.req.method === 'HEAD' ? 0 : utf8Length(answer.body));
    return c.body(answer.body, e.status as 400);
  };
}

/** An error's status, headers and one-line JSON body. */
export function errorAnswer(e: HttpError, config: Config): { headers: Array<[string, string]>; body: string } {
  const headers = Object.entries(e.headers);
  // An error may say it must not be cached (e.g. one caused by a request header the cache key lacks).
  if (!e.headers['Cache-Control']) headers.push(['Cache-Control', e.status >= 500 ? 'no-store' : config.IIIF_CACHE_CONTROL_ERROR]);
  headers.push(['Content-Type', 'application/json']);
  return { headers, body: JSON.stringify({ status: e.status, error: e.code, message: e.message }) };
}

export function notFound(c: Context): Response {
  throw httpError(404, 'not_found', `no route for ${echo(c.req.path)}`);
}
