import { Hono, type Context } from 'hono';
import { timeout } from 'hono/timeout';
import { timing } from 'hono/timing';
import { createAppContext, type AppContext, type AppOptions } from './app-context.ts';
import { corsMiddleware } from './http/cors.ts';
import { errorHandler, notFound } from './http/errors.ts';
import { httpError, tooLong } from './errors.ts';
import { requestUrl } from './http/request-url.ts';
import { securityHeaders } from './http/security-headers.ts';
import { parseImageRequest } from './iiif/request.ts';
import type { IiifVersion } from './iiif/types.ts';
import { directAnswers, type DirectAnswers } from './routes/direct.ts';
import { imageResponse } from './routes/image.ts';
import { infoResponse } from './routes/info.ts';
import { pingResponse } from './routes/ping.ts';
import { iiifTarget, routeAimedAt } from './routes/target.ts';
import { retryIfChanged } from './sources/source.ts';
import { requestLog, served } from './log/request-log.ts';

export type { AppOptions } from './app-context.ts';

const VERSIONS: readonly IiifVersion[] = [3, 2];

/** The IIIF Image API as a Hono app; adapters only choose the source, renderer and runtime. */
export function createApp(options: AppOptions): Hono {
  return createIiif(options).app;
}

/**
 * The app and, for a runtime that can take requests before building a Request (Node), the direct
 * answers to stored tiles and info.json, sharing the app's caches (./routes/direct.ts).
 */
export function createIiif(options: AppOptions): { app: Hono; direct: DirectAnswers | undefined } {
  const ctx = createAppContext(options);
  return { app: honoApp(ctx), direct: directAnswers(ctx) };
}

function honoApp(ctx: AppContext): Hono {
  const { config } = ctx;
  const app = new Hono();
  // First, so that its duration and status cover everything below it, errors included.
  app.use('*', requestLog(ctx.logger, ctx.metrics));
  app.use('*', securityHeaders(config.IIIF_SECURITY_HEADERS));
  app.use('*', corsMiddleware(config));
  const serverTiming = timing({ totalDescription: 'total' });
  // info.json from local files is one stat and a cached body; timing it would cost a tenth of its
  // CPU and tell nothing. Image responses, and info.json from remote stores, carry Server-Timing.
  const local = ctx.source.local === true;
  app.use('*', (c, next) => (local && c.req.path.endsWith('/info.json') ? next() : serverTiming(c, next)));
  // A decode cannot be cancelled (it runs to its end in its render slot), but the client is
  // told to retry rather than held open indefinitely.
  app.use('*', timeout(config.IIIF_REQUEST_TIMEOUT_MS, tooLong));
  // An image service is read-only: after GET (and HEAD) routes, any other method is a 405
  // (OPTIONS is CORS preflight, answered above).
  const readOnly = () => {
    throw httpError(405, 'method_not_allowed', 'only GET and HEAD are served here', { Allow: 'GET, HEAD, OPTIONS' });
  };
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.all('/health', readOnly);
  for (const version of VERSIONS) {
    const base = `${config.IIIF_PREFIX}/${version}`;
    app.get(base, (c) => pingResponse(c, config, version));
    app.get(`${base}/`, (c) => pingResponse(c, config, version));
    app.get(`${base}/*`, (c) => iiifRoute(c, ctx, version, base));
    for (const path of [base, `${base}/`]) app.all(path, readOnly);
    app.all(`${base}/*`, (c) => {
      c.set('route', routeAimedAt(requestUrl(c.req.url).pathname.slice(base.length + 1)));
      return readOnly();
    });
  }
  app.notFound(notFound);
  app.onError(errorHandler(config));
  return app;
}

async function iiifRoute(c: Context, ctx: AppContext, version: IiifVersion, base: string) {
  // The raw pathname still holds `%2F`; splitting happens before any decoding.
  const { pathname } = requestUrl(c.req.url);
  const rest = pathname.slice(base.length + 1);
  c.set('route', routeAimedAt(rest));
  const target = await iiifTarget(c, ctx, rest, version);
  c.set('route', target.kind);
  switch (target.kind) {
    case 'base':
      served(c, 'redirect', 0);
      c.header('Cache-Control', ctx.config.IIIF_CACHE_CONTROL_INFO);
      return c.redirect(`${ctx.serviceBase(c, version)}/${ctx.emitIdentifier(target.identifier)}/info.json`, 303);
    case 'info':
      return infoResponse(c, ctx, version, target.identifier);
    case 'image': {
      // A retry after the source changed reports its own timings only, once.
      const timings = c.get('metric')?.headers;
      const mark = timings?.length ?? 0;
      return retryIfChanged(() => {
        timings?.splice(mark);
        return imageResponse(c, ctx, version, target.identifier, parseImageRequest(version, target.params));
      });
    }
  }
}
