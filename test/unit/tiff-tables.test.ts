import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TiffError,
  pyramidLevels,
  readTiffStructure,
  readTileLocation,
  readTileTables,
  tileFromTables,
} from '../../src/tiff/index.ts';
import { type Fixtures, countingSource, makeFixtures } from '../helpers/tiff-fixtures.ts';

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeFixtures();
});
afterAll(() => fx.cleanup());

describe('whole tile tables', () => {
  it('give every tile the same location as reading its table entries, in two reads per level', async () => {
    const bytes = new Uint8Array(await readFile(fx.path('jpeg-bigtiff')));
    const src = countingSource(bytes);
    const levels = pyramidLevels(await readTiffStructure(src.read, bytes.length));
    for (const level of levels) {
      const before = src.calls;
      const tables = await readTileTables(src.read, level);
      expect(src.calls - before).toBe(2);
      expect(tables).toBeDefined();
      for (let row = 0; row < level.rows; row++)
        for (let col = 0; col < level.columns; col++)
          expect(tileFromTables(tables!, level, col, row)).toEqual(await readTileLocation(src.read, level, col, row));
      expect(() => tileFromTables(tables!, level, level.columns, 0)).toThrow(TiffError);
    }
  });

  it('refuses tables that point past the end of the file', async () => {
    const bytes = new Uint8Array(await readFile(fx.path('jpeg-bigtiff')));
    const src = countingSource(bytes);
    const [level] = pyramidLevels(await readTiffStructure(src.read, bytes.length));
    await expect(readTileTables(src.read, { ...level!, fileSize: level!.offsets.offset + 4 })).rejects.toThrow(TiffError);
  });
});
