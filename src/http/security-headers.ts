import type { MiddlewareHandler } from 'hono';

/**
 * Headers that are safe for a public image server whose images and info.json are
 * embedded by viewers on other origins: no MIME sniffing, cross-origin embedding allowed.
 */
const ALWAYS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

/** Opt-in (IIIF_SECURITY_HEADERS=true) for deployments behind HTTPS that embed nothing in frames. */
const STRICT: Record<string, string> = {
  'Strict-Transport-Security': 'max-age=31536000',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** Images and JSON never load anything; HTML (a bundled viewer page) keeps its own scripts working. */
const STRICT_CSP = "default-src 'none'; frame-ancestors 'none'";

/** The headers every response carries, as name/value pairs. */
export function securityHeaderList(strict: boolean): Array<[string, string]> {
  return Object.entries(strict ? { ...ALWAYS, ...STRICT, 'Content-Security-Policy': STRICT_CSP } : ALWAYS);
}

/** Set before the handler runs: headers added afterwards make @hono/node-server stream the body. */
export function securityHeaders(strict: boolean): MiddlewareHandler {
  // An adapter's own HTML page (the Node viewer) drops the CSP in its handler, as it loads scripts.
  const headers = securityHeaderList(strict);
  return async (c, next) => {
    for (const [name, value] of headers) c.header(name, value);
    await next();
  };
}
