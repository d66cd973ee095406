import { type CodingStyle, blocksPerPixel, codingStyle } from './codestream.ts';
import { Jp2Error } from './errors.ts';
import { u16, u32 } from './reader.ts';
import type { Jp2Structure } from './structure.ts';
import { tilePixels } from './subset.ts';

const SOC = 0xff4f;
const SOT = 0xff90;
const SOD = 0xff93;
const EOC = 0xffd9;
const COD = 0xff52;
const COC = 0xff53;
/** As in the main header's parse: a real header has under 20 markers. */
const MAX_MARKERS = 1024;

/** A tile's own COD and COCs, from its tile-part headers. */
interface TileStyles {
  cod?: CodingStyle;
  coc: Array<CodingStyle | undefined>;
}

/**
 * Code-blocks OpenJPEG sets up to decode `tiles` from `bytes` (a JP2 or raw codestream, whole or
 * a subset): the main header's count, except where a tile-part header carries its own COD or COC
 * (A.6: tile COC over tile COD over main COC over main COD), which the main header cannot show.
 * Only marker segments are read, each tile-part skipped by its Psot.
 */
export function codeBlocksToDecode(bytes: Uint8Array, s: Jp2Structure, tiles: number[]): number {
  const own = tileStyles(bytes, new Set(tiles));
  let blocks = 0;
  for (const t of tiles) {
    const tile = own.get(t);
    const perPixel = tile
      ? blocksPerPixel(s.siz, (c) => tile.coc[c] ?? tile.cod ?? s.styles.coc[c] ?? s.styles.cod)
      : s.codeBlocksPerPixel;
    blocks += tilePixels(s, [t]) * perPixel;
  }
  return Math.ceil(blocks);
}

function tileStyles(bytes: Uint8Array, wanted: Set<number>): Map<number, TileStyles> {
  const found = new Map<number, TileStyles>();
  let pos = firstTilePart(bytes);
  while (pos + 12 <= bytes.length && u16(bytes, pos) === SOT) {
    const tile = u16(bytes, pos + 4);
    const psot = u32(bytes, pos + 6);
    if (psot !== 0 && psot < 14) throw new Jp2Error('Bad JPEG 2000 tile-part length.');
    if (wanted.has(tile)) readTilePartHeader(bytes, pos + 12, tile, found);
    if (psot === 0) break;
    pos += psot;
  }
  return found;
}

/** COD and COC segments between a tile-part's SOT segment and its SOD. */
function readTilePartHeader(bytes: Uint8Array, from: number, tile: number, found: Map<number, TileStyles>): void {
  let pos = from;
  for (let count = 0; pos + 4 <= bytes.length; count++) {
    const marker = u16(bytes, pos);
    if (marker === SOD) return;
    const length = u16(bytes, pos + 2);
    if (count >= MAX_MARKERS || length < 2 || pos + 2 + length > bytes.length) throw new Jp2Error('Bad JPEG 2000 tile-part header.');
    if (marker === COD || marker === COC) {
      const body = bytes.subarray(pos + 4, pos + 2 + length);
      const styles = found.get(tile) ?? { coc: [] };
      if (marker === COD) styles.cod = codingStyle(body, 5, (body[0] ?? 0) & 1);
      else styles.coc[body[0] ?? 0] = codingStyle(body, 2, (body[1] ?? 0) & 1);
      found.set(tile, styles);
    }
    pos += 2 + length;
  }
  throw new Jp2Error('JPEG 2000 tile-part without SOD.');
}

/** Offset of the first SOT: past the JP2 boxes up to jp2c (if any) and the main header's segments. */
function firstTilePart(bytes: Uint8Array): number {
  let pos = u16(bytes, 0) === SOC ? 0 : codestreamBox(bytes);
  if (u16(bytes, pos) !== SOC) throw new Jp2Error('Not a JPEG 2000 codestream.');
  pos += 2;
  for (let count = 0; count < MAX_MARKERS && pos + 4 <= bytes.length; count++) {
    const marker = u16(bytes, pos);
    if (marker === SOT || marker === EOC) return pos;
    const length = u16(bytes, pos + 2);
    if (length < 2) break;
    pos += 2 + length;
  }
  throw new Jp2Error('JPEG 2000 main header ends before its first tile.');
}

/** Where the jp2c box's content starts, walking the top-level boxes (I.4). */
function codestreamBox(bytes: Uint8Array): number {
  for (let pos = 0; pos + 8 <= bytes.length; ) {
    const size = u32(bytes, pos);
    const type = u32(bytes, pos + 4);
    const header = size === 1 ? 16 : 8;
    if (type === 0x6a703263) return pos + header; // 'jp2c'
    const length = size === 1 ? u32(bytes, pos + 8) * 2 ** 32 + u32(bytes, pos + 12) : size;
    if (size === 0 || length < header) break;
    pos += length;
  }
  throw new Jp2Error('JP2 file without a codestream box.');
}
