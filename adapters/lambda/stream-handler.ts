import type { Hono } from 'hono';
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { refuse, refuseEvent } from './event-guard.ts';

/** Function URL / HTTP API events (payload 2.0), the only ones refuseEvent lets through. */
type APIGatewayProxyEventV2 = Extract<LambdaEvent, { rawPath: string; requestContext: { http: unknown } }>;

interface StreamMetadata {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
}

/** What the runtime invokes; its arguments are the runtime's business. */
type StreamifiedHandler = (...args: never[]) => unknown;

/** The Lambda runtime's streaming API (also polyfilled by lambda-local in tests). */
declare const awslambda: {
  streamifyResponse(handler: (event: LambdaEvent, stream: Writable, context: LambdaContext) => Promise<void>): StreamifiedHandler;
  HttpResponseStream: { from(stream: Writable, metadata: StreamMetadata): Writable };
};

/** A payload 2.0 event as a Request, as hono's own adapter builds it (non-ASCII header values percent-encoded). */
function requestOf(event: APIGatewayProxyEventV2): Request {
  const headers = new Headers();
  if (event.cookies) headers.set('cookie', event.cookies.join('; '));
  for (const [name, value] of Object.entries(event.headers)) {
    if (value) headers.set(name, /[^\x00-\x7F]/.test(value) ? encodeURIComponent(value) : value);
  }
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  const method = event.requestContext.http.method;
  const body = event.body && method !== 'GET' && method !== 'HEAD' ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : undefined;
  return new Request(`https://${event.requestContext.domainName}${event.rawPath}${query}`, { method, headers, ...(body ? { body } : {}) });
}

/** The Request, or a 400 when the event holds what no Request can (e.g. CR or LF in a header value). */
function readable(event: APIGatewayProxyEventV2): Request | ReturnType<typeof refuse> {
  try {
    return requestOf(event);
  } catch {
    return refuse(400, 'bad_request', 'the request could not be read');
  }
}

/**
 * RESPONSE_STREAM mode. hono's streamHandle decodes the event before any code of ours runs,
 * so events it cannot read (payload 1.0, a body that is not base64) would become a plain-text
 * "Internal Server Error" with status 200; here they get the same JSON refusals as the
 * buffered handler, and only payload 2.0 events reach the app. `afterResponse` runs once the
 * response has ended, before the invocation does.
 */
export function streamHandler(app: Hono, log: (line: string) => void, afterResponse?: () => Promise<void>): StreamifiedHandler {
  return awslambda.streamifyResponse(async (event, stream) => {
    const refused = refuseEvent(event, log) ?? readable(event as APIGatewayProxyEventV2);
    const res = refused instanceof Request ? await app.fetch(refused) : new Response(refused.body, { status: refused.statusCode, headers: refused.headers as Record<string, string> });
    const headers: Record<string, string> = {};
    const cookies: string[] = [];
    res.headers.forEach((value, name) => (name === 'set-cookie' ? cookies.push(value) : (headers[name] = value)));
    const out = awslambda.HttpResponseStream.from(stream, { statusCode: res.status, headers, cookies });
    if (res.body) await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), out);
    else out.end();
    // The invocation may go on after its response stream ended; the client is not kept waiting.
    await afterResponse?.();
  });
}
