import { TiffError } from './errors.ts';
import { SOI, endsWithEoi, jpegSegments, startsWithSoi } from './jpeg-markers.ts';

export interface SpliceOptions {
  /**
   * The tile holds RGB components (Photometric RGB): make sure it has an
   * Adobe APP14 marker with transform 0 so decoders do not apply YCbCr->RGB.
   */
  rgb?: boolean;
}

/** APP14 "Adobe", version 100, flags 0/0, transform 0 (no colour transform). */
const ADOBE_RGB = Uint8Array.of(0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00);

/** DQT, DHT, DAC, DRI, COM and APPn: what may precede a frame. */
const isTableMarker = (m: number): boolean =>
  m === 0xdb || m === 0xc4 || m === 0xcc || m === 0xdd || m === 0xfe || (m >= 0xe0 && m <= 0xef);

// A level's tables, checked once: its tables array lives as long as its cached geometry.
const checkedTables = new WeakMap<Uint8Array, Uint8Array>();

/** Table segments of a JPEGTables stream (between its SOI and EOI), validated. */
function tablesBody(tables: Uint8Array): Uint8Array {
  let body = checkedTables.get(tables);
  if (!body) checkedTables.set(tables, (body = checkTables(tables)));
  return body;
}

function checkTables(tables: Uint8Array): Uint8Array {
  if (!startsWithSoi(tables)) throw new TiffError('Malformed JPEGTables.');
  const end = endsWithEoi(tables) ? tables.length - 2 : tables.length;
  for (const seg of jpegSegments(tables, 2, end)) {
    if (!isTableMarker(seg.marker)) throw new TiffError('Malformed JPEGTables.');
  }
  return tables.subarray(2, end);
}

/** libjpeg-written RGB tiles (libvips at Q >= 90) already carry an APP14. */
function hasAdobeMarker(tile: Uint8Array): boolean {
  for (const seg of jpegSegments(tile, 2)) {
    if (seg.marker === 0xee && seg.end - seg.start >= 9 && String.fromCharCode(...tile.subarray(seg.start + 4, seg.start + 9)) === 'Adobe') return true;
  }
  return false;
}

/**
 * A complete standalone JPEG from a stored TIFF tile (an abbreviated stream,
 * TechNote 2) and the image's JPEGTables: the tile's SOI, the tables without
 * their SOI/EOI, then the rest of the tile. Throws TiffError when either part
 * lacks its SOI or the tile lacks its EOI.
 */
export function spliceJpegTile(jpegTables: Uint8Array | undefined, tile: Uint8Array, opts: SpliceOptions = {}): Uint8Array {
  if (!startsWithSoi(tile) || !endsWithEoi(tile) || tile.length < 4) throw new TiffError('Malformed JPEG tile.');
  const body = jpegTables && jpegTables.length > 0 ? tablesBody(jpegTables) : new Uint8Array(0);
  const adobe = opts.rgb && !hasAdobeMarker(tile) ? ADOBE_RGB : new Uint8Array(0);
  const out = new Uint8Array(2 + adobe.length + body.length + tile.length - 2);
  out[0] = 0xff;
  out[1] = SOI;
  out.set(adobe, 2);
  out.set(body, 2 + adobe.length);
  out.set(tile.subarray(2), 2 + adobe.length + body.length);
  return out;
}

/** Bytes `spliceInPlace` needs in front of a tile: its tables without their SOI and EOI. */
export const spliceHeadroom = (jpegTables: Uint8Array | undefined): number => (jpegTables && jpegTables.length > 0 ? tablesBody(jpegTables).length : 0);

/**
 * `spliceJpegTile` without a copy of the tile: `buffer` holds the tile at `spliceHeadroom(tables)`,
 * and the SOI and tables are written in front of it, over the tile's own SOI. The JPEG is
 * `buffer` itself. Undefined when an RGB tile lacks its APP14, which only `spliceJpegTile` adds.
 */
export function spliceInPlace(jpegTables: Uint8Array | undefined, buffer: Uint8Array, opts: SpliceOptions = {}): Uint8Array | undefined {
  const body = jpegTables && jpegTables.length > 0 ? tablesBody(jpegTables) : new Uint8Array(0);
  const tile = buffer.subarray(body.length);
  if (!startsWithSoi(tile) || !endsWithEoi(tile) || tile.length < 4) throw new TiffError('Malformed JPEG tile.');
  if (opts.rgb && !hasAdobeMarker(tile)) return undefined;
  buffer.set(body, 2);
  buffer[0] = 0xff;
  buffer[1] = SOI;
  return buffer;
}
