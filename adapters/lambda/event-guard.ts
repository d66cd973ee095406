import type { APIGatewayProxyResult, LambdaEvent } from 'hono/aws-lambda';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const refuse = (statusCode: number, error: string, message: string): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  isBase64Encoded: false,
  body: JSON.stringify({ status: statusCode, error, message }),
});

/**
 * Events the app cannot read correctly, answered before it sees them: API Gateway REST
 * (payload 1.0) events carry no Function URL host (ids came out as `https://undefined/…`),
 * which is a deployment fault, so a logged 500; a body flagged base64 that is not is the
 * client's fault, so a 400 rather than the runtime's plain-text 500.
 */
export function refuseEvent(event: LambdaEvent, log: (line: string) => void): APIGatewayProxyResult | undefined {
  if ('httpMethod' in event || !('version' in event) || event.version !== '2.0') {
    log('lambda: refused an event of payload format 1.0 (API Gateway REST or ALB); use a Function URL or an HTTP API with payload 2.0');
    return refuse(500, 'internal', 'this function expects Function URL or HTTP API events (payload format 2.0)');
  }
  const body = event.body ?? '';
  if (event.isBase64Encoded && (body.length % 4 !== 0 || !BASE64.test(body))) {
    return refuse(400, 'bad_request', 'the request body is not valid base64');
  }
  return undefined;
}
