import { parseImageRequest } from '../iiif/request.ts';
import { planImage } from '../iiif/plan.ts';
import type { TileInfo } from '../iiif/tiles.ts';
import type { Dimensions, ImageParams, Limits } from '../iiif/types.ts';
import type { SourceGeometry } from './geometry.ts';
import { alignedTile } from './tile-passthrough.ts';

/**
 * Whether a deployment without a renderer answers this request: only when a stored JPEG tile
 * does (the same test the image route makes), so info.json never offers what would be a 501.
 */
function answeredByStoredTile(geometry: SourceGeometry, limits: Limits, params: Omit<ImageParams, 'rotation' | 'quality' | 'format'>): boolean {
  try {
    const plan = planImage(parseImageRequest(3, { ...params, rotation: '0', quality: 'default', format: 'jpg' }), geometry, limits);
    return alignedTile(plan, geometry) !== undefined;
  } catch {
    return false;
  }
}

/** The `sizes` a stored tile answers whole: levels that are one tile. */
export function storedSizes(geometry: SourceGeometry, sizes: Dimensions[], limits: Limits): Dimensions[] {
  return sizes.filter((s) => answeredByStoredTile(geometry, limits, { region: 'full', size: `${s.width},${s.height}` }));
}

/**
 * The `tiles` scale factors whose tiles are stored ones. A level's tiles share its coding, so
 * its first tile stands for all of them (edge tiles are cut from theirs losslessly).
 */
export function storedTiles(geometry: SourceGeometry, tiles: TileInfo[], limits: Limits): TileInfo[] {
  return tiles
    .map((t) => ({
      ...t,
      scaleFactors: t.scaleFactors.filter((f) => {
        const [w, h] = [Math.min(t.width * f, geometry.width), Math.min(t.height * f, geometry.height)];
        return answeredByStoredTile(geometry, limits, { region: `0,0,${w},${h}`, size: `${Math.ceil(w / f)},` });
      }),
    }))
    .filter((t) => t.scaleFactors.length > 0);
}
