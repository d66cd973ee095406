// First: lambda-local's `awslambda` streaming polyfill must exist before the AWS SDK claims that global.
import { bufferedFetcher } from '../helpers/lambda-events.ts';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Miniflare } from 'miniflare';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../adapters/lambda/lambda-app.ts';
import { bundleWorker } from '../../adapters/workers/build.ts';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { jsonLinesLogger } from '../../src/log/logger.ts';
import type { Renderer } from '../../src/renderers/renderer.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { makeFixtures } from '../fixtures/images.ts';
import { COMPATIBILITY_DATE } from '../helpers/workerd.ts';

const REPO = new URL('../../', import.meta.url).pathname;
let root: string;
let gridJpg: Buffer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-logs-'));
  const fixtures = await makeFixtures();
  gridJpg = fixtures['grid.jpg']!;
  await writeFile(join(root, 'grid.jpg'), gridJpg);
  await writeFile(join(root, 'pyramid.tif'), fixtures['pyramid.tif']!);
  // A valid header (so the probe passes) and half the entropy data: the decoder fails.
  await writeFile(join(root, 'truncated.jpg'), gridJpg.subarray(0, Math.floor(gridJpg.length * 0.6)));
  await writeFile(join(root, 'garbage.jpg'), new TextEncoder().encode('this is not an image at all, only text'));
});

afterAll(() => rm(root, { recursive: true, force: true }));

type Line = Record<string, unknown> & { err?: { message?: string; stack?: string; cause?: unknown } };

/** An app over `root` whose log lines are collected, parsed, as they are written. */
function appWithLog(renderer: Renderer = sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e8 })) {
  const lines: Line[] = [];
  const logger = jsonLinesLogger({ level: 'info', write: (line) => lines.push(JSON.parse(line) as Line) });
  const app = createApp({ config: loadConfig({ IIIF_ROOT: root }), source: fsSource({ root }), renderer, logger });
  const get = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const res = await app.request(`http://localhost${path}`, { headers, method });
    const body = new Uint8Array(await res.arrayBuffer());
    return { res, body, line: lines.at(-1)! };
  };
  return { get, lines };
}

const causeText = (line: Line) => JSON.stringify(line.err);

/** The status of a GET sent as raw bytes, with a Host header fetch would refuse to send. */
function rawStatus(port: number, path: string, host: string): Promise<number> {
  return new Promise((ok, fail) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('end', () => ok(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.on('error', fail);
  });
}

describe('one JSON log line per request (core, JSON lines as on Workers)', () => {
  it('records method, path, status, bytes, duration and the path that served it', async () => {
    const { get, lines } = appWithLog();
    const info = await get('/iiif/3/grid.jpg/info.json');
    expect(info.res.status).toBe(200);
    expect(info.line).toMatchObject({ level: 'info', msg: 'request', method: 'GET', path: '/iiif/3/grid.jpg/info.json' });
    expect(info.line).toMatchObject({ status: 200, route: 'info', servedBy: 'info', bytes: info.body.byteLength });
    expect(Date.parse(String(info.line.time))).not.toBeNaN();
    expect(info.line.durationMs).toBeGreaterThanOrEqual(0);
    expect(info.line.sourceMs).toBeGreaterThanOrEqual(0);

    const render = await get('/iiif/3/grid.jpg/full/150,/0/default.png');
    expect(render.res.status).toBe(200);
    expect((await sharp(render.body).metadata()).width).toBe(150);
    expect(render.line).toMatchObject({ status: 200, route: 'image', servedBy: 'render', bytes: render.body.byteLength });
    expect(render.line.renderMs).toBeGreaterThan(0);
    expect(render.line.sourceMs).toBeGreaterThanOrEqual(0);

    const tile = await get('/iiif/3/pyramid.tif/0,0,256,256/256,/0/default.jpg');
    expect(tile.res.status).toBe(200);
    const meta = await sharp(tile.body).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 256, 256]);
    expect(tile.line).toMatchObject({ status: 200, servedBy: 'passthrough', bytes: tile.body.byteLength });
    expect(tile.line.renderMs).toBeUndefined();

    const again = await get('/iiif/3/grid.jpg/full/150,/0/default.png', { 'If-None-Match': render.res.headers.get('ETag')! });
    expect(again.res.status).toBe(304);
    expect(again.line).toMatchObject({ status: 304, servedBy: '304', bytes: 0 });

    const bad = await get('/iiif/3/grid.jpg/0,0,0,0/max/0/default.jpg');
    expect(bad.res.status).toBe(400);
    expect(bad.line).toMatchObject({ level: 'info', status: 400, servedBy: 'bad_region', bytes: bad.body.byteLength });

    const missing = await get('/iiif/3/nothing.jpg/info.json');
    expect(missing.line).toMatchObject({ status: 404, servedBy: 'not_found' });
    expect(lines).toHaveLength(6);
  });

  it('labels a request refused before it is understood by the route it was aimed at (they were all route other)', async () => {
    const { get } = appWithLog();
    const post = (path: string) => get(path, {}, 'POST');
    for (const [request, status, route] of [
      [() => get('/iiif/3/a%00b.jpg/info.json'), 400, 'info'],
      [() => post('/iiif/3/grid.jpg/info.json'), 405, 'info'],
      [() => get('/iiif/3/a%00b.jpg/full/max/0/default.jpg'), 400, 'image'],
      [() => post('/iiif/3/grid.jpg/full/max/0/default.jpg'), 405, 'image'],
      [() => post('/iiif/3/grid.jpg'), 405, 'base'],
    ] as const) {
      const { res, line } = await request();
      expect(res.status).toBe(status);
      expect(line, line.path as string).toMatchObject({ status, route });
    }
  });

  it('logs a 5xx with its cause, which the client never sees', async () => {
    const renderer: Renderer = {
      render: async () => {
        throw new Error('disk controller on fire at /srv/secret/path');
      },
    };
    const { get } = appWithLog(renderer);
    const { res, body, line } = await get('/iiif/3/grid.jpg/full/100,/0/default.png');
    expect(res.status).toBe(500);
    const text = new TextDecoder().decode(body);
    expect(JSON.parse(text)).toMatchObject({ error: 'internal' });
    expect(text).not.toContain('fire');
    expect(line).toMatchObject({ level: 'error', status: 500, servedBy: 'internal' });
    expect(line.err?.message).toBe('disk controller on fire at /srv/secret/path');
    expect(line.err?.stack).toContain('logs.test.ts');
  });

  it('logs a request whose client hung up mid-render at info, not as a server error', async () => {
    const lines: Line[] = [];
    const logger = jsonLinesLogger({ level: 'info', write: (line) => lines.push(JSON.parse(line) as Line) });
    // A render that runs until its request is cancelled, as a long libvips render would.
    const renderer: Renderer = {
      render: (input) =>
        new Promise((_, fail) => input.signal?.addEventListener('abort', () => fail(new Error('render stopped')))),
    };
    const app = createApp({ config: loadConfig({ IIIF_ROOT: root }), source: fsSource({ root }), renderer, logger });
    const client = new AbortController();
    const pending = app.request('http://localhost/iiif/3/grid.jpg/full/100,/0/default.png', { signal: client.signal });
    setTimeout(() => client.abort(), 50);
    await Promise.resolve(pending).catch(() => undefined);
    await new Promise((ok) => setTimeout(ok, 20));
    expect(lines.at(-1)).toMatchObject({ level: 'info', status: 499, servedBy: 'cancelled', path: '/iiif/3/grid.jpg/full/100,/0/default.png' });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('logs a render that finished after its client hung up as cancelled, with no bytes sent', async () => {
    const lines: Line[] = [];
    const logger = jsonLinesLogger({ level: 'info', write: (line) => lines.push(JSON.parse(line) as Line) });
    // Renders run to their end (a decode cannot be stopped): this one outlives its client.
    const inner = sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e8 });
    const renderer: Renderer = {
      render: (input, plan) => new Promise((ok) => setTimeout(() => ok(inner.render(input, plan)), 150)),
    };
    const app = createApp({ config: loadConfig({ IIIF_ROOT: root }), source: fsSource({ root }), renderer, logger });
    const client = new AbortController();
    const pending = app.request('http://localhost/iiif/3/grid.jpg/full/90,/0/default.png', { signal: client.signal });
    setTimeout(() => client.abort(), 30);
    await Promise.resolve(pending).catch(() => undefined);
    await new Promise((ok) => setTimeout(ok, 300));
    const line = lines.find((l) => l.path === '/iiif/3/grid.jpg/full/90,/0/default.png');
    expect(line).toMatchObject({ level: 'info', status: 499, servedBy: 'cancelled', bytes: 0 });
  });

  it('logs a 503 of a full render queue at warn, without a stack: it is load, not a fault', async () => {
    const lines: Line[] = [];
    const logger = jsonLinesLogger({ level: 'info', write: (line) => lines.push(JSON.parse(line) as Line) });
    let release: () => void = () => undefined;
    const renderer: Renderer = {
      render: () => new Promise((ok) => (release = () => ok({ body: new Uint8Array([1]), readMs: 0 }))),
    };
    const config = loadConfig({ IIIF_ROOT: root, IIIF_MAX_CONCURRENT_RENDERS: '1', IIIF_MAX_QUEUED_RENDERS: '0' });
    const app = createApp({ config, source: fsSource({ root }), renderer, logger });
    const first = app.request('http://localhost/iiif/3/grid.jpg/full/100,/0/default.png');
    await new Promise((ok) => setTimeout(ok, 50));
    const second = await app.request('http://localhost/iiif/3/grid.jpg/full/99,/0/default.png');
    expect(second.status).toBe(503);
    release();
    await first;
    const line = lines.find((l) => l.path === '/iiif/3/grid.jpg/full/99,/0/default.png');
    expect(line).toMatchObject({ level: 'warn', status: 503, servedBy: 'busy' });
    expect(line?.err).toBeUndefined();
  });

  it('classifies a sharp refusal of a setting (JPEG quality 150) as a bad setting, logged with sharp’s words', async () => {
    // The reproduction, below the settings check: sharp itself refuses the quality.
    const { get } = appWithLog(sharpRenderer({ jpegQuality: 150, maxInputPixels: 1e8 }));
    const { res, body, line } = await get('/iiif/3/grid.jpg/full/100,/0/default.jpg');
    expect(res.status).toBe(500);
    expect(JSON.parse(new TextDecoder().decode(body))).toMatchObject({ error: 'internal' });
    expect(line).toMatchObject({ level: 'error', status: 500, servedBy: 'internal' });
    expect(causeText(line)).toContain('bad setting');
    expect(causeText(line)).toContain('Expected integer between 1 and 100 for quality');
  });

  it('classifies an undecodable stored image as a bad source, logged with the decoder’s words', async () => {
    const { get } = appWithLog();
    const { res, body, line } = await get('/iiif/3/truncated.jpg/full/100,/0/default.png');
    expect(JSON.parse(new TextDecoder().decode(body))).toMatchObject({ error: 'unsupported_source' });
    expect(line).toMatchObject({ status: res.status, servedBy: 'unsupported_source' });
    expect(line.level).toBe(res.status >= 500 ? 'error' : 'warn');
    expect(causeText(line)).toContain('bad source');
    expect(causeText(line)).toMatch(/premature end|VipsJpeg/i);
  });
});

describe('typed errors about stored images', () => {
  it('logs an unreadable stored image at warn with the reason, whatever its status', async () => {
    const { get } = appWithLog();
    const { res, line } = await get('/iiif/3/garbage.jpg/info.json');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(line).toMatchObject({ level: res.status >= 500 ? 'error' : 'warn', servedBy: 'unsupported_source' });
    expect(line.err?.message).toMatch(/corrupt|unknown format/);
  });
});

describe('Node: pino JSON lines on stdout', () => {
  it('writes a start line, one line per request and the drain line, then exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['adapters/node/main.ts', '--root', root, '--port', '0', '--log-format', 'json'], {
      cwd: REPO,
      env: { ...process.env, IIIF_LOG_LEVEL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    const lines: Line[] = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: child.stdout! }).on('line', (text) => {
      lines.push(JSON.parse(text) as Line);
      for (const wake of waiters.splice(0)) wake();
    });
    const lineWith = async (check: (l: Line) => boolean): Promise<Line> => {
      for (;;) {
        const found = lines.find(check);
        if (found) return found;
        await Promise.race([new Promise<void>((ok) => waiters.push(ok)), exited.then(() => Promise.reject(new Error('server exited')))]);
      }
    };
    try {
      const start = await lineWith((l) => String(l.msg).includes('listening on'));
      const url = String(start.url);
      expect(start).toMatchObject({ level: 'info' });
      expect(Date.parse(String(start.time))).not.toBeNaN();

      const res = await fetch(`${url}/iiif/3/grid.jpg/full/120,/0/default.jpg`);
      const body = new Uint8Array(await res.arrayBuffer());
      expect((await sharp(body).metadata()).width).toBe(120);
      const line = await lineWith((l) => l.msg === 'request' && l.path === '/iiif/3/grid.jpg/full/120,/0/default.jpg');
      expect(line).toMatchObject({ level: 'info', method: 'GET', status: 200, servedBy: 'render', bytes: body.byteLength });

      // A Host no URL can hold is refused before any route: still one line, at warn.
      const { port } = new URL(url);
      const refused = await rawStatus(Number(port), '/iiif/3/grid.jpg/info.json?x=1', 'evil.com/x');
      expect(refused).toBe(400);
      const hostLine = await lineWith((l) => l.msg === 'request' && l.path === '/iiif/3/grid.jpg/info.json');
      expect(hostLine).toMatchObject({ level: 'warn', method: 'GET', status: 400, servedBy: 'bad_request', route: 'other' });

      const broken = await fetch(`${url}/iiif/3/truncated.jpg/full/100,/0/default.jpg`);
      expect(await broken.text()).not.toMatch(/vips|premature/i);
      const failed = await lineWith((l) => l.path === '/iiif/3/truncated.jpg/full/100,/0/default.jpg');
      expect(causeText(failed)).toContain('bad source');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(lines.some((l) => String(l.msg).startsWith('SIGTERM'))).toBe(true);
  }, 30_000);
});

describe('Lambda: Powertools log lines and embedded metrics', () => {
  it('logs each invocation as JSON and publishes its counts and latency as EMF', async () => {
    const { handler } = createHandlers({ IIIF_SOURCE: 'fs', IIIF_ROOT: root, IIIF_LOG_LEVEL: 'info' });
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      written.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stdout.write;
    let res: Response;
    try {
      res = await bufferedFetcher(handler)('/iiif/3/grid.jpg/full/100,/0/default.png', {});
    } finally {
      process.stdout.write = write;
    }
    expect((await sharp(new Uint8Array(await res.arrayBuffer())).metadata()).width).toBe(100);
    const records = written.flatMap((chunk) => chunk.split('\n')).filter((s) => s.startsWith('{')).map((s) => JSON.parse(s) as Line);
    const request = records.find((r) => r.message === 'request');
    expect(request).toMatchObject({ level: 'INFO', service: 'iiif-edge', status: 200, servedBy: 'render', route: 'image' });
    const emf = records.find((r) => r._aws !== undefined) as
      | (Line & { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Metrics: Array<{ Name: string }> }> } })
      | undefined;
    expect(emf?._aws.CloudWatchMetrics[0]?.Namespace).toBe('iiif-edge');
    expect(emf?._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name).sort()).toEqual(['latency', 'renders', 'requests']);
    expect(emf).toMatchObject({ renders: 1, requests: 1 });
    expect(emf?.latency).toBeGreaterThan(0);
  });
});

/** The Worker bundle in workerd, with every line it writes to stdout or stderr collected. */
async function loggedWorker(bindings: Record<string, string>) {
  const logged: string[] = [];
  const collect = (stream: Readable) => createInterface({ input: stream }).on('line', (line) => logged.push(line));
  const mf = new Miniflare({
    modules: true,
    script: (await bundleWorker()).code,
    compatibilityDate: COMPATIBILITY_DATE,
    r2Buckets: ['IMAGES'],
    bindings,
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      collect(stdout);
      collect(stderr);
    },
  });
  const url = (await mf.ready).origin;
  /** The first JSON line that passes `check`, waiting up to 2.5 s for it. */
  const lineWith = async (check: (l: Line) => boolean): Promise<Line | undefined> => {
    for (let i = 0; i < 50; i++) {
      const found = logged.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line).find(check);
      if (found) return found;
      await new Promise((ok) => setTimeout(ok, 50));
    }
    return undefined;
  };
  return { mf, url, lineWith };
}

describe('Workers: JSON lines on the console, in workerd', () => {
  it('logs each request as one JSON object per line', async () => {
    const { mf, url, lineWith } = await loggedWorker({ IIIF_LOG_LEVEL: 'info' });
    try {
      const bucket = (await mf.getR2Bucket('IMAGES')) as unknown as { put(key: string, value: ArrayBuffer): Promise<unknown> };
      await bucket.put('grid.jpg', new Uint8Array(gridJpg).buffer);
      const res = await fetch(`${url}/iiif/3/grid.jpg/info.json`);
      const body = new Uint8Array(await res.arrayBuffer());
      expect(res.status).toBe(200);
      const line = await lineWith((l) => l.msg === 'request');
      expect(line).toMatchObject({ level: 'info', method: 'GET', path: '/iiif/3/grid.jpg/info.json', status: 200, servedBy: 'info' });
      expect(line).toMatchObject({ bytes: body.byteLength });
    } finally {
      await mf.dispose();
    }
  }, 60_000);

  it('logs why a misconfigured Worker cannot start, as JSON, and tells the client nothing more', async () => {
    const { mf, url, lineWith } = await loggedWorker({ IIIF_R2_BINDING: 'NOT_BOUND' });
    try {
      const res = await fetch(`${url}/iiif/3/grid.jpg/info.json`);
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain('NOT_BOUND');
      const line = await lineWith((l) => l.level === 'error');
      expect(line?.err?.message).toContain('IIIF_R2_BINDING');
    } finally {
      await mf.dispose();
    }
  }, 60_000);
});
