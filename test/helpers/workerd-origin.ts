import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startServer } from '../../adapters/node/server.ts';

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
  close(): Promise<void>;
}

/**
 * The Node adapter (sharp) serving `objects` from a temporary folder, behind a
 * wrapper that records every path and adds a Set-Cookie, which must never be cached.
 */
export async function startRenderOrigin(objects: Record<string, Uint8Array>): Promise<RenderOrigin> {
  const root = await mkdtemp(join(tmpdir(), 'iiif-edge-origin-'));
  for (const [name, bytes] of Object.entries(objects)) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), bytes);
  }
  const node = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1' });
  const origin: RenderOrigin = { url: '', direct: node.url, requests: [], mode: 'pass', close: async () => {} };

  const send = (res: ServerResponse, status: number, type: string, body: Uint8Array | string) => {
    res.writeHead(status, { 'content-type': type, 'set-cookie': 'session=origin; Path=/' }).end(body);
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
      .then(async (r) => send(res, r.status, r.headers.get('content-type') ?? '', new Uint8Array(await r.arrayBuffer())))
      .catch(() => send(res, 500, 'text/plain', 'proxy failed'));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  origin.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
    await node.close();
    await rm(root, { recursive: true, force: true });
  };
  return origin;
}
