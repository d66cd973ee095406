import type { APIGatewayProxyResult } from 'hono/aws-lambda';
import type { Config } from '../../src/config.ts';

/** Lambda rejects a buffered response whose JSON (base64 body included) exceeds 6 MiB. */
export const BUFFERED_PAYLOAD_LIMIT = 6 * 1024 * 1024;
/** Lambda streams a response's first 6 MB at full speed, then at most 2 MB/s (decimal, to stay under). */
const STREAM_UNCAPPED_BYTES = 6_000_000;
const STREAM_BYTES_PER_SECOND = 2_000_000;
/** Streaming responses end at 200 MB whatever the time. */
const STREAM_MAX_BYTES = 200 * 1024 * 1024;
/** Kept for the function URL and CloudFront around the stream. */
const STREAM_MARGIN_MS = 1000;

/**
 * The largest body a streamed response can deliver before the invocation times out
 * (`remainingMs`, the context's time left): past it the client would get a 200 cut short.
 */
export function streamedBytesLimit(remainingMs: number | undefined): number {
  if (remainingMs === undefined) return STREAM_MAX_BYTES;
  const seconds = Math.max(0, remainingMs - STREAM_MARGIN_MS) / 1000;
  return Math.min(STREAM_MAX_BYTES, STREAM_UNCAPPED_BYTES + Math.floor(seconds * STREAM_BYTES_PER_SECOND));
}

/** Headers and the envelope stay far below this, so smaller bodies need no exact count. */
const ENVELOPE_ALLOWANCE = 64 * 1024;

const KEEP_HEADERS = /^(access-control-|vary$|server-timing$|x-content-type-options$|cross-origin-resource-policy$|strict-transport-security$|referrer-policy$|x-frame-options$)/;

/**
 * A buffered response that Lambda would refuse (the client would see a bare
 * platform 502) becomes our own JSON error: 400 over_limit, like any other
 * request the deployment cannot honour at that size. Streaming has its own: streamedBytesLimit.
 */
export function guardBufferedPayload<R extends APIGatewayProxyResult>(
  result: R,
  config: Config,
  /** Told what was replaced: the request's log line, written before, has the replaced status. */
  replaced: (line: string) => void,
): R | APIGatewayProxyResult {
  if (result.body.length + ENVELOPE_ALLOWANCE <= BUFFERED_PAYLOAD_LIMIT) return result;
  const size = Buffer.byteLength(JSON.stringify(result));
  if (size <= BUFFERED_PAYLOAD_LIMIT) return result;
  replaced(`a ${result.statusCode} answer of ${size} bytes (over Lambda's 6 MB buffered limit) was sent as 400 over_limit`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    if (KEEP_HEADERS.test(name.toLowerCase())) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  headers['content-type'] = 'application/json';
  headers['cache-control'] = config.IIIF_CACHE_CONTROL_ERROR;
  const message = 'the response would exceed the 6 MB limit of this deployment; request a smaller size or region';
  return {
    statusCode: 400,
    headers,
    isBase64Encoded: false,
    body: JSON.stringify({ status: 400, error: 'over_limit', message }),
  };
}
