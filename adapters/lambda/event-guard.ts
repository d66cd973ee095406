import type { APIGatewayProxyResult, LambdaEvent } from 'hono/aws-lambda';
import type { Config } from '../../src/config.ts';
import { corsHeaders } from '../../src/http/cors.ts';
import { securityHeaderList } from '../../src/http/security-headers.ts';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Function URL / HTTP API events (payload 2.0), the only ones refuseEvent lets through. */
export type APIGatewayProxyEventV2 = Extract<LambdaEvent, { rawPath: string; requestContext: { http: unknown } }>;

export type Refusal = APIGatewayProxyResult & { headers: Record<string, string> };

/** JSON refusals made before the app runs, with the CORS and security headers every answer carries. */
export function refusals(config: Config) {
  const cors = corsHeaders(config);
  const security = securityHeaderList(config.IIIF_SECURITY_HEADERS);
  return (event: LambdaEvent, statusCode: number, error: string, message: string): Refusal => {
    const origin = (event as { headers?: Record<string, string | undefined> }).headers?.origin;
    return {
      statusCode,
      headers: {
        ...Object.fromEntries([...security, ...cors(origin)].map(([name, value]) => [name.toLowerCase(), value])),
        'content-type': 'application/json',
        'cache-control': 'no-store',
      },
      isBase64Encoded: false,
      body: JSON.stringify({ status: statusCode, error, message }),
    };
  };
}

type Refuse = ReturnType<typeof refusals>;

/**
 * Events the app cannot read correctly, answered before it sees them: API Gateway REST
 * (payload 1.0) events carry no Function URL host (ids came out as `https://undefined/…`),
 * which is a deployment fault, so a logged 500; a body flagged base64 that is not is the
 * client's fault, so a 400 rather than the runtime's plain-text 500.
 */
export function refuseEvent(event: LambdaEvent, log: (line: string) => void, refuse: Refuse): Refusal | undefined {
  if ('httpMethod' in event || !('version' in event) || event.version !== '2.0') {
    log('lambda: refused an event of payload format 1.0 (API Gateway REST or ALB); use a Function URL or an HTTP API with payload 2.0');
    return refuse(event, 500, 'internal', 'this function expects Function URL or HTTP API events (payload format 2.0)');
  }
  const body = event.body ?? '';
  if (event.isBase64Encoded && (body.length % 4 !== 0 || !BASE64.test(body))) {
    return refuse(event, 400, 'bad_request', 'the request body is not valid base64');
  }
  return undefined;
}

/** A payload 2.0 event as a Request, as hono's own adapter builds it (non-ASCII header values percent-encoded). */
export function requestOf(event: APIGatewayProxyEventV2): Request {
  const headers = new Headers();
  if (event.cookies) headers.set('cookie', event.cookies.join('; '));
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value) headers.set(name, /[^\x00-\x7F]/.test(value) ? encodeURIComponent(value) : value);
  }
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  const method = event.requestContext.http.method;
  const body = event.body && method !== 'GET' && method !== 'HEAD' ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : undefined;
  // A Function URL event names its domain; without it, the Host header does (as hono's adapter reads it).
  const host = event.requestContext.domainName ?? headers.get('host');
  return new Request(`https://${host}${event.rawPath}${query}`, { method, headers, ...(body ? { body } : {}) });
}

/** Characters a header value may not hold (the Headers class refuses them). */
const UNREADABLE = /[\0\r\n]/;

/** Whether a header value or cookie holds what no Request can: the buffered mode's check, without building one. */
export const unreadable = (event: APIGatewayProxyEventV2): boolean =>
  Object.values(event.headers ?? {}).some((v) => v !== undefined && UNREADABLE.test(v)) || (event.cookies ?? []).some((c) => UNREADABLE.test(c));

/** The Request, or a JSON 400 when the event holds what no Request can (e.g. CR or LF in a header value). */
export function readable(event: APIGatewayProxyEventV2, refuse: Refuse): Request | Refusal {
  try {
    return requestOf(event);
  } catch {
    return refuse(event, 400, 'bad_request', 'the request could not be read');
  }
}
