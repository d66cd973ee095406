import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import type { ImageSource } from '../../src/sources/source.ts';

// A compressed striped TIFF (LZW, 16 rows a strip): libvips decodes every strip above a region.
const [W, H] = [1200, 3000];
let root: string;
let pixels: Buffer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-striped-'));
  const noise = sharp({ create: { width: W, height: H, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } });
  pixels = await noise.clone().raw().toBuffer();
  await writeFile(join(root, 'lzw.tif'), await sharp(pixels, { raw: { width: W, height: H, channels: 3 } }).tiff({ compression: 'lzw', tile: false }).toBuffer());
});
afterAll(() => rm(root, { recursive: true, force: true }));

function counted() {
  const files = fsSource({ root });
  const reads = { count: 0, bytes: 0 };
  const source: ImageSource = {
    ...files,
    async read(id, range, signal, etag) {
      const bytes = await files.read(id, range, signal, etag);
      reads.count++;
      reads.bytes += bytes.length;
      return bytes;
    },
  };
  return { app: createApp({ config: loadConfig({ IIIF_ROOT: root, IIIF_RESPONSE_CACHE_BYTES: '0' }), source, renderer: sharpRenderer({ jpegQuality: 90, maxInputPixels: 1e9 }) }), reads };
}

describe('a local compressed striped TIFF', () => {
  it('reads a region near its foot by the covering strips alone, with the exact pixels', async () => {
    const { app, reads } = counted();
    await app.request('/iiif/3/lzw.tif/info.json');
    const before = { ...reads };
    const res = await app.request('/iiif/3/lzw.tif/500,2700,256,256/256,/0/default.png');
    expect(res.status).toBe(200);
    const { data, info } = await sharp(Buffer.from(await res.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([256, 256, 3]);
    for (let y = 0; y < 256; y++) {
      const from = ((2700 + y) * W + 500) * 3;
      expect(Buffer.compare(data.subarray(y * 256 * 3, (y + 1) * 256 * 3), pixels.subarray(from, from + 256 * 3)), `row ${y}`).toBe(0);
    }
    // 17 strips of 57,600 decoded bytes each hold the region: a small part of the file was read.
    const { size } = await stat(join(root, 'lzw.tif'));
    expect(reads.count - before.count).toBeGreaterThan(0);
    expect(reads.bytes - before.bytes).toBeLessThan(size / 4);
  });

  it('streams a whole-image view and a tall region through libvips, reading no strips itself', async () => {
    const { app, reads } = counted();
    await app.request('/iiif/3/lzw.tif/info.json');
    const before = { ...reads };
    // Read strip by strip, a band taller than what lies above it was slower than libvips (found by review).
    for (const region of ['full/!200,200', '0,600,1200,2400/!300,300']) {
      const res = await app.request(`/iiif/3/lzw.tif/${region}/0/default.png`);
      expect(res.status, region).toBe(200);
      expect(reads.bytes - before.bytes, region).toBe(0);
    }
  });
});
