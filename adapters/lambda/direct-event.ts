import { type APIGatewayProxyResult, defaultIsContentTypeBinary } from 'hono/aws-lambda';
import { type DirectAnswer, type DirectAnswers, plainTarget } from '../../src/routes/direct.ts';
import { type APIGatewayProxyEventV2, unreadable } from './event-guard.ts';

const NON_ASCII = /[^\x00-\x7F]/;
/** What a Headers object strips from both ends of a value (CR and LF are refused before this). */
const EDGE_SPACE = /^[ \t]+|[ \t]+$/g;

/** A host a Request's URL parser keeps as it is (it rewrites `127.1`, refuses `foo.1`): else Hono answers. */
function keptByUrl(host: string): boolean {
  try {
    return new URL(`https://${host}/`).host === host;
  } catch {
    return false;
  }
}

/**
 * The core's direct answer to a payload 2.0 event (info.json and stored tiles of a local source),
 * made as the Node adapter makes it: without Hono's Request, Headers and Response, whose first use
 * loads fetch (undici), 35–50 ms of a cold start here. Undefined when Hono must answer: the event
 * is read as hono's adapter reads it (the host from domainName, non-ASCII header values
 * percent-encoded), and anything a Request would normalise goes to Hono.
 */
export function directAnswer(direct: DirectAnswers | undefined, event: APIGatewayProxyEventV2): Promise<DirectAnswer | undefined> | undefined {
  if (!direct || event.rawQueryString || unreadable(event)) return undefined;
  // By lower-case name, as a Headers object finds them; a later duplicate wins, as its set() does.
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(event.headers ?? {})) if (value) headers.set(name.toLowerCase(), value);
  // As hono's adapter takes it: domainName, else the `host` key as it is spelled.
  const host = event.requestContext.domainName ?? event.headers?.host;
  if (!host || !plainTarget(host, event.rawPath) || !keptByUrl(host)) return undefined;
  return direct({
    method: event.requestContext.http.method,
    url: `https://${host}${event.rawPath}`,
    header: (name) => {
      const value = headers.get(name);
      if (value === undefined) return undefined;
      return (NON_ASCII.test(value) ? encodeURIComponent(value) : value).replace(EDGE_SPACE, '');
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
