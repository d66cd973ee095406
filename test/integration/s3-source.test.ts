import type { S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { isHttpError } from '../../src/errors.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { objectKey } from '../../src/sources/key-template.ts';
import { hintsFromMetadata } from '../../src/sources/s3-hints.ts';
import { levelsMetadata } from '../../adapters/cli/pyramid-levels.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { s3Source } from '../../src/sources/s3-source.ts';
import { GRID, gridColour, makeFixtures } from '../fixtures/images.ts';
import { countCommands, putObject, s3rverClient, startS3rver, uploadAll, type LocalS3 } from '../helpers/s3rver.ts';

const BUCKET = 'private-bucket-7731';
const PREFIX = 'hidden-prefix/';

let s3: LocalS3;
let admin: S3Client;
let fixtures: Record<string, Buffer>;

beforeAll(async () => {
  s3 = await startS3rver([BUCKET]);
  admin = s3rverClient(s3.endpoint);
  fixtures = await makeFixtures();
  await uploadAll(admin, BUCKET, fixtures, PREFIX);
  const grid = fixtures['grid.png'] as Buffer;
  await putObject(admin, BUCKET, `${PREFIX}images/grid.png`, grid);
  await putObject(admin, BUCKET, `${PREFIX}meta.png`, grid, { width: '300', height: '200', tilewidth: '100' });
  await putObject(admin, BUCKET, `${PREFIX}meta-iiif.png`, grid, { 'iiif-width': '300', 'iiif-height': '200' });
  await putObject(admin, BUCKET, `${PREFIX}meta-pages.tif`, fixtures['pyramid.tif'] as Buffer, { width: '2000', height: '1500', pages: '4' });
});

afterAll(async () => {
  admin?.destroy();
  await s3?.close();
});

/** An app over the bucket, with a fresh client (and geometry cache) whose calls are counted. */
function appOver(keyTemplate = '%s') {
  const client = s3rverClient(s3.endpoint);
  const calls = countCommands(client);
  const source = s3Source({ bucket: BUCKET, prefix: PREFIX, keyTemplate, client, timeoutMs: 5000 });
  const config = loadConfig({ IIIF_S3_BUCKET: BUCKET });
  const app = createApp({ config, source, renderer: sharpRenderer({ jpegQuality: 90, maxInputPixels: 1e8 }) });
  const get = (path: string) => app.request(`http://iiif.test${path}`);
  return { source, calls, get };
}

const getCount = (calls: Map<string, number>) => calls.get('GetObjectCommand') ?? 0;

async function expectNoLeak(res: Response): Promise<string> {
  const text = await res.text();
  for (const secret of [BUCKET, PREFIX.slice(0, -1), s3.endpoint, `127.0.0.1:${s3.port}`]) expect(text).not.toContain(secret);
  expect(JSON.parse(text)).toMatchObject({ status: res.status });
  return text;
}

describe('key template', () => {
  it('replaces every %s, keeps $ patterns literal and prepends the prefix', () => {
    expect(objectKey('a/b.tif', { prefix: '', template: '%s' })).toBe('a/b.tif');
    expect(objectKey('x', { prefix: 'p/', template: '%s.tif' })).toBe('p/x.tif');
    expect(objectKey('id', { prefix: '', template: '%s/%s.jp2' })).toBe('id/id.jp2');
    expect(objectKey("$&$'", { prefix: '', template: 'a/%s' })).toBe("a/$&$'");
  });
});

describe('geometry hints from object metadata', () => {
  it('reads width/height/tile with or without the iiif- prefix', () => {
    expect(hintsFromMetadata({ width: '300', height: '200' })).toEqual({ width: 300, height: 200 });
    expect(hintsFromMetadata({ 'iiif-width': '30', 'iiif-height': '20', 'iiif-tilewidth': '256', 'iiif-tileheight': '128' })).toEqual({
      width: 30,
      height: 20,
      tile: { width: 256, height: 128 },
    });
    expect(hintsFromMetadata({ width: '30', height: '20', tilewidth: '256' })?.tile).toEqual({ width: 256, height: 256 });
  });
  it('gives no size for multi-page images, partial or junk values', () => {
    expect(hintsFromMetadata({ width: '2000', height: '1500', pages: '4' })).toBeUndefined();
    expect(hintsFromMetadata({ width: '2000' })).toBeUndefined();
    expect(hintsFromMetadata({ width: '-1', height: '20' })).toBeUndefined();
    expect(hintsFromMetadata({ width: '0', height: '20' })).toBeUndefined();
    expect(hintsFromMetadata(undefined)).toBeUndefined();
  });
});

describe('S3 source against s3rver', () => {
  it('serves info.json and renders from a probed object', async () => {
    const { get } = appOver();
    const info = await get('/iiif/3/grid.png/info.json');
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ width: GRID.width, height: GRID.height });
    const img = await get('/iiif/3/grid.png/50,50,100,100/50,/0/default.png');
    expect(img.status).toBe(200);
    const { data, info: meta } = await sharp(Buffer.from(await img.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect([meta.width, meta.height]).toEqual([50, 50]);
    const want = gridColour(51, 51);
    Array.from(data.subarray(0, 3)).forEach((c, i) => expect(Math.abs(c - (want[i] ?? -99))).toBeLessThanOrEqual(4));
  });

  it('renders a turned photo whose upright size the object metadata records (serverless-iiif keys)', async () => {
    // Stored 30×20 with EXIF orientation 6: upright 20×30, as the metadata says.
    const photo = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#c04020' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    await putObject(admin, BUCKET, `${PREFIX}turned.jpg`, photo, { width: '20', height: '30' });
    const { get } = appOver();
    expect(await (await get('/iiif/3/turned.jpg/info.json')).json()).toMatchObject({ width: 20, height: 30 });
    for (const [path, size] of [['full/max/0/default.png', [20, 30]], ['0,0,10,10/max/0/default.png', [10, 10]]] as const) {
      const res = await get(`/iiif/3/turned.jpg/${path}`);
      expect(res.status, path).toBe(200);
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect([meta.width, meta.height], path).toEqual(size);
    }
  });

  it('maps %2F to a key with a slash', async () => {
    const { get } = appOver();
    const info = await get('/iiif/3/nested%2Fgrid.png/info.json');
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ id: 'http://iiif.test/iiif/3/nested%2Fgrid.png', width: GRID.width });
    const img = await get('/iiif/2/nested%2Fgrid.png/full/150,/0/default.jpg');
    expect(img.status).toBe(200);
    expect((await sharp(Buffer.from(await img.arrayBuffer())).metadata()).width).toBe(150);
  });

  it('finds keys through the template', async () => {
    const { get } = appOver('images/%s.png');
    const info = await get('/iiif/3/grid/info.json');
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ id: 'http://iiif.test/iiif/3/grid', width: GRID.width });
    expect((await get('/iiif/3/grid.png/info.json')).status).toBe(404);
  });

  it('answers 404 for a missing key without naming bucket, prefix or key', async () => {
    const { get } = appOver('images/%s.png');
    for (const path of ['/iiif/3/missing/info.json', '/iiif/3/missing/full/max/0/default.jpg']) {
      const res = await get(path);
      expect(res.status).toBe(404);
      const text = await expectNoLeak(res);
      expect(text).not.toContain('images/missing');
    }
  });

  it('answers 403 when the store refuses the credentials', async () => {
    const client = s3rverClient(s3.endpoint, { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' });
    const source = s3Source({ bucket: BUCKET, prefix: PREFIX, client, timeoutMs: 5000 });
    const app = createApp({ config: loadConfig({ IIIF_S3_BUCKET: BUCKET }), source });
    const res = await app.request('http://iiif.test/iiif/3/grid.png/info.json');
    expect(res.status).toBe(403);
    await expectNoLeak(res);
    client.destroy();
  });

  it('reads absolute byte ranges, one request each, short at the end', async () => {
    const { source, calls } = appOver();
    const whole = fixtures['grid.png'] as Buffer;
    expect(Buffer.from(await source.read('grid.png', { offset: 10, length: 20 }))).toEqual(whole.subarray(10, 30));
    expect(getCount(calls)).toBe(1);
    const tail = await source.read('grid.png', { offset: whole.length - 5, length: 100 });
    expect(Buffer.from(tail)).toEqual(whole.subarray(whole.length - 5));
    expect((await source.read('grid.png', { offset: whole.length + 10, length: 10 })).length).toBe(0);
    expect(Buffer.from(await source.read('grid.png'))).toEqual(whole);
    expect(getCount(calls)).toBe(4);
  });

  it('stats with the S3 ETag, size and date', async () => {
    const { source } = appOver();
    const object = await source.stat('grid.png');
    expect(object.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(object.size).toBe((fixtures['grid.png'] as Buffer).length);
    expect(object.lastModified).toBeInstanceOf(Date);
    const missing = await source.stat('nope.png').catch((e: unknown) => e);
    expect(isHttpError(missing) && missing.status).toBe(404);
  });

  it('trusts single-page metadata: info.json and renders without a probe read', async () => {
    const { get, calls } = appOver();
    for (const id of ['meta.png', 'meta-iiif.png']) {
      const info = await get(`/iiif/3/${id}/info.json`);
      expect(info.status).toBe(200);
      expect(await info.json()).toMatchObject({ width: GRID.width, height: GRID.height });
    }
    expect(getCount(calls)).toBe(0);
    const info = (await (await get('/iiif/3/meta.png/info.json')).json()) as { tiles: { width: number }[] };
    expect(info.tiles[0]?.width).toBe(100);
    const img = await get('/iiif/3/meta.png/full/max/0/default.png');
    expect((await sharp(Buffer.from(await img.arrayBuffer())).metadata()).width).toBe(GRID.width);
  });

  it('reads the file itself when metadata says several pages', async () => {
    const { get, calls } = appOver();
    const info = await get('/iiif/3/meta-pages.tif/info.json');
    expect(await info.json()).toMatchObject({ width: 2000, height: 1500 });
    expect(getCount(calls)).toBeGreaterThan(0);
  });

  it('14: info.json of a pyramid whose level sizes are in the metadata reads nothing; tiles still pass through', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iiif-edge-levels-'));
    const pyramid = fixtures['pyramid.tif'] as Buffer;
    await writeFile(join(dir, 'p.tif'), pyramid);
    const levels = (await levelsMetadata(join(dir, 'p.tif'))) ?? '';
    await rm(dir, { recursive: true, force: true });
    const sizes = levels.split(',');
    expect(sizes.length).toBeGreaterThan(1);
    const [width = '', height = ''] = sizes[0]?.split('x') ?? [];
    const meta = { width, height, pages: String(sizes.length), tilewidth: '256', tileheight: '256' };
    await putObject(admin, BUCKET, `${PREFIX}levels.tif`, pyramid, { ...meta, levels });
    await putObject(admin, BUCKET, `${PREFIX}no-levels.tif`, pyramid, meta);
    await putObject(admin, BUCKET, `${PREFIX}bad-levels.tif`, pyramid, { ...meta, levels: sizes.slice(1).join(',') });

    const hinted = appOver();
    const fromMetadata = await (await hinted.get('/iiif/3/levels.tif/info.json')).json();
    expect(getCount(hinted.calls)).toBe(0);
    const probed = appOver();
    const fromFile = (await (await probed.get('/iiif/3/no-levels.tif/info.json')).json()) as Record<string, unknown>;
    expect(getCount(probed.calls)).toBeGreaterThan(0);
    expect(fromMetadata).toEqual({ ...fromFile, id: 'http://iiif.test/iiif/3/levels.tif' });

    const checked = appOver();
    await checked.get('/iiif/3/bad-levels.tif/info.json');
    expect(getCount(checked.calls), 'levels that disagree with pages are ignored').toBeGreaterThan(0);

    const tile = await hinted.get('/iiif/3/levels.tif/0,0,256,256/256,/0/default.jpg');
    expect(tile.status).toBe(200);
    expect(tile.headers.get('server-timing')).toMatch(/path;desc="?passthrough/);
  });

  it('probes once per ETag: a second info.json reads nothing, a replaced object is probed again', async () => {
    const { get, calls } = appOver();
    await putObject(admin, BUCKET, `${PREFIX}changing.png`, fixtures['grid.png'] as Buffer);
    expect((await get('/iiif/3/changing.png/info.json')).status).toBe(200);
    const afterFirst = getCount(calls);
    expect(afterFirst).toBeGreaterThan(0);
    expect((await get('/iiif/3/changing.png/info.json')).status).toBe(200);
    expect((await get('/iiif/2/changing.png/info.json')).status).toBe(200);
    expect(getCount(calls)).toBe(afterFirst);
    expect(calls.get('HeadObjectCommand')).toBe(3);

    const smaller = await sharp(fixtures['grid.png'] as Buffer).resize(150, 100).png().toBuffer();
    await putObject(admin, BUCKET, `${PREFIX}changing.png`, smaller);
    expect(await (await get('/iiif/3/changing.png/info.json')).json()).toMatchObject({ width: 150, height: 100 });
    expect(getCount(calls)).toBeGreaterThan(afterFirst);
  });
});
