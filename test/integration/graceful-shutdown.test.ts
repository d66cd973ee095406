import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startServer } from '../../adapters/node/server.ts';
import { loadConfig } from '../../src/config.ts';

const SIDE = 2048;
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-drain-'));
  // Noise does not compress: the PNG answer is about 12 MB, far more than loopback socket buffers hold.
  const noise = await sharp(randomBytes(SIDE * SIDE * 3), { raw: { width: SIDE, height: SIDE, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
  await writeFile(join(root, 'noise.png'), noise);
});
afterAll(() => rm(root, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

describe('11.8 graceful shutdown', () => {
  it('a large response read slowly completes after close() within the grace period', async () => {
    const server = await startServer({ IIIF_ROOT: root, PORT: '0' });
    let closed: Promise<void> | undefined;
    const outcome = await new Promise<{ length: number; received: Buffer; error?: string }>((ok) => {
      const chunks: Buffer[] = [];
      get(`${server.url}/iiif/3/noise.png/full/max/0/default.png`, (res) => {
        const length = Number(res.headers['content-length']);
        // A slow reader: one chunk per 10 ms (a few MB/s), so the body is still being written at shutdown.
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          res.pause();
          setTimeout(() => res.resume(), 10);
          closed ??= server.close(20_000);
        });
        res.on('end', () => ok({ length, received: Buffer.concat(chunks) }));
        res.on('error', (e) => ok({ length, received: Buffer.concat(chunks), error: e.message }));
        res.on('aborted', () => ok({ length, received: Buffer.concat(chunks), error: 'aborted' }));
      }).on('error', (e) => ok({ length: -1, received: Buffer.concat(chunks), error: e.message }));
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.length).toBeGreaterThan(8 * 1024 * 1024);
    expect(outcome.received.length).toBe(outcome.length);
    const { width, height } = await sharp(outcome.received).metadata();
    expect([width, height]).toEqual([SIDE, SIDE]);
    await closed;
  }, 60_000);

  it('a client that stops reading a large answer is cut after IIIF_IDLE_TIMEOUT_MS, so it cannot hold the answer in memory', async () => {
    const server = await startServer({ IIIF_ROOT: root, PORT: '0', IIIF_REQUEST_TIMEOUT_MS: '2000', IIIF_IDLE_TIMEOUT_MS: '2500' });
    try {
      const { port } = new URL(server.url);
      const socket = connect(Number(port), '127.0.0.1');
      socket.write('GET /iiif/3/noise.png/full/max/0/default.png HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      // Read nothing: the 12 MB answer stalls in Node's buffers once the socket's are full. After
      // 2.5 s without progress the server drops the connection; reading again then ends early.
      socket.pause();
      await sleep(6_000);
      let received = 0;
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.on('error', () => undefined);
      socket.resume();
      await new Promise<void>((ok) => socket.once('close', () => ok()));
      expect(received).toBeGreaterThan(0);
      expect(received).toBeLessThan(SIDE * SIDE * 3);
    } finally {
      await server.close(1_000);
    }
  });

  it('refuses an idle timeout that a render in time could outlast', () => {
    expect(() => loadConfig({ IIIF_REQUEST_TIMEOUT_MS: '30000', IIIF_IDLE_TIMEOUT_MS: '20000' })).toThrow(/IIIF_IDLE_TIMEOUT_MS.*IIIF_REQUEST_TIMEOUT_MS/);
  });

  it('an answer still being made when shutdown begins says Connection: close, so its client sends nothing more on it', async () => {
    const server = await startServer({ IIIF_ROOT: root, PORT: '0' });
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    // A keep-alive request for a render that takes a while (a 2048² PNG).
    socket.write('GET /iiif/3/noise.png/full/max/0/default.png HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await sleep(30);
    const closed = server.close(20_000);
    await new Promise<void>((ok) => socket.once('close', () => ok()));
    await closed;
    const head = received.slice(0, received.indexOf('\r\n\r\n')).toLowerCase();
    expect(head).toMatch(/^http\/1\.1 200/);
    expect(head).toContain('connection: close');
  }, 30_000);

  it('an idle keep-alive connection does not hold shutdown up', async () => {
    const server = await startServer({ IIIF_ROOT: root, PORT: '0' });
    const res = await fetch(`${server.url}/iiif/3/noise.png/info.json`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const started = performance.now();
    await server.close(20_000);
    expect(performance.now() - started).toBeLessThan(5_000);
    await sleep(0);
  });
});
