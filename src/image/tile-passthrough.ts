import type { SourceGeometry } from './geometry.ts';
import type { RenderPlan } from '../iiif/types.ts';
import {
  type RangeRead,
  type TiffLevel,
  type TileLocation,
  TiffError,
  isPassThroughJpeg,
  readTileLocation,
  readTileTables,
  rewriteJpegFrameSize,
  spliceJpegTile,
  spliceOptionsFor,
  tileFromTables,
} from '../tiff/index.ts';

export type TileLocator = (level: TiffLevel, col: number, row: number) => Promise<TileLocation>;

/**
 * Finds stored tiles through each level's offset tables, read whole on first use and
 * kept with the geometry, so a viewer's later tiles cost one range read each.
 */
export function tileLocator(read: RangeRead, geometry: SourceGeometry): TileLocator {
  return async (level, col, row) => {
    const cache = (geometry.tileTables ??= new Map());
    let tables = cache.get(level.level);
    if (!tables) {
      tables = readTileTables(read, level);
      cache.set(level.level, tables);
      // A failed read (an aborted request, a storage fault) is retried by the next request.
      tables.catch(() => cache.delete(level.level));
    }
    const loaded = await tables;
    return loaded ? tileFromTables(loaded, level, col, row) : readTileLocation(read, level, col, row);
  };
}

export interface AlignedTile {
  level: TiffLevel;
  col: number;
  row: number;
  /** Exact IIIF size; smaller than the stored tile at the right and bottom edges. */
  width: number;
  height: number;
}

/**
 * The stored tile a request maps onto exactly, if any: a pyramid level's tile
 * grid cell at its own resolution, unrotated, in colour, as JPEG, stored as a
 * JPEG that browsers decode as is. Everything else goes to the renderer.
 */
export function alignedTile(plan: RenderPlan, geometry: SourceGeometry): AlignedTile | undefined {
  const level = geometry.tiffLevels?.[plan.level];
  if (!level || !isPassThroughJpeg(level)) return undefined;
  if (plan.format !== 'jpg' || plan.rotation !== 0 || plan.mirror) return undefined;
  if (plan.quality !== 'default' && plan.quality !== 'color') return undefined;
  const r = plan.levelRegion;
  if (plan.width !== r.w || plan.height !== r.h) return undefined;
  if (r.x % level.tileWidth !== 0 || r.y % level.tileHeight !== 0) return undefined;
  if (r.w !== Math.min(level.tileWidth, level.width - r.x)) return undefined;
  if (r.h !== Math.min(level.tileHeight, level.height - r.y)) return undefined;
  return { level, col: r.x / level.tileWidth, row: r.y / level.tileHeight, width: r.w, height: r.h };
}

/** The stored tile's bytes as a standalone JPEG: one range read once the tables are known; no decode, no encode. */
export async function readAlignedTile(read: RangeRead, locate: TileLocator, tile: AlignedTile): Promise<Uint8Array> {
  const { level } = tile;
  const location = await locate(level, tile.col, tile.row);
  const bytes = await read(location.offset, location.length);
  if (bytes.length !== location.length) throw new TiffError('Unexpected end of TIFF file.');
  const jpeg = spliceJpegTile(level.jpegTables, bytes, spliceOptionsFor(level));
  const padded = tile.width !== level.tileWidth || tile.height !== level.tileHeight;
  return padded ? rewriteJpegFrameSize(jpeg, tile.width, tile.height) : jpeg;
}
