/** 11.7: a TIFF of just the covering tiles decodes to exactly the source's pixels of that region. */
import sharp, { type TiffOptions } from 'sharp';
import { describe, expect, it } from 'vitest';
import { buildTileSubset, canSubsetTiles, coveringGrid, pyramidLevels, readTiffStructure, readTileTables, tileFromTables } from '../../src/tiff/index.ts';
import { colourGrid, countingSource } from '../helpers/tiff-fixtures.ts';

const W = 700;
const H = 500;

async function subsetOf(options: TiffOptions, channels: 1 | 3 | 4, region: { x: number; y: number; w: number; h: number }) {
  const raw = channels === 4 ? withAlpha(colourGrid(W, H, 3)) : colourGrid(W, H, channels);
  let image = sharp(raw, { raw: { width: W, height: H, channels } });
  // Without it libvips writes one-band input as RGB.
  if (channels === 1) image = image.toColourspace('b-w');
  const tif = await image.tiff({ tile: true, tileWidth: 128, tileHeight: 128, ...options }).toBuffer();
  const src = countingSource(tif);
  const [level] = pyramidLevels(await readTiffStructure(src.read, tif.length));
  if (!level) throw new Error('no level');
  const grid = coveringGrid(level, region);
  const tables = await readTileTables(src.read, level);
  if (!tables) throw new Error('no tables');
  const tiles: Uint8Array[] = [];
  for (let row = 0; row < grid.rows; row++) {
    for (let col = 0; col < grid.cols; col++) {
      const loc = tileFromTables(tables, level, grid.col0 + col, grid.row0 + row);
      tiles.push(tif.subarray(loc.offset, loc.offset + loc.length));
    }
  }
  const subset = buildTileSubset(level, grid, tiles);
  const x = region.x - grid.col0 * level.tileWidth;
  const y = region.y - grid.row0 * level.tileHeight;
  const { data, info } = await sharp(subset.bytes).extract({ left: x, top: y, width: region.w, height: region.h }).raw().toBuffer({ resolveWithObject: true });
  return { level, raw, data, info, subset };
}

function withAlpha(rgb: Buffer): Buffer {
  const out = Buffer.alloc((rgb.length / 3) * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    out[j] = rgb[i] ?? 0;
    out[j + 1] = rgb[i + 1] ?? 0;
    out[j + 2] = rgb[i + 2] ?? 0;
    out[j + 3] = (i / 3) % 251;
  }
  return out;
}

describe('11.7 TIFF of the covering tiles', () => {
  it.each([
    ['lzw + predictor, RGB', { compression: 'lzw', predictor: 'horizontal' }, 3],
    ['deflate, grey', { compression: 'deflate' }, 1],
    ['none, RGBA (ExtraSamples)', { compression: 'none' }, 4],
  ] as const)('%s: region pixels equal the source, edge tiles clipped', async (_name, options, channels) => {
    // Crosses tile borders and reaches the right and bottom edges (partial tiles).
    const region = { x: 250, y: 300, w: W - 250, h: H - 300 };
    const { level, raw, data, info, subset } = await subsetOf(options, channels, region);
    expect(canSubsetTiles(level)).toBe(true);
    expect([subset.width, subset.height]).toEqual([W - 128, H - 256]);
    // sharp hands out grey as sRGB: three equal bands.
    const bands = channels === 1 ? 3 : channels;
    expect([info.width, info.height, info.channels]).toEqual([region.w, region.h, bands]);
    for (let y = 0; y < region.h; y += 37) {
      for (let x = 0; x < region.w; x += 41) {
        const got = Array.from(data.subarray((y * region.w + x) * bands, (y * region.w + x + 1) * bands));
        const at = ((region.y + y) * W + region.x + x) * channels;
        const want = Array.from(raw.subarray(at, at + channels));
        expect(got, `(${x},${y})`).toEqual(channels === 1 ? [want[0], want[0], want[0]] : want);
      }
    }
  });

  it('JPEG tiles (with JPEGTables): the same pixels as decoding the whole file', async () => {
    const region = { x: 100, y: 60, w: 400, h: 300 };
    const { level, data, raw } = await subsetOf({ compression: 'jpeg', quality: 90 }, 3, region);
    expect(level.compression).toBe(7);
    expect((level.jpegTables?.length ?? 0) > 0).toBe(true);
    expect(canSubsetTiles(level)).toBe(true);
    const tif = await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).tiff({ tile: true, tileWidth: 128, tileHeight: 128, compression: 'jpeg', quality: 90 }).toBuffer();
    const whole = await sharp(tif).extract({ left: region.x, top: region.y, width: region.w, height: region.h }).raw().toBuffer();
    expect(data.length).toBe(whole.length);
    let worst = 0;
    for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs((data[i] ?? 0) - (whole[i] ?? 0)));
    expect(worst).toBe(0);
  });

  it('striped (untiled): only the covering strips, exact pixels', async () => {
    // libvips writes small images as one strip; a 16-row-strip file is built from raw rows.
    const raw = colourGrid(W, H, 3);
    const rowsPerStrip = 16;
    const strips = Array.from({ length: Math.ceil(H / rowsPerStrip) }, (_, i) => raw.subarray(i * rowsPerStrip * W * 3, Math.min(H, (i + 1) * rowsPerStrip) * W * 3));
    const flat = { width: W, height: H, tiled: false, tileWidth: W, tileHeight: rowsPerStrip, samplesPerPixel: 3, bitsPerSample: [8, 8, 8], compression: 1, photometric: 2, planarConfiguration: 1, orientation: 1 };
    const file = buildTileSubset(flat as Parameters<typeof buildTileSubset>[0], { col0: 0, row0: 0, cols: 1, rows: strips.length }, strips).bytes;
    expect(Buffer.compare(await sharp(file).raw().toBuffer(), raw)).toBe(0);

    const src = countingSource(file);
    const [level] = pyramidLevels(await readTiffStructure(src.read, file.length));
    if (!level) throw new Error('no level');
    expect([level.tiled, level.tileHeight, canSubsetTiles(level)]).toEqual([false, rowsPerStrip, true]);
    const region = { x: 100, y: 230, w: 300, h: 40 };
    const grid = coveringGrid(level, region);
    const tables = await readTileTables(src.read, level);
    if (!tables) throw new Error('no tables');
    const parts = Array.from({ length: grid.rows }, (_, i) => {
      const loc = tileFromTables(tables, level, 0, grid.row0 + i);
      return file.subarray(loc.offset, loc.offset + loc.length);
    });
    const subset = buildTileSubset(level, grid, parts);
    // Rows 224..271: three strips of 16.
    expect([subset.width, subset.height]).toEqual([W, 48]);
    const data = await sharp(subset.bytes).extract({ left: region.x, top: region.y - 224, width: region.w, height: region.h }).raw().toBuffer();
    for (const [x, y] of [[0, 0], [299, 39], [150, 20]] as const) {
      const got = Array.from(data.subarray((y * region.w + x) * 3, (y * region.w + x + 1) * 3));
      const at = ((region.y + y) * W + region.x + x) * 3;
      expect(got).toEqual(Array.from(raw.subarray(at, at + 3)));
    }
  });

  it('leaves planar and palette levels to the other paths', async () => {
    const { level } = await subsetOf({ compression: 'lzw' }, 3, { x: 0, y: 0, w: 10, h: 10 });
    expect(canSubsetTiles({ ...level, planarConfiguration: 2 })).toBe(false);
    expect(canSubsetTiles({ ...level, photometric: 3 })).toBe(false);
  });
});
