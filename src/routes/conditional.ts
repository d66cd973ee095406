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

/** ETag and, when the source has a date, Last-Modified. */
export function validatorHeaders(etag: string, lastModified: Date | undefined): Array<[string, string]> {
  return lastModified ? [['ETag', etag], ['Last-Modified', httpDate(lastModified)]] : [['ETag', etag]];
}

/** What needs no body: a 304 when `If-None-Match` matches, and HEAD. */
export function bodiless(method: string, ifNoneMatch: string | undefined, etag: string): '304' | 'head' | undefined {
  if (matchesIfNoneMatch(ifNoneMatch, etag)) return '304';
  return method === 'HEAD' ? 'head' : undefined;
}

/**
 * Sets the validators and answers what needs no body. Undefined means the route goes on to
 * produce the body.
 */
export function conditionalResponse(c: Context, etag: string, lastModified: Date | undefined): Response | undefined {
  for (const [name, value] of validatorHeaders(etag, lastModified)) c.header(name, value);
  const answer = bodiless(c.req.method, c.req.header('If-None-Match'), etag);
  if (!answer) return undefined;
  served(c, answer, 0);
  return c.body(null, answer === '304' ? 304 : 200);
}
