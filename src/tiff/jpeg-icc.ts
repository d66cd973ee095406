import { TiffError } from './errors.ts';
import type { RangeRead } from './range.ts';
import type { TiffImage } from './types.ts';

/**
 * Largest ICC profile (tag 34675) put into stored tiles sent as they are: an RGB matrix profile
 * is 0.5–4 KB, while LUT profiles can reach megabytes, which every tile would repeat. A level
 * with a larger one is rendered (libvips converts it to sRGB).
 */
export const MAX_TILE_ICC_BYTES = 64 * 1024;

const SIGNATURE = new TextEncoder().encode('ICC_PROFILE\0');
/** An APP2 segment's length field counts itself (2), the signature (12) and the chunk numbers (2). */
const CHUNK_BYTES = 0xffff - 2 - SIGNATURE.length - 2;

/** The level's ICC profile, read whole (TiffError when it lies outside the file or is over `maxBytes`). */
export async function readIccProfile(read: RangeRead, level: TiffImage & { fileSize: number }, maxBytes = MAX_TILE_ICC_BYTES): Promise<Uint8Array | undefined> {
  const at = level.iccProfile;
  if (!at) return undefined;
  if (at.length > maxBytes || at.offset + at.length > level.fileSize) throw new TiffError('TIFF ICC profile out of range.');
  const bytes = await read(at.offset, at.length);
  if (bytes.length !== at.length) throw new TiffError('Unexpected end of TIFF file.');
  return bytes;
}

/**
 * `jpeg` with `profile` in APP2 ICC_PROFILE segments right after SOI (ICC.1 annex B.4), so that
 * a browser shows the stored tile's colours as the profile says, as the rendered answers do after
 * converting to sRGB, and as a decoder (libvips) converts them.
 */
export function withIccProfile(jpeg: Uint8Array, profile: Uint8Array | undefined): Uint8Array {
  if (!profile?.length) return jpeg;
  const chunks = Math.ceil(profile.length / CHUNK_BYTES);
  const out = new Uint8Array(jpeg.length + profile.length + chunks * (4 + SIGNATURE.length + 2));
  out.set(jpeg.subarray(0, 2));
  let at = 2;
  for (let i = 0; i < chunks; i++) {
    const chunk = profile.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
    const length = 2 + SIGNATURE.length + 2 + chunk.length;
    out.set([0xff, 0xe2, length >> 8, length & 0xff], at);
    out.set(SIGNATURE, at + 4);
    out.set([i + 1, chunks], at + 4 + SIGNATURE.length);
    out.set(chunk, at + 4 + SIGNATURE.length + 2);
    at += 2 + length;
  }
  out.set(jpeg.subarray(2), at);
  return out;
}
