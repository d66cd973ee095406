/** 11.11 (b): JPEGTables are checked as a decoder reads them, once per level. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { TiffError, pyramidLevels, readTiffStructure, readTileTables } from '../../src/tiff/index.ts';
import { validateJpegTables } from '../../src/tiff/jpeg-tables.ts';
import { colourGrid, countingSource } from '../helpers/tiff-fixtures.ts';

async function jpegLevel() {
  const tif = await sharp(colourGrid(512, 512, 3), { raw: { width: 512, height: 512, channels: 3 } })
    .tiff({ compression: 'jpeg', tile: true, tileWidth: 256, tileHeight: 256 })
    .toBuffer();
  const src = countingSource(tif);
  const [level] = pyramidLevels(await readTiffStructure(src.read, tif.length));
  if (!level?.jpegTables) throw new Error('no JPEGTables');
  return { level, src };
}

/** Copy of the tables with `edit` applied at an offset from the first marker `marker`. */
function edited(tables: Uint8Array, marker: number, offset: number, value: number): Uint8Array {
  const out = Uint8Array.from(tables);
  for (let i = 2; i < out.length - 1; i++) {
    if (out[i] === 0xff && out[i + 1] === marker) {
      out[i + offset] = value;
      return out;
    }
  }
  throw new Error('marker not found');
}

describe('11.11 JPEGTables validation', () => {
  it('accepts the tables libtiff writes', async () => {
    const { level } = await jpegLevel();
    expect(() => validateJpegTables(level.jpegTables as Uint8Array)).not.toThrow();
  });

  it.each([
    ['a DHT with more one-bit codes than exist', 0xc4, 5, 3],
    ['a DHT of class 2', 0xc4, 4, 0x20],
    ['a DQT for table 5', 0xdb, 4, 0x05],
    ['a DQT whose precision byte claims 16-bit entries it does not have', 0xdb, 4, 0x10],
  ])('refuses %s', async (_name, marker, offset, value) => {
    const { level } = await jpegLevel();
    expect(() => validateJpegTables(edited(level.jpegTables as Uint8Array, marker, offset, value))).toThrow(TiffError);
  });

  it('is checked when a level’s tile tables are read, so no tile of it is served', async () => {
    const { level, src } = await jpegLevel();
    const bad = { ...level, jpegTables: edited(level.jpegTables as Uint8Array, 0xc4, 5, 3) };
    await expect(readTileTables(src.read, bad)).rejects.toMatchObject({ status: 422, code: 'unsupported_source' });
    await expect(readTileTables(src.read, level)).resolves.toBeDefined();
  });
});
