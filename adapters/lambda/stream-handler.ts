import type { Hono } from 'hono';
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { DirectAnswers } from '../../src/routes/direct.ts';
import { directAnswer, headerRecord } from './direct-event.ts';
import { type APIGatewayProxyEventV2, readable, type refusals, refuseEvent } from './event-guard.ts';
import { streamedBytesLimit } from './payload-guard.ts';

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
  return awslambda.streamifyResponse(async (event, stream, context) => {
    const send = async (statusCode: number, headers: Record<string, string>, cookies: string[], body: Uint8Array | string | undefined) => {
      const out = awslambda.HttpResponseStream.from(stream, { statusCode, headers, cookies });
      out.end(body);
      await finished(out);
      // The invocation may go on after its response stream ended; the client is not kept waiting.
      await afterResponse?.();
    };
    const early = refuseEvent(event, log, refuse);
    const answer = early ? undefined : await directAnswer(direct, event as APIGatewayProxyEventV2);
    if (answer) {
      await send(answer.status, headerRecord(answer), [], answer.body);
      // Written: the tile's buffer serves the next answer.
      return answer.release?.();
    }
    const refused = early ?? readable(event as APIGatewayProxyEventV2, refuse);
    if (!(refused instanceof Request)) return send(refused.statusCode, refused.headers, [], refused.body);
    const res = await app.fetch(refused);
    // Our answers are built in memory, so their size is known before the first byte is sent.
    const body = res.body ? new Uint8Array(await res.arrayBuffer()) : undefined;
    const limit = streamedBytesLimit(context?.getRemainingTimeInMillis?.());
    if (body && body.byteLength > limit) {
      log(`lambda: a ${res.status} answer of ${body.byteLength} bytes (over the ${limit} Lambda can stream before the function times out) was sent as 400 over_limit`);
      const over = refuse(event, 400, 'over_limit', 'the response is larger than this deployment can send before its timeout; request a smaller size or region');
      return send(over.statusCode, over.headers, [], over.body);
    }
    const headers: Record<string, string> = {};
    const cookies: string[] = [];
    res.headers.forEach((value, name) => (name === 'set-cookie' ? cookies.push(value) : (headers[name] = value)));
    return send(res.status, headers, cookies, body);
  });
}
