import { ByteView } from './bytes.ts';
import { TiffError } from './errors.ts';
import { validateJpegTables } from './jpeg-tables.ts';
import type { RangeRead } from './range.ts';
import { type TileLocation, checkTileLocation, entrySize, tileIndex } from './tile-location.ts';
import type { TiffArray, TiffLevel } from './types.ts';

/** Tables larger than this (a level of ~500k tiles) are read entry by entry instead. */
export const MAX_TABLE_ENTRIES = 512 * 1024;

/** A level's whole TileOffsets and TileByteCounts, so each later tile costs one range read. */
export interface TileTables {
  offsets: Float64Array;
  counts: Float64Array;
}

async function readArray(read: RangeRead, level: TiffLevel, arr: TiffArray): Promise<Float64Array> {
  const size = entrySize(arr);
  const bytes = await read(arr.offset, arr.count * size);
  if (bytes.length < arr.count * size) throw new TiffError('Unexpected end of TIFF file.');
  const view = new ByteView(bytes, level.littleEndian);
  const values = new Float64Array(arr.count);
  for (let i = 0; i < arr.count; i++) values[i] = view.uint(i * size, size);
  return values;
}

/** Two range reads (in parallel) for the whole tables of one level; undefined when they are too big. */
export async function readTileTables(read: RangeRead, level: TiffLevel, whole = true): Promise<TileTables | undefined> {
  // Once per level, before any of its tiles is used, by the pass-through and the renderer alike.
  if (level.jpegTables && level.jpegTables.length > 0) validateJpegTables(level.jpegTables);
  const count = level.columns * level.rows;
  if (!whole || count > MAX_TABLE_ENTRIES || level.offsets.count < count || level.byteCounts.count < count) return undefined;
  for (const arr of [level.offsets, level.byteCounts]) {
    if (arr.offset + count * entrySize(arr) > level.fileSize) throw new TiffError('TIFF offset past end of file.');
  }
  // Only the first sample plane: planar files store the other planes' tiles after it.
  const [offsets, counts] = await Promise.all([
    readArray(read, level, { ...level.offsets, count }),
    readArray(read, level, { ...level.byteCounts, count }),
  ]);
  return { offsets, counts };
}

export function tileFromTables(tables: TileTables, level: TiffLevel, col: number, row: number): TileLocation {
  const index = tileIndex(level, col, row);
  return checkTileLocation(level, tables.offsets[index] ?? 0, tables.counts[index] ?? 0);
}
