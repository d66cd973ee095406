/**
 * EXIF orientation of PNG (eXIf chunk) and WebP (EXIF chunk) sources, which image-size does not
 * report: libvips turns such images upright, so info.json must give the upright size too. Only
 * chunk headers and EXIF's first directory are read, each a bounded number of times.
 */

/** Reads `length` bytes from `offset` (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array>;

const ORIENTATION_TAG = 0x0112;
/** Chunks walked before giving up: real files have a handful. */
const MAX_CHUNKS = 64;
/** EXIF's first directory sits near its start; this much is read of it at most. */
const MAX_EXIF_BYTES = 64 * 1024;

/** The upright size and the orientation (1–8; anything else is 1): orientations 5–8 swap width and height. */
export function oriented<T extends { width: number; height: number }>(stored: T, orientation: number): T & { orientation: number } {
  const o = Number.isInteger(orientation) && orientation >= 1 && orientation <= 8 ? orientation : 1;
  const swap = o >= 5;
  return { ...stored, width: swap ? stored.height : stored.width, height: swap ? stored.width : stored.height, orientation: o };
}

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));

/** Orientation 1–8 from a TIFF-structured EXIF block (with or without the `Exif\0\0` prefix), else 1. */
export function exifOrientation(block: Uint8Array): number {
  const b = ascii(block, 0, 4) === 'Exif' ? block.subarray(6) : block;
  if (b.length < 8) return 1;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const order = ascii(b, 0, 2);
  if (order !== 'II' && order !== 'MM') return 1;
  const le = order === 'II';
  if (view.getUint16(2, le) !== 42) return 1;
  const ifd = view.getUint32(4, le);
  if (ifd + 2 > b.length) return 1;
  const count = view.getUint16(ifd, le);
  for (let i = 0; i < count; i++) {
    const at = ifd + 2 + i * 12;
    if (at + 12 > b.length) return 1;
    if (view.getUint16(at, le) !== ORIENTATION_TAG) continue;
    // SHORT (3), one value, held in the entry itself.
    const value = view.getUint16(at + 2, le) === 3 ? view.getUint16(at + 8, le) : 1;
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

/** A PNG's eXIf orientation, from the chunks before its first IDAT (where libvips reads metadata). */
export async function pngOrientation(readAt: ReadAt, size: number): Promise<number> {
  let pos = 8;
  for (let n = 0; n < MAX_CHUNKS && pos + 8 <= size; n++) {
    const head = await readAt(pos, 8);
    if (head.length < 8) return 1;
    const length = new DataView(head.buffer, head.byteOffset, 8).getUint32(0);
    const type = ascii(head, 4, 4);
    if (type === 'IDAT' || type === 'IEND') return 1;
    if (type === 'eXIf') return exifOrientation(await readAt(pos + 8, Math.min(length, MAX_EXIF_BYTES)));
    pos += 12 + length;
  }
  return 1;
}

/** A WebP's EXIF orientation: extended files (VP8X) flag it, and the chunk usually follows the image data. */
export async function webpOrientation(readAt: ReadAt, size: number): Promise<number> {
  const first = await readAt(12, 9);
  // VP8X, then its flags byte: bit 3 says an EXIF chunk is present.
  if (first.length < 9 || ascii(first, 0, 4) !== 'VP8X' || ((first[8] ?? 0) & 0x08) === 0) return 1;
  let pos = 12;
  for (let n = 0; n < MAX_CHUNKS && pos + 8 <= size; n++) {
    const head = await readAt(pos, 8);
    if (head.length < 8) return 1;
    const length = new DataView(head.buffer, head.byteOffset, 8).getUint32(4, true);
    if (ascii(head, 0, 4) === 'EXIF') return exifOrientation(await readAt(pos + 8, Math.min(length, MAX_EXIF_BYTES)));
    // Chunks are padded to an even length.
    pos += 8 + length + (length & 1);
  }
  return 1;
}
