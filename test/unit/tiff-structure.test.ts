import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isPassThroughJpeg,
  pyramidLevels,
  readTileLocation,
  readTiffStructure,
  type TiffLevel,
} from '../../src/tiff/index.ts';
import { type Fixtures, GRID_H, GRID_W, colourGrid, countingSource, makeFixtures } from '../helpers/tiff-fixtures.ts';

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeFixtures();
});
afterAll(() => fx.cleanup());

async function levelsOf(name: string) {
  const src = countingSource(await readFile(fx.path(name)));
  const structure = await readTiffStructure(src.read, src.bytes.length);
  return { src, structure, levels: pyramidLevels(structure) };
}

/** Sizes sharp reports for each page (chain) or SubIFD. */
async function sharpLevelSizes(file: string, subifd: boolean): Promise<Array<[number, number]>> {
  const meta = await sharp(file).metadata();
  const n = subifd ? (meta.subifds ?? 0) : (meta.pages ?? 1) - 1;
  const sizes: Array<[number, number]> = [[meta.width, meta.height]];
  for (let i = 0; i < n; i++) {
    const m = await sharp(file, subifd ? { subifd: i } : { page: i + 1 }).metadata();
    sizes.push([m.width, m.height]);
  }
  return sizes;
}

const dims = (levels: TiffLevel[]) => levels.map((l) => [l.width, l.height]);

describe('readTiffStructure / pyramidLevels on libvips pyramids', () => {
  it.each(['jpeg-q90', 'jpeg-q75', 'jpeg-grey', 'jpeg-bigtiff', 'lzw'])('%s: levels match sharp, parsed in <= 3 reads', async (name) => {
    const { src, structure, levels } = await levelsOf(name);
    expect(src.calls).toBeLessThanOrEqual(3);
    expect(structure.bigTiff).toBe(name === 'jpeg-bigtiff');
    // libvips writes the pyramid as pages in the main IFD chain.
    expect(structure.images).toHaveLength(levels.length);
    expect(structure.images.every((img) => img.subImages.length === 0)).toBe(true);
    expect(dims(levels)).toEqual(await sharpLevelSizes(fx.path(name), false));
    expect(dims(levels)).toEqual([[2000, 1500], [1000, 750], [500, 375], [250, 187]]);
    expect(levels.map((l) => [l.columns, l.rows])).toEqual([[8, 6], [4, 3], [2, 2], [1, 1]]);
    expect(levels.map((l) => l.newSubfileType)).toEqual([0, 1, 1, 1]);
    for (const l of levels) expect([l.tiled, l.tileWidth, l.tileHeight, l.orientation, l.planarConfiguration]).toEqual([true, 256, 256, 1, 1]);
  });

  it('reads the JPEG parameters libvips writes: RGB at Q>=90, YCbCr below, MinIsBlack for grey', async () => {
    const q90 = (await levelsOf('jpeg-q90')).levels[0];
    const q75 = (await levelsOf('jpeg-q75')).levels[0];
    const grey = (await levelsOf('jpeg-grey')).levels[0];
    expect([q90?.compression, q90?.photometric, q90?.samplesPerPixel, q90?.bitsPerSample]).toEqual([7, 2, 3, [8, 8, 8]]);
    expect([q75?.compression, q75?.photometric, q75?.samplesPerPixel]).toEqual([7, 6, 3]);
    expect([grey?.compression, grey?.photometric, grey?.samplesPerPixel, grey?.bitsPerSample]).toEqual([7, 1, 1, [8]]);
    for (const l of [q90, q75, grey]) {
      expect(l?.jpegTables?.subarray(0, 2)).toEqual(Uint8Array.of(0xff, 0xd8));
      expect(l && isPassThroughJpeg(l)).toBe(true);
    }
  });

  it('BigTIFF: LONG8 tile offsets', async () => {
    const { levels } = await levelsOf('jpeg-bigtiff');
    expect(levels[0]?.offsets.type).toBe(16);
  });

  it('SubIFD layout: levels come from tag 330 and match sharp subifd reads', async () => {
    const { src, structure, levels } = await levelsOf('jpeg-subifd');
    expect(src.calls).toBeLessThanOrEqual(3);
    expect(structure.images).toHaveLength(1);
    expect(structure.images[0]?.subImages).toHaveLength(3);
    expect(dims(levels)).toEqual(await sharpLevelSizes(fx.path('jpeg-subifd'), true));
    expect(dims(levels)).toEqual([[2000, 1500], [1000, 750], [500, 375], [250, 187]]);
  });

  it('LZW and deflate tiles are not pass-through', async () => {
    for (const name of ['lzw', 'deflate']) {
      const { levels } = await levelsOf(name);
      expect(levels[0]?.compression).toBe(name === 'lzw' ? 5 : 8);
      expect(levels.every((l) => !isPassThroughJpeg(l))).toBe(true);
    }
  });

  it('striped TIFF: one level, strips as a one-column grid, strip bytes where expected', async () => {
    const { src, levels } = await levelsOf('striped');
    const [level] = levels;
    if (!level) throw new Error('no level');
    expect(levels).toHaveLength(1);
    expect([level.tiled, level.width, level.tileWidth, level.columns]).toEqual([false, GRID_W, GRID_W, 1]);
    expect(level.rowsPerStrip).toBe(level.tileHeight);
    expect(level.rows).toBe(Math.ceil(GRID_H / level.tileHeight));
    expect(isPassThroughJpeg(level)).toBe(false);
    const raw = colourGrid(GRID_W, GRID_H, 3);
    const row = level.rows - 1;
    const loc = await readTileLocation(src.read, level, 0, row);
    const start = row * level.tileHeight * GRID_W * 3;
    expect(loc.length).toBe(raw.length - start);
    expect(Buffer.from(src.bytes.subarray(loc.offset, loc.offset + loc.length)).equals(raw.subarray(start))).toBe(true);
  });

  it('uncompressed tiles: location of an inner tile holds its raw pixels', async () => {
    const { src, levels } = await levelsOf('tiled-none');
    const [level] = levels;
    if (!level) throw new Error('no level');
    const raw = colourGrid(GRID_W, GRID_H, 3);
    const before = src.calls;
    const loc = await readTileLocation(src.read, level, 3, 2);
    expect(src.calls - before).toBe(1);
    expect(loc.length).toBe(256 * 256 * 3);
    const tile = src.bytes.subarray(loc.offset, loc.offset + loc.length);
    for (let y = 0; y < 256; y += 51) {
      const at = ((2 * 256 + y) * GRID_W + 3 * 256) * 3;
      expect(Buffer.from(tile.subarray(y * 256 * 3, (y + 1) * 256 * 3)).equals(raw.subarray(at, at + 256 * 3))).toBe(true);
    }
  });
});
