import { httpError } from '../errors.ts';
import { canonicalParams } from './canonical.ts';
import { assertWithinLimits, exceededLimit, maxSize } from './limits.ts';
import type { Dimensions, Format, ImageGeometry, ImageRequest, Limits, Rect, RegionSpec, RenderPlan, SizeSpec } from './types.ts';

/** Region in full-resolution pixels, clipped to the image (3.0 §4.1). */
export function resolveRegion(spec: RegionSpec, image: Dimensions): Rect {
  const { width: W, height: H } = image;
  let r: Rect;
  switch (spec.kind) {
    case 'full':
      return { x: 0, y: 0, w: W, h: H };
    case 'square': {
      const side = Math.min(W, H);
      return { x: Math.floor((W - side) / 2), y: Math.floor((H - side) / 2), w: side, h: side };
    }
    case 'px':
      r = spec;
      break;
    case 'pct':
      // A positive percentage never collapses to nothing: at least one pixel. A start within the
      // image never rounds out of it (it would be refused as outside): it keeps the last pixel.
      r = {
        x: Math.min(Math.round((W * spec.x) / 100), spec.x < 100 ? W - 1 : W),
        y: Math.min(Math.round((H * spec.y) / 100), spec.y < 100 ? H - 1 : H),
        w: Math.max(1, Math.round((W * spec.w) / 100)),
        h: Math.max(1, Math.round((H * spec.h) / 100)),
      };
      break;
  }
  if (r.x >= W || r.y >= H) {
    throw httpError(400, 'bad_region', `Region ${r.x},${r.y},${r.w},${r.h} lies outside the ${W}x${H} image.`);
  }
  return { x: r.x, y: r.y, w: Math.min(r.w, W - r.x), h: Math.min(r.h, H - r.y) };
}

const derived = (n: number): number => Math.max(1, Math.round(n));

function requireNoUpscale(size: Dimensions, region: Rect, upscale: boolean): void {
  if (!upscale && (size.width > region.w || size.height > region.h)) {
    throw httpError(
      400,
      'bad_size',
      `Size ${size.width}x${size.height} is larger than the ${region.w}x${region.h} region; prefix it with ^ to upscale.`,
    );
  }
}

/** Scaled size of the region per the size table (3.0 §4.2, 2.1 §4.2), within the limits. */
export function resolveSize(spec: SizeSpec, region: Rect, limits: Limits): Dimensions {
  const { w: rw, h: rh } = region;
  let size: Dimensions;
  switch (spec.kind) {
    case 'max':
      return maxSize(rw, rh, limits, spec.upscale);
    case 'full':
      size = { width: rw, height: rh };
      break;
    case 'w':
      size = { width: spec.w, height: derived((rh * spec.w) / rw) };
      requireNoUpscale(size, region, spec.upscale);
      break;
    case 'h':
      size = { width: derived((rw * spec.h) / rh), height: spec.h };
      requireNoUpscale(size, region, spec.upscale);
      break;
    case 'pct':
      size = { width: Math.round((rw * spec.pct) / 100), height: Math.round((rh * spec.pct) / 100) };
      if (size.width < 1 || size.height < 1) {
        throw httpError(400, 'bad_size', `Size pct:${spec.pct} of the ${rw}x${rh} region is smaller than 1 pixel.`);
      }
      break;
    case 'wh':
      size = { width: spec.w, height: spec.h };
      requireNoUpscale(size, region, spec.upscale);
      break;
    case 'confined': {
      // Largest size inside w×h keeping the aspect ratio; without ^ also inside the region,
      const scale = Math.min(spec.w / rw, spec.h / rh, spec.upscale ? Infinity : 1);
      size = { width: Math.min(spec.w, derived(rw * scale)), height: Math.min(spec.h, derived(rh * scale)) };
      // "...or server-imposed limits": shrink to the limits instead of rejecting.
      return exceededLimit(size, limits) === undefined ? size : maxSize(rw, rh, limits, spec.upscale);
    }
  }
  assertWithinLimits(size, limits);
  return size;
}

/**
 * Smallest resolution level that still has (almost) as many pixels as the output: the region in
 * that level's pixels may be short of the output by up to one pixel, which absorbs the rounding
 * in level sizes (stored rounded down, viewers round up: 187 vs 188) without reading a level
 * twice as big. Never more than a quarter short: a 1- or 2-pixel output is the level's own pixels,
 * not those of a level half or a quarter its size. `short`: the pixels the level may lack (0 for
 * a renderer, planForRender).
 */
export function selectLevel(geometry: ImageGeometry, region: Rect, size: Dimensions, short = 1): { level: number; levelRegion: Rect } {
  const levels = geometry.levels ?? [];
  for (let i = levels.length - 1; i > 0; i--) {
    const level = levels[i] as Dimensions;
    const sx = level.width / geometry.width;
    const sy = level.height / geometry.height;
    const w = region.w * sx;
    const h = region.h * sy;
    if (w >= size.width - short - 1e-9 && h >= size.height - short - 1e-9 && w >= 0.75 * size.width && h >= 0.75 * size.height) {
      if (geometry.reducedGrid) return { level: i, levelRegion: onReducedGrid(region, level, 2 ** i, geometry.reducedGrid) };
      const x = Math.floor(region.x * sx + 1e-9);
      const y = Math.floor(region.y * sy + 1e-9);
      const right = Math.min(level.width, Math.ceil((region.x + region.w) * sx - 1e-9));
      const bottom = Math.min(level.height, Math.ceil((region.y + region.h) * sy - 1e-9));
      return { level: i, levelRegion: { x, y, w: Math.max(1, right - x), h: Math.max(1, bottom - y) } };
    }
  }
  return { level: 0, levelRegion: { ...region } };
}

/**
 * The plan for a renderer: a level a rounding pixel short of the output (which the tile
 * pass-through answers by copying the stored edge) is swapped for the next larger one, since a
 * resize up by one pixel moves every pixel by up to one (mean error 29 of 255 against 1.6 from
 * the larger level, on a smooth test image).
 */
export function planForRender(plan: RenderPlan, geometry: ImageGeometry): RenderPlan {
  const r = plan.levelRegion;
  if (plan.level === 0 || (r.w >= plan.width && r.h >= plan.height)) return plan;
  return { ...plan, ...selectLevel(geometry, plan.region, { width: plan.width, height: plan.height }, 0) };
}

/**
 * The level pixels that cover a region on a reduction grid: level pixel i holds canvas pixels
 * [(ceil(x0 / f) + i) · f, … + f), so a tile of the level is exactly its own pixels.
 */
function onReducedGrid(region: Rect, level: Dimensions, f: number, origin: { x0: number; y0: number }): Rect {
  const along = (start: number, length: number, o: number, size: number) => {
    const first = Math.ceil(o / f);
    const from = Math.min(size - 1, Math.max(0, Math.floor((o + start) / f) - first));
    const to = Math.min(size, Math.max(from + 1, Math.ceil((o + start + length) / f) - first));
    return [from, to - from] as const;
  };
  const [x, w] = along(region.x, region.w, origin.x0, level.width);
  const [y, h] = along(region.y, region.h, origin.y0, level.height);
  return { x, y, w, h };
}

/** Bounding box of a w×h image rotated clockwise by `degrees` (exact for multiples of 90). */
export function rotatedSize(width: number, height: number, degrees: number): Dimensions {
  if (degrees % 180 === 0) return { width, height };
  if (degrees % 90 === 0) return { width: height, height: width };
  const t = (degrees * Math.PI) / 180;
  const cos = Math.abs(Math.cos(t));
  const sin = Math.abs(Math.sin(t));
  return { width: derived(width * cos + height * sin), height: derived(width * sin + height * cos) };
}

/** Largest side each encoder writes: libjpeg 65500 (pdf holds a JPEG), libwebp 16383, libheif 16384, GIF's 16 bits. */
const MAX_SIDE: Partial<Record<Format, number>> = { jpg: 65500, pdf: 65500, webp: 16383, avif: 16384, gif: 65535 };

/** Outputs an encoder cannot write are the request's fault, known from the plan alone (so HEAD says so too). */
function checkEncoderLimits(format: Format, output: Dimensions, size: Dimensions, limits: Limits): void {
  const side = MAX_SIDE[format];
  if (side !== undefined && (output.width > side || output.height > side)) {
    throw httpError(400, 'over_limit', `${format} output is limited to ${side} pixels a side; ask for a smaller size`);
  }
  const area = limits.formatMaxArea?.[format];
  if (area !== undefined && size.width * size.height > area) {
    throw httpError(400, 'over_limit', `${format} output is limited to ${area} pixels (IIIF_${format.toUpperCase()}_MAX_OUTPUT_PIXELS); ask for a smaller size`);
  }
}

/** Exact pixel work for one request: region, then size, then mirror and rotation (3.0 §4.6). */
export function planImage(req: ImageRequest, geometry: ImageGeometry, limits: Limits): RenderPlan {
  const image = { width: geometry.width, height: geometry.height };
  const region = resolveRegion(req.region, image);
  // `max` and `!w,h` are the server's to choose, so a jp2, gif or avif fits its encoder's bound;
  // an explicit size over it is a 400 naming the setting.
  const formatArea = limits.formatMaxArea?.[req.format];
  const formatLimits = formatArea !== undefined ? { ...limits, maxArea: Math.min(limits.maxArea ?? Infinity, formatArea) } : undefined;
  const fitted = formatLimits !== undefined && (req.size.kind === 'max' || req.size.kind === 'confined');
  const sizeLimits = fitted ? formatLimits : limits;
  const size = resolveSize(req.size, region, sizeLimits);
  const { level, levelRegion } = selectLevel(geometry, region, size);
  const rotation = req.rotation.degrees % 360;
  const output = rotatedSize(size.width, size.height, rotation);
  checkEncoderLimits(req.format, output, size, limits);
  return {
    region,
    level,
    levelRegion,
    width: size.width,
    height: size.height,
    mirror: req.rotation.mirror,
    rotation,
    quality: req.quality,
    format: req.format,
    outputWidth: output.width,
    outputHeight: output.height,
    // For a capped format, `max` is the capped size, however it was asked for: one canonical form for the same pixels.
    canonical: canonicalParams({ req, image, region, size, limits: formatLimits ?? limits, rotation }),
  };
}
