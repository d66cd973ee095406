import type { Context } from 'hono';
import { httpError } from '../errors.ts';
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

/** Whether the source changed after an HTTP date (to the second, as Last-Modified says it); an unreadable date is ignored. */
function changedAfter(lastModified: Date, date: string): boolean | undefined {
  const since = Date.parse(date);
  return Number.isNaN(since) ? undefined : Math.floor(lastModified.getTime() / 1000) * 1000 > since;
}

/**
 * RFC 9110 §13.2.2, in its order: If-Match (strong) or else If-Unmodified-Since failing is a 412;
 * then a 304 when If-None-Match matches or, without it, nothing changed since If-Modified-Since;
 * and HEAD needs no body either.
 */
export function bodiless(method: string, header: (name: string) => string | undefined, etag: string, lastModified: Date | undefined): '304' | 'head' | undefined {
  const ifMatch = header('if-match');
  const unmodifiedSince = header('if-unmodified-since');
  const strong = !etag.startsWith('W/');
  if (ifMatch !== undefined ? !ifMatch.split(',').some((t) => t.trim() === '*' || (strong && t.trim() === etag)) : unmodifiedSince && lastModified && changedAfter(lastModified, unmodifiedSince)) {
    throw httpError(412, 'precondition_failed', 'the image no longer matches If-Match or If-Unmodified-Since', { 'Cache-Control': 'no-store' });
  }
  const ifNoneMatch = header('if-none-match');
  if (ifNoneMatch !== undefined) {
    if (matchesIfNoneMatch(ifNoneMatch, etag)) return '304';
  } else {
    const since = header('if-modified-since');
    if (since && lastModified && changedAfter(lastModified, since) === false) return '304';
  }
  return method === 'HEAD' ? 'head' : undefined;
}

/**
 * Sets the validators and answers what needs no body. Undefined means the route goes on to
 * produce the body.
 */
export function conditionalResponse(c: Context, etag: string, lastModified: Date | undefined): Response | undefined {
  for (const [name, value] of validatorHeaders(etag, lastModified)) c.header(name, value);
  const answer = bodiless(c.req.method, (name) => c.req.header(name), etag, lastModified);
  if (!answer) return undefined;
  served(c, answer, 0);
  return c.body(null, answer === '304' ? 304 : 200);
}
