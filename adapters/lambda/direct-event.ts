import { type APIGatewayProxyResult, defaultIsContentTypeBinary } from 'hono/aws-lambda';
import { type DirectAnswer, type DirectAnswers, plainTarget } from '../../src/routes/direct.ts';
import { type APIGatewayProxyEventV2, unreadable } from './event-guard.ts';

const NON_ASCII = /[^\x00-\x7F]/;

/**
 * The core's direct answer to a payload 2.0 event (info.json and stored tiles of a local source),
 * made as the Node adapter makes it: without Hono's Request, Headers and Response, whose first use
 * loads fetch (undici), 35–50 ms of a cold start here. Undefined when Hono must answer: the event
 * is read as hono's adapter reads it (the host from domainName, non-ASCII header values
 * percent-encoded), and anything a Request would normalise goes to Hono.
 */
export function directAnswer(direct: DirectAnswers | undefined, event: APIGatewayProxyEventV2): Promise<DirectAnswer | undefined> | undefined {
  if (!direct || event.rawQueryString || unreadable(event)) return undefined;
  const headers = event.headers ?? {};
  const host = event.requestContext.domainName ?? headers.host;
  if (!host || !plainTarget(host, event.rawPath)) return undefined;
  return direct({
    method: event.requestContext.http.method,
    url: `https://${host}${event.rawPath}`,
    header: (name) => {
      const value = headers[name] || undefined;
      return value && NON_ASCII.test(value) ? encodeURIComponent(value) : value;
    },
  });
}

/** Header names lower-cased and repeated ones joined, as a Response's headers reach Lambda through hono's adapter. */
export function headerRecord(answer: DirectAnswer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of answer.headers) {
    const key = name.toLowerCase();
    out[key] = out[key] === undefined ? value : `${out[key]}, ${value}`;
  }
  return out;
}

/** The buffered mode's result, base64 for the content types hono's adapter encodes so. */
export function bufferedResult(answer: DirectAnswer): APIGatewayProxyResult {
  const headers = headerRecord(answer);
  const type = headers['content-type'];
  const binary = type !== undefined && defaultIsContentTypeBinary(type);
  const body = Buffer.from(answer.body ?? new Uint8Array());
  return { statusCode: answer.status, headers, isBase64Encoded: binary, body: body.toString(binary ? 'base64' : 'utf8') };
}
