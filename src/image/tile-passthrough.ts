import { type EdgeTileCache, edgeTileKey } from './edge-tile-cache.ts';
import type { SourceGeometry } from './geometry.ts';
import type { RenderPlan } from '../iiif/types.ts';
import type { TileBuffers } from './tile-buffers.ts';
import {
  type RangeRead,
  type TiffLevel,
  type TileLocation,
  TiffError,
  extendJpeg,
  frameIs,
  lastLineJpeg,
  isPassThroughJpeg,
  MAX_TILE_ICC_BYTES,
  readIccProfile,
  readTileLocation,
  readTileTables,
  rewriteJpegFrameSize,
  spliceHeadroom,
  spliceInPlace,
  spliceJpegTile,
  spliceOptionsFor,
  tileFromTables,
  withIccProfile,
} from '../tiff/index.ts';

export type TileLocator = (level: TiffLevel, col: number, row: number) => Promise<TileLocation>;

/**
 * What is read once per level and kept with the geometry (in the geometry cache, so under its key
 * and eviction). A failed read (an aborted request, a storage fault) is retried by the next request.
 */
function perLevel<T>(cache: Map<number, Promise<T>>, level: number, load: () => Promise<T>): Promise<T> {
  let value = cache.get(level);
  if (!value) {
    value = load();
    cache.set(level, value);
    value.catch(() => cache.delete(level));
  }
  return value;
}

/**
 * Finds stored tiles through each level's offset tables, read whole on first use and
 * kept with the geometry, so a viewer's later tiles cost one range read each.
 */
export function tileLocator(read: RangeRead, geometry: SourceGeometry): TileLocator {
  return async (level, col, row) => {
    // Tables too large to keep are not read whole: the level is still checked once (its JPEG tables).
    const loaded = await perLevel((geometry.tileTables ??= new Map()), level.level, () => readTileTables(read, level, !geometry.tilesOneByOne));
    return loaded ? tileFromTables(loaded, level, col, row) : readTileLocation(read, level, col, row);
  };
}

/** A level's ICC profile; `maxBytes` past MAX_TILE_ICC_BYTES for a remote region's subset TIFF. */
export type ProfileReader = (level: TiffLevel, maxBytes?: number) => Promise<Uint8Array | undefined>;

/**
 * ICC profiles, read on first use and kept with the geometry like the tile tables, by file offset:
 * levels that share the main image's profile read it once. One over MAX_TILE_ICC_BYTES is read
 * for each use instead of held.
 */
export function iccProfileReader(read: RangeRead, geometry: SourceGeometry): ProfileReader {
  return (level, maxBytes = MAX_TILE_ICC_BYTES) => {
    const at = level.iccProfile;
    if (!at) return Promise.resolve(undefined);
    if (at.length > MAX_TILE_ICC_BYTES) return readIccProfile(read, level, maxBytes);
    return perLevel((geometry.iccProfiles ??= new Map()), at.offset, () => readIccProfile(read, level));
  };
}

export interface AlignedTile {
  level: TiffLevel;
  col: number;
  row: number;
  /** Exact IIIF size; smaller than the stored tile at the right and bottom edges, or by a rounding pixel. */
  width: number;
  height: number;
  /** The cell's pixels of the level: one fewer than the size where a rounding pixel is added. */
  cellWidth: number;
  cellHeight: number;
  /**
   * The one-pixel column (row) just past a level that fills its tiles exactly, which viewers that
   * round level sizes up ask for: `col` (`row`) is then the last stored tile, whose last column
   * (row) answers it.
   */
  pastX?: boolean;
  pastY?: boolean;
}

/**
 * The stored tile a request maps onto, if any: a pyramid level's tile grid cell at its own
 * resolution, unrotated, in colour, as JPEG, stored as a JPEG that browsers decode as is.
 * Level sizes are rounded (a viewer asks 188 rows where 187 are stored, or a region that maps to
 * 256.14..512.27 level rows), so the region may sit less than a pixel off the cell and the size
 * may be one pixel short of it (the tile is then cropped losslessly) or, at a level's last
 * column or row, one pixel over it (the stored tile's padding then repeats the edge: extendJpeg).
 * Everything else goes to the renderer.
 */
export function alignedTile(plan: RenderPlan, geometry: SourceGeometry): AlignedTile | undefined {
  if (plan.format !== 'jpg' || plan.rotation !== 0 || plan.mirror) return undefined;
  if (plan.quality !== 'default' && plan.quality !== 'color') return undefined;
  const tile = tileAt(plan, geometry, plan.level);
  // Only a line: along its length the cell's bounds and size pin the level; a single pixel has
  // no such axis, and a level's pixel near it would do (an error of 29 of 255 in review).
  if (tile || (plan.width === 1) === (plan.height === 1)) return tile;
  // A line one pixel wide, past a level or its last stored column or row (GDAL halves level sizes
  // rounding up: 4097 px give a 257-px level): the planner picks a larger level for so thin a
  // region, but the viewer means the level whose tiles the other axis matches.
  for (let i = 0; i < (geometry.tiffLevels?.length ?? 0); i++) {
    const line = i === plan.level ? undefined : tileAt(plan, geometry, i);
    if (line) return line;
  }
  return undefined;
}

function tileAt(plan: RenderPlan, geometry: SourceGeometry, index: number): AlignedTile | undefined {
  const level = geometry.tiffLevels?.[index];
  if (!level || !isPassThroughJpeg(level)) return undefined;
  const x = cellAlong(plan.region.x, plan.region.w, level.width / geometry.width, level.tileWidth, level.width, plan.width);
  const y = cellAlong(plan.region.y, plan.region.h, level.height / geometry.height, level.tileHeight, level.height, plan.height);
  if (x === undefined || y === undefined) return undefined;
  // Past the edge along one axis, the other is kept from the tile's start, never extended.
  if ((x.past && plan.height > y.cell) || (y.past && plan.width > x.cell)) return undefined;
  return {
    level,
    col: x.index,
    row: y.index,
    width: plan.width,
    height: plan.height,
    cellWidth: x.cell,
    cellHeight: y.cell,
    ...(x.past && { pastX: true }),
    ...(y.past && { pastY: true }),
  };
}

/**
 * The tile index along one axis whose cell the region covers within rounding, with `size` 0 or
 * 1 px short of it, or 1 px over it where the stored tile has padding there (a level's last one).
 */
function cellAlong(start: number, length: number, scale: number, tile: number, levelSize: number, size: number): { index: number; cell: number; past?: true } | undefined {
  const from = start * scale;
  const to = (start + length) * scale;
  const index = Math.round(from / tile);
  const cellStart = index * tile;
  const cellEnd = Math.min(levelSize, cellStart + tile);
  // Less than a level pixel just past a level of whole tiles, one pixel out: its last stored one.
  if (cellStart === levelSize && levelSize % tile === 0 && index > 0 && size === 1 && Math.abs(from - cellStart) < 1 && to - from < 1) {
    return { index: index - 1, cell: tile, past: true };
  }
  if (cellStart >= levelSize || Math.abs(from - cellStart) >= 1 || Math.abs(to - cellEnd) >= 1) return undefined;
  const cell = cellEnd - cellStart;
  return size >= cell - 1 && size <= Math.min(tile, cell + 1) ? { index, cell } : undefined;
}

/** Where a cropped tile's bytes are kept: the cache and the source's identity in its keys. */
export interface CroppedTileStore {
  cache: EdgeTileCache;
  identifier: string;
  etag: string;
}

/**
 * The stored tile's bytes as a standalone JPEG: one range read once the tables are known; no
 * decode, no encode (but for the edge blocks of an added rounding pixel). A cropped tile (edges,
 * rounding) comes from `store` when it has it. Undefined when such a tile cannot be rewritten
 * (a progressive or restart-interval JPEG): the renderer makes it then.
 */
export async function readAlignedTile(
  read: RangeRead,
  locate: TileLocator,
  tile: AlignedTile,
  store?: CroppedTileStore,
  profileOf?: ProfileReader,
): Promise<Uint8Array | undefined> {
  const { level } = tile;
  const { extend, cropped } = shapeOf(tile);
  // A cell past the edge is keyed by its own index, which no stored tile has.
  const [kc, kr] = [tile.col + (tile.pastX ? 1 : 0), tile.row + (tile.pastY ? 1 : 0)];
  const key = cropped && store && edgeTileKey(store.identifier, store.etag, level.level, kc, kr, tile.width, tile.height);
  const kept = key ? store.cache.get(key) : undefined;
  if (kept) return kept;
  const location = await locate(level, tile.col, tile.row);
  const profile = level.iccProfile && (await profileOf?.(level));
  const bytes = await read(location.offset, location.length);
  if (bytes.length !== location.length) throw new TiffError('Unexpected end of TIFF file.');
  const jpeg = spliceJpegTile(level.jpegTables, bytes, spliceOptionsFor(level));
  // Sent or cut as stored only when the tile is what the grid says: a browser would show any other
  // size, and not decode 12-bit or arithmetic coding at all.
  if (!frameIs(jpeg, level.tileWidth, level.tileHeight)) return undefined;
  // The level's colour profile goes with it: without it a browser shows the stored values as sRGB.
  if (!cropped) return withIccProfile(jpeg, profile);
  const reshapedTile = reshaped(jpeg, tile, extend);
  const out = reshapedTile && withIccProfile(reshapedTile, profile);
  if (key && out) store.cache.set(key, out);
  return out;
}

/** Whether the stored tile is sent as it is, or cropped or extended first. */
function shapeOf(tile: AlignedTile): { extend: boolean; cropped: boolean } {
  const { level } = tile;
  // A rounding pixel can make the size a whole stored tile, padding included: that is extended too.
  const past = tile.pastX === true || tile.pastY === true;
  const extend = !past && (tile.width > tile.cellWidth || tile.height > tile.cellHeight);
  return { extend, cropped: extend || tile.width !== level.tileWidth || tile.height !== level.tileHeight };
}

/** Reads a byte range into the front of a buffer: the count read. */
export type RangeInto = (offset: number, length: number, into: Uint8Array) => Promise<number>;

/** A tile's JPEG in a buffer of `TileBuffers`: `release` hands it back once the JPEG has been sent. */
export interface PooledTile {
  jpeg: Uint8Array;
  release?: () => void;
}

/**
 * `readAlignedTile` for a tile sent as stored (no crop, no colour profile), read into a buffer of
 * `buffers` behind room for the JPEG tables, which are then written in front of it: no fresh
 * array and no copy of the tile. Undefined for any other tile, or one too large for the buffers,
 * or one the renderer must make: `readAlignedTile` answers those.
 */
export async function readWholeTileInto(readInto: RangeInto, locate: TileLocator, tile: AlignedTile, buffers: TileBuffers): Promise<PooledTile | undefined> {
  const { level } = tile;
  if (shapeOf(tile).cropped || level.iccProfile) return undefined;
  const location = await locate(level, tile.col, tile.row);
  const headroom = spliceHeadroom(level.jpegTables);
  const buffer = buffers.take(headroom + location.length);
  if (!buffer) return undefined;
  let kept = false;
  try {
    const bytesRead = await readInto(location.offset, location.length, buffer.subarray(headroom));
    if (bytesRead !== location.length) throw new TiffError('Unexpected end of TIFF file.');
    const options = spliceOptionsFor(level);
    const inPlace = spliceInPlace(level.jpegTables, buffer, options);
    // An RGB tile without its APP14 grows by one: joined by copying, as readAlignedTile does.
    const jpeg = inPlace ?? spliceJpegTile(level.jpegTables, buffer.subarray(headroom), options);
    if (!frameIs(jpeg, level.tileWidth, level.tileHeight)) return undefined;
    if (!inPlace) return { jpeg };
    kept = true;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      buffers.give(buffer);
    };
    return { jpeg, release };
  } finally {
    if (!kept) buffers.give(buffer);
  }
}

/** Cropped or extended without decoding; undefined for a coding the rewrite does not handle (the renderer decodes it). */
function reshaped(jpeg: Uint8Array, tile: AlignedTile, extend: boolean): Uint8Array | undefined {
  try {
    if (tile.pastX || tile.pastY) return lastLineJpeg(jpeg, tile.width, tile.height, tile.pastX === true, tile.pastY === true);
    return extend ? extendJpeg(jpeg, tile.width, tile.height, tile.cellWidth, tile.cellHeight) : rewriteJpegFrameSize(jpeg, tile.width, tile.height);
  } catch (e) {
    if (e instanceof TiffError && e.message.startsWith('Unsupported JPEG')) return undefined;
    throw e;
  }
}
