import { Hono, type Context } from 'hono';
import { timing } from 'hono/timing';
import { createAppContext, type AppContext, type AppOptions } from './app-context.ts';
import { corsMiddleware } from './http/cors.ts';
import { errorHandler, notFound } from './http/errors.ts';
import { requestTimeout } from './http/request-timeout.ts';
import { securityHeaders } from './http/security-headers.ts';
import { splitIiifPath } from './iiif/path.ts';
import { parseImageRequest } from './iiif/request.ts';
import type { IiifVersion } from './iiif/types.ts';
import { imageResponse } from './routes/image.ts';
import { infoResponse } from './routes/info.ts';

export type { AppOptions } from './app-context.ts';

const VERSIONS: readonly IiifVersion[] = [3, 2];

/** The IIIF Image API as a Hono app; adapters only choose the source, renderer and runtime. */
export function createApp(options: AppOptions): Hono {
  const ctx = createAppContext(options);
  const { config } = ctx;
  const app = new Hono();
  app.use('*', securityHeaders(config.IIIF_SECURITY_HEADERS));
  app.use('*', corsMiddleware(config));
  app.use('*', timing({ totalDescription: 'total' }));
  app.use('*', requestTimeout(config.IIIF_REQUEST_TIMEOUT_MS));
  app.get('/health', (c) => c.json({ status: 'ok' }));
  for (const version of VERSIONS) {
    const base = `${config.IIIF_PREFIX}/${version}`;
    app.get(base, (c) => c.json({ status: 'ok', version }));
    app.get(`${base}/*`, (c) => iiifRoute(c, ctx, version, base));
  }
  app.notFound(notFound);
  app.onError(errorHandler(config, ctx.log));
  return app;
}

async function iiifRoute(c: Context, ctx: AppContext, version: IiifVersion, base: string) {
  // The raw pathname still holds `%2F`; splitting happens before any decoding.
  const pathname = new URL(c.req.url).pathname;
  const target = splitIiifPath(pathname.slice(base.length + 1), {
    slashSubstitute: ctx.config.IIIF_SLASH_SUBSTITUTE,
    version,
  });
  switch (target.kind) {
    case 'base':
      c.header('Cache-Control', ctx.config.IIIF_CACHE_CONTROL_INFO);
      return c.redirect(`${ctx.serviceBase(c, version)}/${pathname.slice(base.length + 1)}/info.json`, 303);
    case 'info':
      return infoResponse(c, ctx, version, target.identifier);
    case 'image':
      return imageResponse(c, ctx, version, target.identifier, parseImageRequest(version, target.params));
  }
}
