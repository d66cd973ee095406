import { maxSize } from './limits.ts';
import type { Dimensions, ImageRequest, Limits, Rect } from './types.ts';

export interface CanonicalInput {
  req: ImageRequest;
  image: Dimensions;
  /** Clipped region in full-resolution pixels. */
  region: Rect;
  /** Planned size of the region, before rotation. */
  size: Dimensions;
  limits: Limits;
  /** Normalised to [0, 360). */
  rotation: number;
}

const same = (a: Dimensions, b: Dimensions): boolean => a.width === b.width && a.height === b.height;

/** Shortest plain decimal (3.0 §4.7): no exponent, no trailing zeros, leading 0 below 1. */
export function formatDecimal(n: number): string {
  const s = String(n);
  return s.includes('e') ? n.toFixed(20).replace(/\.?0+$/, '') : s;
}

function canonicalRegion({ image, region }: CanonicalInput): string {
  const whole = region.x === 0 && region.y === 0 && region.w === image.width && region.h === image.height;
  return whole ? 'full' : `${region.x},${region.y},${region.w},${region.h}`;
}

/** 3.0 §4.8: `max` / `^max` when they give this size, else `w,h` (`^w,h` when upscaled). */
function canonicalSize3({ region, size, limits }: CanonicalInput): string {
  if (same(size, maxSize(region.w, region.h, limits, false))) return 'max';
  if (size.width <= region.w && size.height <= region.h) return `${size.width},${size.height}`;
  if (same(size, maxSize(region.w, region.h, limits, true))) return '^max';
  return `^${size.width},${size.height}`;
}

/**
 * 2.1 §4.7: `full` when unscaled, `w,` when the aspect ratio is kept, `w,h` otherwise. "Kept" means
 * `w,` would give back exactly this height, so the canonical URL returns the same pixels.
 */
function canonicalSize2({ region, size }: CanonicalInput): string {
  if (size.width === region.w && size.height === region.h) return 'full';
  const derivedHeight = Math.max(1, Math.round((region.h * size.width) / region.w));
  return derivedHeight === size.height ? `${size.width},` : `${size.width},${size.height}`;
}

/** Canonical "{region}/{size}/{rotation}/{quality}.{format}" for the request's version. */
export function canonicalParams(input: CanonicalInput): string {
  const { req, rotation } = input;
  const size = req.version === 3 ? canonicalSize3(input) : canonicalSize2(input);
  const rot = `${req.rotation.mirror ? '!' : ''}${formatDecimal(rotation)}`;
  return `${canonicalRegion(input)}/${size}/${rot}/${req.quality}.${req.format}`;
}
