// First: lambda-local's `awslambda` streaming polyfill must exist before the AWS SDK claims that global.
import { bufferedFetcher, type BufferedHandler, FUNCTION_DOMAIN, s3rverLambdaEnv } from '../helpers/lambda-events.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { bundleLambda } from '../../adapters/lambda/build.ts';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHandlers } from '../../adapters/lambda/lambda-app.ts';
import type { Env } from '../../src/config.ts';
import { GRID, gridColour, makeFixtures, PYRAMID } from '../fixtures/images.ts';
import { putObject, s3rverClient, startS3rver, uploadAll, type LocalS3, useS3rverCredentials } from '../helpers/s3rver.ts';

/**
 * serverless-iiif and Cantaloupe behaviours a migrating collection relies on, each tried
 * against the Lambda app (the bundle's entry) over a real S3 protocol server.
 */
let s3: LocalS3;
let admin: S3Client;

beforeAll(async () => {
  useS3rverCredentials();
  s3 = await startS3rver(['images', 'other']);
  admin = s3rverClient(s3.endpoint);
  await uploadAll(admin, 'images', await makeFixtures());
});

afterAll(async () => {
  admin?.destroy();
  await s3?.close();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Everything the app logs on the console, whichever of its methods the logger uses. */
function captureLog(): () => string {
  const spies = [
    ...(['log', 'info', 'warn', 'error'] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => {})),
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true),
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true),
  ];
  return () => spies.flatMap((spy) => spy.mock.calls.flat().map(String)).join('\n');
}

const lambda = (extra: Env) => bufferedFetcher(createHandlers(s3rverLambdaEnv(s3.endpoint, 'images', extra)).handler);
const base = `https://${FUNCTION_DOMAIN}`;
const get = (fetcher: ReturnType<typeof lambda>, path: string, headers: Record<string, string> = {}) =>
  fetcher(path, { method: 'GET', headers, redirect: 'manual' });

async function decoded(res: Response) {
  const { data, info } = await sharp(new Uint8Array(await res.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
  const pixel = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  return { width: info.width, height: info.height, pixel };
}

describe('raw "/" in identifiers (IIIF_RAW_SLASH_IDS, serverless-iiif style)', () => {
  it('is off by default: a raw slash is a 404', async () => {
    expect((await get(lambda({}), '/iiif/2/nested/grid.png/info.json')).status).toBe(404);
  });

  it('resolves info.json, images and the base URI of an identifier with raw slashes; ids stay encoded by default', async () => {
    const fetcher = lambda({ IIIF_RAW_SLASH_IDS: 'true' });
    const info = await get(fetcher, '/iiif/2/nested/grid.png/info.json');
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ '@id': `${base}/iiif/2/nested%2Fgrid.png`, width: GRID.width, height: GRID.height });

    const image = await get(fetcher, '/iiif/3/nested/grid.png/50,0,100,100/50,/0/default.png');
    expect(image.status).toBe(200);
    expect(image.headers.get('link')).toContain(`<${base}/iiif/3/nested%2Fgrid.png/50,0,100,100/50,50/0/default.png>;rel="canonical"`);
    const pixels = await decoded(image);
    expect([pixels.width, pixels.height]).toEqual([50, 50]);
    // Source cell (50..99, 0..49) fills the top-left quarter of the output.
    const want = gridColour(75, 25);
    pixels.pixel(10, 10).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(6));

    const redirect = await get(fetcher, '/iiif/3/nested/grid.png');
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get('location')).toBe(`${base}/iiif/3/nested%2Fgrid.png/info.json`);
  });

  it('emits the identifier as received when IIIF_RAW_SLASH_CANONICAL=as-received', async () => {
    const fetcher = lambda({ IIIF_RAW_SLASH_IDS: 'true', IIIF_RAW_SLASH_CANONICAL: 'as-received' });
    expect(await (await get(fetcher, '/iiif/3/nested/grid.png/info.json')).json()).toMatchObject({ id: `${base}/iiif/3/nested/grid.png` });
    const image = await get(fetcher, '/iiif/2/nested/grid.png/full/full/0/default.jpg');
    expect(image.status).toBe(200);
    expect(image.headers.get('link')).toContain(`<${base}/iiif/2/nested/grid.png/full/full/0/default.jpg>;rel="canonical"`);
    // Both spellings address the same image.
    expect((await get(fetcher, '/iiif/3/nested%2Fgrid.png/info.json')).status).toBe(200);
  });

  it('checks the source at most once, and keeps the right errors', async () => {
    const fetcher = lambda({ IIIF_RAW_SLASH_IDS: 'true' });
    expect((await get(fetcher, '/iiif/3/nested/missing.png/info.json')).status).toBe(404);
    expect((await get(fetcher, '/iiif/3/nested/missing.png/full/max/0/default.jpg')).status).toBe(404);
    // Not a valid image request and no image of that name: the parameter error, not a redirect.
    const bad = await get(fetcher, '/iiif/3/nested/grid.png/full/junk/0/default.jpg');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'bad_size' });
    expect((await get(fetcher, '/iiif/3/nested/a%00b.png/info.json')).status).toBe(400);
  });
});

describe('IIIF_SLASH_SUBSTITUTE when emitting ids (Cantaloupe slash_substitute)', () => {
  it('uses the substitute in info.json id, the canonical Link and the base-URI redirect', async () => {
    const fetcher = lambda({ IIIF_SLASH_SUBSTITUTE: '_SL_' });
    const info = await get(fetcher, '/iiif/3/nested_SL_grid.png/info.json');
    expect(await info.json()).toMatchObject({ id: `${base}/iiif/3/nested_SL_grid.png` });
    const image = await get(fetcher, '/iiif/3/nested_SL_grid.png/full/max/0/default.jpg');
    expect(image.status).toBe(200);
    expect(image.headers.get('link')).toContain(`<${base}/iiif/3/nested_SL_grid.png/full/max/0/default.jpg>;rel="canonical"`);
    // A proxy that decoded %2F: the id the client gets back must survive the same proxy.
    const redirect = await get(fetcher, '/iiif/3/nested%2Fgrid.png');
    expect(redirect.headers.get('location')).toBe(`${base}/iiif/3/nested_SL_grid.png/info.json`);
  });
});

describe('ping route', () => {
  it("answers serverless-iiif's text/plain OK when the deployment uses its setting names", async () => {
    const fetcher = bufferedFetcher(createHandlers({ ...s3rverLambdaEnv(s3.endpoint), IIIF_S3_BUCKET: undefined, sourceBucket: 'images' }).handler);
    for (const path of ['/iiif/2', '/iiif/3', '/iiif/3/']) {
      const res = await get(fetcher, path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/plain/);
      expect(await res.text(), path).toBe('OK');
    }
  });

  it('answers JSON with our own names', async () => {
    const res = await get(lambda({}), '/iiif/3');
    expect(await res.json()).toEqual({ status: 'ok', version: 3 });
  });
});

describe('S3 geometry metadata as serverless-iiif writes it', () => {
  it('takes square tiles from iiif-tilesize', async () => {
    const fixtures = await makeFixtures();
    await putObject(admin, 'images', 'meta/grid.png', fixtures['grid.png']!, { 'iiif-width': '300', 'iiif-height': '200', 'iiif-tilesize': '100' });
    const info = (await (await get(lambda({}), '/iiif/3/meta%2Fgrid.png/info.json')).json()) as { tiles: { width: number; height?: number }[] };
    expect(info.tiles[0]).toMatchObject({ width: 100, height: 100 });
  });

  it('with iiif-pages > 1, renders from the pyramid page that covers the output, not the full page', async () => {
    const fixtures = await makeFixtures();
    await putObject(admin, 'images', 'meta/pyramid.tif', fixtures['pyramid.tif']!, {
      'iiif-width': String(PYRAMID.width), 'iiif-height': String(PYRAMID.height), 'iiif-pages': '4', 'iiif-tilesize': String(PYRAMID.tile),
    });
    // Only the half-size page (1000x750) fits under this input limit; the full page (2000x1500) does not.
    const fetcher = lambda({ IIIF_MAX_INPUT_PIXELS: String(1000 * 750) });
    const half = await get(fetcher, '/iiif/3/meta%2Fpyramid.tif/full/500,/0/default.png');
    expect(half.status).toBe(200);
    const image = await decoded(half);
    expect([image.width, image.height]).toEqual([500, 375]);
    // Output (306, 206) is source (1224, 824), the middle of a grid cell.
    const want = gridColour(306 * 4, 206 * 4);
    image.pixel(306, 206).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(12));
    expect((await get(fetcher, '/iiif/3/meta%2Fpyramid.tif/full/1500,/0/default.png')).status).toBe(400);
  });
});

describe('preflight headers (IIIF_PREFLIGHT, serverless-iiif preflight=true)', () => {
  const location = { 'x-preflight-location': 's3://images/grid.png' };
  const dimensions = { 'x-preflight-dimensions': JSON.stringify({ width: 3000, height: 2000 }) };

  it('ignores them by default, and logs the refusal', async () => {
    const logged = captureLog();
    const res = await get(lambda({}), '/iiif/3/not-there/info.json', location);
    expect(res.status).toBe(404);
    expect(logged()).toMatch(/preflight.*ignored/i);
  });

  it('reads the object named by x-preflight-location when enabled', async () => {
    const fetcher = lambda({ IIIF_PREFLIGHT: 'true' });
    const info = await get(fetcher, '/iiif/3/not-there/info.json', location);
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ id: `${base}/iiif/3/not-there`, width: GRID.width, height: GRID.height });
    const image = await decoded(await get(fetcher, '/iiif/3/not-there/full/60,/0/default.png', location));
    expect([image.width, image.height]).toEqual([60, 40]);
  });

  it('takes the geometry from x-preflight-dimensions without probing the object', async () => {
    const fetcher = lambda({ IIIF_PREFLIGHT: 'true' });
    const info = await get(fetcher, '/iiif/3/grid.png/info.json', dimensions);
    expect(await info.json()).toMatchObject({ width: 3000, height: 2000 });
    expect(await (await get(fetcher, '/iiif/2/grid.jpg/info.json', { 'x-preflight-dimensions': '[{"width":1000,"height":800}]' })).json())
      .toMatchObject({ width: 1000, height: 800 });
    // A pyramid (several sizes or pages) is still probed: the header has no level layout.
    const pyramid = JSON.stringify([{ width: 1000, height: 800 }, { width: 500, height: 400 }]);
    expect(await (await get(fetcher, '/iiif/2/grid.jpg/info.json', { 'x-preflight-dimensions': pyramid })).json())
      .toMatchObject({ width: GRID.width, height: GRID.height });
    const paged = JSON.stringify({ width: 1000, height: 800, pages: 3 });
    expect(await (await get(fetcher, '/iiif/3/grid.png/info.json', { 'x-preflight-dimensions': paged })).json())
      .toMatchObject({ width: GRID.width, height: GRID.height });
  });

  it('renders images with x-preflight-dimensions, from S3 and from files (every one was a 503 "the image changed")', async () => {
    const sized = (width: number, height: number) => ({ 'x-preflight-dimensions': JSON.stringify({ width, height }) });
    const samples = new URL('../../adapters/node/samples/', import.meta.url).pathname;
    const fromFiles = bufferedFetcher(createHandlers({ IIIF_SOURCE: 'fs', IIIF_ROOT: samples, IIIF_PREFLIGHT: 'true' }).handler);
    for (const [fetcher, path, headers] of [
      [lambda({ IIIF_PREFLIGHT: 'true' }), '/iiif/3/grid.png/full/60,/0/default.png', sized(GRID.width, GRID.height)],
      [fromFiles, '/iiif/3/colour-grid.png/full/60,/0/default.png', sized(1200, 800)],
    ] as const) {
      const res = await get(fetcher, path, headers);
      expect(res.status, path).toBe(200);
      const etag = res.headers.get('etag');
      const image = await decoded(res);
      expect([image.width, image.height], path).toEqual([60, 40]);
      // The header's geometry still makes an answer of its own.
      const plain = await get(fetcher, path);
      expect(plain.status).toBe(200);
      expect(plain.headers.get('etag')).not.toBe(etag);
    }
  });

  it('refuses a location outside the configured bucket or prefix, and bad dimensions, with a logged 400', async () => {
    const logged = captureLog();
    const fetcher = lambda({ IIIF_PREFLIGHT: 'true' });
    await putObject(admin, 'other', 'grid.png', new Uint8Array(await (await get(lambda({}), '/iiif/3/grid.png/full/max/0/default.png')).arrayBuffer()));
    for (const headers of <Record<string, string>[]>[
      { 'x-preflight-location': 's3://other/grid.png' },
      { 'x-preflight-location': 'https://images.s3.amazonaws.com/grid.png' },
      { 'x-preflight-dimensions': '{"width":-1}' },
      { 'x-preflight-dimensions': 'not json' },
    ]) {
      const res = await get(fetcher, '/iiif/3/grid.png/info.json', headers);
      expect(res.status, JSON.stringify(headers)).toBe(400);
      const body = await res.text();
      expect(body).not.toContain('other');
    }
    expect(logged()).toMatch(/preflight.*refused/i);
  });
});

describe('the same behaviours through the built Lambda bundle (index.mjs, index.handler)', () => {
  const ROOT = new URL('../../', import.meta.url).pathname;
  const OUT = `${ROOT}dist/parity-bundle/index.mjs`;
  let loads = 0;

  beforeAll(async () => {
    // The bundle of adapters/lambda/build.ts, without installing sharp (it resolves from node_modules).
    await bundleLambda(OUT);
  });
  afterAll(async () => {
    await rm(`${ROOT}dist/parity-bundle`, { recursive: true, force: true });
  });

  /** The bundle reads process.env once, at import: each setting gets a fresh module instance. */
  async function bundled(extra: Env) {
    const saved = { ...process.env };
    Object.assign(process.env, s3rverLambdaEnv(s3.endpoint, 'images', extra));
    try {
      const entry = (await import(`${OUT}?settings=${++loads}`)) as { handler: BufferedHandler };
      return bufferedFetcher(entry.handler);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  }

  // V8 parses a whole file as it loads: what only some requests need must sit in chunks of its own.
  it('keeps the AWS SDK and pdf-lib out of the entry file, in chunks beside it', async () => {
    const entry = await readFile(OUT, 'utf8');
    const chunks = await Promise.all((await readdir(dirname(OUT))).filter((f) => f.startsWith('chunk-')).map((f) => readFile(join(dirname(OUT), f), 'utf8')));
    for (const marker of ['x-amz-content-sha256', '%PDF-']) {
      expect(entry.includes(marker), marker).toBe(false);
      expect(chunks.some((c) => c.includes(marker)), marker).toBe(true);
    }
  });

  it('raw slash ids, slash substitute in emitted ids, preflight location and the serverless-iiif ping', async () => {
    // One import (a bundle instance costs seconds on a shared machine): settings that combine.
    const fetcher = await bundled({
      IIIF_S3_BUCKET: '', sourceBucket: 'images', resolverTemplate: '%s', IIIF_RAW_SLASH_IDS: 'true', IIIF_SLASH_SUBSTITUTE: '_SL_', IIIF_PREFLIGHT: 'true',
    });
    const info = await get(fetcher, '/iiif/2/nested/grid.png/info.json');
    expect(await info.json()).toMatchObject({ '@id': `${base}/iiif/2/nested_SL_grid.png`, width: GRID.width });
    const image = await get(fetcher, '/iiif/3/anything/full/30,/0/default.png', { 'x-preflight-location': 's3://images/grid.png' });
    expect(image.status).toBe(200);
    expect((await decoded(image)).width).toBe(30);
    expect(await (await get(fetcher, '/iiif/2')).text()).toBe('OK');
  });
});
