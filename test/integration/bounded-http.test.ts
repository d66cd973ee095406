// First: lambda-local's `awslambda` streaming polyfill must exist before the AWS SDK claims that global.
import { bufferedFetcher, functionUrlEvent, s3rverLambdaEnv, streamingFetcher } from '../helpers/lambda-events.ts';
import * as lambdaLocal from 'lambda-local';
import type { Readable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../adapters/lambda/lambda-app.ts';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Env } from '../../src/config.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { jsonLinesLogger } from '../../src/log/logger.ts';
import { sourceFromConfig } from '../../src/sources/from-config.ts';
import { makeFixtures } from '../fixtures/images.ts';
import { s3rverClient, startS3rver, uploadAll, useS3rverCredentials, type LocalS3 } from '../helpers/s3rver.ts';

let root: string;
let s3: LocalS3;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-bounded-http-'));
  await writeFile(join(root, 'grid.png'), (await makeFixtures())['grid.png'] ?? Buffer.alloc(0));
  useS3rverCredentials();
  s3 = await startS3rver(['images']);
  const admin = s3rverClient(s3.endpoint);
  await uploadAll(admin, 'images', { 'grid.png': (await makeFixtures())['grid.png'] ?? Buffer.alloc(0) });
  admin.destroy();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await s3?.close();
});

const fsApp = (env: Env = {}) => createApp({ config: loadConfig({ IIIF_ROOT: root, ...env }), source: fsSource({ root }) });

describe('11.9 Host header is never reflected unchecked', () => {
  const INFO = '/iiif/3/grid.png/info.json';

  it('refuses a Host that is not host[:port] with an uncacheable 400, before it reaches id, Link or Location', async () => {
    const app = fsApp();
    for (const path of [INFO, '/iiif/3/grid.png', '/iiif/3/grid.png/full/max/0/default.jpg']) {
      const res = await app.request(`http://x";rel=preload;a="b${path}`);
      expect(res.status, path).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('link')).toBeNull();
      expect(await res.json()).toMatchObject({ status: 400, error: 'bad_request' });
    }
  });

  it('still accepts plain names, IPv4 and IPv6 hosts with ports', async () => {
    const app = fsApp();
    for (const host of ['images.example.org', '127.0.0.1:8080', '[::1]:8080']) {
      const res = await app.request(`http://${host}${INFO}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(`http://${host}/iiif/3/grid.png`);
    }
  });

  it('IIIF_PUBLIC_HOSTS: only listed hosts (also from X-Forwarded-Host) become the base', async () => {
    const app = fsApp({ IIIF_PUBLIC_HOSTS: 'images.example.org, iiif.example.org:8443', IIIF_TRUST_FORWARDED: 'true' });
    const ok = await app.request(`http://iiif.example.org:8443${INFO}`);
    expect(((await ok.json()) as { id: string }).id).toBe('http://iiif.example.org:8443/iiif/3/grid.png');
    const other = await app.request(`http://evil.example.com${INFO}`);
    expect(other.status).toBe(400);
    expect(other.headers.get('cache-control')).toBe('no-store');
    const forwarded = await app.request(`http://images.example.org${INFO}`, { headers: { 'x-forwarded-host': 'evil.example.com' } });
    expect(forwarded.status).toBe(400);
    expect(() => loadConfig({ IIIF_PUBLIC_HOSTS: 'a.example.org,bad"host' })).toThrow(/IIIF_PUBLIC_HOSTS/);
  });
});

describe('11.11 smaller ones', () => {
  it('validates a 50,000-character IIIF_PUBLIC_BASE_URL in linear time', () => {
    // Trailing slashes were trimmed by /\/+$/, which backtracks quadratically: 4.2 s here.
    const long = `https://images.example.org/${'/'.repeat(50_000)}x`;
    const started = performance.now();
    expect(loadConfig({ IIIF_PUBLIC_BASE_URL: long }).IIIF_PUBLIC_BASE_URL).toBe(long);
    expect(loadConfig({ IIIF_RENDER_ORIGIN: `${long}${'/'.repeat(50_000)}` }).IIIF_RENDER_ORIGIN).toBe(long);
    expect(performance.now() - started).toBeLessThan(500);
    expect(loadConfig({ IIIF_PUBLIC_BASE_URL: 'https://images.example.org/base/' }).IIIF_PUBLIC_BASE_URL).toBe(
      'https://images.example.org/base',
    );
    expect(() => loadConfig({ IIIF_PUBLIC_BASE_URL: 'ftp://images.example.org' })).toThrow(/http or https/);
    expect(() => loadConfig({ IIIF_PUBLIC_BASE_URL: 'not a url' })).toThrow(/absolute URL/);
  });

  it('a missing bucket is an uncacheable 502, not a cacheable 404', async () => {
    const lines: string[] = [];
    const config = loadConfig(s3rverLambdaEnv(s3.endpoint, 'no-such-bucket'));
    const app = createApp({ config, source: sourceFromConfig(config, (l) => lines.push(l)) });
    const res = await app.request('/iiif/3/grid.png/info.json');
    expect(res.status).toBe(502);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toMatchObject({ error: 'upstream_error', message: 'storage is misconfigured' });
    expect(lines.join('\n')).not.toContain('no-such-bucket');
    // The bucket that exists still answers a missing key with 404.
    const good = loadConfig(s3rverLambdaEnv(s3.endpoint));
    const missing = await createApp({ config: good, source: sourceFromConfig(good, () => undefined) }).request('/iiif/3/none.png/info.json');
    expect(missing.status).toBe(404);
  });

  it('a store that resets connections is a 502 "could not be reached", not a 504 timeout', async () => {
    const reset: Server = createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((ok) => reset.listen(0, '127.0.0.1', ok));
    try {
      const config = loadConfig(s3rverLambdaEnv(`http://127.0.0.1:${(reset.address() as AddressInfo).port}`));
      const lines: string[] = [];
      const logger = jsonLinesLogger({ level: 'info', write: (line) => void lines.push(line) });
      const app = createApp({ config, source: sourceFromConfig(config, () => undefined), logger });
      const res = await app.request('/iiif/3/grid.png/info.json');
      expect(res.status).toBe(502);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = await res.json();
      expect(body).toMatchObject({ error: 'upstream_error' });
      // The request's log line carries what failed (the call and the SDK's fault), which the client never sees.
      const line = lines.map((l) => JSON.parse(l) as { msg: string; err?: unknown }).find((l) => l.msg === 'request');
      expect(JSON.stringify(line?.err)).toMatch(/s3 HeadObject failed/);
      expect(JSON.stringify(body)).not.toMatch(/HeadObject|ECONN/);
    } finally {
      await new Promise<void>((ok) => reset.close(() => ok()));
    }
  });

  it('Lambda: a GET whose body is not valid base64 gets a 400 JSON error', async () => {
    const { handler } = createHandlers(s3rverLambdaEnv(s3.endpoint));
    const event = { ...functionUrlEvent('/iiif/3/grid.png/info.json'), isBase64Encoded: true, body: '%%%not base64%%%' };
    const result = await handler(event);
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body)).toMatchObject({ status: 400, error: 'bad_request' });
    // A valid event through the same handler still works.
    expect((await bufferedFetcher(handler)('/iiif/3/grid.png/info.json', {})).status).toBe(200);
  });

  it('Lambda: an API Gateway REST (payload 1.0) event is refused with a one-line reason and a log line', async () => {
    const { handler } = createHandlers(s3rverLambdaEnv(s3.endpoint));
    // The Lambda logger writes JSON lines to the process's own streams (CloudWatch reads them).
    const writes = { out: process.stdout.write, err: process.stderr.write };
    const lines: string[] = [];
    const capture = (chunk: string | Uint8Array) => (lines.push(String(chunk)), true);
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    const warn = console.warn;
    console.warn = (line: string) => void lines.push(line);
    try {
      const v1 = {
        resource: '/{proxy+}',
        path: '/iiif/3/grid.png/info.json',
        httpMethod: 'GET',
        headers: { Accept: '*/*' },
        multiValueHeaders: { Accept: ['*/*'] },
        queryStringParameters: null,
        requestContext: { stage: 'prod', httpMethod: 'GET', path: '/prod/iiif/3/grid.png/info.json' },
        body: null,
        isBase64Encoded: false,
      };
      const result = await handler(v1 as unknown as Parameters<typeof handler>[0]);
      expect(result.statusCode).toBe(500);
      expect(result.headers?.['cache-control']).toBe('no-store');
      const body = JSON.parse(result.body) as { error: string; message: string };
      expect(body.message).toMatch(/payload format 2\.0/);
      expect(result.body).not.toContain('undefined');
      expect(lines.some((l) => l.includes('payload format 1.0'))).toBe(true);
    } finally {
      process.stdout.write = writes.out;
      process.stderr.write = writes.err;
      console.warn = warn;
    }
  });

  it('Lambda response streaming: the same refusals as JSON, and valid events still served', async () => {
    const { streamHandler } = createHandlers(s3rverLambdaEnv(s3.endpoint));
    const run = async (event: object) => {
      const result = (await lambdaLocal.execute({
        event,
        lambdaFunc: { streamHandler },
        lambdaHandler: 'streamHandler',
        timeoutMs: 30_000,
        verboseLevel: 0,
      })) as { statusCode: number; headers?: Record<string, string>; body: Readable };
      const chunks: Buffer[] = [];
      for await (const chunk of result.body) chunks.push(Buffer.from(chunk as Uint8Array));
      return { status: result.statusCode, headers: result.headers ?? {}, body: Buffer.concat(chunks).toString() };
    };
    const bad = await run({ ...functionUrlEvent('/iiif/3/grid.png/info.json'), isBase64Encoded: true, body: '%%%not base64%%%' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ status: 400, error: 'bad_request' });
    const v1 = await run({ resource: '/{proxy+}', path: '/iiif/3/grid.png/info.json', httpMethod: 'GET', headers: {}, requestContext: {}, body: null, isBase64Encoded: false });
    expect(v1.status).toBe(500);
    expect(JSON.parse(v1.body)).toMatchObject({ status: 500 });
    expect(v1.body).not.toContain('undefined');
    const ok = await streamingFetcher(streamHandler)('/iiif/3/grid.png/info.json?x=1', { headers: { cookie: 'a=b' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { id: string }).id).toMatch(/^https:\/\/.+\/iiif\/3\/grid\.png$/);
  });

  it('Lambda, both modes: refusals carry CORS like every answer; odd events are read alike', async () => {
    const { handler, streamHandler } = createHandlers(s3rverLambdaEnv(s3.endpoint));
    const streamed = async (event: object) => {
      const result = (await lambdaLocal.execute({ event, lambdaFunc: { streamHandler }, lambdaHandler: 'streamHandler', timeoutMs: 30_000, verboseLevel: 0 })) as {
        statusCode: number;
        headers?: Record<string, string>;
        body: Readable;
      };
      const chunks: Buffer[] = [];
      for await (const chunk of result.body) chunks.push(Buffer.from(chunk as Uint8Array));
      return { status: result.statusCode, headers: result.headers ?? {}, body: Buffer.concat(chunks).toString() };
    };
    const buffered = async (event: object) => {
      const r = await handler(event as Parameters<typeof handler>[0]);
      return { status: r.statusCode, headers: (r.headers ?? {}) as Record<string, string>, body: r.body };
    };
    const base = functionUrlEvent('/iiif/3/grid.png/info.json');
    const cases = [
      { event: { ...base, isBase64Encoded: true, body: '%%%not base64%%%' }, status: 400 },
      // A header value no Request can hold (CR LF): JSON 400 from both, not plain text.
      { event: { ...base, headers: { ...(base as { headers: Record<string, string> }).headers, 'x-bad': 'a\r\nb' } }, status: 400 },
      { event: { resource: '/{proxy+}', path: '/iiif/3/grid.png/info.json', httpMethod: 'GET', headers: {}, requestContext: {}, body: null, isBase64Encoded: false }, status: 500 },
    ];
    for (const [mode, invoke] of [['buffered', buffered], ['streamed', streamed]] as const) {
      for (const { event, status } of cases) {
        const res = await invoke(event);
        const where = `${mode} ${status}`;
        expect(res.status, where).toBe(status);
        expect(res.headers['access-control-allow-origin'], where).toBe('*');
        expect(res.headers['content-type'], where).toMatch(/^application\/json/);
        expect(JSON.parse(res.body), where).toMatchObject({ status });
      }
      // No headers object, no domainName: the id comes from the Host header, in both modes alike.
      const { headers: _, ...bare } = base as { headers: Record<string, string> };
      const noDomain = { ...base, requestContext: { ...(base as unknown as { requestContext: Record<string, unknown> }).requestContext, domainName: undefined } };
      expect((await invoke(bare)).status, `${mode} no headers`).toBe(200);
      const info = await invoke(noDomain);
      expect(info.status, `${mode} no domainName`).toBe(200);
      expect((JSON.parse(info.body) as { id: string }).id, mode).not.toContain('undefined');
    }
  });
});
