/**
 * A tile of a tiled JP2 with TLM markers on S3 (s3rver) reads the headers and the one
 * covering tile-part, not the object: counted at the source.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { readJp2Structure } from '../../src/jp2/index.ts';
import { nodeJp2Codec } from '../../src/renderers/sharp-jp2.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { s3Source } from '../../src/sources/s3-source.ts';
import { withDiskCache } from '../../src/sources/disk-cache.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { gridColour } from '../fixtures/images.ts';
import { makeJp2Pair } from '../helpers/jp2-images.ts';
import { putObject, s3rverClient, startS3rver, type LocalS3 } from '../helpers/s3rver.ts';

const BUCKET = 'jp2-bucket';
let s3: LocalS3;
let admin: S3Client;
let jp2: Uint8Array;
let untiled: Uint8Array;
let byResolution: Uint8Array;

beforeAll(async () => {
  s3 = await startS3rver([BUCKET]);
  admin = s3rverClient(s3.endpoint);
  ({ jp2 } = await makeJp2Pair({ width: 2048, height: 2048, channels: 3, options: { format: 'jp2', rate: 10, tileSize: 256, levels: 3, tlm: true } }));
  await putObject(admin, BUCKET, 'tiled.jp2', jp2);
  ({ jp2: untiled } = await makeJp2Pair({ width: 1024, height: 1024, channels: 3, options: { format: 'jp2', rate: 10, levels: 3 } }));
  await putObject(admin, BUCKET, 'untiled.jp2', untiled);
  // RPCL, one tile-part per resolution (Kakadu's ORGtparts=R): a reduced decode needs each tile's first tile-parts only.
  ({ jp2: byResolution } = await makeJp2Pair({
    width: 2048,
    height: 2048,
    channels: 3,
    options: { format: 'jp2', lossless: true, tileSize: 1024, levels: 4, tlm: true, resolutionTileParts: true },
  }));
  await putObject(admin, BUCKET, 'by-resolution.jp2', byResolution);
  // serverless-iiif's width/height object metadata: trusted for flat images, not enough for a JP2.
  await putObject(admin, BUCKET, 'with-metadata.jp2', jp2, { width: '2048', height: '2048' });
}, 60_000);

afterAll(async () => {
  admin?.destroy();
  await s3?.close();
});

function countingApp(cacheDir?: string, maxDecodeBytes?: number) {
  const inner = s3Source({ bucket: BUCKET, client: s3rverClient(s3.endpoint), timeoutMs: 5000 });
  const counts = { bytes: 0, reads: 0, whole: 0 };
  const source: ImageSource = {
    ...inner,
    kind: inner.kind,
    stat: (id, signal) => inner.stat(id, signal),
    async read(id, range, signal, ifMatch) {
      const out = await inner.read(id, range, signal, ifMatch);
      counts.reads++;
      counts.bytes += out.length;
      // Whole: in one read, or in the disk cache's pieces (one, for objects under 8 MiB).
      if (!range || (range.offset === 0 && out.length === (await inner.stat(id)).size)) counts.whole++;
      return out;
    },
  };
  const cached = cacheDir ? withDiskCache(source, { dir: cacheDir, maxBytes: 64 * 1024 * 1024 }) : source;
  const app = createApp({ config: loadConfig({ IIIF_S3_BUCKET: BUCKET }), source: cached, renderer: sharpRenderer({ jpegQuality: 90, maxInputPixels: 1e8, ...(maxDecodeBytes ? { maxDecodeBytes } : {}) }) });
  return { counts, get: (path: string) => app.request(`http://iiif.test${path}`) };
}

describe('JP2 on S3: reads counted', () => {
  it('one full-resolution tile reads the header and its tile-part only (bound: main header + jp2h + tile-part + 16 KiB merge gap)', async () => {
    const s = await readJp2Structure(async (o, l) => jp2.subarray(o, o + l), jp2.length);
    const part = s.tileParts?.find((p) => p.tile === 2 * 8 + 2);
    if (!part) throw new Error('no tile-part for tile 18');
    const { counts, get } = countingApp();
    expect((await get('/iiif/3/tiled.jp2/info.json')).status).toBe(200);
    const infoBytes = counts.bytes;
    expect(infoBytes).toBeLessThanOrEqual(64 * 1024);
    counts.bytes = 0;
    const res = await get('/iiif/3/tiled.jp2/512,512,256,256/256,/0/default.png');
    expect(res.status).toBe(200);
    const bound = s.end + part.length + 16 * 1024;
    expect(counts.whole).toBe(0);
    expect(counts.bytes).toBeLessThanOrEqual(bound);
    expect(counts.bytes).toBeLessThan(jp2.length / 8);
    const { data, info } = await sharp(Buffer.from(await res.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([256, 256]);
    for (const [x, y] of [[20, 20], [230, 130]] as const) {
      const got = Array.from(data.subarray((y * 256 + x) * 3, (y * 256 + x) * 3 + 3));
      const want = gridColour(512 + x, 512 + y);
      got.forEach((v, i) => expect(Math.abs(v - (want[i] ?? 0)), `(${x},${y}) ${got} vs ${want}`).toBeLessThanOrEqual(12));
    }
  });

  it('a region over four tiles reads their four tile-parts', async () => {
    const { counts, get } = countingApp();
    await get('/iiif/3/tiled.jp2/info.json');
    counts.bytes = 0;
    const res = await get('/iiif/3/tiled.jp2/384,384,256,256/max/0/default.png');
    expect(res.status).toBe(200);
    expect(counts.whole).toBe(0);
    expect(counts.bytes).toBeLessThan(jp2.length / 4);
  });

  it('a reduced view of resolution tile-parts reads each tile\'s first tile-parts only (bound: headers + those tile-parts + 16 KiB), with the pixels of the whole decode', async () => {
    const s = await readJp2Structure(async (o, l) => byResolution.subarray(o, o + l), byResolution.length);
    const parts = s.tileParts ?? [];
    expect(parts).toHaveLength(4 * 5);
    // 2048² at 256² is reduction 3: resolutions 0 and 1 of 5, the first two tile-parts of each tile.
    const kept = parts.filter((p) => parts.filter((q) => q.tile === p.tile).indexOf(p) < 2);
    const keptBytes = kept.reduce((n, p) => n + p.length, 0);
    const { counts, get } = countingApp();
    expect((await get('/iiif/3/by-resolution.jp2/info.json')).status).toBe(200);
    counts.bytes = 0;
    const res = await get('/iiif/3/by-resolution.jp2/full/256,256/0/default.png');
    expect(res.status).toBe(200);
    expect(counts.whole).toBe(0);
    expect(counts.bytes).toBeLessThanOrEqual(s.end + keptBytes + 16 * 1024);
    // What main read: every tile-part of the four tiles.
    expect(s.end + keptBytes + 16 * 1024).toBeLessThan(parts.reduce((n, p) => n + p.length, 0) / 2);
    const { data, info } = await sharp(Buffer.from(await res.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([256, 256, 3]);
    // Lossless, and the request is exactly reduction 3: the same pixels as decoding the whole object.
    const whole = (await nodeJp2Codec()).decode(byResolution, { reduce: 3, maxBytes: 2 ** 26 });
    expect([whole.width, whole.height, whole.channels]).toEqual([256, 256, 3]);
    expect(Buffer.compare(data, Buffer.from(whole.data))).toBe(0);
  });

  it('without TLM the whole object is read (no disk cache configured here), and renders right', async () => {
    const { counts, get } = countingApp();
    const res = await get('/iiif/3/untiled.jp2/0,0,256,256/128,/0/default.png');
    expect(res.status).toBe(200);
    expect(counts.whole).toBe(1);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([128, 128]);
  });

  it('without TLM and without a disk cache, an object over IIIF_MAX_DECODE_BYTES is refused before it is read whole', async () => {
    const { counts, get } = countingApp(undefined, untiled.length - 1);
    const res = await get('/iiif/3/untiled.jp2/0,0,256,256/128,/0/default.png');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(`the source object would be read whole (${untiled.length} bytes; limit IIIF_MAX_DECODE_BYTES ${untiled.length - 1})`);
    expect(counts.whole).toBe(0);
    const { get: getAtLimit } = countingApp(undefined, untiled.length);
    expect((await getAtLimit('/iiif/3/untiled.jp2/0,0,256,256/128,/0/default.png')).status).toBe(200);
  });

  it('a JP2 with width/height object metadata still renders from its header (levels, TLM)', async () => {
    const { counts, get } = countingApp();
    const info = await (await get('/iiif/3/with-metadata.jp2/info.json')).json();
    expect(info).toMatchObject({ width: 2048, height: 2048, tiles: [{ width: 256, height: 256, scaleFactors: [1, 2, 4, 8] }] });
    const res = await get('/iiif/3/with-metadata.jp2/512,512,256,256/256,/0/default.png');
    expect(res.status).toBe(200);
    expect(counts.whole).toBe(0);
  });

  it('without TLM and with a disk cache, the object is downloaded once and later renders read the local copy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iiif-edge-jp2-cache-'));
    try {
      const { counts, get } = countingApp(dir);
      expect((await get('/iiif/3/untiled.jp2/0,0,256,256/128,/0/default.png')).status).toBe(200);
      expect(counts.whole).toBe(1);
      const res = await get('/iiif/3/untiled.jp2/256,256,256,256/128,/0/default.png');
      expect(res.status).toBe(200);
      expect(counts.whole).toBe(1);
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect([meta.width, meta.height]).toEqual([128, 128]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
