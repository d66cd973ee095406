import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { isPassThroughJpeg, readTiffStructure, withIccProfile } from '../../src/tiff/index.ts';
import type { TiffImage } from '../../src/tiff/index.ts';

/**
 * Pyramids in a wide-gamut colour space with its ICC profile (tag 34675), as museum masters are
 * (Adobe RGB, eciRGB, Display P3): sRGB (200, 40, 40) stored as Display P3. Every path must show
 * that colour: stored tiles sent as they are carry the profile (a browser converts them), and
 * what is decoded here (composed tiles, a region of the stored tiles from a remote store, a
 * render) is converted to sRGB, as libvips converts the file itself.
 */
const SRGB = [200, 40, 40];
let root: string;
let profile: Buffer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-icc-'));
  const flat = sharp({ create: { width: 1000, height: 700, channels: 3, background: { r: 200, g: 40, b: 40 } } }).withIccProfile('p3');
  const jpeg = await flat.clone().tiff({ tile: true, tileWidth: 256, tileHeight: 256, pyramid: true, compression: 'jpeg', quality: 95 }).toBuffer();
  await writeFile(join(root, 'p3.tif'), jpeg);
  await writeFile(join(root, 'p3-deflate.tif'), await flat.clone().tiff({ tile: true, tileWidth: 256, tileHeight: 256, pyramid: true, compression: 'deflate' }).toBuffer());
  profile = (await sharp(jpeg).metadata()).icc!;
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** The first pixel as a colour-managed decoder shows it (sharp converts an embedded profile to sRGB). */
const shown = async (bytes: Buffer) => [...(await sharp(bytes).toColourspace('srgb').raw().toBuffer()).subarray(0, 3)];
/** The first pixel as stored, the profile ignored. */
const stored = async (bytes: Buffer) => [...(await sharp(bytes).raw().toBuffer()).subarray(0, 3)];

const CASES: Array<[url: string, path: string]> = [
  ['p3.tif/0,0,256,256/256,/0/default.jpg', 'passthrough'],
  ['p3.tif/768,512,232,188/232,/0/default.jpg', 'passthrough'],
  ['p3.tif/0,0,256,256/256,/0/default.png', 'tiles'],
  ['p3.tif/100,100,300,300/150,/0/default.jpg', 'tiles'],
  ['p3.tif/full/!300,300/0/default.jpg', ''],
  ['p3-deflate.tif/100,100,300,300/150,/0/default.jpg', 'render'],
];

describe('ICC-tagged pyramids: the same colours on every path', () => {
  for (const remote of [false, true]) {
    it(`from ${remote ? 'a remote store (covering tiles only)' : 'a local file'}`, async () => {
      const files = fsSource({ root });
      const source = remote ? { ...files, local: false, localFile: undefined } : files;
      const app = createApp({ config: loadConfig({ IIIF_ROOT: root, IIIF_RESPONSE_CACHE_BYTES: '0' }), source, renderer: sharpRenderer({ jpegQuality: 90, maxInputPixels: 1e9 }) });
      for (const [url, path] of CASES) {
        const res = await app.request(`/iiif/3/${url}`);
        expect(res.status, url).toBe(200);
        if (path) expect(res.headers.get('server-timing'), url).toContain(`path;desc="${path}"`);
        const body = Buffer.from(await res.arrayBuffer());
        const pixel = await shown(body);
        pixel.forEach((v, i) => expect(Math.abs(v - SRGB[i]!), `${url}: ${pixel}`).toBeLessThanOrEqual(3));
        if (path === 'passthrough') {
          expect(Buffer.compare((await sharp(body).metadata()).icc!, profile), url).toBe(0);
          // Stored as P3, red comes out far less saturated without the profile: it must travel with the tile.
          expect((await stored(stripIcc(body)))[1], url).toBeGreaterThan(50);
        }
      }
    });
  }

  it('gives reduced levels without a profile of their own the main image\'s (GDAL writes it to the main image only)', async () => {
    const bytes = await readFileBytes('p3.tif');
    await patchIcc(bytes, (entry, image) => image > 0 && bytes.writeUInt16LE(34674, entry));
    await writeFile(join(root, 'p3-main-only.tif'), bytes);
    const app = createApp({ config: loadConfig({ IIIF_ROOT: root, IIIF_RESPONSE_CACHE_BYTES: '0' }), source: fsSource({ root }) });
    // A level-1 tile (scale factor 2) and a level-2 one, sent as stored.
    for (const url of ['0,0,512,512/256,/0/default.jpg', '0,0,1000,700/250,/0/default.jpg']) {
      const res = await app.request(`/iiif/3/p3-main-only.tif/${url}`);
      expect(res.headers.get('server-timing'), url).toContain('path;desc="passthrough"');
      const body = Buffer.from(await res.arrayBuffer());
      expect(Buffer.compare((await sharp(body).metadata()).icc!, profile), url).toBe(0);
    }
  });

  it('leaves a profile over 4 MiB out of a remote region rather than fail it', async () => {
    const bytes = await readFileBytes('p3-deflate.tif');
    const big = 5 * 1024 * 1024;
    // Every level's profile becomes 5 MiB of zeros at the end of the file.
    await patchIcc(bytes, (entry) => {
      bytes.writeUInt32LE(big, entry + 4);
      bytes.writeUInt32LE(bytes.length, entry + 8);
    });
    await writeFile(join(root, 'p3-huge.tif'), Buffer.concat([bytes, Buffer.alloc(big)]));
    const files = fsSource({ root });
    const app = createApp({ config: loadConfig({ IIIF_ROOT: root, IIIF_RESPONSE_CACHE_BYTES: '0' }), source: { ...files, local: false, localFile: undefined }, renderer: sharpRenderer({ jpegQuality: 90, maxInputPixels: 1e9 }) });
    const res = await app.request('/iiif/3/p3-huge.tif/100,100,300,300/150,/0/default.png');
    expect(res.status).toBe(200);
  });

  it('sends a level with a profile over 64 KiB to the renderer rather than repeat it in every tile', () => {
    const level = { compression: 7, tiled: true, planarConfiguration: 1, orientation: 1, bitsPerSample: [8, 8, 8], samplesPerPixel: 3, photometric: 6 } as TiffImage;
    expect(isPassThroughJpeg({ ...level, iccProfile: { offset: 8, length: 3144 } })).toBe(true);
    expect(isPassThroughJpeg({ ...level, iccProfile: { offset: 8, length: 70_000 } })).toBe(false);
  });

  it('splits a profile over one APP2 segment into numbered chunks that join back to it', async () => {
    const tile = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#c82828' } }).jpeg().toBuffer();
    const big = Buffer.from(Array.from({ length: 150_000 }, (_, i) => i & 255));
    const out = withIccProfile(tile, big);
    const chunks: Array<{ seq: number; count: number; data: Uint8Array }> = [];
    for (let at = 2; out[at] === 0xff && out[at + 1] === 0xe2; ) {
      const length = (out[at + 2]! << 8) | out[at + 3]!;
      expect(Buffer.from(out.subarray(at + 4, at + 16)).toString('latin1')).toBe('ICC_PROFILE\0');
      chunks.push({ seq: out[at + 16]!, count: out[at + 17]!, data: out.subarray(at + 18, at + 2 + length) });
      at += 2 + length;
    }
    expect(chunks.map((c) => [c.seq, c.count])).toEqual([[1, 3], [2, 3], [3, 3]]);
    expect(Buffer.compare(Buffer.concat(chunks.map((c) => c.data)), big)).toBe(0);
    // The image itself is untouched after them.
    expect(Buffer.compare(Buffer.from(out.subarray(out.length - (tile.length - 2))), tile.subarray(2))).toBe(0);
  });
});

/** The JPEG without its APP2 ICC segments. */
function stripIcc(jpeg: Buffer): Buffer {
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  let at = 2;
  while (jpeg[at] === 0xff && jpeg[at + 1]! >= 0xe0 && jpeg[at + 1]! <= 0xef) {
    const length = jpeg.readUInt16BE(at + 2);
    if (jpeg[at + 1] !== 0xe2) parts.push(jpeg.subarray(at, at + 2 + length));
    at += 2 + length;
  }
  parts.push(jpeg.subarray(at));
  return Buffer.concat(parts);
}

const readFileBytes = async (name: string) => Buffer.from(await readFile(join(root, name)));

/** Calls `edit` with the byte offset of each ICC entry (tag 34675) of every directory of a little-endian classic TIFF. */
async function patchIcc(bytes: Buffer, edit: (entry: number, image: number) => unknown): Promise<void> {
  const structure = await readTiffStructure(async (offset, length) => bytes.subarray(offset, offset + length), bytes.length);
  const images = structure.images.flatMap((i) => [i, ...i.subImages]);
  images.forEach((image, n) => {
    const count = bytes.readUInt16LE(image.ifdOffset);
    for (let i = 0; i < count; i++) {
      const entry = image.ifdOffset + 2 + i * 12;
      if (bytes.readUInt16LE(entry) === 34675) edit(entry, n);
    }
  });
}
