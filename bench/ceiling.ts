import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * The HTTP ceiling (issue 16): the least a Node server on this machine can do per request,
 * answering `GET /<bytes>` with one fixed, preallocated buffer of that many bytes and an image
 * content type. Each tile and info.json rate is also reported as a fraction of this server's rate
 * for a response of the workload's mean size, measured in the same run.
 *
 *   node dist/bench/ceiling.mjs   prints {"url": …} once listening on 127.0.0.1
 */
const MAX_BYTES = 64 * 1024 * 1024;

export function startCeiling(): Promise<{ url: string; close(): void }> {
  const buffers = new Map<number, Buffer>();
  const server = createServer((req, res) => {
    const bytes = Number((req.url ?? '/').slice(1));
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > MAX_BYTES) {
      res.writeHead(400).end();
      return;
    }
    let body = buffers.get(bytes);
    if (!body) {
      body = Buffer.alloc(bytes, 0x5a);
      buffers.set(bytes, body);
    }
    res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': bytes }).end(body);
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      ok({ url: `http://127.0.0.1:${port}`, close: () => server.close() });
    }),
  );
}

/** Body sizes of a workload's responses, from up to `sample` of its paths spread over the list. */
export async function bodySizes(base: string, paths: string[], sample = 64): Promise<number[]> {
  const step = Math.max(1, Math.floor(paths.length / sample));
  const sizes: number[] = [];
  for (let i = 0; i < paths.length && sizes.length < sample; i += step) {
    const res = await fetch(`${base}${paths[i]}`);
    sizes.push((await res.arrayBuffer()).byteLength);
  }
  return sizes;
}

export const mean = (sizes: number[]): number => (sizes.length === 0 ? 0 : Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url, close } = await startCeiling();
  process.stdout.write(`${JSON.stringify({ url })}\n`);
  process.once('SIGTERM', () => {
    close();
    process.exit(0);
  });
}
