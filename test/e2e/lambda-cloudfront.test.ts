// First: lambda-local's `awslambda` streaming polyfill must exist before the AWS SDK claims that global.
import { bufferedFetcher, FUNCTION_DOMAIN, functionUrlEvent, s3rverLambdaEnv, streamingFetcher } from '../helpers/lambda-events.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../adapters/lambda/lambda-app.ts';
import { BUFFERED_PAYLOAD_LIMIT } from '../../adapters/lambda/payload-guard.ts';
import { refusals } from '../../adapters/lambda/event-guard.ts';
import { streamHandler } from '../../adapters/lambda/stream-handler.ts';
import { loadConfig } from '../../src/config.ts';
import { Hono } from 'hono';
import type { Env } from '../../src/config.ts';
import type { Fetcher } from '../cases/run-cases.ts';
import { makeFixtures } from '../fixtures/images.ts';
import { putObject, s3rverClient, startS3rver, uploadAll, useS3rverCredentials, type LocalS3 } from '../helpers/s3rver.ts';

const BUCKET = 'private-bucket-cf42';
const NOISE = { width: 1400, height: 1400 };

let s3: LocalS3;
let admin: S3Client;

beforeAll(async () => {
  useS3rverCredentials();
  s3 = await startS3rver([BUCKET]);
  admin = s3rverClient(s3.endpoint);
  await uploadAll(admin, BUCKET, await makeFixtures());
  // Random pixels do not compress: a full-size PNG of this is ~5.9 MB, ~7.8 MB in base64.
  const noise = randomBytes(NOISE.width * NOISE.height * 3);
  await putObject(admin, BUCKET, 'noise.png', await sharp(noise, { raw: { ...NOISE, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer());
});

afterAll(async () => {
  admin?.destroy();
  await s3?.close();
});

/** Both invoke modes of one deployment configured with `extra`. */
function deployment(extra: Env = {}): { buffered: Fetcher; streamed: Fetcher; handlers: ReturnType<typeof createHandlers> } {
  const handlers = createHandlers(s3rverLambdaEnv(s3.endpoint, BUCKET, extra));
  return { buffered: bufferedFetcher(handlers.handler), streamed: streamingFetcher(handlers.streamHandler), handlers };
}

async function infoId(fetcher: Fetcher, headers: Record<string, string> = {}, path = '/iiif/3/grid.png/info.json'): Promise<string> {
  const res = await fetcher(path, { headers });
  expect(res.status).toBe(200);
  const info = (await res.json()) as { id?: string; '@id'?: string };
  return info.id ?? info['@id'] ?? '';
}

describe.each(['buffered', 'streamed'] as const)('Lambda behind CloudFront (%s)', (mode) => {
  const pick = (d: ReturnType<typeof deployment>) => d[mode];

  it('uses the Function URL host by default and ignores forwarded headers it was not told to trust', async () => {
    const fetcher = pick(deployment());
    expect(await infoId(fetcher)).toBe(`https://${FUNCTION_DOMAIN}/iiif/3/grid.png`);
    expect(await infoId(fetcher, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' })).toBe(
      `https://${FUNCTION_DOMAIN}/iiif/3/grid.png`,
    );
  });

  it('believes X-Forwarded-Host/Proto when trusted (the stack sets it from a CloudFront Function)', async () => {
    const fetcher = pick(deployment({ IIIF_TRUST_FORWARDED: 'true' }));
    expect(await infoId(fetcher, { 'x-forwarded-host': 'd111111abcdef8.cloudfront.net' })).toBe(
      'https://d111111abcdef8.cloudfront.net/iiif/3/grid.png',
    );
    expect(await infoId(fetcher, { 'x-forwarded-host': 'images.example.org, proxy.internal', 'x-forwarded-proto': 'http' })).toBe(
      'http://images.example.org/iiif/3/grid.png',
    );
    expect(await infoId(fetcher, { 'x-forwarded-host': 'bad host/with/path' })).toBe(`https://${FUNCTION_DOMAIN}/iiif/3/grid.png`);
  });

  it('lets ForceHost (or serverless-iiif forceHost) win over everything but a public base URL', async () => {
    const forced = pick(deployment({ IIIF_FORCE_HOST: 'images.example.org', IIIF_TRUST_FORWARDED: 'true' }));
    expect(await infoId(forced, { 'x-forwarded-host': 'other.example' })).toBe('https://images.example.org/iiif/3/grid.png');
    const alias = pick(deployment({ forceHost: 'iiif.example.net:8443' }));
    expect(await infoId(alias)).toBe('https://iiif.example.net:8443/iiif/3/grid.png');
    const base = pick(deployment({ IIIF_PUBLIC_BASE_URL: 'https://cdn.example.org/images/', IIIF_FORCE_HOST: 'x.example' }));
    expect(await infoId(base)).toBe('https://cdn.example.org/images/iiif/3/grid.png');
    const img = await base('/iiif/3/grid.png/full/max/0/default.png', {});
    expect(img.headers.get('link')).toContain('<https://cdn.example.org/images/iiif/3/grid.png/full/max/0/default.png>;rel="canonical"');
  });

  it('keeps %2F in ids and Link headers', async () => {
    const fetcher = pick(deployment({ IIIF_FORCE_HOST: 'images.example.org' }));
    expect(await infoId(fetcher, {}, '/iiif/2/nested%2Fgrid.png/info.json')).toBe('https://images.example.org/iiif/2/nested%2Fgrid.png');
    const img = await fetcher('/iiif/3/nested%2Fgrid.png/full/100,/0/default.jpg', {});
    expect(img.status).toBe(200);
    expect(img.headers.get('link')).toContain('https://images.example.org/iiif/3/nested%2Fgrid.png/full/100,67/0/default.jpg');
  });

  it('sends Cache-Control per kind, Vary: Accept on info.json, Server-Timing and ETag', async () => {
    const fetcher = pick(deployment({ IIIF_CACHE_CONTROL_INFO: 'public, max-age=600', IIIF_CACHE_CONTROL_ERROR: 'public, max-age=10' }));
    const info = await fetcher('/iiif/3/grid.png/info.json', {});
    expect(info.headers.get('cache-control')).toBe('public, max-age=600');
    expect(info.headers.get('vary')).toMatch(/Accept/);
    expect(info.headers.get('server-timing')).toMatch(/source.*total|total.*source/);
    const img = await fetcher('/iiif/3/grid.png/full/50,/0/default.webp', {});
    expect(img.headers.get('cache-control')).toBe('public, max-age=2592000');
    expect(img.headers.get('server-timing')).toMatch(/render/);
    expect(img.headers.get('etag')).toMatch(/^"/);
    const again = await fetcher('/iiif/3/grid.png/full/50,/0/default.webp', { headers: { 'if-none-match': img.headers.get('etag') ?? '' } });
    expect(again.status).toBe(304);
    const missing = await fetcher('/iiif/3/nothing.png/info.json', {});
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cache-control')).toBe('public, max-age=10');
  });

  it('reflects the Origin with Vary: Origin when configured like serverless-iiif REFLECT_ORIGIN', async () => {
    const fetcher = pick(deployment({ corsAllowOrigin: 'REFLECT_ORIGIN', corsAllowCredentials: 'true' }));
    const origin = 'https://viewer.example';
    const info = await fetcher('/iiif/3/grid.png/info.json', { headers: { origin } });
    expect(info.headers.get('access-control-allow-origin')).toBe(origin);
    expect(info.headers.get('access-control-allow-credentials')).toBe('true');
    expect(info.headers.get('vary')).toMatch(/Origin/);
    expect(info.headers.get('vary')).toMatch(/Accept/);
    const img = await fetcher('/iiif/3/grid.png/full/50,/0/default.jpg', { headers: { origin } });
    expect(img.headers.get('access-control-allow-origin')).toBe(origin);
    expect(img.headers.get('vary')).toMatch(/Origin/);
    const preflight = await fetcher('/iiif/3/grid.png/info.json', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/GET/);
  });

  it('never sets a cookie, even when the viewer sends some', async () => {
    const fetcher = pick(deployment());
    for (const path of ['/iiif/3/grid.png/info.json', '/iiif/3/grid.png/full/50,/0/default.png', '/iiif/3/nothing/info.json']) {
      const res = await fetcher(path, { headers: { cookie: 'session=abc' } });
      expect(res.headers.get('set-cookie')).toBeNull();
    }
  });

  it('answers errors with JSON that names no bucket, key or endpoint', async () => {
    const fetcher = pick(deployment({ IIIF_S3_PREFIX: 'secret-prefix/', IIIF_S3_KEY_TEMPLATE: '%s.tif' }));
    for (const [path, status] of [
      ['/iiif/3/grid.png/info.json', 404],
      ['/iiif/3/grid.png/full/max/0/default.jpg', 404],
      ['/iiif/3/grid.png/full/max/0/default.bmp', 400],
      ['/iiif/9/grid.png/info.json', 404],
    ] as const) {
      const res = await fetcher(path, {});
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/json/);
      const text = await res.text();
      for (const secret of [BUCKET, 'secret-prefix', 'grid.png.tif', '127.0.0.1', String(s3.port)]) expect(text).not.toContain(secret);
    }
  });
});

describe('streamed size guard', () => {
  // An app answering `bytes` zero bytes: the guard sees our answers as they are, in memory.
  const sized = (bytes: number) => {
    const app = new Hono().get('*', (c) => c.body(new Uint8Array(bytes), 200, { 'content-type': 'image/png' }));
    const lines: string[] = [];
    const config = loadConfig({ IIIF_ROOT: '.' });
    return { handler: streamHandler(app, undefined, (line) => lines.push(line), refusals(config)), lines };
  };

  it('answers 400 over_limit, not a 200 cut short, for more than Lambda streams before the function times out', async () => {
    // 2 s left: 6 MB at full speed, then 2 MB/s for what is left after a 1 s margin.
    const { handler, lines } = sized(8_500_000);
    const res = await streamingFetcher(handler, 2000)('/iiif/3/big.png/full/max/0/default.png', { headers: { origin: 'https://viewer.example' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ status: 400, error: 'over_limit' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(lines.join('\n')).toMatch(/answer of 8500000 bytes .* sent as 400 over_limit/);
  });

  it('streams whole what fits the time left', async () => {
    const { handler } = sized(7_000_000);
    const res = await streamingFetcher(handler, 2000)('/iiif/3/big.png/full/max/0/default.png', {});
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(7_000_000);
    const later = sized(8_500_000);
    expect((await streamingFetcher(later.handler, 30_000)('/x', {})).status).toBe(200);
  });
});

describe('6 MB buffered payload guard', () => {
  it('turns an over-size buffered image into a 400 over_limit JSON error with CORS', async () => {
    const { handlers } = deployment();
    const result = await handlers.handler(functionUrlEvent('/iiif/3/noise.png/full/max/0/default.png', { headers: { origin: 'https://viewer.example' } }));
    expect(result.statusCode).toBe(400);
    expect(result.isBase64Encoded).toBe(false);
    expect(JSON.parse(result.body)).toMatchObject({ status: 400, error: 'over_limit' });
    expect(result.headers).toMatchObject({ 'content-type': 'application/json', 'access-control-allow-origin': '*', 'cache-control': 'public, max-age=60' });
    // As every answer: no sniffing, embeddable across origins.
    const headers = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    expect(headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'cross-origin-resource-policy': 'cross-origin' });
    expect(result.cookies ?? []).toEqual([]);
  });

  it('passes images below the limit, and streams the big one whole', async () => {
    const { handlers, streamed } = deployment();
    const smaller = await handlers.handler(functionUrlEvent('/iiif/3/noise.png/full/700,/0/default.png'));
    expect(smaller.statusCode).toBe(200);
    expect(Buffer.byteLength(JSON.stringify(smaller))).toBeLessThan(BUFFERED_PAYLOAD_LIMIT);
    const big = await streamed('/iiif/3/noise.png/full/max/0/default.png', {});
    expect(big.status).toBe(200);
    const body = Buffer.from(await big.arrayBuffer());
    expect(Math.ceil(body.length / 3) * 4).toBeGreaterThan(BUFFERED_PAYLOAD_LIMIT);
    expect((await sharp(body).metadata()).width).toBe(NOISE.width);
  });
});
