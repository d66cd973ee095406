import { TiffError } from './errors.ts';
import { cropJpeg } from './jpeg-crop.ts';
import { type JpegSegment, jpegSegments, startsWithSoi } from './jpeg-markers.ts';

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

/** Declared frame size (SOF0/SOF1/SOF2) of a complete JPEG. */
export function jpegFrameSize(jpeg: Uint8Array): { width: number; height: number } {
  const { start } = findSof(jpeg);
  const at = (i: number): number => jpeg[start + i] ?? 0;
  return { height: (at(5) << 8) | at(6), width: (at(7) << 8) | at(8) };
}

/**
 * Copy of `jpeg` declaring a smaller size, for a padded stored edge tile.
 * Patching the SOF is enough for any height and for a width cut inside the
 * last MCU column (decoders drop the rest). A cut that removes whole MCU
 * columns changes how the entropy data splits into rows, so then the kept
 * MCUs are re-packed losslessly (cropJpeg).
 */
export function rewriteJpegFrameSize(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const { start } = findSof(jpeg);
  const current = jpegFrameSize(jpeg);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new TiffError('Invalid JPEG size.');
  if (width > current.width || height > current.height) throw new TiffError('JPEG size can only shrink.');
  const mcuWidth = 8 * maxHorizontalSampling(jpeg, start);
  if (Math.ceil(width / mcuWidth) !== Math.ceil(current.width / mcuWidth)) return cropJpeg(jpeg, width, height);
  const out = new Uint8Array(jpeg); // a copy even when given a Buffer
  out[start + 5] = height >> 8;
  out[start + 6] = height & 0xff;
  out[start + 7] = width >> 8;
  out[start + 8] = width & 0xff;
  return out;
}

function maxHorizontalSampling(jpeg: Uint8Array, sofStart: number): number {
  const components = jpeg[sofStart + 9] ?? 0;
  // A single-component scan is non-interleaved: its MCU is one 8x8 block.
  if (components === 1) return 1;
  let max = 1;
  for (let i = 0; i < components; i++) max = Math.max(max, (jpeg[sofStart + 11 + i * 3] ?? 0x11) >> 4);
  return max;
}
