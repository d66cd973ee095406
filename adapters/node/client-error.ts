import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config } from '../../src/config.ts';
import { httpError } from '../../src/errors.ts';
import { corsHeaders } from '../../src/http/cors.ts';
import { errorAnswer } from '../../src/http/errors.ts';
import { securityHeaderList } from '../../src/http/security-headers.ts';
import { utf8Length } from '../../src/log/request-log.ts';
import type { RequestRecord } from '../../src/metrics.ts';

/**
 * What Node refuses before a request exists (headers too slow, too large, unparsable) is answered
 * as every other error, one line of JSON with the CORS and security headers, not Node's bare
 * status line, which a viewer's fetch cannot even read across origins; and logged and counted as
 * every request is, so that a header flood shows in the metrics (its method and path are unknown).
 */
export function answerClientErrors(server: Server, config: Config, record: (r: RequestRecord) => void): void {
  const cors = corsHeaders(config)(undefined);
  const security = securityHeaderList(config.IIIF_SECURITY_HEADERS);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    // About this connection, not a resource: never to be cached.
    const noStore = { 'Cache-Control': 'no-store' };
    const e =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? httpError(408, 'bad_request', 'the request headers took too long to arrive', noStore)
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? httpError(431, 'bad_request', 'the request headers are too large', noStore)
          : httpError(400, 'bad_request', 'the request could not be read as HTTP', noStore);
    const { headers, body } = errorAnswer(e, config);
    const lines = [...security, ...cors, ...headers, ['Content-Length', String(utf8Length(body))], ['Connection', 'close']];
    socket.end(`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? ''}\r\n${lines.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`);
    record({ method: '-', path: '-', route: 'other', status: e.status, servedBy: e.code, bytes: utf8Length(body), durationMs: 0 });
  });
}
