import { DEFAULT_TILE_SIZE } from './constants.ts';
import { exceededLimit } from './limits.ts';
import type { Dimensions, ImageGeometry, Limits } from './types.ts';

export interface TileInfo {
  width: number;
  height: number;
  scaleFactors: number[];
}

const isPyramid = (g: ImageGeometry): g is ImageGeometry & { levels: Dimensions[] } =>
  (g.levels?.length ?? 0) > 1;

/** Power-of-two factors up to the first at which the whole image fits in one tile. */
function flatScaleFactors(g: ImageGeometry, tile: Dimensions): number[] {
  const factors = [1];
  for (let s = 1; Math.ceil(g.width / s) > tile.width || Math.ceil(g.height / s) > tile.height; ) {
    s *= 2;
    factors.push(s);
  }
  return factors;
}

/**
 * info.json `tiles`. A tiled pyramid advertises its native tile size and the factors its levels
 * really have (round(full / level) along the longer side, which need not be powers of two; 2^i
 * for a JPEG 2000 reduction, whatever its rounded size); anything else is cut on the
 * fly into `defaultTileSize` tiles at power-of-two factors.
 */
export function deriveTiles(geometry: ImageGeometry, defaultTileSize: number, limits: Limits = {}): TileInfo[] {
  let tile = geometry.tile ?? { width: defaultTileSize, height: defaultTileSize };
  // Every advertised tile must be servable (3.0 §5.6): a stored tile over the output limits is
  // offered in halves, which stay aligned with it (each is then cut from it, not passed through).
  while (exceededLimit(tile, limits) !== undefined && (tile.width > 1 || tile.height > 1)) {
    tile = { width: Math.ceil(tile.width / 2), height: Math.ceil(tile.height / 2) };
  }
  const scaleFactors = isPyramid(geometry)
    ? [...new Set(geometry.levels.map((l, i) => (geometry.reducedGrid ? 2 ** i : levelFactor(geometry, l))))].sort((a, b) => a - b)
    : flatScaleFactors(geometry, tile);
  return [{ width: tile.width, height: tile.height, scaleFactors }];
}

/** A level's scale factor, read along the image's longer side, where rounding a level's size moves it least. */
const levelFactor = (g: Dimensions, l: Dimensions): number =>
  Math.round(g.width >= g.height ? g.width / l.width : g.height / l.height);

/** Repeated halving (rounding up), from the full size down to the first size that fits a tile. */
function halvings(g: ImageGeometry, tileSize: number): Dimensions[] {
  const out: Dimensions[] = [{ width: g.width, height: g.height }];
  let { width, height } = g;
  while ((width > tileSize || height > tileSize) && (width > 1 || height > 1)) {
    width = Math.ceil(width / 2);
    height = Math.ceil(height / 2);
    out.push({ width, height });
  }
  return out;
}

/**
 * info.json `sizes`, ascending: the real levels of a pyramid, else halvings of a flat image. Only
 * sizes within the limits are listed, since each must be servable as `full/w,h/0/default.jpg`.
 */
export function deriveSizes(geometry: ImageGeometry, limits: Limits, tileSize = DEFAULT_TILE_SIZE): Dimensions[] {
  const all = isPyramid(geometry) ? geometry.levels.map((l) => ({ width: l.width, height: l.height })) : halvings(geometry, tileSize);
  // By both sides: all the sizes of an image 1 px wide have the same width.
  return all.filter((s) => exceededLimit(s, limits) === undefined).sort((a, b) => a.width - b.width || a.height - b.height);
}
