/**
 * Render slots, queue, request timeout and security headers over real HTTP, with a stub
 * renderer whose duration the test controls, so the timing is exact rather than load-dependent.
 */
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../../adapters/node/server.ts';
import { createApp } from '../../src/app.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { loadConfig, type Env } from '../../src/config.ts';
import type { RenderInput, Renderer } from '../../src/renderers/renderer.ts';
import type { ImageSource } from '../../src/sources/source.ts';

const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#123456' } }).png().toBuffer();
const source: ImageSource = {
  kind: 'memory',
  stat: async () => ({ etag: 'e1', size: png.length }),
  read: async (_id, range) => (range ? png.subarray(range.offset, range.offset + range.length) : png),
};

/** A renderer that holds each render until released (or for `ms`), recording what it saw. */
function slowRenderer(ms?: number) {
  const state = { running: 0, peak: 0, started: 0, signals: [] as AbortSignal[], release: [] as Array<() => void> };
  const renderer: Renderer = {
    async render(input: RenderInput) {
      state.started++;
      state.running++;
      state.peak = Math.max(state.peak, state.running);
      if (input.signal) state.signals.push(input.signal);
      await new Promise<void>((ok) => (ms === undefined ? state.release.push(ok) : setTimeout(ok, ms)));
      state.running--;
      return { body: new Uint8Array([1, 2, 3]), readMs: 0 };
    },
  };
  return { renderer, state };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((ok) => s.close(ok));
  }
});

async function serveApp(env: Env, renderer: Renderer): Promise<string> {
  const app = createApp({ config: loadConfig(env), source, renderer, logger: silentLogger });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((ok) => server.once('listening', ok));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const tile = (i: number) => `/iiif/3/x.png/0,0,${10 + i},10/max/0/default.png`;
const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((ok) => setTimeout(ok, 10));
};

describe('render slots', () => {
  it('runs at most IIIF_MAX_CONCURRENT_RENDERS at once; a full queue answers 503 + Retry-After at once', async () => {
    const { renderer, state } = slowRenderer(400);
    const base = await serveApp({ IIIF_MAX_CONCURRENT_RENDERS: '2', IIIF_MAX_QUEUED_RENDERS: '2', IIIF_QUEUE_TIMEOUT_MS: '600' }, renderer);
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const res = await fetch(`${base}${tile(i)}`);
        const body = await res.text();
        return { status: res.status, ms: performance.now() - started, retry: res.headers.get('retry-after'), body };
      }),
    );
    expect(state.peak).toBe(2);
    const ok = answers.filter((a) => a.status === 200);
    const busy = answers.filter((a) => a.status === 503);
    // 2 run, 2 wait and get the freed slots at 400 ms; the other 4 find the queue full and are refused at once.
    expect([ok.length, busy.length]).toEqual([4, 4]);
    for (const a of busy) {
      expect(a.retry).toBe('1');
      expect(JSON.parse(a.body)).toMatchObject({ status: 503, error: 'busy' });
      expect(a.ms).toBeLessThan(300);
    }
    // info.json never waits for a render slot.
    expect((await fetch(`${base}/iiif/3/x.png/info.json`)).status).toBe(200);
  });

  it('a waiter times out after IIIF_QUEUE_TIMEOUT_MS', async () => {
    const { renderer, state } = slowRenderer();
    const base = await serveApp({ IIIF_MAX_CONCURRENT_RENDERS: '1', IIIF_QUEUE_TIMEOUT_MS: '200' }, renderer);
    const first = fetch(`${base}${tile(0)}`);
    await until(() => state.started === 1);
    const started = performance.now();
    const second = await fetch(`${base}${tile(1)}`);
    expect(second.status).toBe(503);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    state.release.forEach((go) => go());
    expect((await first).status).toBe(200);
  });

  it('a client that disconnects while queued leaves the queue; an in-flight render sees its signal aborted', async () => {
    const { renderer, state } = slowRenderer();
    const base = await serveApp({ IIIF_MAX_CONCURRENT_RENDERS: '1', IIIF_QUEUE_TIMEOUT_MS: '10000' }, renderer);
    const running = new AbortController();
    const first = fetch(`${base}${tile(0)}`, { signal: running.signal }).catch(() => 'aborted');
    await until(() => state.started === 1);
    const queued = new AbortController();
    const second = fetch(`${base}${tile(1)}`, { signal: queued.signal }).catch(() => 'aborted');
    await new Promise((ok) => setTimeout(ok, 100));
    queued.abort();
    running.abort();
    expect([await first, await second]).toEqual(['aborted', 'aborted']);
    // @hono/node-server aborts Request.signal when the socket closes.
    await until(() => state.signals[0]?.aborted === true);
    expect(state.signals[0]?.aborted).toBe(true);
    state.release.forEach((go) => go());
    // The next request gets the slot at once: the disconnected waiter never rendered.
    const third = fetch(`${base}${tile(2)}`);
    await until(() => state.started === 2);
    state.release.forEach((go) => go());
    expect((await third).status).toBe(200);
    expect(state.started).toBe(2);
  });
});

describe('request timeout', () => {
  it('answers 503 JSON with Retry-After and CORS when a request outlives IIIF_REQUEST_TIMEOUT_MS', async () => {
    const { renderer } = slowRenderer(1_500);
    const base = await serveApp({ IIIF_REQUEST_TIMEOUT_MS: '300' }, renderer);
    const started = performance.now();
    const res = await fetch(`${base}${tile(0)}`);
    const ms = performance.now() - started;
    expect(res.status).toBe(503);
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1_200);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toMatchObject({ status: 503, error: 'busy' });
  });
});

describe('connections (Node)', () => {
  const open = async (url: string) => {
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((ok) => socket.once('connect', ok));
    const closed = new Promise<number>((ok) => socket.once('close', () => ok(performance.now())));
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    return { socket, closed, received: () => received };
  };

  it('counts what Node refuses before a request exists (431 here) in the request metrics', async () => {
    const server = await startServer({ PORT: '0', HOST: '127.0.0.1', IIIF_METRICS_PORT: '0' });
    try {
      const big = await open(server.url);
      big.socket.write(`GET /iiif/3/colour-grid.png/info.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
      await big.closed;
      expect(big.received()).toMatch(/^HTTP\/1\.1 431/);
      const text = await (await fetch(server.metricsUrl ?? '')).text();
      expect(text).toMatch(/^iiif_requests_total\{[^}]*status="431"[^}]*\} 1$/m);
    } finally {
      await server.close();
    }
  });

  it('cuts a client that trickles its headers after IIIF_HEADERS_TIMEOUT_MS, with 408', async () => {
    const server = await startServer({ PORT: '0', HOST: '127.0.0.1', IIIF_HEADERS_TIMEOUT_MS: '500' });
    try {
      const slow = await open(server.url);
      const started = performance.now();
      slow.socket.write('GET /iiif/3/colour-grid.png/info.json HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const trickle = setInterval(() => slow.socket.writable && slow.socket.write('X-A: b\r\n'), 100);
      const at = await Promise.race([slow.closed, new Promise<number>((ok) => setTimeout(() => ok(Infinity), 5_000))]);
      clearInterval(trickle);
      expect(at - started).toBeLessThan(2_500);
      expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
      // As every error: one line of JSON, with CORS so that a viewer can read it.
      const [head, body] = slow.received().split('\r\n\r\n');
      expect(head?.toLowerCase()).toContain('access-control-allow-origin: *');
      expect(JSON.parse(body ?? '')).toMatchObject({ status: 408, error: 'bad_request' });
      // Others are served meanwhile and after.
      expect((await fetch(`${server.url}/iiif/3/colour-grid.png/info.json`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('closes connections past IIIF_MAX_CONNECTIONS at once, and serves again when one leaves', async () => {
    const server = await startServer({ PORT: '0', HOST: '127.0.0.1', IIIF_MAX_CONNECTIONS: '2' });
    try {
      const held = [await open(server.url), await open(server.url)];
      const third = await open(server.url);
      const at = await Promise.race([third.closed, new Promise<number>((ok) => setTimeout(() => ok(Infinity), 2_000))]);
      expect(at).toBeLessThan(Infinity);
      held[0]!.socket.destroy();
      await held[0]!.closed;
      await new Promise((ok) => setTimeout(ok, 50));
      const res = await fetch(`${server.url}/iiif/3/colour-grid.png/info.json`, { headers: { connection: 'close' } });
      expect(res.status).toBe(200);
      held[1]!.socket.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('security headers', () => {
  const STRICT = ['strict-transport-security', 'x-frame-options', 'referrer-policy', 'content-security-policy'];

  it('by default: nosniff and cross-origin embedding on every response, nothing that breaks viewers, no versions', async () => {
    const base = await serveApp({}, slowRenderer(0).renderer);
    for (const path of ['/iiif/3/x.png/info.json', tile(0), '/iiif/3/x.png/full/max/0/nope.png', '/nowhere', '/health']) {
      const res = await fetch(`${base}${path}`);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('cross-origin-resource-policy'), path).toBe('cross-origin');
      for (const name of [...STRICT, 'server', 'x-powered-by']) expect(res.headers.get(name), `${path} ${name}`).toBeNull();
    }
  });

  it('IIIF_SECURITY_HEADERS=true adds HSTS, framing and referrer rules, and a CSP except on the HTML viewer', async () => {
    const server = await startServer({ PORT: '0', IIIF_SECURITY_HEADERS: 'true' });
    try {
      for (const path of ['/iiif/3/colour-grid.png/info.json', '/iiif/3/colour-grid.png/full/64,/0/default.jpg', '/nowhere', '/']) {
        const res = await fetch(`${server.url}${path}`);
        await res.arrayBuffer();
        for (const name of STRICT.slice(0, 3)) expect(res.headers.get(name), `${path} ${name}`).not.toBeNull();
        const csp = res.headers.get('content-security-policy');
        if (path === '/') expect(csp).toBeNull();
        else expect(csp).toBe("default-src 'none'; frame-ancestors 'none'");
        expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      }
    } finally {
      await server.close();
    }
  });
});
