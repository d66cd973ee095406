import type { SourceGeometry } from './geometry.ts';
import type { RenderPlan } from './iiif/types.ts';
import {
  type RangeRead,
  type TiffLevel,
  TiffError,
  isPassThroughJpeg,
  readTileLocation,
  rewriteJpegFrameSize,
  spliceJpegTile,
  spliceOptionsFor,
} from './tiff/index.ts';

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

/** Two small range reads (tile table entry, tile bytes); no decode, no encode. */
export async function readAlignedTile(read: RangeRead, tile: AlignedTile): Promise<Uint8Array> {
  const { level } = tile;
  const location = await readTileLocation(read, level, tile.col, tile.row);
  const bytes = await read(location.offset, location.length);
  if (bytes.length !== location.length) throw new TiffError('Unexpected end of TIFF file.');
  const jpeg = spliceJpegTile(level.jpegTables, bytes, spliceOptionsFor(level));
  const padded = tile.width !== level.tileWidth || tile.height !== level.tileHeight;
  return padded ? rewriteJpegFrameSize(jpeg, tile.width, tile.height) : jpeg;
}
