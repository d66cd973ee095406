import { TiffError } from './errors.ts';
import { buildHuffmanTable } from './jpeg-huffman.ts';
import { endsWithEoi, jpegSegments, startsWithSoi } from './jpeg-markers.ts';

const DQT = 0xdb;
const DHT = 0xc4;

const bad = (): TiffError => new TiffError('Malformed JPEGTables.');

/**
 * Checks a level's JPEGTables the way a decoder reads them: every DQT and DHT must parse
 * exactly and every Huffman table must be a valid code. Done once per level, so that stored
 * tiles are refused (422) by the pass-through as they are by the decoder, instead of being
 * sent as JPEGs no browser can show.
 */
export function validateJpegTables(tables: Uint8Array): void {
  if (!startsWithSoi(tables)) throw bad();
  const end = endsWithEoi(tables) ? tables.length - 2 : tables.length;
  for (const seg of jpegSegments(tables, 2, end)) {
    let at = seg.start + 4;
    if (seg.marker === DQT) {
      while (at < seg.end) {
        const pq = (tables[at] ?? 0) >> 4;
        const tq = (tables[at] ?? 0) & 15;
        if (pq > 1 || tq > 3) throw bad();
        at += 1 + 64 * (pq + 1);
      }
    } else if (seg.marker === DHT) {
      while (at < seg.end) {
        const tc = (tables[at] ?? 0) >> 4;
        const th = (tables[at] ?? 0) & 15;
        if (tc > 1 || th > 3 || at + 17 > seg.end) throw bad();
        const counts = tables.subarray(at + 1, at + 17);
        const n = counts.reduce((sum, c) => sum + c, 0);
        if (n === 0 || n > 256 || at + 17 + n > seg.end) throw bad();
        buildHuffmanTable(counts, tables.subarray(at + 17, at + 17 + n));
        at += 17 + n;
      }
    } else {
      continue;
    }
    // A table that runs past its segment's length.
    if (at !== seg.end) throw bad();
  }
}
