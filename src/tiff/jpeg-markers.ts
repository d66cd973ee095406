import { TiffError } from './errors.ts';

export const SOI = 0xd8;
const EOI = 0xd9;
export const SOS = 0xda;

/** One marker segment: `start` is at the 0xFF right before the marker code (after any fill bytes), `end` just past its payload. */
export interface JpegSegment {
  marker: number;
  start: number;
  end: number;
}

/** Markers with no length field (RSTn, TEM). */
const standalone = (m: number): boolean => (m >= 0xd0 && m <= 0xd7) || m === 0x01;

/**
 * Marker segments from `from` up to and including the first SOS (or EOI),
 * validating each length against the buffer.
 */
export function* jpegSegments(jpeg: Uint8Array, from: number, to = jpeg.length): Generator<JpegSegment> {
  let pos = from;
  while (pos < to) {
    if (jpeg[pos] !== 0xff) throw new TiffError('Malformed JPEG data.');
    let at = pos + 1;
    while (jpeg[at] === 0xff) at++; // fill bytes
    const marker = jpeg[at];
    if (marker === undefined || marker === 0 || marker === SOI) throw new TiffError('Malformed JPEG data.');
    if (marker === EOI || standalone(marker)) {
      yield { marker, start: at - 1, end: at + 1 };
      if (marker === EOI) return;
      pos = at + 1;
      continue;
    }
    const length = ((jpeg[at + 1] ?? 0) << 8) | (jpeg[at + 2] ?? 0);
    const end = at + 1 + length;
    if (length < 2 || end > to) throw new TiffError('Malformed JPEG data.');
    yield { marker, start: at - 1, end };
    if (marker === SOS) return;
    pos = end;
  }
}

export const startsWithSoi = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0xff && b[1] === SOI;
export const endsWithEoi = (b: Uint8Array): boolean => b.length >= 2 && b[b.length - 2] === 0xff && b[b.length - 1] === EOI;
