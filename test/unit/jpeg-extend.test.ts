import sharp, { type JpegOptions } from 'sharp';
import { describe, expect, it } from 'vitest';
import { TiffError } from '../../src/tiff/errors.ts';
import { type AlignedTile, readAlignedTile } from '../../src/image/tile-passthrough.ts';
import { extendJpeg } from '../../src/tiff/jpeg-extend.ts';
import { jpegSegments } from '../../src/tiff/jpeg-markers.ts';
import type { TiffLevel } from '../../src/tiff/types.ts';

/**
 * A 256×256 stored edge tile as libvips writes one: the level's 187×140 pixels (smooth shading
 * and hard-edged squares, so that both show in the edge blocks) and black padding around them.
 */
async function edgeTile(channels: 1 | 3, options: JpegOptions): Promise<Uint8Array> {
  const raw = Buffer.alloc(256 * 256 * channels);
  for (let y = 0; y < 140; y++) {
    for (let x = 0; x < 187; x++) {
      const square = ((x >> 4) + (y >> 4)) & 1;
      for (let c = 0; c < channels; c++) raw[(y * 256 + x) * channels + c] = square ? 40 + c * 60 + (x >> 2) : 220 - c * 50 - (y >> 2);
    }
  }
  const image = sharp(raw, { raw: { width: 256, height: 256, channels } });
  return (channels === 1 ? image.toColourspace('b-w') : image).jpeg(options).toBuffer();
}

/** Pixels as RGB (grey decodes to three equal channels), and the JPEG's own component count. */
async function decode(jpeg: Uint8Array) {
  const { data, info } = await sharp(jpeg).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const { channels } = await sharp(jpeg).metadata();
  return { data, width: info.width, height: info.height, channels };
}

const cases = [
  { name: 'YCbCr 4:2:0, q75', channels: 3, options: { quality: 75, chromaSubsampling: '4:2:0' } },
  { name: 'YCbCr 4:4:4, q90', channels: 3, options: { quality: 90, chromaSubsampling: '4:4:4' } },
  { name: 'grey, q90', channels: 1, options: { quality: 90 } },
] as const;

describe('extendJpeg: a stored edge tile one rounding pixel larger', () => {
  it.each(cases)('repeats the last column and row over the padding: $name', async ({ channels, options }) => {
    const tile = await edgeTile(channels, options);
    const stored = await decode(tile);
    const out = await decode(extendJpeg(tile, 188, 141, 187, 140));
    expect([out.width, out.height, out.channels]).toEqual([188, 141, channels]);
    // The reference: the stored tile's pixels of the level, its last column and row repeated.
    const at = (img: { data: Buffer; width: number }, x: number, y: number, c: number) => img.data[(y * img.width + x) * 3 + c] ?? 0;
    let sum = 0;
    let max = 0;
    let farMax = 0;
    for (let y = 0; y < 141; y++) {
      for (let x = 0; x < 188; x++) {
        for (let c = 0; c < 3; c++) {
          const d = Math.abs(at(out, x, y, c) - at(stored, Math.min(x, 186), Math.min(y, 139), c));
          sum += d;
          max = Math.max(max, d);
          // Blocks away from the edges keep their coefficients (chroma upsampling reaches 16 px).
          if (x < 168 && y < 120) farMax = Math.max(farMax, d);
        }
      }
    }
    const mean = sum / (188 * 141 * 3);
    // Measured: mean 0.02 (grey), 0.08 (4:4:4), 0.30 (4:2:0); largest 6, 16, 21 of 255, in the edge blocks quantised again.
    expect(mean).toBeLessThan(0.5);
    expect(max).toBeLessThan(32);
    expect(farMax).toBe(0);
    // Without the repeat, the padding shows: the new column would be black.
    let edge = 0;
    for (let y = 0; y < 140; y++) edge += Math.abs(at(out, 187, y, 0) - at(stored, 186, y, 0));
    expect(edge / 140).toBeLessThan(4);
  });

  it('also crops: a size one short along one axis and one over along the other', async () => {
    const tile = await edgeTile(3, { quality: 90, chromaSubsampling: '4:2:0' });
    const out = await decode(extendJpeg(tile, 186, 141, 187, 140));
    expect([out.width, out.height]).toEqual([186, 141]);
  });

  it('fails with a TiffError on a truncated tile or a size beyond the frame', async () => {
    const tile = await edgeTile(3, { quality: 90 });
    expect(() => extendJpeg(tile.subarray(0, 700), 188, 141, 187, 140)).toThrow(TiffError);
    expect(() => extendJpeg(tile, 257, 141, 187, 140)).toThrow(TiffError);
    expect(() => extendJpeg(tile, 0, 141, 187, 140)).toThrow(TiffError);
  });
});

describe('extendJpeg recodes only the MCUs along the edges', () => {
  // Standard tables (libjpeg's default, what libtiff writes in pyramids) and an optimised set.
  const tables = [
    { name: '4:2:0 q75, standard tables', channels: 3, options: { quality: 75, chromaSubsampling: '4:2:0', optimiseCoding: false }, standard: true },
    { name: '4:4:4 q90, standard tables', channels: 3, options: { quality: 90, chromaSubsampling: '4:4:4', optimiseCoding: false }, standard: true },
    { name: 'grey q50, standard tables', channels: 1, options: { quality: 50, optimiseCoding: false }, standard: true },
    { name: '4:2:0 q90, optimised tables', channels: 3, options: { quality: 90, chromaSubsampling: '4:2:0' }, standard: false },
  ] as const;
  // Valid sizes at, before and after block (8) and 4:2:0 MCU (16) boundaries, and at the tile's end.
  const valid = [1, 7, 8, 9, 15, 16, 17, 176, 183, 184, 187, 255];

  it.each(tables)('gives the pixels of the whole scan coded again: $name', async ({ channels, options, standard }) => {
    const tile = await edgeTile(channels, options);
    const dht = [...jpegSegments(tile, 2)].filter((s) => s.marker === 0xc4).map((s) => Buffer.from(tile.subarray(s.start, s.end)));
    let cases = 0;
    let kept = 0;
    for (const vw of valid) {
      for (const vh of [1, 8, 25, 140, 255]) {
        for (const [w, h] of [[vw + 1, vh + 1], [vw + 1, vh], [vw, vh + 1]] as const) {
          const fast = extendJpeg(tile, w, h, vw, vh);
          const full = extendJpeg(tile, w, h, vw, vh, { fullRecode: true });
          const [a, b] = await Promise.all([sharp(fast).raw().toBuffer(), sharp(full).raw().toBuffer()]);
          expect(a.equals(b), `${w}x${h} from ${vw}x${vh}`).toBe(true);
          // The crop path keeps the tile's own AC tables; the full recode writes the standard ones alone.
          if (dht.every((d) => Buffer.from(fast).includes(d))) kept++;
          cases++;
        }
      }
    }
    // Standard tables hold every code, so every case takes the crop path.
    if (standard) expect(kept).toBe(cases);
  });
});

describe('readAlignedTile with a rounding pixel', () => {
  const level: TiffLevel = {
    level: 0, littleEndian: true, fileSize: 1 << 20, ifdOffset: 8, width: 187, height: 140, tiled: true, tileWidth: 256, tileHeight: 256,
    columns: 1, rows: 1, compression: 7, photometric: 6, samplesPerPixel: 3, bitsPerSample: [8, 8, 8], planarConfiguration: 1,
    newSubfileType: 0, orientation: 1, offsets: { offset: 0, count: 1, type: 4 }, byteCounts: { offset: 0, count: 1, type: 4 }, subImages: [],
  };
  const tile: AlignedTile = { level, col: 0, row: 0, width: 188, height: 141, cellWidth: 187, cellHeight: 140 };
  const serve = (jpeg: Uint8Array) => readAlignedTile(
    async (offset, length) => jpeg.subarray(offset, offset + length),
    async () => ({ offset: 0, length: jpeg.length }),
    tile,
  );

  it('extends a baseline tile, and leaves a progressive one to the renderer instead of failing', async () => {
    const out = await serve(await edgeTile(3, { quality: 90 }));
    expect(out && (await sharp(out).metadata()).width).toBe(188);
    expect(await serve(await edgeTile(3, { quality: 90, progressive: true }))).toBeUndefined();
  });
});
