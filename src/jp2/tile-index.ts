import type { TilePart } from './codestream.ts';
import { Jp2Error } from './errors.ts';
import { type RangeRead, u16, u32 } from './reader.ts';
import type { Jp2Structure } from './structure.ts';

const SOT = 0xff90;
const EOC = 0xffd9;

/**
 * The tile-parts of a codestream without TLM, found by following each SOT's length (Psot)
 * from the first one: one 12-byte read per tile-part, so for local files only. Psot 0 is
 * the last tile-part, running to the EOC. At most 255 tile-parts a tile.
 */
export async function walkTileParts(read: RangeRead, s: Jp2Structure): Promise<TilePart[]> {
  const tiles = s.columns * s.rows;
  const end = s.codestream.offset + s.codestream.length;
  const parts: TilePart[] = [];
  for (let offset = s.end; offset + 2 <= end; ) {
    const b = await read(offset, Math.min(12, end - offset));
    if (u16(b, 0) === EOC) break;
    if (b.length < 12 || u16(b, 0) !== SOT || u16(b, 2) !== 10) throw new Jp2Error('JPEG 2000 tile-part without its SOT marker.');
    const tile = u16(b, 4);
    const psot = u32(b, 6);
    const length = psot === 0 ? end - offset - 2 : psot;
    if (tile >= tiles || length < 14 || offset + length > end || parts.length >= tiles * 255) {
      throw new Jp2Error('Bad JPEG 2000 tile-part length.');
    }
    parts.push({ tile, offset, length });
    offset += length;
    if (psot === 0) break;
  }
  return parts;
}
