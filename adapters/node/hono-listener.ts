import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import type { Config } from '../../src/config.ts';
import { httpError } from '../../src/errors.ts';
import { corsHeaders } from '../../src/http/cors.ts';
import { errorAnswer } from '../../src/http/errors.ts';
import { securityHeaderList } from '../../src/http/security-headers.ts';
import { roundMs, utf8Length } from '../../src/log/request-log.ts';
import type { RequestRecord } from '../../src/metrics.ts';

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
export function lazyHonoListener(app: Hono, config: Config, onError: (e: unknown) => void, logRefusal: (record: RequestRecord, cause: unknown) => void): LazyListener {
  let loaded: RequestListener | undefined;
  let loading: Promise<RequestListener> | undefined;
  /**
   * The request being handed to Hono's listener: it calls `unreadable` synchronously, before any
   * await, when it cannot make a Request of it, so the refusal can be logged with its path.
   */
  let current: { req: IncomingMessage; started: number } | undefined;
  // What @hono/node-server cannot make a Request of (a Host no URL can hold) it answers with an
  // empty 400 unless told otherwise: here, the JSON refusal any other unusable Host gets.
  const unreadable = (e: unknown) => {
    const refusal = e instanceof Error && e.name === 'RequestError';
    if (!refusal) onError(e);
    const error = refusal
      ? httpError(400, 'bad_request', 'the request has no Host header or URL this server can read', { 'Cache-Control': 'no-store' })
      : httpError(500, 'internal', 'internal server error');
    const { headers, body } = errorAnswer(error, config);
    if (refusal && current) {
      const { req, started } = current;
      const path = (req.url ?? '').split('?')[0] ?? '';
      logRefusal({ method: req.method ?? '', path, route: 'other', status: 400, servedBy: 'bad_request', durationMs: roundMs(performance.now() - started), bytes: utf8Length(body) }, e);
    }
    return new Response(body, { status: error.status, headers: [...securityHeaderList(config.IIIF_SECURITY_HEADERS), ...corsHeaders(config)(undefined), ...headers] });
  };
  const load = () =>
    (loading ??= import('@hono/node-server').then(({ getRequestListener }) => (loaded = getRequestListener(app.fetch, { hostname: config.HOST, errorHandler: unreadable }))));
  const hand = (listener: RequestListener, req: IncomingMessage, res: ServerResponse) => {
    current = { req, started: performance.now() };
    // Hono ties its Request's signal to the response's 'close' as it takes the request: a client
    // that left before (while the direct answer looked, or this listener loaded) is told again,
    // else a render would run for nobody.
    const left = res.destroyed;
    try {
      return listener(req, res);
    } finally {
      current = undefined;
      if (left) res.emit('close');
    }
  };
  return {
    listener: (req: IncomingMessage, res: ServerResponse) => {
      if (loaded) return hand(loaded, req, res);
      load().then(
        (listener) => hand(listener, req, res),
        (e: unknown) => {
          onError(e);
          // The cause went to the log; the answer is every 5xx's.
          const { headers, body } = errorAnswer(httpError(500, 'internal', 'internal server error'), config);
          res.writeHead(500, headers.flat());
          res.end(body);
        },
      );
    },
    preload: () => void load().catch(onError),
  };
}
