import type { MiddlewareHandler } from 'hono';
import type { Config } from '../config.ts';

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/**
 * The CORS headers of a simple (non-preflight) request from `origin`, as name/value pairs: shared
 * by the middleware and the Node adapter's direct answers (src/routes/direct.ts).
 */
export function corsHeaders(config: Config): (origin: string | undefined) => Array<[string, string]> {
  const setting = config.IIIF_CORS_ALLOW_ORIGIN;
  const allowed = setting === '*' || setting === 'REFLECT_ORIGIN' ? undefined : new Set(list(setting));
  const expose = list(config.IIIF_CORS_EXPOSE_HEADERS).join(',');
  const always: Array<[string, string]> = [];
  if (setting !== '*') always.push(['Vary', 'Origin']);
  if (config.IIIF_CORS_ALLOW_CREDENTIALS) always.push(['Access-Control-Allow-Credentials', 'true']);
  if (expose) always.push(['Access-Control-Expose-Headers', expose]);
  const star: Array<[string, string]> = [['Access-Control-Allow-Origin', '*'], ...always];
  return (origin) => {
    if (setting === '*') return star;
    const allow = origin && (allowed === undefined || allowed.has(origin)) ? origin : undefined;
    return allow ? [['Access-Control-Allow-Origin', allow], ...always] : always;
  };
}

/**
 * CORS from configuration; `REFLECT_ORIGIN` echoes the caller (serverless-iiif's setting).
 * Not hono/cors: it touches `c.res` before the handler and headers after it, which makes
 * @hono/node-server stream every body instead of writing it at once (4× fewer requests/s
 * for info.json and tiles). Here every header is set before the handler runs.
 */
export function corsMiddleware(config: Config): MiddlewareHandler {
  const simple = corsHeaders(config);
  const allowHeaders = list(config.IIIF_CORS_ALLOW_HEADERS).join(',');

  return async (c, next) => {
    const headers = simple(c.req.header('origin'));
    if (c.req.method !== 'OPTIONS') {
      for (const [name, value] of headers) c.header(name, value, { append: name === 'Vary' });
      return next();
    }
    // A preflight answers which methods and headers may follow; it exposes none.
    for (const [name, value] of headers) if (name !== 'Access-Control-Expose-Headers') c.header(name, value, { append: name === 'Vary' });
    c.header('Access-Control-Allow-Methods', 'GET,HEAD,OPTIONS');
    const requested = allowHeaders || c.req.header('access-control-request-headers');
    if (requested) c.header('Access-Control-Allow-Headers', requested);
    c.header('Access-Control-Max-Age', String(config.IIIF_CORS_MAX_AGE));
    return c.body(null, 204);
  };
}
