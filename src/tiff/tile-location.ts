import { ByteView } from './bytes.ts';
import { TiffError } from './errors.ts';
import type { RangeRead } from './range.ts';
import type { TiffArray, TiffLevel } from './types.ts';

/** Read both table entries in one request when they are at most this far apart. */
const COALESCE_SPAN = 64 * 1024;

export interface TileLocation {
  offset: number;
  length: number;
}

/** Bytes per value of a SHORT, LONG or LONG8 table. */
export const entrySize = (arr: TiffArray): number => (arr.type === 3 ? 2 : arr.type === 4 ? 4 : 8);

/** The index of a tile in its level's tables, or TiffError when the tile is outside the grid. */
export function tileIndex(level: TiffLevel, col: number, row: number): number {
  if (!Number.isInteger(col) || !Number.isInteger(row) || col < 0 || row < 0 || col >= level.columns || row >= level.rows) {
    throw new TiffError('Tile outside the image.');
  }
  return row * level.columns + col;
}

async function readExact(read: RangeRead, offset: number, length: number): Promise<Uint8Array> {
  const bytes = await read(offset, length);
  if (bytes.length < length) throw new TiffError('Unexpected end of TIFF file.');
  return bytes;
}

/**
 * Byte range of one stored tile (or strip, with col 0) of the first sample
 * plane, read from the level's offset and byte-count tables: one small range
 * request, two when the tables are far apart (then sent together).
 */
export async function readTileLocation(read: RangeRead, level: TiffLevel, col: number, row: number): Promise<TileLocation> {
  const index = tileIndex(level, col, row);
  const a = { pos: level.offsets.offset + index * entrySize(level.offsets), size: entrySize(level.offsets) };
  const b = { pos: level.byteCounts.offset + index * entrySize(level.byteCounts), size: entrySize(level.byteCounts) };
  const start = Math.min(a.pos, b.pos);
  const end = Math.max(a.pos + a.size, b.pos + b.size);
  if (end > level.fileSize) throw new TiffError('TIFF offset past end of file.');
  let offsetBytes: Uint8Array;
  let countBytes: Uint8Array;
  if (end - start <= COALESCE_SPAN) {
    const window = await readExact(read, start, end - start);
    offsetBytes = window.subarray(a.pos - start);
    countBytes = window.subarray(b.pos - start);
  } else {
    [offsetBytes, countBytes] = await Promise.all([readExact(read, a.pos, a.size), readExact(read, b.pos, b.size)]);
  }
  const offset = new ByteView(offsetBytes, level.littleEndian).uint(0, a.size);
  const length = new ByteView(countBytes, level.littleEndian).uint(0, b.size);
  return checkTileLocation(level, offset, length);
}

/** Grid rows whose entries are read at once. */
const PARALLEL_ROWS = 8;

/**
 * Byte ranges of the tiles of a `cols`×`rows` grid from (`col0`, `row0`), row by row, without
 * the level's whole tables: a row's entries sit together in each table, so two small reads a
 * row, eight rows at a time.
 */
export async function readTileLocations(read: RangeRead, level: TiffLevel, grid: { col0: number; row0: number; cols: number; rows: number }): Promise<TileLocation[]> {
  tileIndex(level, grid.col0 + grid.cols - 1, grid.row0 + grid.rows - 1);
  const out = new Array<TileLocation>(grid.cols * grid.rows);
  const entries = async (arr: TiffArray, first: number) => {
    const size = entrySize(arr);
    const pos = arr.offset + first * size;
    if (pos + grid.cols * size > level.fileSize) throw new TiffError('TIFF offset past end of file.');
    const view = new ByteView(await readExact(read, pos, grid.cols * size), level.littleEndian);
    return (k: number) => view.uint(k * size, size);
  };
  const readRow = async (r: number) => {
    const first = tileIndex(level, grid.col0, grid.row0 + r);
    const [offset, length] = await Promise.all([entries(level.offsets, first), entries(level.byteCounts, first)]);
    for (let k = 0; k < grid.cols; k++) out[r * grid.cols + k] = checkTileLocation(level, offset(k), length(k));
  };
  for (let r = 0; r < grid.rows; r += PARALLEL_ROWS) {
    await Promise.all(Array.from({ length: Math.min(PARALLEL_ROWS, grid.rows - r) }, (_, i) => readRow(r + i)));
  }
  return out;
}

/** Rejects tile locations a hostile file could use to make us read or allocate without bound. */
export function checkTileLocation(level: TiffLevel, offset: number, length: number): TileLocation {
  // Compressed tiles never approach 4x their raw size; a bigger claim is hostile.
  const rawSize = level.tileWidth * level.tileHeight * level.samplesPerPixel * Math.ceil(Math.max(...level.bitsPerSample) / 8);
  const maxLength = rawSize * 4 + 64 * 1024;
  if (length === 0) throw new TiffError('TIFF tile is missing.');
  if (length > maxLength) throw new TiffError('TIFF tile too large.');
  if (offset + length > level.fileSize) throw new TiffError('TIFF tile past end of file.');
  return { offset, length };
}
