import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { withDiskCache } from '../../src/sources/disk-cache.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import type { ImageSource } from '../../src/sources/source.ts';

// full/max of a PNG as PNG answers the source's own image data (no decode, no deflate), with the
// pixels the render path gives (its lossless TIFF here) and none of the source's metadata chunks.

const W = 301;
const H = 203;

function noise(channels: number, seed = 1): Buffer {
  const data = Buffer.alloc(W * H * channels);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    // Half noise, half gradient: rows of both filter well and badly.
    data[i] = i % (W * channels * 2) < W * channels ? s >>> 24 : (i * 7) & 255;
  }
  return data;
}

interface Chunk {
  type: string;
  data: Uint8Array;
}

function chunksOf(png: Uint8Array): Chunk[] {
  const out: Chunk[] = [];
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  for (let at = 8; at + 12 <= png.byteLength; ) {
    const len = v.getUint32(at);
    out.push({ type: Buffer.from(png.subarray(at + 4, at + 8)).toString('latin1'), data: png.subarray(at + 8, at + 8 + len) });
    at += 12 + len;
  }
  return out;
}

function pngOf(chunks: Chunk[]): Buffer {
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])];
  for (const { type, data } of chunks) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.byteLength, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    parts.push(head, Buffer.from(data), crc);
  }
  return Buffer.concat(parts);
}

/** The image data of `png` inflated, changed by `edit`, deflated again into one IDAT. */
function withRows(png: Uint8Array, edit: (rows: Buffer) => Buffer): Buffer {
  const chunks = chunksOf(png);
  const rows = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const idat = deflateSync(edit(rows));
  const first = chunks.findIndex((c) => c.type === 'IDAT');
  const rest = chunks.filter((c) => c.type !== 'IDAT');
  rest.splice(first, 0, { type: 'IDAT', data: idat });
  return pngOf(rest);
}

const text = (words: string): Chunk => ({ type: 'tEXt', data: Buffer.from(`Comment\0${words}`, 'latin1') });

/** Files answered from their own image data. */
const STORED: Record<string, () => Promise<Buffer>> = {
  'rgb.png': () => sharp(noise(3), { raw: { width: W, height: H, channels: 3 } }).png().toBuffer(),
  'rgba.png': () => sharp(noise(4), { raw: { width: W, height: H, channels: 4 } }).png().toBuffer(),
  'grey.png': () => sharp(noise(1), { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').png().toBuffer(),
  'palette.png': () => sharp(noise(3), { raw: { width: W, height: H, channels: 3 } }).png({ palette: true, colours: 200 }).toBuffer(),
  'palette-alpha.png': () => sharp(noise(4), { raw: { width: W, height: H, channels: 4 } }).png({ palette: true, colours: 100 }).toBuffer(),
  'two-colour.png': () => sharp(noise(1), { raw: { width: W, height: H, channels: 1 } }).threshold(128).png({ palette: true, colours: 2 }).toBuffer(),
  'interlaced.png': () => sharp(noise(3), { raw: { width: W, height: H, channels: 3 } }).png({ progressive: true }).toBuffer(),
  // Split into many IDAT chunks, with metadata before and after them.
  'chunked.png': async () => {
    const png = await sharp(noise(3, 7), { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
    const chunks = chunksOf(png);
    const data = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
    const idats: Chunk[] = [];
    for (let at = 0; at < data.length; at += 1000) idats.push({ type: 'IDAT', data: data.subarray(at, at + 1000) });
    const gamma = Buffer.alloc(4);
    gamma.writeUInt32BE(100000, 0);
    return pngOf([chunks[0]!, text('GPS 48.85N 2.35E secret'), { type: 'gAMA', data: gamma }, ...idats, text('after the data'), { type: 'IEND', data: new Uint8Array() }]);
  },
};

/** Files rendered as before: libvips' pixels differ from the stored ones, or the file is damaged. */
const RENDERED: Record<string, () => Promise<Buffer>> = {
  '16-bit.png': () => sharp(new Uint16Array(W * H * 3).map((_, i) => i * 97), { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16').png().toBuffer(),
  'profiled.png': () => sharp(noise(3), { raw: { width: W, height: H, channels: 3 } }).withIccProfile('p3').png().toBuffer(),
  'bad-crc.png': async () => {
    const png = Buffer.from(await STORED['rgb.png']!());
    const idat = png.indexOf('IDAT', 8, 'latin1');
    png[idat + 10] = png[idat + 10]! ^ 0xff;
    return png;
  },
  'chunk-before-header.png': async () => {
    const chunks = chunksOf(await STORED['rgb.png']!());
    return pngOf([text('first'), ...chunks]);
  },
  'grey-with-palette.png': async () => {
    const chunks = chunksOf(await STORED['grey.png']!());
    return pngOf([chunks[0]!, { type: 'PLTE', data: new Uint8Array(3 * 256) }, ...chunks.slice(1)]);
  },
  'truncated.png': async () => {
    const png = await STORED['rgb.png']!();
    return png.subarray(0, png.length >> 1);
  },
  'bad-filter.png': async () => withRows(await STORED['rgb.png']!(), (rows) => {
    rows[(W * 3 + 1) * 100] = 9;
    return rows;
  }),
  'short-rows.png': async () => withRows(await STORED['rgb.png']!(), (rows) => rows.subarray(0, rows.length - 50)),
  'long-rows.png': async () => withRows(await STORED['rgb.png']!(), (rows) => Buffer.concat([rows, Buffer.alloc(10 * (W * 3 + 1))])),
};

const pathOf = (res: Response) => /path;desc="(\w+)"/.exec(res.headers.get('server-timing') ?? '')?.[1];

let root: string;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-png-'));
  for (const [name, make] of Object.entries({ ...STORED, ...RENDERED })) await writeFile(join(root, name), await make());
  const config = loadConfig({ IIIF_ROOT: root });
  // The damaged files' 422s are logged at warn: not shown here.
  app = createApp({ config, source: fsSource({ root }), renderer: sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e9 }), logger: silentLogger });
});
afterAll(() => rm(root, { recursive: true, force: true }));

const raw = async (bytes: Uint8Array) => {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return { data, info: { width: info.width, height: info.height, channels: info.channels } };
};

describe('full/max of a PNG as PNG', () => {
  it.each(Object.keys(STORED))('%s: the stored image data, with the render path\'s pixels and no metadata', async (name) => {
    const res = await app.request(`/iiif/3/${name}/full/max/0/default.png`);
    expect(res.status).toBe(200);
    expect(pathOf(res)).toBe('passthrough');
    const body = new Uint8Array(await res.arrayBuffer());
    // The render path's lossless answer of the same pixels.
    const rendered = await app.request(`/iiif/3/${name}/full/max/0/default.tif`);
    expect(rendered.status).toBe(200);
    expect(pathOf(rendered)).toBe('render');
    const [ours, plain] = await Promise.all([raw(body), raw(new Uint8Array(await rendered.arrayBuffer()))]);
    expect(ours.info).toEqual(plain.info);
    expect(ours.info).toMatchObject({ width: W, height: H });
    // Mean absolute difference 0: every sample equal.
    expect(Buffer.compare(ours.data, plain.data)).toBe(0);
    const types = chunksOf(body).map((c) => c.type);
    expect(types.every((t) => ['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND'].includes(t)), types.join()).toBe(true);
    expect(Buffer.from(body).includes('secret')).toBe(false);
  });

  it('answers color as default', async () => {
    const res = await app.request('/iiif/3/rgb.png/full/max/0/color.png');
    expect(pathOf(res)).toBe('passthrough');
    const plain = await app.request('/iiif/3/rgb.png/full/max/0/default.png');
    expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), Buffer.from(await plain.arrayBuffer()))).toBe(0);
  });

  it.each(Object.keys(RENDERED))('%s: rendered, with the status plain libvips gives', async (name) => {
    const file = await RENDERED[name]!();
    const plain = await sharp(file).png().toBuffer().then(() => 200, () => 422);
    const res = await app.request(`/iiif/3/${name}/full/max/0/default.png`);
    expect(res.status).toBe(plain);
    expect(pathOf(res)).not.toBe('passthrough');
    if (plain === 200) {
      const rendered = await app.request(`/iiif/3/${name}/full/max/0/default.tif`);
      const [ours, lossless] = await Promise.all([raw(new Uint8Array(await res.arrayBuffer())), raw(new Uint8Array(await rendered.arrayBuffer()))]);
      expect(ours.info).toEqual(lossless.info);
    }
  });

  it('checks a replaced file again (its ETag changed)', async () => {
    const good = await STORED['rgb.png']!();
    await writeFile(join(root, 'replaced.png'), good);
    const first = await app.request('/iiif/3/replaced.png/full/max/0/default.png');
    expect(pathOf(first)).toBe('passthrough');
    // The same size, one IDAT byte changed: only the CRC tells.
    const bad = Buffer.from(good);
    const idat = bad.indexOf('IDAT', 8, 'latin1');
    bad[idat + 10] = bad[idat + 10]! ^ 0xff;
    await writeFile(join(root, 'replaced.png'), bad);
    await utimes(join(root, 'replaced.png'), new Date(), new Date(Date.now() + 5000));
    const second = await app.request('/iiif/3/replaced.png/full/max/0/default.png');
    expect(second.status).toBe(422);
    expect(first.headers.get('etag')).not.toBe(second.headers.get('etag'));
  });

  it('from a remote store with a disk cache, reads the cached copy: the object is downloaded once', async () => {
    const inner = fsSource({ root });
    const whole: string[] = [];
    // Like S3: not local, no file of its own; whole-object reads counted.
    const remote: ImageSource = {
      kind: 's3',
      stat: (id, signal) => inner.stat(id, signal),
      read: (id, range, signal, etag) => {
        if (!range) whole.push(id);
        return inner.read(id, range, signal, etag);
      },
    };
    const cached = withDiskCache(remote, { dir: join(root, '.cache'), maxBytes: 64 << 20 });
    const s3 = createApp({ config: loadConfig({ IIIF_ROOT: root }), source: cached, renderer: sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e9 }), logger: silentLogger });
    for (let i = 0; i < 3; i++) {
      const res = await s3.request('/iiif/3/chunked.png/full/max/0/default.png');
      expect(res.status).toBe(200);
      expect(pathOf(res)).toBe('passthrough');
      const plain = await app.request('/iiif/3/chunked.png/full/max/0/default.png');
      expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), Buffer.from(await plain.arrayBuffer()))).toBe(0);
    }
    expect(whole).toEqual([]);
  });

  it('renders every other request of a PNG', async () => {
    for (const url of ['full/max/0/gray.png', 'full/max/90/default.png', 'full/!300,300/0/default.png', 'full/max/!0/default.png', '0,0,300,203/max/0/default.png', 'full/max/0/default.jpg']) {
      const res = await app.request(`/iiif/3/rgb.png/${url}`);
      expect(res.status, url).toBe(200);
      expect(pathOf(res), url).toBe('render');
    }
  });
});
