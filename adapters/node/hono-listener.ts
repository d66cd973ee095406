import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Hono } from 'hono';

export interface LazyListener {
  listener: RequestListener;
  /** Loads it ahead of need (once the server is quiet). */
  preload(): void;
}

/**
 * Hono's Node listener, imported on the first request the direct answers leave to it or once the
 * server is quiet. @hono/node-server reads fetch's globals (Request, Headers) as it loads, which
 * loads all of undici: about 25 ms that a first info.json or stored tile does not need.
 */
export function lazyHonoListener(app: Hono, hostname: string, onError: (e: unknown) => void): LazyListener {
  let loaded: RequestListener | undefined;
  let loading: Promise<RequestListener> | undefined;
  const load = () => (loading ??= import('@hono/node-server').then(({ getRequestListener }) => (loaded = getRequestListener(app.fetch, { hostname }))));
  return {
    listener: (req: IncomingMessage, res: ServerResponse) => {
      if (loaded) return loaded(req, res);
      load().then(
        (listener) => listener(req, res),
        (e: unknown) => {
          onError(e);
          // The shape of every 5xx (src/http/errors.ts); the cause went to the log.
          res.writeHead(500, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
          res.end(JSON.stringify({ status: 500, error: 'internal', message: 'internal server error' }));
        },
      );
    },
    preload: () => void load().catch(onError),
  };
}
