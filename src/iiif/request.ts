import { parseFormat, parseQuality } from './quality-format.ts';
import { parseRegion } from './region.ts';
import { parseRotation } from './rotation.ts';
import { parseSize } from './size.ts';
import type { IiifVersion, ImageParams, ImageRequest } from './types.ts';

/**
 * Validate the image parameters in URI order, so the first bad segment is the one reported.
 * Format is checked last: a jp2/pdf request with a bad region is a 400, not a 501.
 */
export function parseImageRequest(version: IiifVersion, params: ImageParams): ImageRequest {
  const region = parseRegion(params.region);
  const size = parseSize(version, params.size);
  const rotation = parseRotation(params.rotation);
  const quality = parseQuality(params.quality);
  const format = parseFormat(params.format);
  return { version, region, size, rotation, quality, format };
}
