import { httpError } from '../errors.ts';
import type { Dimensions, Limits } from './types.ts';

/**
 * The limits we both enforce and advertise. 3.0 §5.2 says clients infer maxHeight = maxWidth when
 * only maxWidth is given, and maxWidth is required whenever maxHeight is; so a lone maxWidth or
 * maxHeight is applied to both axes, keeping what info.json says and what the planner does equal.
 */
export function effectiveLimits(limits: Limits): Limits {
  const out: Limits = {};
  const linear = limits.maxWidth ?? limits.maxHeight;
  if (linear !== undefined) {
    out.maxWidth = limits.maxWidth ?? linear;
    out.maxHeight = limits.maxHeight ?? linear;
  }
  if (limits.maxArea !== undefined) out.maxArea = limits.maxArea;
  return out;
}

/** Name and value of the first limit `size` breaks, or undefined when it fits. */
export function exceededLimit(size: Dimensions, limits: Limits): string | undefined {
  const l = effectiveLimits(limits);
  if (l.maxWidth !== undefined && size.width > l.maxWidth) return `maxWidth ${l.maxWidth}`;
  if (l.maxHeight !== undefined && size.height > l.maxHeight) return `maxHeight ${l.maxHeight}`;
  if (l.maxArea !== undefined && size.width * size.height > l.maxArea) return `maxArea ${l.maxArea}`;
  return undefined;
}

export function assertWithinLimits(size: Dimensions, limits: Limits): void {
  const broken = exceededLimit(size, limits);
  if (broken !== undefined) {
    throw httpError(400, 'over_limit', `Size ${size.width}x${size.height} exceeds the server limit ${broken}.`);
  }
}

/**
 * Largest size of a `w`×`h` region that fits the limits, keeping its aspect ratio
 * (the `max` / `^max` sizes). Without upscaling the region size is also a bound.
 */
export function maxSize(w: number, h: number, limits: Limits, upscale: boolean): Dimensions {
  const l = effectiveLimits(limits);
  let scale = upscale ? Infinity : 1;
  if (l.maxWidth !== undefined) scale = Math.min(scale, l.maxWidth / w);
  if (l.maxHeight !== undefined) scale = Math.min(scale, l.maxHeight / h);
  if (l.maxArea !== undefined) scale = Math.min(scale, Math.sqrt(l.maxArea / (w * h)));
  // No limit to grow into: ^max is the region itself.
  if (scale === Infinity) scale = 1;
  const rounded = { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
  if (exceededLimit(rounded, l) === undefined) return rounded;
  // Rounding up pushed the area over: round down instead (tiny epsilon absorbs float error).
  const floored = {
    width: Math.max(1, Math.floor(w * scale + 1e-9)),
    height: Math.max(1, Math.floor(h * scale + 1e-9)),
  };
  assertWithinLimits(floored, l);
  return floored;
}

/** Largest whole-image decode (untiled formats), in bytes: one render fits a 512 MB Lambda. */
export const DEFAULT_MAX_DECODE_BYTES = 128 * 1024 * 1024;
/** Most scans of a progressive JPEG: encoders write about 10; each costs a pass over every block. */
export const DEFAULT_MAX_JPEG_SCANS = 100;
