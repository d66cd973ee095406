/**
 * Hostile and unusual source files through the Node adapter over real HTTP: every request
 * ends, within a bounded time, in a correct image or a clean JSON error, and the server keeps
 * serving. Bombs are refused from their header alone; unusual encodings render correctly.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { layoutTiff, makeHostileFiles, planarTiledTiff, quadrantColour } from '../helpers/hostile-files.ts';

let server: RunningServer;
let root: string;
let files: Record<string, Buffer>;
let names: string[];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-hostile-'));
  files = await makeHostileFiles();
  names = Object.keys(files);
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(root, name), bytes);
  server = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1' });
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

interface Answer {
  status: number;
  ms: number;
  body: Buffer;
  type: string;
  json?: { status: number; error: string; message: string };
}

async function get(path: string): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(15_000) });
  const body = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  const answer: Answer = { status: res.status, ms: performance.now() - started, body, type };
  if (res.status >= 400) {
    expect(type).toMatch(/^application\/json/);
    answer.json = JSON.parse(body.toString()) as Answer['json'];
    expect(answer.json?.status).toBe(res.status);
    expect(answer.json?.message).not.toContain(root);
    expect(answer.json?.message).not.toMatch(/\/tmp|\/work|node_modules|Error:|\n/);
  }
  return answer;
}

const TAILS = ['info.json', 'full/max/0/default.jpg', '0,0,64,64/64,/0/default.png', 'full/!100,100/45/gray.webp'];

describe('hostile files: every answer is an image or a clean error, and the server survives', () => {
  it('answers each file and request within 10 s, never with a bare 500 or a leaked path', async () => {
    for (const name of names) {
      for (const tail of TAILS) {
        const a = await get(`/iiif/3/${name}/${tail}`);
        const where = `${name}/${tail}: ${a.status} ${a.json?.message ?? ''}`;
        expect(a.ms, where).toBeLessThan(10_000);
        if (a.status === 200 && tail !== 'info.json') {
          const meta = await sharp(a.body).metadata();
          expect(meta.width, where).toBeGreaterThan(0);
        } else if (a.status !== 200) {
          expect([400, 404, 422, 501, 502, 503], where).toContain(a.status);
          expect(a.json?.error, where).not.toBe('internal');
        }
      }
      expect((await get('/health')).status, `after ${name}`).toBe(200);
    }
  });

  it.each(['bomb-60000.png', 'bomb-60000.jpg', 'bomb-60000.tif'])(
    '%s: info.json reports the declared 60000x60000; pixels are refused with 400 before decoding',
    async (name) => {
      const info = await get(`/iiif/3/${name}/info.json`);
      expect(info.status).toBe(200);
      expect(JSON.parse(info.body.toString())).toMatchObject({ width: 60_000, height: 60_000 });
      for (const tail of ['full/max/0/default.jpg', '0,0,512,512/512,/0/default.jpg', 'full/!64,64/0/default.png']) {
        const a = await get(`/iiif/3/${name}/${tail}`);
        expect([a.status, a.json?.error]).toEqual([400, 'over_limit']);
        expect(a.ms).toBeLessThan(1_000);
      }
    },
  );

  it('a PNG declaring 16000x16000 (under the input limit) with no pixel data fails cleanly and fast', async () => {
    const a = await get('/iiif/3/bomb-16000.png/full/!256,256/0/default.jpg');
    expect([a.status, a.json?.error]).toEqual([422, 'unsupported_source']);
    expect(a.ms).toBeLessThan(5_000);
  });
});

describe('a GIF whose first frame is not its logical screen', () => {
  it.each([
    ['frame-dot.gif', 1, 400, 300],
    ['frame-small.gif', 10, 40, 30],
    ['frame-large.gif', 10, 5, 4],
  ])('%s (a %ipx frame on a %ix%i screen): info.json gives the screen; pixels are that size or a 422, never a 500', async (name, frame, w, h) => {
    const gif = await sharp({ create: { width: frame, height: frame, channels: 3, background: '#336699' } }).gif().toBuffer();
    // The logical screen's width and height, little-endian, after the 6-byte signature.
    gif.writeUInt16LE(w, 6);
    gif.writeUInt16LE(h, 8);
    await writeFile(join(root, name), gif);
    expect(JSON.parse((await get(`/iiif/3/${name}/info.json`)).body.toString())).toMatchObject({ width: w, height: h });
    for (const [tail, size] of [['full/max/0/default.png', [w, h]], ['0,0,4,4/max/0/default.png', [4, 4]]] as const) {
      const a = await get(`/iiif/3/${name}/${tail}`);
      if (a.status === 200) {
        const meta = await sharp(a.body).metadata();
        expect([meta.width, meta.height], tail).toEqual(size);
      } else expect([a.status, a.json?.error], tail).toEqual([422, 'unsupported_source']);
    }
  });
});

describe('an AVIF turned by its irot box', () => {
  it('renders (a check of the decoded size against the header must not refuse it)', async () => {
    const avif = await sharp({ create: { width: 30, height: 20, channels: 3, background: '#2060a0' } }).avif().withMetadata({ orientation: 6 }).toBuffer();
    await writeFile(join(root, 'turned.avif'), avif);
    for (const tail of ['full/max/0/default.png', '0,0,10,10/max/0/default.png']) {
      expect((await get(`/iiif/3/turned.avif/${tail}`)).status, tail).toBe(200);
    }
  });
});

async function pixels(body: Buffer) {
  const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x + 1) * info.channels));
  return { info, at };
}

const near = (got: number[], want: readonly number[], tolerance: number) =>
  want.every((v, i) => Math.abs((got[i] ?? -999) - v) <= tolerance);

describe('unusual but valid encodings render correctly', () => {
  it('EXIF orientation 6: info.json reports the upright 200x300 and pixels come out upright', async () => {
    for (const version of [3, 2]) {
      const info = JSON.parse((await get(`/iiif/${version}/exif-6.jpg/info.json`)).body.toString()) as { width: number; height: number };
      expect([info.width, info.height]).toEqual([200, 300]);
    }
    const full = await get('/iiif/3/exif-6.jpg/full/max/0/default.png');
    const { info, at } = await pixels(full.body);
    expect([info.width, info.height]).toEqual([200, 300]);
    // Stored 300x200 turned 90° clockwise: the stored bottom-left (blue) is now top-left.
    const upright: Array<[number, number, readonly number[]]> = [
      [50, 75, quadrantColour(0, 199)],
      [150, 75, quadrantColour(0, 0)],
      [150, 225, quadrantColour(299, 0)],
      [50, 225, quadrantColour(299, 199)],
    ];
    for (const [x, y, want] of upright) expect(near(at(x, y), want, 12), `(${x},${y}) = ${at(x, y)}`).toBe(true);
    const region = await pixels((await get('/iiif/3/exif-6.jpg/0,0,100,150/max/0/default.png')).body);
    expect([region.info.width, region.info.height]).toEqual([100, 150]);
    expect(near(region.at(50, 75), quadrantColour(0, 199), 12)).toBe(true);
  });

  it('alpha PNG keeps its alpha in PNG and is flattened on white in JPEG', async () => {
    const png = await pixels((await get('/iiif/3/alpha.png/full/max/0/default.png')).body);
    expect(png.info.channels).toBe(4);
    expect(near(png.at(10, 10), [255, 0, 0, 128], 2)).toBe(true);
    const jpg = await pixels((await get('/iiif/3/alpha.png/full/max/0/default.jpg')).body);
    expect(jpg.info.channels).toBe(3);
    expect(near(jpg.at(10, 10), [255, 127, 127], 10), `${jpg.at(10, 10)}`).toBe(true);
  });

  it('a tiled TIFF in a compression libvips here cannot decode (ZSTD) is a 422, not a black image', async () => {
    const tiled = await sharp(Buffer.alloc(64 * 64 * 3, 200), { raw: { width: 64, height: 64, channels: 3 } })
      .tiff({ tile: true, tileWidth: 16, tileHeight: 16, compression: 'lzw' })
      .toBuffer();
    // The IFD entry of tag 259 (Compression), type SHORT, count 1: its value LZW (5) becomes ZSTD (50000).
    const at = tiled.indexOf(Buffer.from([0x03, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00]));
    expect(at).toBeGreaterThan(0);
    tiled.writeUInt16LE(50000, at + 8);
    await writeFile(join(root, 'zstd.tif'), tiled);
    for (const tail of ['info.json', 'full/max/0/default.jpg', '0,0,16,16/16,/0/default.png']) {
      const a = await get(`/iiif/3/zstd.tif/${tail}`);
      expect([a.status, a.json?.error], tail).toEqual([422, 'unsupported_source']);
      expect(a.json?.message).toMatch(/ZSTD/);
    }
  });

  it('a tiled TIFF with separate sample planes (which libvips cannot render) is a 422 at info.json too', async () => {
    await writeFile(join(root, 'planar.tif'), planarTiledTiff());
    for (const tail of ['info.json', 'full/max/0/default.jpg']) {
      const a = await get(`/iiif/3/planar.tif/${tail}`);
      expect([a.status, a.json?.error], tail).toEqual([422, 'unsupported_source']);
    }
  });

  it('TIFF layouts libvips cannot turn into sRGB are a 422 at info.json, GET and HEAD, not a 500; usual ones render', async () => {
    const files: Array<[name: string, bytes: Buffer, status: number]> = [
      ['spp9.tif', layoutTiff(9, 2, 3), 422],
      ['icclab.tif', layoutTiff(3, 9, 3), 422],
      ['unknown-photometric.tif', layoutTiff(1, 99, 1), 422],
      ['rgb-one-sample.tif', layoutTiff(1, 2, 3), 422],
      ['rgba.tif', layoutTiff(4, 2, 3), 200],
      ['grey-alpha.tif', layoutTiff(2, 1, 1), 200],
      ['cmyk.tif', layoutTiff(4, 5, 4), 200],
      ['cmyk-alpha.tif', layoutTiff(5, 5, 4), 200],
    ];
    for (const [name, bytes, status] of files) {
      await writeFile(join(root, name), bytes);
      for (const tail of ['info.json', 'full/max/0/default.jpg', 'full/8,/0/default.png']) {
        const a = await get(`/iiif/3/${name}/${tail}`);
        expect(a.status, `${name} ${tail}`).toBe(status);
        if (status === 422) expect(a.json?.message, `${name} ${tail}`).toMatch(/^TIFF images with .* cannot be rendered here$/);
      }
      const head = await fetch(`${server.url}/iiif/3/${name}/full/max/0/default.jpg`, { method: 'HEAD' });
      expect(head.status, `HEAD ${name}`).toBe(status);
    }
  });

  // TIFF 6.0: an unspecified extra sample (ExtraSamples 0) is no alpha; alpha, when there is one, is
  // the first extra sample. libvips took the fourth band as alpha whatever its kind, and could not
  // flatten more than one extra (a JPEG was a 422 while HEAD said 200).
  it.each([
    // name, samples, photometric, colour samples, extra kinds, sample values, expected RGBA of the PNG (no alpha: 3 values)
    ['rgb-2-extra.tif', 5, 2, 3, [0, 0], [200, 100, 50, 0, 9], [200, 100, 50]],
    ['grey-2-extra.tif', 3, 1, 1, [0, 0], [90, 0, 7], [90, 90, 90]],
    ['rgb-1-unspecified.tif', 4, 2, 3, [0], [200, 100, 50, 0], [200, 100, 50]],
    ['rgb-alpha-extra.tif', 5, 2, 3, [2, 0], [200, 100, 50, 128, 9], [200, 100, 50, 128]],
    // Associated alpha: the stored colour is premultiplied (100, 50, 25 at alpha 128 is 200, 100, 50).
    ['rgb-assoc-extra.tif', 5, 2, 3, [1, 0], [100, 50, 25, 128, 9], [199, 100, 50, 128]],
  ] as const)('%s: extra samples that are no alpha are dropped, in every output', async (name, samples, photometric, colour, kinds, values, rgba) => {
    await writeFile(join(root, name), layoutTiff(samples, photometric, colour, [...kinds], [...values]));
    expect((await get(`/iiif/3/${name}/info.json`)).status).toBe(200);
    const png = await get(`/iiif/3/${name}/full/8,/0/default.png`);
    expect(png.status).toBe(200);
    const p = await sharp(png.body).raw().toBuffer({ resolveWithObject: true });
    expect(p.info.width).toBe(8);
    // Resizing premultiplies by alpha and back in 8 bits: up to 3 units of rounding at alpha 128.
    expect(p.info.channels).toBe(rgba.length);
    expect(near([...p.data.subarray(0, p.info.channels)], rgba, 3), `${name} PNG ${[...p.data.subarray(0, p.info.channels)]}`).toBe(true);
    // JPEG has no alpha: a transparent half is flattened on white.
    const white = rgba.length === 4 ? (rgba[3] ?? 255) / 255 : 1;
    const expected = rgba.slice(0, 3).map((v) => Math.round(v * white + 255 * (1 - white)));
    const jpg = await get(`/iiif/3/${name}/full/max/0/default.jpg`);
    expect(jpg.status).toBe(200);
    const j = await sharp(jpg.body).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    expect([j.info.width, j.info.height]).toEqual([16, 16]);
    for (let c = 0; c < 3; c++) expect(Math.abs((j.data[c] ?? 0) - (expected[c] ?? 0)), `${name} band ${c}`).toBeLessThanOrEqual(3);
    const head = await fetch(`${server.url}/iiif/3/${name}/full/max/0/default.jpg`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    for (const tail of ['full/8,/0/bitonal.jpg', 'full/8,/45/default.webp', 'full/8,/0/gray.pdf']) expect((await get(`/iiif/3/${name}/${tail}`)).status, tail).toBe(200);
  });

  it('leaving extra samples out holds the region once, within IIIF_MAX_DECODE_BYTES', async () => {
    // sharp cannot drop bands while it streams, so the region is copied out whole: 1024×1024 RGB
    // with an extra sample is 4 MiB, and 3 more for the copy, over a 4 MiB budget (a review saw
    // 820 MB for 10000²); a quarter of it fits.
    const dir = await mkdtemp(join(tmpdir(), 'iiif-edge-extra-'));
    const big = sharp({ create: { width: 1024, height: 1024, channels: 3, background: { r: 200, g: 100, b: 50 } } });
    const raw = await big.raw().toBuffer();
    // A 4-band TIFF from sharp, its ExtraSamples (tag 338) changed to unspecified.
    const four = Buffer.alloc(1024 * 1024 * 4, 0);
    for (let i = 0; i < 1024 * 1024; i++) raw.copy(four, i * 4, i * 3, i * 3 + 3);
    const tif = await sharp(four, { raw: { width: 1024, height: 1024, channels: 4 } }).tiff({ compression: 'lzw' }).toBuffer();
    const at = tif.indexOf(Buffer.from([0x52, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00]));
    expect(at).toBeGreaterThan(0);
    tif.writeUInt16LE(0, at + 8);
    await writeFile(join(dir, 'unspecified.tif'), tif);
    const small = await startServer({ IIIF_ROOT: dir, PORT: '0', IIIF_LOG_LEVEL: 'silent', IIIF_MAX_DECODE_BYTES: String(4 * 1024 * 1024) });
    try {
      const whole = await fetch(`${small.url}/iiif/3/unspecified.tif/full/256,/0/default.jpg`);
      expect(whole.status).toBe(400);
      expect(((await whole.json()) as { message: string }).message).toMatch(/IIIF_MAX_DECODE_BYTES/);
      const part = await fetch(`${small.url}/iiif/3/unspecified.tif/0,0,512,512/256,/0/default.jpg`);
      expect(part.status).toBe(200);
      const { data } = await sharp(Buffer.from(await part.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
      expect(near([...data.subarray(0, 3)], [200, 100, 50], 3)).toBe(true);
    } finally {
      await small.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a truncated JPEG rendered 8 at a time is a 422 every time, never a 500 (libvips loses error words under concurrency)', async () => {
    const noisy = await sharp({ create: { width: 1200, height: 900, channels: 3, background: 'red', noise: { type: 'gaussian', mean: 128, sigma: 50 } } }).jpeg().toBuffer();
    await writeFile(join(root, 'half.jpg'), noisy.subarray(0, noisy.length >> 1));
    const tails = ['full/1200,900', 'full/600,450', 'full/300,225', 'full/!200,200', '0,0,1024,900/512,450', '1024,0,176,900/88,450', '0,0,512,512/512,512', 'full/max'];
    const statuses: number[] = [];
    for (let round = 0; round < 10; round++) {
      statuses.push(...(await Promise.all(tails.map(async (t) => (await get(`/iiif/3/half.jpg/${t}/0/default.jpg`)).status))));
    }
    expect(statuses.filter((s) => s !== 422)).toEqual([]);
  });

  it('a truncated interlaced PNG is a 422, not a 500: libvips fails on it with no words at all, every time', async () => {
    const png = await sharp({ create: { width: 600, height: 400, channels: 3, background: 'red', noise: { type: 'gaussian', mean: 128, sigma: 50 } } })
      .png({ progressive: true })
      .toBuffer();
    await writeFile(join(root, 'cut-adam7.png'), png.subarray(0, Math.floor(png.length * 0.6)));
    for (const tail of ['full/max', 'full/!200,200']) {
      const res = await get(`/iiif/3/cut-adam7.png/${tail}/0/default.jpg`);
      expect(res.status, tail).toBe(422);
      expect(JSON.parse(res.body.toString())).toMatchObject({ error: 'unsupported_source' });
    }
  });

  // CMYK has no exact sRGB round trip: the reference is libvips' own colour-managed decode of the file.
  it.each([
    ['cmyk.jpg', true],
    ['deep.png', false],
    ['palette.png', false],
  ])('%s comes out as 8-bit sRGB with the right colours', async (name, decodeReference) => {
    const reference = decodeReference ? await pixels(await sharp(files[name]).toColourspace('srgb').png().toBuffer()) : undefined;
    for (const format of ['jpg', 'png']) {
      const out = await pixels((await get(`/iiif/3/${name}/full/max/0/default.${format}`)).body);
      expect([out.info.width, out.info.height, out.info.channels]).toEqual([300, 200, 3]);
      for (const [x, y] of [[40, 40], [260, 40], [40, 160], [260, 160]] as const) {
        const want = reference?.at(x, y) ?? quadrantColour(x, y);
        expect(near(out.at(x, y), want, format === 'jpg' ? 10 : 2), `${name} ${format} (${x},${y}) = ${out.at(x, y)}`).toBe(true);
      }
    }
  });
});
