import { TiffError } from './errors.ts';
import { cropJpeg } from './jpeg-crop.ts';
import { type JpegSegment, SOS, jpegSegments, startsWithSoi } from './jpeg-markers.ts';

/** Baseline, extended sequential and progressive Huffman frames. */
const SUPPORTED_SOF = new Set([0xc0, 0xc1, 0xc2]);
const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function findSof(jpeg: Uint8Array): JpegSegment {
  if (!startsWithSoi(jpeg)) throw new TiffError('Malformed JPEG data.');
  for (const seg of jpegSegments(jpeg, 2)) {
    if (!isSof(seg.marker)) continue;
    if (!SUPPORTED_SOF.has(seg.marker)) throw new TiffError('Unsupported JPEG frame type.');
    // FF Cx, Lf(2), P(1), Y(2), X(2), Nf(1): the dimension fields must be present.
    if (seg.end - seg.start < 10) throw new TiffError('Malformed JPEG data.');
    return seg;
  }
  throw new TiffError('JPEG has no frame header.');
}

/**
 * Whether a stored tile is the `width`×`height` 8-bit Huffman JPEG (baseline, extended or
 * progressive) with sampling factors 1–4 that the level's grid says: what browsers decode and the
 * crop expects. A tile of another size, precision or coding is left to the renderer.
 */
export function frameIs(jpeg: Uint8Array, width: number, height: number): boolean {
  let start: number;
  try {
    start = findSof(jpeg).start;
  } catch (e) {
    if (e instanceof TiffError) return false;
    throw e;
  }
  const at = (i: number): number => jpeg[start + i] ?? 0;
  const components = at(9);
  if (at(4) !== 8 || ((at(5) << 8) | at(6)) !== height || ((at(7) << 8) | at(8)) !== width) return false;
  if (components < 1 || components > 4 || ((at(1) << 8) | at(2)) < 8 + 3 * components) return false;
  for (let i = 0; i < components; i++) {
    const hv = at(11 + 3 * i);
    if (hv >> 4 < 1 || hv >> 4 > 4 || (hv & 15) < 1 || (hv & 15) > 4) return false;
  }
  return true;
}

/** Declared frame size (SOF0/SOF1/SOF2) of a complete JPEG. */
export function jpegFrameSize(jpeg: Uint8Array): { width: number; height: number } {
  const { start } = findSof(jpeg);
  const at = (i: number): number => jpeg[start + i] ?? 0;
  return { height: (at(5) << 8) | at(6), width: (at(7) << 8) | at(8) };
}

/**
 * Copy of `jpeg` declaring a smaller size, for a padded stored edge tile.
 * Patching the SOF is enough for a cut inside the last MCU column and row
 * (decoders drop the rest of it). A cut that removes whole MCU columns changes
 * how the entropy data splits into rows, and one that removes whole MCU rows
 * would leave their data behind the last MCU ("extraneous bytes", which strict
 * decoders refuse), so then the kept MCUs are re-packed losslessly (cropJpeg).
 */
export function rewriteJpegFrameSize(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const { start } = findSof(jpeg);
  const current = jpegFrameSize(jpeg);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new TiffError('Invalid JPEG size.');
  if (width > current.width || height > current.height) throw new TiffError('JPEG size can only shrink.');
  const [mcuWidth, mcuHeight] = mcuSize(jpeg, start);
  if (Math.ceil(width / mcuWidth) !== Math.ceil(current.width / mcuWidth) || Math.ceil(height / mcuHeight) !== Math.ceil(current.height / mcuHeight)) {
    return cropJpeg(jpeg, width, height);
  }
  assertOneFullScan(jpeg);
  const out = new Uint8Array(jpeg); // a copy even when given a Buffer
  out[start + 5] = height >> 8;
  out[start + 6] = height & 0xff;
  out[start + 7] = width >> 8;
  out[start + 8] = width & 0xff;
  return out;
}

/**
 * A new frame size keeps the entropy data's meaning only in a sequential JPEG whose first scan
 * holds every component: a scan of one component of several (progressive JPEGs, and sequential
 * ones coded a component at a time) counts its blocks from that component's own width, so a
 * narrower frame shears it (a review measured a mean error of 15–33 with 200s served).
 */
function assertOneFullScan(jpeg: Uint8Array): void {
  let components = 0;
  for (const seg of jpegSegments(jpeg, 2)) {
    if (isSof(seg.marker)) {
      if (seg.marker !== 0xc0 && seg.marker !== 0xc1) throw new TiffError('Unsupported JPEG frame type.');
      components = jpeg[seg.start + 9] ?? 0;
    }
    if (seg.marker === SOS && (jpeg[seg.start + 4] ?? 0) === components) return;
  }
  throw new TiffError('Unsupported JPEG scan layout.');
}

/** MCU width and height in pixels. */
function mcuSize(jpeg: Uint8Array, sofStart: number): [number, number] {
  const components = jpeg[sofStart + 9] ?? 0;
  // A single-component scan is non-interleaved: its MCU is one 8x8 block.
  if (components === 1) return [8, 8];
  let [h, v] = [1, 1];
  for (let i = 0; i < components; i++) {
    const hv = jpeg[sofStart + 11 + i * 3] ?? 0x11;
    [h, v] = [Math.max(h, hv >> 4), Math.max(v, hv & 15)];
  }
  return [8 * h, 8 * v];
}
