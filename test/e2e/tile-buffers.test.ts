import { connect } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES_DIR, startServer, type RunningServer } from '../../adapters/node/server.ts';

// Stored tiles answered directly are read into reused buffers (src/image/tile-buffers.ts), handed
// back only once Node has written them. A buffer handed back any earlier would be overwritten by
// another client's tile while it still waits in a slow reader's socket.

let server: RunningServer;
const TILES: string[] = [];
// Interior tiles of the bundled 6000×4000 pyramid's full resolution (256² stored tiles).
for (let y = 0; y + 256 <= 3840; y += 256) for (let x = 0; x + 256 <= 5888; x += 256) TILES.push(`/iiif/3/pyramid.tif/${x},${y},256,256/256,256/0/default.jpg`);

beforeAll(async () => {
  server = await startServer({ IIIF_ROOT: SAMPLES_DIR, PORT: '0', HOST: '127.0.0.1', IIIF_RESPONSE_CACHE_BYTES: '0' });
});
afterAll(() => server.close(0));

/** Responses read off one socket, framed by Content-Length. */
function parseResponses(data: Buffer): Array<{ status: number; timing: string; body: Buffer }> {
  const out: Array<{ status: number; timing: string; body: Buffer }> = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) throw new Error('truncated response head');
    const head = data.subarray(at, end).toString('latin1');
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
    const status = Number(head.slice(9, 12));
    const timing = /\r\nserver-timing: ([^\r]*)/i.exec(head)?.[1] ?? '';
    out.push({ status, timing, body: data.subarray(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return out;
}

describe('stored tiles in reused buffers', () => {
  it('stay intact for a client that reads slowly while other clients take buffers', async () => {
    const expected = new Map<string, Buffer>();
    for (const path of TILES) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.headers.get('server-timing')).toContain('path;desc="passthrough"');
      expected.set(path, Buffer.from(await res.arrayBuffer()));
    }
    // Each is a 256² JPEG: the bytes compared below are whole tiles, not empty ones.
    expect((await sharp(expected.get(TILES[0]!)!).metadata()).width).toBe(256);

    // A client pipelines many tiles and reads nothing for a while: their answers wait in Node.
    const rounds = 6;
    const asked = Array.from({ length: rounds }, () => TILES).flat();
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((ok) => socket.once('connect', ok));
    socket.pause();
    socket.write(asked.map((path) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`).join(''));
    await new Promise((ok) => setTimeout(ok, 300));

    // Meanwhile other clients' tiles, eight at a time, each checked.
    const others = [...TILES].reverse();
    for (let i = 0; i < others.length; i += 8) {
      await Promise.all(
        others.slice(i, i + 8).map(async (path) => {
          const body = Buffer.from(await (await fetch(`${server.url}${path}`)).arrayBuffer());
          expect(body.equals(expected.get(path)!), path).toBe(true);
        }),
      );
    }

    const chunks: Buffer[] = [];
    await new Promise<void>((ok, fail) => {
      // Every answer has come once the socket stays quiet (the server answers in well under that).
      let quiet = setTimeout(ok, 2000);
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        clearTimeout(quiet);
        quiet = setTimeout(ok, 500);
      });
      socket.on('error', fail);
      socket.resume();
    });
    socket.destroy();
    const answers = parseResponses(Buffer.concat(chunks));
    expect(answers).toHaveLength(asked.length);
    answers.forEach((answer, i) => {
      expect(answer.status).toBe(200);
      expect(answer.timing).toContain('path;desc="passthrough"');
      expect(answer.body.equals(expected.get(asked[i]!)!), `answer ${i}: ${asked[i]}`).toBe(true);
    });
  }, 60_000);
});
