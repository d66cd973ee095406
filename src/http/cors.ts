import type { MiddlewareHandler } from 'hono';
import type { Config } from '../config.ts';

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/**
 * CORS from configuration; `REFLECT_ORIGIN` echoes the caller (serverless-iiif's setting).
 * Not hono/cors: it touches `c.res` before the handler and headers after it, which makes
 * @hono/node-server stream every body instead of writing it at once (4× fewer requests/s
 * for info.json and tiles). Here every header is set before the handler runs.
 */
export function corsMiddleware(config: Config): MiddlewareHandler {
  const setting = config.IIIF_CORS_ALLOW_ORIGIN;
  const allowed = setting === '*' || setting === 'REFLECT_ORIGIN' ? undefined : new Set(list(setting));
  const expose = list(config.IIIF_CORS_EXPOSE_HEADERS).join(',');
  const allowHeaders = list(config.IIIF_CORS_ALLOW_HEADERS).join(',');

  const allowOrigin = (origin: string | undefined): string | undefined => {
    if (setting === '*') return '*';
    if (!origin) return undefined;
    return allowed === undefined || allowed.has(origin) ? origin : undefined;
  };

  return async (c, next) => {
    const origin = allowOrigin(c.req.header('origin'));
    if (origin) c.header('Access-Control-Allow-Origin', origin);
    if (setting !== '*') c.header('Vary', 'Origin', { append: true });
    if (config.IIIF_CORS_ALLOW_CREDENTIALS) c.header('Access-Control-Allow-Credentials', 'true');
    if (c.req.method !== 'OPTIONS') {
      if (expose) c.header('Access-Control-Expose-Headers', expose);
      return next();
    }
    c.header('Access-Control-Allow-Methods', 'GET,HEAD,OPTIONS');
    const headers = allowHeaders || c.req.header('access-control-request-headers');
    if (headers) c.header('Access-Control-Allow-Headers', headers);
    c.header('Access-Control-Max-Age', String(config.IIIF_CORS_MAX_AGE));
    return c.body(null, 204);
  };
}
