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

export function securityHeaders(strict: boolean): MiddlewareHandler {
  return async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(ALWAYS)) c.header(name, value);
    // Never advertise the software or its version.
    c.header('Server', undefined);
    c.header('X-Powered-By', undefined);
    if (!strict) return;
    for (const [name, value] of Object.entries(STRICT)) c.header(name, value);
    if (!c.res.headers.get('Content-Type')?.startsWith('text/html')) c.header('Content-Security-Policy', STRICT_CSP);
  };
}
