import type { Context } from 'hono';
import { matchesIfNoneMatch } from '../http/etag.ts';
import { served } from '../log/request-log.ts';

/** HTTP dates by source timestamp: a cached source object's date is formatted once, not per request. */
const httpDates = new WeakMap<Date, string>();

function httpDate(date: Date): string {
  let text = httpDates.get(date);
  if (text === undefined) {
    text = date.toUTCString();
    httpDates.set(date, text);
  }
  return text;
}

/**
 * Sets the validators and answers what needs no body: 304 when `If-None-Match` matches, and
 * HEAD. Undefined means the route goes on to produce the body.
 */
export function conditionalResponse(c: Context, etag: string, lastModified: Date | undefined): Response | undefined {
  c.header('ETag', etag);
  if (lastModified) c.header('Last-Modified', httpDate(lastModified));
  if (matchesIfNoneMatch(c.req.header('If-None-Match'), etag)) {
    served(c, '304', 0);
    return c.body(null, 304);
  }
  if (c.req.method === 'HEAD') {
    served(c, 'head', 0);
    return c.body(null, 200);
  }
  return undefined;
}
