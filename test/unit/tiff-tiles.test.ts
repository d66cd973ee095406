import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isPassThroughJpeg,
  jpegFrameSize,
  pyramidLevels,
  readTileLocation,
  readTiffStructure,
  rewriteJpegFrameSize,
  spliceJpegTile,
  spliceOptionsFor,
} from '../../src/tiff/index.ts';
import { type Fixtures, GRID_H, GRID_W, colourGrid, countingSource, makeFixtures } from '../helpers/tiff-fixtures.ts';

/** Mean absolute difference per channel allowed between a spliced tile and sharp's own decode. */
const MAX_MEAN_DIFF = 3;

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeFixtures();
});
afterAll(() => fx.cleanup());

interface Raw {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/** Decoded pixels; grey stays one channel (sharp's raw output would otherwise be sRGB). */
const decode = async (input: Uint8Array | string, opts: { page?: number; subifd?: number } = {}, grey = false): Promise<Raw> => {
  const img = sharp(input, opts);
  const { data, info } = await (grey ? img.toColourspace('b-w') : img).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
};

/** Largest per-channel mean absolute difference between `tile` and the same-size region of `level` at (x, y). */
function meanDiff(tile: Raw, level: Raw, x: number, y: number): number {
  const c = tile.channels;
  const sums = new Array<number>(c).fill(0);
  for (let ty = 0; ty < tile.height; ty++) {
    for (let tx = 0; tx < tile.width; tx++) {
      for (let k = 0; k < c; k++) {
        const a = tile.data[(ty * tile.width + tx) * c + k] ?? 0;
        const b = level.data[((y + ty) * level.width + x + tx) * level.channels + k] ?? 0;
        sums[k] = (sums[k] ?? 0) + Math.abs(a - b);
      }
    }
  }
  return Math.max(...sums.map((s) => s / (tile.width * tile.height)));
}

describe.each([
  { name: 'jpeg-q90', subifd: false, channels: 3 },
  { name: 'jpeg-q75', subifd: false, channels: 3 },
  { name: 'jpeg-grey', subifd: false, channels: 1 },
  { name: 'jpeg-bigtiff', subifd: false, channels: 3 },
  { name: 'jpeg-subifd', subifd: true, channels: 3 },
])('$name: every tile, spliced without decode', ({ name, subifd, channels }) => {
  it('decodes to the stored tile size, edge tiles to their exact size, pixels as sharp reads the level', async () => {
    const src = countingSource(await readFile(fx.path(name)));
    const levels = pyramidLevels(await readTiffStructure(src.read, src.bytes.length));
    expect(levels).toHaveLength(4);
    let tiles = 0;
    for (const level of levels) {
      expect(isPassThroughJpeg(level)).toBe(true);
      const grey = channels === 1;
      const ref = await decode(fx.path(name), level.level === 0 ? {} : subifd ? { subifd: level.level - 1 } : { page: level.level }, grey);
      expect([ref.width, ref.height, ref.channels]).toEqual([level.width, level.height, channels]);
      for (let row = 0; row < level.rows; row++) {
        for (let col = 0; col < level.columns; col++) {
          const before = src.calls;
          const loc = await readTileLocation(src.read, level, col, row);
          expect(src.calls - before).toBeLessThanOrEqual(2);
          const stored = src.bytes.subarray(loc.offset, loc.offset + loc.length);
          const jpeg = spliceJpegTile(level.jpegTables, stored, spliceOptionsFor(level));
          expect(jpegFrameSize(jpeg)).toEqual({ width: 256, height: 256 });
          const meta = await sharp(jpeg).metadata();
          expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['jpeg', 256, 256, channels]);
          const w = Math.min(256, level.width - col * 256);
          const h = Math.min(256, level.height - row * 256);
          const exact = w === 256 && h === 256 ? jpeg : rewriteJpegFrameSize(jpeg, w, h);
          expect(jpegFrameSize(exact)).toEqual({ width: w, height: h });
          const tile = await decode(exact, {}, grey);
          expect([tile.width, tile.height, tile.channels]).toEqual([w, h, channels]);
          expect(meanDiff(tile, ref, col * 256, row * 256)).toBeLessThan(MAX_MEAN_DIFF);
          tiles++;
        }
      }
    }
    expect(tiles).toBe(48 + 12 + 4 + 1);
  });
});

it('level 0 tiles also match the source pixels (JPEG loss only)', async () => {
  const src = countingSource(await readFile(fx.path('jpeg-q90')));
  const [level] = pyramidLevels(await readTiffStructure(src.read, src.bytes.length));
  if (!level) throw new Error('no level');
  const original: Raw = { data: colourGrid(GRID_W, GRID_H, 3), width: GRID_W, height: GRID_H, channels: 3 };
  const loc = await readTileLocation(src.read, level, 7, 5);
  const jpeg = spliceJpegTile(level.jpegTables, src.bytes.subarray(loc.offset, loc.offset + loc.length), spliceOptionsFor(level));
  const tile = await decode(rewriteJpegFrameSize(jpeg, GRID_W - 7 * 256, GRID_H - 5 * 256));
  expect([tile.width, tile.height]).toEqual([208, 220]);
  expect(meanDiff(tile, original, 7 * 256, 5 * 256)).toBeLessThan(MAX_MEAN_DIFF);
});
