import type { Sharp } from 'sharp';
import type { ExtraBands } from '../image/geometry.ts';
import type { Dimensions, Rect } from '../iiif/types.ts';

type SharpFactory = (typeof import('sharp'))['default'];

export interface Part {
  image: Sharp;
  region: Rect;
  level: Dimensions;
}

/** What withoutExtraBands holds at once for a region: its sRGB pixels with every band, and the copy kept. */
export const extraBandsBytes = (r: Rect, extra: ExtraBands): number => r.w * r.h * (3 + extra.count + 3 + (extra.alpha ? 1 : 0));

/**
 * The part's pixels in sRGB without the extra bands that are no alpha, as a new pipeline whose
 * whole image is the part. Done before any scaling: libvips would weigh each pixel by a band it
 * takes for alpha. sharp has no way to keep two or more bands of several, so they are copied out
 * here; this holds the part once, which the caller checks against the decode budget
 * (extraBandsBytes). libvips has unpremultiplied an associated alpha on load already.
 */
export async function withoutExtraBands(sharp: SharpFactory, part: Part, extra: ExtraBands): Promise<Part> {
  const { image, region: r, level } = part;
  const whole = r.x === 0 && r.y === 0 && r.w === level.width && r.h === level.height;
  const cut = whole ? image : image.extract({ left: r.x, top: r.y, width: r.w, height: r.h });
  const { data, info } = await cut.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const keep = info.channels - extra.count + (extra.alpha ? 1 : 0);
  if (keep < 1 || keep > 4) throw new Error(`sharp gave ${info.channels} bands for ${extra.count} extra samples`);
  const pixels = info.width * info.height;
  const out = Buffer.allocUnsafe(pixels * keep);
  for (let p = 0, i = 0, o = 0; p < pixels; p++, i += info.channels, o += keep) {
    for (let c = 0; c < keep; c++) out[o + c] = data[i + c] ?? 0;
  }
  const raw = { width: info.width, height: info.height, channels: keep as 1 | 2 | 3 | 4 };
  return { image: sharp(out, { raw }), region: { x: 0, y: 0, w: info.width, h: info.height }, level: { width: info.width, height: info.height } };
}
