import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServer } from '../../adapters/node/server.ts';
import { putObject, s3rverClient, startS3rver, uploadAll, useS3rverCredentials } from './s3rver.ts';

const BUCKET = 'images';

/**
 * How the wrapper in front of the Node adapter answers, to exercise the Worker's error mapping:
 * `status` with `body` (JSON, `{}` by default); `image` a JPEG-typed answer of `bytes` bytes, with a
 * Content-Length unless `chunked`; `trickle` a JPEG-typed answer sending one byte every 100 ms.
 */
export type OriginMode =
  | 'pass'
  | 'hang'
  | 'html'
  | 'trickle'
  | { status: number; body?: string }
  | { image: number; chunked?: boolean };

export interface RenderOrigin {
  /** The wrapper; `direct` is the Node adapter itself, for measurements. */
  url: string;
  direct: string;
  /** Paths (still percent-encoded) the origin received, in order. */
  requests: string[];
  mode: OriginMode;
  /** Writes an object into the origin's store (only there: the Worker's R2 bucket is another store). */
  put(key: string, bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * The Node adapter (sharp) reading `objects` from an S3-protocol store (s3rver), as a real origin
 * reads the Worker's R2 bucket through R2's S3 API: the same bytes have the same (MD5) ETag in
 * both, so the answers' ETags agree. In front of it, a wrapper that records every path and adds
 * a Set-Cookie, which must never be cached.
 */
export async function startRenderOrigin(objects: Record<string, Uint8Array>): Promise<RenderOrigin> {
  useS3rverCredentials();
  const store = await startS3rver([BUCKET]);
  const client = s3rverClient(store.endpoint);
  await uploadAll(client, BUCKET, objects);
  const node = await startServer({
    IIIF_SOURCE: 's3',
    IIIF_S3_BUCKET: BUCKET,
    IIIF_S3_ENDPOINT: store.endpoint,
    IIIF_S3_REGION: 'us-east-1',
    IIIF_S3_FORCE_PATH_STYLE: 'true',
    PORT: '0',
    HOST: '127.0.0.1',
  });
  const origin: RenderOrigin = {
    url: '',
    direct: node.url,
    requests: [],
    mode: 'pass',
    put: (key, bytes) => putObject(client, BUCKET, key, bytes),
    close: async () => {},
  };

  const send = (res: ServerResponse, status: number, type: string, body: Uint8Array | string, etag?: string | null) => {
    res.writeHead(status, { 'content-type': type, 'set-cookie': 'session=origin; Path=/', ...(etag ? { etag } : {}) }).end(body);
  };
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    origin.requests.push(path);
    const { mode } = origin;
    if (mode === 'hang') return;
    if (mode === 'html') return send(res, 200, 'text/html', '<p>login</p>');
    if (mode === 'trickle') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const timer = setInterval(() => res.write(new Uint8Array(1)), 100);
      res.once('close', () => clearInterval(timer));
      return;
    }
    if (typeof mode === 'object' && 'image' in mode) {
      res.writeHead(200, { 'content-type': 'image/jpeg', ...(mode.chunked ? {} : { 'content-length': mode.image }) });
      return res.end(new Uint8Array(mode.image));
    }
    if (typeof mode === 'object') return send(res, mode.status, 'application/json', mode.body ?? '{}');
    fetch(`${node.url}${path}`, { headers: { accept: req.headers.accept ?? '*/*' } })
      .then(async (r) => send(res, r.status, r.headers.get('content-type') ?? '', new Uint8Array(await r.arrayBuffer()), r.headers.get('etag')))
      .catch(() => send(res, 500, 'text/plain', 'proxy failed'));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  origin.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
    await node.close();
    client.destroy();
    await store.close();
  };
  return origin;
}
