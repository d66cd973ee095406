import { httpError } from '../errors.ts';
import type { Rect } from '../iiif/types.ts';
import type { RenderInput } from '../renderers/renderer.ts';
import {
  type RangeRead,
  type TiffLevel,
  type TileGrid,
  type TileLocation,
  TiffError,
  buildTileSubset,
  coveringGrid,
  readTileLocations,
  tileFromTables,
} from '../tiff/index.ts';
import { iccProfileReader, tileLocator } from './tile-passthrough.ts';

/** Tiles read at once for one request. */
const PARALLEL_READS = 8;
/** A larger profile (LUT profiles reach a few MB) is left out of the subset: its colours are then as stored. */
export const MAX_SUBSET_ICC_BYTES = 4 * 1024 * 1024;

/**
 * Throws the tiles path's 422 when a tile covering `region` is stored with no bytes (a sparse
 * tile, as GDAL writes them): libvips fails on one without words, which was a 500.
 */
export async function assertCoveringTilesStored(input: RenderInput, level: TiffLevel, region: Rect): Promise<void> {
  await coveringLocations((offset, length) => input.source.read(input.identifier, { offset, length }), input, level, coveringGrid(level, region));
}

/**
 * Where every covering tile is stored: from the level's tile tables, read once and kept with the
 * geometry, or, for a level whose tables are too large to keep, two reads a row of the grid.
 * Either way the level is checked first (its JPEG tables), and each location is checked.
 */
async function coveringLocations(read: RangeRead, input: RenderInput, level: TiffLevel, grid: TileGrid): Promise<TileLocation[]> {
  await tileLocator(read, input.geometry)(level, grid.col0, grid.row0);
  const tables = await input.geometry.tileTables?.get(level.level);
  if (!tables) return readTileLocations(read, level, grid);
  const locations: TileLocation[] = [];
  for (let row = grid.row0; row < grid.row0 + grid.rows; row++) {
    for (let col = grid.col0; col < grid.col0 + grid.cols; col++) locations.push(tileFromTables(tables, level, col, row));
  }
  return locations;
}

export interface CoveringTiff {
  /** A TIFF of just the covering tiles. */
  bytes: Uint8Array;
  width: number;
  height: number;
  /** The requested region, in the subset's pixels. */
  region: Rect;
}

/**
 * Reads only the stored tiles (or strips) covering `region` of a level (range reads through
 * the level's tile tables) and packs them into a TIFF of their own, so that a remote pyramid is
 * never downloaded whole for a render. The tiles' stored bytes are held in memory, so their
 * total is checked against the decode budget before any is read.
 */
export async function readCoveringTiff(input: RenderInput, level: TiffLevel, region: Rect, maxBytes: number): Promise<CoveringTiff> {
  const grid = coveringGrid(level, region);
  if (!level.tiled) {
    // A strip spans the whole width and is decoded whole.
    const decoded = level.width * level.tileHeight * level.samplesPerPixel * Math.ceil(Math.max(...level.bitsPerSample) / 8);
    if (decoded > maxBytes) {
      throw httpError(400, 'over_limit', `decoding a strip of the source needs ${decoded} bytes (limit IIIF_MAX_DECODE_BYTES ${maxBytes})`);
    }
  }
  const read = (offset: number, length: number) => input.source.read(input.identifier, { offset, length }, input.signal);
  // The level's tile tables are read once for every request: no one client's hang-up may cancel them.
  const shared = (offset: number, length: number) => input.source.read(input.identifier, { offset, length });
  const locations = await coveringLocations(shared, input, level, grid);
  const total = locations.reduce((sum, l) => sum + l.length, 0);
  if (total > maxBytes) {
    throw httpError(400, 'over_limit', `the region needs ${total} bytes of stored tiles (limit IIIF_MAX_DECODE_BYTES ${maxBytes})`);
  }
  const tiles: Uint8Array[] = new Array<Uint8Array>(locations.length);
  for (let i = 0; i < locations.length; i += PARALLEL_READS) {
    await Promise.all(
      locations.slice(i, i + PARALLEL_READS).map(async (loc, k) => {
        const bytes = await read(loc.offset, loc.length);
        if (bytes.length !== loc.length) throw new TiffError('Unexpected end of TIFF file.');
        tiles[i + k] = bytes;
      }),
    );
  }
  // Kept with the geometry like the tile tables, so a region costs no read for it after the first.
  const fits = (level.iccProfile?.length ?? 0) <= MAX_SUBSET_ICC_BYTES;
  const profile = fits ? await iccProfileReader(shared, input.geometry)(level, MAX_SUBSET_ICC_BYTES) : undefined;
  const { bytes, width, height } = buildTileSubset(level, grid, tiles, profile);
  const x = region.x - grid.col0 * level.tileWidth;
  const y = region.y - grid.row0 * level.tileHeight;
  return { bytes, width, height, region: { x, y, w: region.w, h: region.h } };
}
