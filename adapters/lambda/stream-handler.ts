import type { Hono } from 'hono';
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { DirectAnswers } from '../../src/routes/direct.ts';
import { directAnswer, headerRecord } from './direct-event.ts';
import { type APIGatewayProxyEventV2, readable, type refusals, refuseEvent } from './event-guard.ts';

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

/**
 * RESPONSE_STREAM mode. hono's streamHandle decodes the event before any code of ours runs,
 * so events it cannot read (payload 1.0, a body that is not base64) would become a plain-text
 * "Internal Server Error" with status 200; here they get the same JSON refusals as the
 * buffered handler, and only payload 2.0 events reach the app. `afterResponse` runs once the
 * response has ended, before the invocation does.
 */
export function streamHandler(app: Hono, direct: DirectAnswers | undefined, log: (line: string) => void, refuse: ReturnType<typeof refusals>, afterResponse?: () => Promise<void>): StreamifiedHandler {
  return awslambda.streamifyResponse(async (event, stream) => {
    const early = refuseEvent(event, log, refuse);
    const answer = early ? undefined : await directAnswer(direct, event as APIGatewayProxyEventV2);
    if (answer) {
      const out = awslambda.HttpResponseStream.from(stream, { statusCode: answer.status, headers: headerRecord(answer), cookies: [] });
      out.end(answer.body);
      await finished(out);
      await afterResponse?.();
      return;
    }
    const refused = early ?? readable(event as APIGatewayProxyEventV2, refuse);
    const res = refused instanceof Request ? await app.fetch(refused) : new Response(refused.body, { status: refused.statusCode, headers: refused.headers });
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
