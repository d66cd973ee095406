import type { Context, MiddlewareHandler } from 'hono';
import type { Metrics, RequestRecord, RouteName, ServedBy } from '../metrics.ts';
import type { Logger } from './logger.ts';

declare module 'hono' {
  interface ContextVariableMap {
    servedBy: ServedBy;
    route: RouteName;
    bytes: number;
    sourceMs: number;
    renderMs: number;
    /** What made a 5xx, or a 4xx with a cause: for the log line only. */
    failure: unknown;
  }
}

/** Records which path answered and how many body bytes it sent. */
export function served(c: Context, by: ServedBy, bytes?: number): void {
  c.set('servedBy', by);
  if (bytes !== undefined) c.set('bytes', bytes);
}

/** Adds time spent on the source (stat, probe, reads): one request can read it more than once. */
export function addSourceMs(c: Context, ms: number): void {
  c.set('sourceMs', (c.get('sourceMs') ?? 0) + ms);
}

/** Bytes of a string as UTF-8, without encoding it (info.json bodies are cached as strings). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      n += 1; // a surrogate pair is 4 bytes for 2 UTF-16 units
      i++;
    } else if (code >= 0x800) n += 2;
    else if (code >= 0x80) n += 1;
  }
  return n;
}

const round = (ms: number | undefined) => (ms === undefined ? undefined : roundMs(ms));

/**
 * One log line per request, and the request counters: `error` for a 5xx (`info`, as 499, when the
 * client had already gone; `warn` for a 503 `busy`), `warn` for a 4xx
 * with a cause or about a stored image that cannot be read, else `info`.
 * Reads only the response status and, when the route did not say, its Content-Length:
 * touching the body would make @hono/node-server stream it.
 */
export function requestLog(logger: Logger, metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const status = c.res.status;
    const length = c.get('bytes') ?? c.res.headers.get('content-length');
    const record: RequestRecord = {
      method: c.req.method,
      path: c.req.path,
      route: c.get('route') ?? (c.req.path === '/health' ? 'health' : 'other'),
      status,
      servedBy: c.get('servedBy') ?? (status === 304 ? '304' : 'other'),
      durationMs: round(performance.now() - started) ?? 0,
    };
    if (length !== null && length !== undefined) record.bytes = Number(length);
    const sourceMs = round(c.get('sourceMs'));
    const renderMs = round(c.get('renderMs'));
    if (sourceMs !== undefined) record.sourceMs = sourceMs;
    if (renderMs !== undefined) record.renderMs = renderMs;
    // A client that hung up gets no answer: its request is not a server fault, and no bytes went
    // out. The signal is only looked at for a 5xx and for renders (which take milliseconds anyway),
    // since building it costs on every request.
    const rendered = record.servedBy === 'render' || record.servedBy === 'tiles' || record.servedBy === 'shared';
    if ((status >= 500 || rendered) && c.req.raw.signal.aborted) {
      record.servedBy = 'cancelled';
      record.bytes = 0;
    }
    logRequest(logger, metrics, record, c.get('failure'));
  };
}

/** Counts a finished request and writes its one log line, at the level its outcome calls for. */
export function logRequest(logger: Logger, metrics: Metrics, record: RequestRecord, failure?: unknown): void {
  // No answer reached the client: counted as 499 (nginx's "client closed request"), so that 5xx
  // alerts do not fire when viewers cancel.
  if (record.servedBy === 'cancelled') record.status = 499;
  metrics.request(record);
  if (record.servedBy === 'cancelled') logger.info('request', { ...record });
  // A full queue or a request past its deadline is load, not a fault: no stack to show.
  else if (record.servedBy === 'busy') logger.warn('request', { ...record });
  else if (record.status >= 500) logger.error('request', { ...record, err: failure });
  else if (failure !== undefined) logger.warn('request', { ...record, err: failure });
  else logger.info('request', { ...record });
}

/** Milliseconds to two decimals, as log lines carry them. */
export const roundMs = (ms: number): number => Math.round(ms * 100) / 100;
