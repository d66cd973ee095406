import type { APIGatewayProxyResult, LambdaContext, LambdaEvent } from 'hono/aws-lambda';
// Defines the runtime's `awslambda` global (streamifyResponse) unless something already did: import
// this module before anything that loads the AWS SDK, whose invoke store creates a bare `awslambda`.
import * as lambdaLocal from 'lambda-local';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Env } from '../../src/config.ts';
import type { Fetcher } from '../cases/run-cases.ts';

export const URL_ID = 'abcdefghijklmnopqrstuvwxyz012345';
/** The Function URL's own host: what hono/aws-lambda builds request URLs from. */
export const FUNCTION_DOMAIN = `${URL_ID}.lambda-url.eu-west-1.on.aws`;

/** A deployment's settings pointed at s3rver; credentials come from the default chain (see useS3rverCredentials). */
export const s3rverLambdaEnv = (endpoint: string, bucket = 'images', extra: Env = {}): Env => ({
  IIIF_S3_BUCKET: bucket,
  IIIF_S3_ENDPOINT: endpoint,
  IIIF_S3_FORCE_PATH_STYLE: 'true',
  IIIF_S3_REGION: 'us-east-1',
  IIIF_SOURCE_TIMEOUT_MS: '5000',
  ...extra,
});

export type BufferedHandler = (event: LambdaEvent, context?: LambdaContext) => Promise<APIGatewayProxyResult>;
/** What hono's streamHandle returns: a function wrapped by awslambda.streamifyResponse. */
export type StreamHandler = (...args: never[]) => unknown;

/**
 * A Function URL (payload 2.0) event as CloudFront with Origin Access Control
 * delivers it: IAM-authorised, `rawPath` still percent-encoded, the URL's own
 * host, no cookies. Header names arrive lower-cased.
 */
export function functionUrlEvent(path: string, init: RequestInit = {}): LambdaEvent {
  const [rawPath = '/', rawQueryString = ''] = path.split('?', 2);
  const method = (init.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = {
    host: FUNCTION_DOMAIN,
    'x-amzn-tls-version': 'TLSv1.3',
    'x-amzn-tls-cipher-suite': 'TLS_AES_128_GCM_SHA256',
    'x-amzn-trace-id': 'Root=1-66a0b2c3-0123456789abcdef01234567',
    'x-forwarded-proto': 'https',
    'x-forwarded-port': '443',
    'x-forwarded-for': '198.51.100.7',
    via: '2.0 0123456789abcdef.cloudfront.net (CloudFront)',
    'user-agent': 'Amazon CloudFront',
    'accept-encoding': 'gzip',
  };
  new Headers(init.headers).forEach((value, name) => (headers[name] = value));
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: '111122223333',
      apiId: URL_ID,
      authentication: null,
      authorizer: {
        iam: {
          accessKey: 'ASIAEXAMPLEEXAMPLE00',
          accountId: '111122223333',
          callerId: 'AROAEXAMPLEEXAMPLE000:OriginAccessSession',
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: 'arn:aws:sts::111122223333:assumed-role/OriginAccessControlRole/OriginAccessSession',
          userId: 'AROAEXAMPLEEXAMPLE000:OriginAccessSession',
        },
      },
      domainName: FUNCTION_DOMAIN,
      domainPrefix: URL_ID,
      http: { method, path: decodeURIComponent(rawPath), protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
    body: null,
  };
}

const NULL_BODY = new Set([101, 204, 205, 304]);

function toHeaders(record: Record<string, string | string[]> | undefined, cookies: string[] | undefined): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(record ?? {})) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  for (const cookie of cookies ?? []) headers.append('set-cookie', cookie);
  return headers;
}

/** (path, init) → Function URL event → buffered handler → Response, decoding base64 bodies. */
export function bufferedFetcher(handler: BufferedHandler): Fetcher {
  return async (path, init) => {
    const result = await handler(functionUrlEvent(path, init));
    const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
    return new Response(NULL_BODY.has(result.statusCode) ? null : body, {
      status: result.statusCode,
      headers: toHeaders(result.headers ?? undefined, result.cookies),
    });
  };
}

interface StreamedResult {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
  body: Readable;
}

/** (path, init) → event → lambda-local's response-streaming runtime (a function timeout of `timeoutMs`) → Response. */
export function streamingFetcher(streamHandler: StreamHandler, timeoutMs = 30_000): Fetcher {
  return async (path, init) => {
    const result = (await lambdaLocal.execute({
      event: functionUrlEvent(path, init),
      lambdaFunc: { streamHandler },
      lambdaHandler: 'streamHandler',
      timeoutMs,
      verboseLevel: 0,
    })) as StreamedResult;
    const chunks: Buffer[] = [];
    for await (const chunk of result.body) chunks.push(Buffer.from(chunk as Uint8Array));
    const body = Buffer.concat(chunks);
    return new Response(NULL_BODY.has(result.statusCode) ? null : body, {
      status: result.statusCode,
      headers: toHeaders(result.headers, result.cookies),
    });
  };
}
