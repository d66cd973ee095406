/**
 * Issue 11, render side: a render's cost follows its output, not the source file. Bombs are
 * refused from their headers, a slow render gives its slot back at the request deadline,
 * corrupt sources are a short-cacheable 422, and tiled non-JPEG TIFFs on S3 are read by
 * their covering tiles only.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Env } from '../../src/config.ts';
import { httpError } from '../../src/errors.ts';
import { sharpRendererFromConfig } from '../../src/renderers/sharp-renderer.ts';
import { s3Source } from '../../src/sources/s3-source.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { interlacedPngBomb, progressiveJpegBomb, webpBomb } from '../helpers/bombs.ts';
import { putObject, s3rverClient, startS3rver, type LocalS3 } from '../helpers/s3rver.ts';
import { colourGrid } from '../helpers/tiff-fixtures.ts';

let root: string;
const servers: RunningServer[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-bounded-'));
  const files: Record<string, Buffer> = {
    'bomb.webp': webpBomb(),
    'bomb-adam7.png': await interlacedPngBomb(),
    'scans.jpg': progressiveJpegBomb(2048),
    'progressive.jpg': await sharp({ create: { width: 600, height: 400, channels: 3, background: '#3366cc' } })
      .jpeg({ progressive: true })
      .toBuffer(),
    'small.png': await sharp({ create: { width: 300, height: 200, channels: 4, background: '#ff000080' } }).png().toBuffer(),
    'small-adam7.png': await sharp({ create: { width: 300, height: 200, channels: 4, background: '#ff000080' } }).png({ progressive: true }).toBuffer(),
    'small.jpg': await sharp({ create: { width: 300, height: 200, channels: 3, background: '#3366cc' } }).jpeg().toBuffer(),
    'small-progressive.jpg': await sharp({ create: { width: 300, height: 200, channels: 3, background: '#3366cc' } })
      .jpeg({ progressive: true, chromaSubsampling: '4:4:4' })
      .toBuffer(),
    'small-progressive-420.jpg': await sharp({ create: { width: 300, height: 200, channels: 3, background: '#3366cc' } })
      .jpeg({ progressive: true, chromaSubsampling: '4:2:0' })
      .toBuffer(),
    'noise.png': await sharp({
      create: { width: 1000, height: 1000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } },
    })
      .png()
      .toBuffer(),
    'garbage.jpg': Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(4000, 0x5a)]),
    // A valid frame header, then entropy data that is not JPEG: the header probe passes, the decode fails.
    'broken.jpg': await brokenJpeg(),
    'bad-tables.tif': await tiffWithBadJpegTables(),
  };
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(root, name), bytes);
});

afterAll(async () => {
  for (const s of servers.splice(0)) await s.close(0);
  await rm(root, { recursive: true, force: true });
});

async function serve(env: Env = {}): Promise<RunningServer> {
  const server = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1', ...env });
  servers.push(server);
  return server;
}

interface Answer {
  status: number;
  ms: number;
  body: Buffer;
  headers: Headers;
  json?: { status: number; error: string; message: string };
}

async function get(server: RunningServer, path: string): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(30_000) });
  const body = Buffer.from(await res.arrayBuffer());
  const answer: Answer = { status: res.status, ms: performance.now() - started, body, headers: res.headers };
  if (res.status >= 400) answer.json = JSON.parse(body.toString()) as Answer['json'];
  return answer;
}

async function brokenJpeg(): Promise<Buffer> {
  const good = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#808080' } }).jpeg().toBuffer();
  const sos = good.indexOf(Buffer.from([0xff, 0xda]));
  const out = Buffer.from(good);
  // Markers in the middle of the scan: libjpeg stops with an error, not a warning.
  for (let i = sos + 20; i < out.length - 2; i += 7) out[i] = i % 2 ? 0xff : 0xc4;
  return out;
}

/** A tiled JPEG TIFF whose JPEGTables hold a DHT that no decoder accepts (3 codes of length 1). */
async function tiffWithBadJpegTables(): Promise<Buffer> {
  const tif = await sharp(colourGrid(512, 512, 3), { raw: { width: 512, height: 512, channels: 3 } })
    .tiff({ compression: 'jpeg', quality: 80, tile: true, tileWidth: 256, tileHeight: 256 })
    .toBuffer();
  const out = Buffer.from(tif);
  // JPEGTables (tag 347) is the only stream in the file starting SOI, DQT without a frame
  // before it; its first DHT follows. Tiles start with SOI too, so search from the tag's value.
  const entry = findIfdEntry(out, 347);
  const dht = out.indexOf(Buffer.from([0xff, 0xc4]), entry);
  // BITS[1] = 3: more codes of length 1 than there are one-bit codes.
  out[dht + 5] = 3;
  return out;
}

/** File offset of the value of `tag` in the first IFD of a little-endian classic TIFF. */
function findIfdEntry(tif: Buffer, tag: number): number {
  const ifd = tif.readUInt32LE(4);
  const n = tif.readUInt16LE(ifd);
  for (let i = 0; i < n; i++) {
    const at = ifd + 2 + i * 12;
    if (tif.readUInt16LE(at) === tag) return tif.readUInt32LE(at + 8);
  }
  throw new Error(`tag ${tag} not found`);
}

describe('11.1 memory bombs of untiled formats are refused from their header', () => {
  it.each([
    ['bomb.webp', '32-byte lossless WebP of 16383x16383'],
    ['bomb-adam7.png', 'Adam7-interlaced RGBA PNG of 16383x16383'],
  ])('%s (%s): 400 over_limit naming IIIF_MAX_DECODE_BYTES, fast', async (name) => {
    const server = await serve();
    for (const tail of ['0,0,64,64/64,/0/default.png', 'full/!256,256/0/default.jpg']) {
      const a = await get(server, `/iiif/3/${name}/${tail}`);
      expect([a.status, a.json?.error], a.json?.message).toEqual([400, 'over_limit']);
      expect(a.json?.message).toContain('IIIF_MAX_DECODE_BYTES');
      expect(a.ms).toBeLessThan(2_000);
    }
    // info.json needs no decode and still answers.
    expect((await get(server, `/iiif/3/${name}/info.json`)).status).toBe(200);
  });

  it('HEAD and conditional GETs get the 400 a GET gets, not a 200 or 304 for an image that cannot be made', async () => {
    const tight = await serve({ IIIF_MAX_DECODE_BYTES: '239999' });
    const url = `${tight.url}/iiif/3/small-adam7.png/full/max/0/default.png`;
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(400);
    expect(head.headers.get('etag')).toBeNull();
    const conditions: Array<Record<string, string>> = [{ 'If-None-Match': '*' }, { 'If-Modified-Since': new Date(Date.now() + 86_400_000).toUTCString() }];
    for (const headers of conditions) {
      const res = await fetch(url, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain('IIIF_MAX_DECODE_BYTES');
    }
    // Images that can be made still get their 200 and 304, and HEAD decodes nothing.
    const fine = `${tight.url}/iiif/3/small.png/full/max/0/default.png`;
    const ok = await fetch(fine, { method: 'HEAD' });
    expect(ok.status).toBe(200);
    expect((await fetch(fine, { headers: { 'If-None-Match': ok.headers.get('etag')! } })).status).toBe(304);
  });

  it('the budget is bands x bytes per sample x pixels: a 300x200 interlaced RGBA PNG needs 240000 bytes', async () => {
    const tight = await serve({ IIIF_MAX_DECODE_BYTES: '239999' });
    const refused = await get(tight, '/iiif/3/small-adam7.png/full/max/0/default.png');
    expect([refused.status, refused.json?.error]).toEqual([400, 'over_limit']);
    expect(refused.json?.message).toMatch(/240000 bytes.*IIIF_MAX_DECODE_BYTES 239999/);
    const enough = await serve({ IIIF_MAX_DECODE_BYTES: '240000' });
    const ok = await get(enough, '/iiif/3/small-adam7.png/full/max/0/default.png');
    expect(ok.status).toBe(200);
    const { data, info } = await sharp(ok.body).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([300, 200, 4]);
    expect(Array.from(data.subarray(0, 4))).toEqual([255, 0, 0, 128]);
  });

  it('streamed decodes are not charged (baseline JPEG, non-interlaced PNG); a progressive JPEG is charged its coefficients', async () => {
    const tight = await serve({ IIIF_MAX_DECODE_BYTES: '239999' });
    for (const name of ['small.jpg', 'small.png']) {
      expect((await get(tight, `/iiif/3/${name}/full/max/0/default.png`)).status, name).toBe(200);
    }
    // 300 × 200 × 3 components × 2 bytes.
    const progressive = await get(tight, '/iiif/3/small-progressive.jpg/full/max/0/default.png');
    expect([progressive.status, progressive.json?.error]).toEqual([400, 'over_limit']);
    expect(progressive.json?.message).toMatch(/360000 bytes/);
  });

  it('charges a progressive 4:2:0 JPEG its chroma at a quarter size: 300 × 200 × 2 + 2 × 150 × 100 × 2 bytes', async () => {
    const url = '/iiif/3/small-progressive-420.jpg/full/max/0/default.png';
    const refused = await get(await serve({ IIIF_MAX_DECODE_BYTES: '179999' }), url);
    expect([refused.status, refused.json?.error]).toEqual([400, 'over_limit']);
    expect(refused.json?.message).toMatch(/180000 bytes/);
    const enough = await serve({ IIIF_MAX_DECODE_BYTES: '180000' });
    const ok = await get(enough, url);
    expect(ok.status).toBe(200);
    const { info } = await sharp(ok.body).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([300, 200]);
    expect((await fetch(`${enough.url}${url}`, { method: 'HEAD' })).status).toBe(200);
  });

  it('charges a 4:4:4 file in full whatever frame header a crafted file hides where libjpeg does not look', async () => {
    const [w, h] = [5000, 4000];
    const real = await sharp({ create: { width: w, height: h, channels: 3, background: '#3366cc' } }).jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer();
    // FF 00 (junk libjpeg skips), then an APP1 holding a fake SOF2 with two subsampled components:
    // taken for the frame, it made the charge 20 MB, and the decode took 148 MB (found by review).
    const fakeSof = Buffer.from([0xff, 0xc2, 0x00, 0x0e, 0x08, h >> 8, h & 255, w >> 8, w & 255, 0x02, 0x01, 0x41, 0x00, 0x02, 0x14, 0x00]);
    const crafted = Buffer.concat([real.subarray(0, 2), Buffer.from([0xff, 0x00, 0x00, 0x04, 0xff, 0xe1, 0x00, 2 + fakeSof.length]), fakeSof, real.subarray(2)]);
    await writeFile(join(root, 'crafted.jpg'), crafted);
    const refused = await get(await serve({ IIIF_MAX_DECODE_BYTES: String(32 * 1024 * 1024) }), '/iiif/3/crafted.jpg/full/!500,500/0/default.jpg');
    expect([refused.status, refused.json?.error]).toEqual([400, 'over_limit']);
    expect(refused.json?.message).toMatch(/120000000 bytes/);
  });
});

describe('tiled TIFF levels: the covering tiles libvips decodes whole are charged', () => {
  it('a row of large deflate tiles over IIIF_MAX_DECODE_BYTES is refused on GET and HEAD; one column is not', async () => {
    // 8192×2048 in four 2048² RGB tiles: a few KB on disk, 12,582,912 bytes per decoded tile.
    const flat = await sharp({ create: { width: 8192, height: 2048, channels: 3, background: '#2a6' } })
      .tiff({ tile: true, tileWidth: 2048, tileHeight: 2048, compression: 'deflate' })
      .toBuffer();
    await writeFile(join(root, 'big-tiles.tif'), flat);
    const tight = await serve({ IIIF_MAX_DECODE_BYTES: String(16 * 1024 * 1024) });
    for (const tail of ['full/64,/0/default.jpg', '2000,0,100,100/max/0/default.jpg']) {
      const refused = await get(tight, `/iiif/3/big-tiles.tif/${tail}`);
      // Four columns, then the two a region across a tile edge meets.
      const bytes = tail.startsWith('full') ? 4 * 12_582_912 : 2 * 12_582_912;
      expect([refused.status, refused.json?.error], tail).toEqual([400, 'over_limit']);
      expect(refused.json?.message, tail).toContain(`${bytes} bytes at once (limit IIIF_MAX_DECODE_BYTES`);
      expect((await fetch(`${tight.url}/iiif/3/big-tiles.tif/${tail}`, { method: 'HEAD' })).status, tail).toBe(400);
    }
    const one = await get(tight, '/iiif/3/big-tiles.tif/2048,0,2048,2048/64,/0/default.png');
    expect(one.status).toBe(200);
    const { data, info } = await sharp(one.body).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([64, 64]);
    expect(Array.from(data.subarray(0, 3))).toEqual([0x22, 0xaa, 0x66]);
  });
});

describe('11.2 CPU bombs: scan count capped before decoding, renders cut at the deadline', () => {
  it('a valid progressive JPEG with 896 scans is refused with 400 over_limit naming IIIF_MAX_JPEG_SCANS, fast', async () => {
    const server = await serve();
    const a = await get(server, '/iiif/3/scans.jpg/0,0,64,64/64,/0/default.png');
    expect([a.status, a.json?.error], a.json?.message).toEqual([400, 'over_limit']);
    expect(a.json?.message).toContain('IIIF_MAX_JPEG_SCANS');
    expect(a.ms).toBeLessThan(2_000);
  });

  it('ordinary progressive JPEGs still render, and the cap is a setting', async () => {
    const server = await serve();
    const a = await get(server, '/iiif/3/progressive.jpg/full/60,/0/default.png');
    expect(a.status).toBe(200);
    const { data, info } = await sharp(a.body).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([60, 40]);
    expect(Math.abs((data[2] ?? 0) - 0xcc)).toBeLessThan(8);
    const lenient = await serve({ IIIF_MAX_JPEG_SCANS: '1000' });
    const b = await get(lenient, '/iiif/3/scans.jpg/0,0,64,64/64,/0/default.png');
    expect(b.status).toBe(200);
    const grey = await sharp(b.body).raw().toBuffer();
    expect(Math.abs((grey[0] ?? 0) - 128)).toBeLessThanOrEqual(1);
  });

  it('a render still running at the request deadline is cut, so the next request gets its slot', async () => {
    // One slot; a 25 MP PNG encode of noise takes seconds, well past the 1 s deadline on any machine here.
    const server = await serve({ IIIF_MAX_CONCURRENT_RENDERS: '1', IIIF_REQUEST_TIMEOUT_MS: '1000', IIIF_QUEUE_TIMEOUT_MS: '30000' });
    const slow = await get(server, '/iiif/3/noise.png/full/^5000,5000/0/default.png');
    expect([slow.status, slow.json?.error]).toEqual([503, 'busy']);
    const next = await get(server, '/iiif/3/small.png/full/30,/0/default.png');
    expect(next.status, next.json?.message).toBe(200);
    expect((await sharp(next.body).metadata()).width).toBe(30);
  });
});

describe('11.11 corrupt sources', () => {
  it.each([
    ['garbage.jpg', 'info.json'],
    ['garbage.jpg', 'full/100,/0/default.jpg'],
    ['broken.jpg', 'full/100,/0/default.jpg'],
  ])('(a) %s %s: 422 unsupported_source, cacheable for a short time', async (name, tail) => {
    const server = await serve();
    const a = await get(server, `/iiif/3/${name}/${tail}`);
    expect([a.status, a.json?.error], a.json?.message).toEqual([422, 'unsupported_source']);
    expect(a.headers.get('cache-control')).toBe('public, max-age=60');
  });

  it('(b) corrupt JPEGTables: the tile pass-through and the renderer both answer 422', async () => {
    const server = await serve();
    expect((await get(server, '/iiif/3/bad-tables.tif/info.json')).status).toBe(200);
    const tile = await get(server, '/iiif/3/bad-tables.tif/0,0,256,256/256,/0/default.jpg');
    const render = await get(server, '/iiif/3/bad-tables.tif/0,0,300,300/150,/0/default.png');
    expect([tile.status, tile.json?.error], 'pass-through').toEqual([422, 'unsupported_source']);
    expect([render.status, render.json?.error], 'render').toEqual([422, 'unsupported_source']);
  });
});

describe('11.7 tiled non-JPEG TIFFs on S3 are read by their covering tiles only', () => {
  const BUCKET = 'bounded-render';
  const SIZE = 2048;
  let s3: LocalS3;
  let admin: S3Client;
  const raw = colourGrid(SIZE, SIZE, 3);
  const sizes = new Map<string, number>();

  beforeAll(async () => {
    s3 = await startS3rver([BUCKET]);
    admin = s3rverClient(s3.endpoint);
    for (const compression of ['lzw', 'deflate', 'none'] as const) {
      const tif = await sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } })
        .tiff({ compression, tile: true, tileWidth: 256, tileHeight: 256, pyramid: true })
        .toBuffer();
      sizes.set(compression, tif.length);
      await putObject(admin, BUCKET, `${compression}.tif`, tif);
    }
  });

  afterAll(async () => {
    admin?.destroy();
    await s3?.close();
  });

  function appOverS3(env: Env = {}) {
    const config = loadConfig({ IIIF_S3_BUCKET: BUCKET, ...env });
    const s3src = s3Source({ bucket: BUCKET, prefix: '', keyTemplate: '%s', client: s3rverClient(s3.endpoint), timeoutMs: 5000 });
    const counter = { bytes: 0, whole: 0 };
    const source: ImageSource = {
      ...s3src,
      read: async (id, range, signal) => {
        if (!range) counter.whole++;
        const bytes = await s3src.read(id, range, signal);
        counter.bytes += bytes.length;
        return bytes;
      },
    };
    const app = createApp({ config, source, renderer: sharpRendererFromConfig(config) });
    return { counter, get: (path: string, init?: RequestInit) => app.request(`http://iiif.test${path}`, init) };
  }

  it.each(['lzw', 'deflate', 'none'])('%s: a 256x256 region reads a small part of the file and has the exact pixels', async (compression) => {
    const { counter, get: fetchS3 } = appOverS3();
    expect((await fetchS3(`/iiif/3/${compression}.tif/info.json`)).status).toBe(200);
    counter.bytes = 0;
    // Not tile-aligned: four stored tiles cover it.
    const res = await fetchS3(`/iiif/3/${compression}.tif/1000,900,256,256/max/0/default.png`);
    expect(res.status).toBe(200);
    const fileSize = sizes.get(compression) ?? 0;
    expect(counter.whole).toBe(0);
    // Four tiles plus the level's tile tables; the whole file is far bigger.
    const tileRaw = 256 * 256 * 3;
    expect(counter.bytes).toBeLessThanOrEqual(4 * tileRaw + 64 * 1024);
    expect(counter.bytes).toBeLessThan(fileSize / 4);
    const { data, info } = await sharp(Buffer.from(await res.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([256, 256, 3]);
    for (const [x, y] of [[0, 0], [255, 0], [0, 255], [255, 255], [100, 150]] as const) {
      const at = (y * 256 + x) * 3;
      const src = ((900 + y) * SIZE + 1000 + x) * 3;
      expect(Array.from(data.subarray(at, at + 3)), `(${x},${y})`).toEqual(Array.from(raw.subarray(src, src + 3)));
    }
  });

  it('an object that would be read whole into memory is refused when larger than IIIF_MAX_DECODE_BYTES', async () => {
    // A PNG has no tiles to read on their own: without a disk cache it is downloaded whole.
    const flat = await sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toBuffer();
    await putObject(admin, BUCKET, 'flat.png', flat);
    const { counter, get: fetchS3 } = appOverS3({ IIIF_MAX_DECODE_BYTES: String(flat.length - 1) });
    const res = await fetchS3('/iiif/3/flat.png/0,0,64,64/64,/0/default.png');
    const body = (await res.json()) as { error: string; message: string };
    expect([res.status, body.error]).toEqual([400, 'over_limit']);
    expect(body.message).toContain('IIIF_MAX_DECODE_BYTES');
    expect(counter.whole).toBe(0);
    const head = await fetchS3('/iiif/3/flat.png/0,0,64,64/64,/0/default.png', { method: 'HEAD' });
    expect(head.status).toBe(400);
    expect(counter.whole).toBe(0);
    // Enough for the object and its decode (2048² RGB).
    const roomy = appOverS3({ IIIF_MAX_DECODE_BYTES: String(SIZE * SIZE * 3) });
    expect((await roomy.get('/iiif/3/flat.png/0,0,64,64/64,/0/default.png')).status).toBe(200);
  });

  it('11.4 on this path: a client leaving while the shared tile tables load does not fail a sibling render', async () => {
    const tif = await sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } })
      .tiff({ compression: 'lzw', tile: true, tileWidth: 256, tileHeight: 256, pyramid: true })
      .toBuffer();
    // A remote store whose range reads take 300 ms and stop when their request's signal aborts.
    const source: ImageSource = {
      kind: 'slow',
      stat: async () => ({ etag: 'e1', size: tif.length }),
      read: (_id, range, signal) =>
        new Promise((ok, fail) => {
          const timer = setTimeout(() => ok(range ? tif.subarray(range.offset, range.offset + range.length) : tif), 300);
          signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            fail(httpError(502, 'upstream_error', 'the storage request was cancelled'));
          });
        }),
    };
    const config = loadConfig({ IIIF_SOURCE: 'fs', IIIF_ROOT: root });
    const app = createApp({ config, source, renderer: sharpRendererFromConfig(config) });
    expect((await app.request('http://iiif.test/iiif/3/x.tif/info.json')).status).toBe(200);
    const leaving = new AbortController();
    const a = Promise.resolve(app.request('http://iiif.test/iiif/3/x.tif/0,0,300,300/max/0/default.png', { signal: leaving.signal })).catch(() => undefined);
    await new Promise((ok) => setTimeout(ok, 50));
    const b = app.request('http://iiif.test/iiif/3/x.tif/300,0,300,300/max/0/default.png');
    await new Promise((ok) => setTimeout(ok, 50));
    leaving.abort();
    await a;
    const res = await b;
    expect(res.status, await res.clone().text()).toBe(200);
    const { info } = await sharp(Buffer.from(await res.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([300, 300]);
  });

  it('a scaled request reads a reduced level by its tiles and matches a local render', async () => {
    const { counter, get: fetchS3 } = appOverS3();
    const path = '/iiif/3/lzw.tif/0,0,1024,1024/256,/0/default.png';
    const res = await fetchS3(path);
    expect(res.status).toBe(200);
    expect(counter.whole).toBe(0);
    const local = await serve({ IIIF_ROOT: root });
    await writeFile(join(root, 'lzw.tif'), await sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } })
      .tiff({ compression: 'lzw', tile: true, tileWidth: 256, tileHeight: 256, pyramid: true })
      .toBuffer());
    const reference = await get(local, path);
    const a = await sharp(Buffer.from(await res.arrayBuffer())).raw().toBuffer();
    const b = await sharp(reference.body).raw().toBuffer();
    expect(a.length).toBe(b.length);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    expect(worst).toBeLessThanOrEqual(2);
  });
});
