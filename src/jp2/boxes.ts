import { Jp2Error } from './errors.ts';
import { type HeaderReader, u16, u32 } from './reader.ts';

/** What the JP2 header boxes say about colour; the codestream holds the geometry. */
export interface Jp2Colour {
  /** colr box enumerated colour space: 16 sRGB, 17 grey, 18 sYCC; absent with an ICC profile. */
  enumerated?: number;
  /** Length of the ICC profile in the colr box, when there is one. */
  iccLength?: number;
  /** A pclr box maps one component through a palette. */
  palette: boolean;
  /** Channels after the palette mapping (the cmap box's entries): OpenJPEG's output, not SIZ's components. */
  mappedChannels?: number;
  /** A cdef box marks a channel as opacity. */
  alpha: boolean;
}

export interface CodestreamLocation {
  /** Absolute offset of the SOC marker. */
  offset: number;
  length: number;
  /** Colour boxes of a JP2 file; absent for a raw codestream. */
  colour?: Jp2Colour;
  /** The whole jp2h box (header included), copied when a smaller JP2 is assembled. */
  header?: { offset: number; length: number };
  /** The ihdr box's WIDTH and HEIGHT, which OpenJPEG requires to match SIZ (when not zero). */
  imageSize?: { width: number; height: number };
}

/** Top-level boxes before the codestream; real files have 3 to 6 (signature, ftyp, jp2h, xml, uuid...). */
const MAX_BOXES = 64;
const SIGNATURE = [0x0d, 0x0a, 0x87, 0x0a];

const isJ2k = (b: Uint8Array) => b.length >= 4 && b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51;
const isJp2 = (b: Uint8Array) =>
  b.length >= 12 && u32(b, 0) === 12 && boxType(b, 4) === 'jP  ' && SIGNATURE.every((v, i) => b[8 + i] === v);

/** True when the first bytes are a JP2 signature box or a raw codestream's SOC and SIZ. */
export const isJpeg2000 = (head: Uint8Array): boolean => isJ2k(head) || isJp2(head);

const boxType = (b: Uint8Array, at: number) => String.fromCharCode(b[at] ?? 0, b[at + 1] ?? 0, b[at + 2] ?? 0, b[at + 3] ?? 0);

interface Box {
  type: string;
  /** Absolute offset and length of the box's contents (after its header). */
  start: number;
  length: number;
  end: number;
}

/** One box header at `offset` in [offset, limit): lengths are checked, so the walk always moves forward. */
async function readBox(reader: HeaderReader, offset: number, limit: number): Promise<Box> {
  if (limit - offset < 8) throw new Jp2Error('Truncated JPEG 2000 box header.');
  const h = await reader.read(offset, 8);
  const type = boxType(h, 4);
  let length = u32(h, 0);
  let header = 8;
  if (length === 1) {
    if (limit - offset < 16) throw new Jp2Error('Truncated JPEG 2000 box header.');
    const x = await reader.read(offset + 8, 8);
    // 2^53 is far past any real file; the bound check below rejects anything larger anyway.
    if (u32(x, 0) >= 0x200000) throw new Jp2Error('JPEG 2000 box length out of range.');
    length = u32(x, 0) * 0x100000000 + u32(x, 4);
    header = 16;
  } else if (length === 0) {
    length = limit - offset;
  }
  if (length < header || offset + length > limit) throw new Jp2Error(`Bad JPEG 2000 box length in '${printable(type)}'.`);
  return { type, start: offset + header, length: length - header, end: offset + length };
}

const printable = (type: string) => type.replace(/[^\x20-\x7e]/g, '?');

/**
 * Finds the codestream: the file itself when it starts with SOC, else the jp2c box of a
 * JP2 file, reading the jp2h colour boxes on the way. At most MAX_BOXES boxes are visited.
 */
export async function locateCodestream(reader: HeaderReader): Promise<CodestreamLocation> {
  const head = await reader.read(0, Math.min(12, reader.size));
  if (isJ2k(head)) return { offset: 0, length: reader.size };
  if (!isJp2(head)) throw new Jp2Error('Not a JPEG 2000 file.');
  let colour: Jp2Colour | undefined;
  let imageSize: CodestreamLocation['imageSize'];
  let header: CodestreamLocation['header'];
  let offset = 12;
  for (let count = 0; count < MAX_BOXES && offset < reader.size; count++) {
    const box = await readBox(reader, offset, reader.size);
    if (count === 0 && box.type !== 'ftyp') throw new Jp2Error('JP2 file without a file type box.');
    if (box.type === 'jp2h' && !colour) {
      ({ colour, imageSize } = await readHeaderBox(reader, box));
      header = { offset, length: box.end - offset };
    }
    if (box.type === 'jp2c') {
      if (!colour || !header) throw new Jp2Error('JP2 file without a header box before its codestream.');
      return { offset: box.start, length: box.length, colour, header, ...(imageSize ? { imageSize } : {}) };
    }
    offset = box.end;
  }
  throw new Jp2Error('JP2 file without a codestream box.');
}

/** The colr box's enumerated e-sYCC colour space (ISO 15444-2 M.11.7.3). */
const E_SYCC = 24;

/** Sub-boxes of jp2h (ihdr, colr, pclr, cmap, cdef, res): a handful in real files. */
const MAX_HEADER_BOXES = 32;

async function readHeaderBox(reader: HeaderReader, jp2h: Box): Promise<{ colour: Jp2Colour; imageSize?: { width: number; height: number } }> {
  const colour: Jp2Colour = { palette: false, alpha: false };
  let ihdr = false;
  let imageSize: { width: number; height: number } | undefined;
  let offset = jp2h.start;
  for (let count = 0; offset < jp2h.end; count++) {
    if (count >= MAX_HEADER_BOXES) throw new Jp2Error('Too many boxes in the JP2 header.');
    const box = await readBox(reader, offset, jp2h.end);
    if (box.type === 'ihdr') {
      if (box.length !== 14) throw new Jp2Error('Bad JP2 image header box.');
      const h = await reader.read(box.start, 8);
      imageSize = { width: u32(h, 4), height: u32(h, 0) };
      ihdr = true;
    } else if (box.type === 'colr' && colour.enumerated === undefined && colour.iccLength === undefined) {
      // Only the first colr box counts (ISO 15444-1 I.5.3.3).
      if (box.length < 3) throw new Jp2Error('Bad JP2 colour box.');
      const c = await reader.read(box.start, Math.min(box.length, 7));
      if (c[0] === 1 && box.length >= 7) colour.enumerated = u32(c, 3);
      else if (c[0] === 2 || c[0] === 3) colour.iccLength = box.length - 3;
    } else if (box.type === 'pclr') {
      colour.palette = true;
    } else if (box.type === 'cmap') {
      // Four bytes per channel: component, mapping type, palette column.
      if (box.length === 0 || box.length % 4 !== 0) throw new Jp2Error('Bad JP2 component mapping box.');
      colour.mappedChannels = box.length / 4;
    } else if (box.type === 'cdef') {
      colour.alpha = await hasOpacity(reader, box);
    }
    offset = box.end;
  }
  if (!ihdr) throw new Jp2Error('JP2 header without an image header box.');
  // OpenJPEG leaves e-sYCC samples as they are; shown as RGB they would be wrong colours.
  if (colour.enumerated === E_SYCC) throw new Jp2Error('e-sYCC JPEG 2000 (colr enumerated colour space 24) is not supported.');
  // OpenJPEG cannot apply a palette without a mapping (ISO 15444-1 I.5.3.5).
  if (colour.palette && colour.mappedChannels === undefined) throw new Jp2Error('JP2 palette without a component mapping box.');
  return { colour, ...(imageSize ? { imageSize } : {}) };
}

/** cdef: N, then N × (channel, type, association); type 1 or 2 is opacity. */
async function hasOpacity(reader: HeaderReader, box: Box): Promise<boolean> {
  if (box.length < 2) throw new Jp2Error('Bad JP2 channel definition box.');
  const n = u16(await reader.read(box.start, 2), 0);
  if (box.length !== 2 + n * 6) throw new Jp2Error('Bad JP2 channel definition box.');
  const defs = await reader.read(box.start + 2, n * 6);
  for (let i = 0; i < n; i++) {
    const type = u16(defs, i * 6 + 2);
    if (type === 1 || type === 2) return true;
  }
  return false;
}
