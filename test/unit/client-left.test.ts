import { Hono } from 'hono';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { withDirectAnswers } from '../../adapters/node/direct.ts';
import { lazyHonoListener } from '../../adapters/node/hono-listener.ts';
import { loadConfig } from '../../src/config.ts';
import { createSharedRenders } from '../../src/http/shared-renders.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((ok) => s.close(ok));
  }
});

describe('a client that left before its render began', () => {
  it('starts no render through the shared renders', async () => {
    let rendered = 0;
    const render = async () => {
      rendered++;
      return { body: new Uint8Array(1), readMs: 0 };
    };
    const gone = AbortSignal.abort();
    await expect(createSharedRenders().run('k', gone, render)).rejects.toMatchObject({ status: 503, code: 'busy' });
    expect(rendered).toBe(0);
  });

  it.each([
    ['loaded', true],
    ['still loading', false],
  ])('is seen by Hono when it left while the direct answer was looking (Hono\'s listener %s)', async (_, preload) => {
    let looked: () => void = () => undefined;
    const lookedAt = new Promise<void>((ok) => (looked = ok));
    let signal: AbortSignal | undefined;
    const app = new Hono().get('*', async (c) => {
      signal = c.req.raw.signal;
      // A render would wait here for a slot: the client's leaving must reach it.
      await new Promise<void>((ok) => {
        c.req.raw.signal.addEventListener('abort', () => ok());
        setTimeout(ok, 1000);
      });
      return c.text('late');
    });
    const lazy = lazyHonoListener(app, loadConfig({}), () => undefined, () => undefined);
    if (preload) {
      lazy.preload();
      await new Promise((ok) => setTimeout(ok, 300));
    }
    // Answers nothing itself, and only after the client has gone.
    const direct = () => lookedAt.then(() => undefined);
    const server = createServer(withDirectAnswers(direct, lazy.listener));
    servers.push(server);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise<void>((ok) => socket.once('connect', ok));
    socket.end('GET /iiif/3/a.jpg/0,0,9,9/9,/0/default.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    socket.destroy();
    await new Promise((ok) => setTimeout(ok, 100));
    looked();
    for (let i = 0; i < 100 && !signal?.aborted; i++) await new Promise((ok) => setTimeout(ok, 10));
    expect(signal?.aborted).toBe(true);
  });
});
