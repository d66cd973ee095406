import { TiffError } from './errors.ts';
import { BitReader, BitWriter, type HuffmanTable, LOOKUP_BITS, NO_RUNS, RUN_BITS, RUN_EOB, acRuns, buildHuffmanTable } from './jpeg-huffman.ts';
import { type JpegSegment, SOS, jpegSegments, startsWithSoi } from './jpeg-markers.ts';

const DHT = 0xc4;
const DRI = 0xdd;

/**
 * DC differences change when MCUs are dropped, and an optimised DC table may
 * lack the new categories; re-encoding DC with the complete standard table
 * (Annex K.3) always works. AC symbols are copied, so their tables stay.
 */
export const STANDARD_DC_COUNTS = Uint8Array.of(0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0);
export const STANDARD_DC_VALUES = Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
export const STANDARD_DC = buildHuffmanTable(STANDARD_DC_COUNTS, STANDARD_DC_VALUES);

export interface ScanComponent {
  h: number;
  v: number;
  dcId: number;
  dc: HuffmanTable;
  ac: HuffmanTable;
  /** Position in the scan, which indexes the DC predictors. */
  index: number;
  /** Bit s set when `dc` codes category s as the standard table does. */
  dcSame: number;
  /** Its quantisation table's id (Tq). */
  quant: number;
  /** acRuns(ac) if built, else NO_RUNS. */
  runs: Uint16Array;
}

export interface Frame {
  width: number;
  height: number;
  components: ScanComponent[];
  /** Header segments to copy, SOS included. */
  header: JpegSegment[];
  sof: JpegSegment;
  dataStart: number;
}

const u16 = (b: Uint8Array, at: number): number => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);

/** Built tables by a hash of their DHT bytes: the tiles of a TIFF level all carry the same. */
const tableCache = new Map<number, { bytes: Uint8Array; table: HuffmanTable }>();
const TABLE_CACHE_SIZE = 32;

/**
 * The table of DHT `bytes` (counts, then symbols). An AC table gets its `runs` when seen again:
 * building them costs what they save in a few crops (docs/performance.md), so a tile's own
 * optimised table, seen once, goes without.
 */
function huffmanTable(bytes: Uint8Array, ac: boolean): HuffmanTable {
  let hash = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ (bytes[i] ?? 0), 0x01000193);
  const hit = tableCache.get(hash);
  let same = hit?.bytes.length === bytes.length;
  for (let i = 0; same && i < bytes.length; i++) same = hit?.bytes[i] === bytes[i];
  if (hit && same) {
    if (ac) acRuns(hit.table);
    return hit.table;
  }
  // A copy (not slice(), which shares a Buffer's memory): the table keeps its symbols, and the JPEG may be a pooled Buffer.
  const copy = new Uint8Array(bytes);
  const table = buildHuffmanTable(copy.subarray(0, 16), copy.subarray(16));
  if (tableCache.size >= TABLE_CACHE_SIZE) tableCache.delete(tableCache.keys().next().value as number);
  tableCache.set(hash, { bytes: copy, table });
  return table;
}

function readDht(jpeg: Uint8Array, seg: JpegSegment, dc: Map<number, HuffmanTable>, ac: Map<number, HuffmanTable>): void {
  for (let at = seg.start + 4; at < seg.end; ) {
    let n = 0;
    for (let i = 1; i <= 16; i++) n += jpeg[at + i] ?? 0;
    if (at + 17 + n > seg.end || n > 256) throw new TiffError('Malformed JPEG Huffman table.');
    const tc = (jpeg[at] ?? 0) >> 4;
    (tc === 0 ? dc : ac).set((jpeg[at] ?? 0) & 15, huffmanTable(jpeg.subarray(at + 1, at + 17 + n), tc !== 0));
    at += 17 + n;
  }
}

/** Parses tables, the frame (baseline/extended Huffman, 8-bit) and its single scan. */
export function readFrame(jpeg: Uint8Array): Frame {
  if (!startsWithSoi(jpeg)) throw new TiffError('Malformed JPEG data.');
  const dc = new Map<number, HuffmanTable>();
  const ac = new Map<number, HuffmanTable>();
  const header: JpegSegment[] = [];
  let sof: JpegSegment | undefined;
  for (const seg of jpegSegments(jpeg, 2)) {
    if (seg.marker === DHT) readDht(jpeg, seg, dc, ac);
    // Restart intervals count MCUs, which a crop changes; libtiff does not write them.
    if (seg.marker === DRI && u16(jpeg, seg.start + 4) !== 0) throw new TiffError('Unsupported JPEG restart interval.');
    header.push(seg);
    if (seg.marker === 0xc0 || seg.marker === 0xc1) sof = seg;
    else if (seg.marker >= 0xc2 && seg.marker <= 0xcf && seg.marker !== DHT && seg.marker !== 0xc8 && seg.marker !== 0xcc) {
      throw new TiffError('Unsupported JPEG frame type.');
    }
    if (seg.marker !== SOS) continue;
    if (!sof || jpeg[sof.start + 4] !== 8) throw new TiffError('Unsupported JPEG frame type.');
    const nf = jpeg[sof.start + 9] ?? 0;
    const ns = jpeg[seg.start + 4] ?? 0;
    if (ns !== nf || ns < 1 || ns > 4) throw new TiffError('Unsupported JPEG scan layout.');
    if (sof.end - sof.start < 10 + 3 * nf || seg.end - seg.start < 8 + 2 * ns) throw new TiffError('Malformed JPEG data.');
    const sofStart = sof.start;
    const components: ScanComponent[] = [];
    for (let i = 0; i < ns; i++) {
      const id = jpeg[seg.start + 5 + i * 2];
      const tables = jpeg[seg.start + 6 + i * 2] ?? 0;
      let c: number | undefined;
      for (let k = 0; k < nf && c === undefined; k++) if (jpeg[sofStart + 10 + k * 3] === id) c = sofStart + 10 + k * 3;
      const dcTable = dc.get(tables >> 4);
      const acTable = ac.get(tables & 15);
      if (c === undefined || !dcTable || !acTable) throw new TiffError('Malformed JPEG data.');
      const hv = jpeg[c + 1] ?? 0;
      // Sampling factors are 1–4 (B.2.2); zero would make the MCU grid infinite.
      if (hv >> 4 < 1 || hv >> 4 > 4 || (hv & 15) < 1 || (hv & 15) > 4) throw new TiffError('Malformed JPEG data.');
      let dcSame = 0;
      for (let k = 0; k <= 11; k++) {
        if (dcTable.lengths[k] === STANDARD_DC.lengths[k] && dcTable.codes[k] === STANDARD_DC.codes[k]) dcSame |= 1 << k;
      }
      components.push({ h: hv >> 4, v: hv & 15, dcId: tables >> 4, dc: dcTable, ac: acTable, index: i, dcSame, quant: jpeg[c + 2] ?? 0, runs: acTable.runs ?? NO_RUNS });
    }
    return { width: u16(jpeg, sof.start + 7), height: u16(jpeg, sof.start + 5), components, header, sof, dataStart: seg.end };
  }
  throw new TiffError('JPEG has no scan.');
}

const LOOKUP_SHIFT = 32 - LOOKUP_BITS;
const RUN_SHIFT = 32 - RUN_BITS;

/**
 * A crop runs start to end at once, so its reader and writer reuse these arrays: fresh ones cost
 * about 5% of a crop (docs/performance.md). Made on the first crop; larger tiles get their own.
 */
let scratch: { read: Uint8Array; write: Uint8Array } | undefined;

/** Moves `r` to `pos`, failing as BitReader would have, had it read up to there. */
function checkEnd(r: BitReader, pos: number): void {
  if (pos > r.size) throw new TiffError('Truncated JPEG data.');
  r.pos = pos;
}

/**
 * Decodes the blocks of the first `keepY` MCU rows and re-encodes those of the first `keepX`
 * columns: the bytes that decoding and re-encoding each symbol with BitReader and BitWriter
 * give, faster.
 * - Table hits and longer codes are decoded inline, from a word refilled without branches.
 * - It reads on past the end of the data, and checks for that at each block's end and before
 *   any other error, so that it fails as BitReader would.
 * - Kept bits that re-encoding leaves as they are, are copied in runs: AC codes that `codes`
 *   holds, and DC differences that stay the same where the table has the standard code.
 */
function copyScan(jpeg: Uint8Array, f: Frame, mcusX: number, keepX: number, keepY: number, recoder?: McuRecoder): Uint8Array {
  const order: ScanComponent[] = [];
  for (const c of f.components) for (let b = f.components.length > 1 ? c.h * c.v : 1; b > 0; b--) order.push(c);
  const inPred = [0, 0, 0, 0];
  const outPred = [0, 0, 0, 0];
  scratch ??= { read: new Uint8Array(128 * 1024), write: new Uint8Array(128 * 1024) };
  const r = new BitReader(jpeg, f.dataStart, scratch.read);
  const { view, size } = r;
  // Only a crafted input makes a larger crop, and BitWriter grows.
  const out = new BitWriter(jpeg.length - f.dataStart + 64, scratch.write);
  // The top `cnt` bits of `acc` are the next ones, and byte `p` follows them (bits below `cnt`
  // are zeros or those of byte `p` on). A refill leaves cnt >= 24, the most a table hit takes.
  // It moves on at most 3 bytes, 64 times a block: within the 256 bytes BitReader reads ahead.
  let acc = 0;
  let cnt = 0;
  let p = 0;
  // Kept bits from `from` on are yet to be copied; -1 when there are none.
  let from = -1;
  for (let my = 0; my < keepY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      const keep = mx < keepX;
      if (keep && recoder && (mx >= recoder.mcuX || my >= recoder.mcuY)) {
        if (from >= 0) out.copy(r, from, 8 * p - cnt);
        from = -1;
        checkEnd(r, 8 * p - cnt);
        recoder.recode(mx, my, r, out, inPred, outPred);
        p = (r.pos >>> 3) + 3;
        acc = view.getUint32(p - 3) << (r.pos & 7);
        cnt = 24 - (r.pos & 7);
        continue;
      }
      if (!keep && from >= 0) {
        out.copy(r, from, 8 * p - cnt);
        from = -1;
      }
      for (let b = 0; b < order.length; b++) {
        const c = order[b] as ScanComponent;
        const at = 8 * p - cnt;
        acc |= view.getUint32(p) >>> cnt;
        p += (31 - cnt) >> 3;
        cnt |= 24;
        const e = c.dc.lookup[acc >>> LOOKUP_SHIFT] ?? 0;
        let s = e >>> 8;
        let raw: number;
        const hit = e !== 0 && s <= 11;
        if (hit) {
          const n = e & 31;
          raw = (acc >>> (32 - n)) & ((1 << s) - 1);
          acc <<= n;
          cnt -= n;
        } else {
          checkEnd(r, at);
          s = r.decode(c.dc);
          if (s > 11) throw new TiffError('Malformed JPEG data.');
          raw = r.bits(s);
          p = (r.pos >>> 3) + 3;
          acc = view.getUint32(p - 3) << (r.pos & 7);
          cnt = 24 - (r.pos & 7);
        }
        const ci = c.index;
        const before = inPred[ci] ?? 0;
        // raw - 2^s + 1 below 2^(s-1) (F.2.2.1), without a branch: its sign is random.
        const pred = before + raw - (((raw - (1 << (s - 1))) >> 31) & ((1 << s) - 1));
        inPred[ci] = pred;
        if (keep) {
          const diff = pred - (outPred[ci] ?? 0);
          outPred[ci] = pred;
          if (hit && diff === pred - before && ((c.dcSame >>> s) & 1) !== 0) {
            // The same difference and code: the bits as read.
            if (from < 0) from = at;
          } else {
            const size = diff === 0 ? 0 : 32 - Math.clz32(Math.abs(diff));
            if (size > 11) checkEnd(r, 8 * p - cnt);
            if (from >= 0) out.copy(r, from, at);
            out.symbol(STANDARD_DC, size);
            out.write(diff < 0 ? diff - 1 : diff, size);
            from = 8 * p - cnt;
          }
        }
        const ac = c.ac;
        const lookup = ac.lookup;
        const runs = c.runs;
        for (let k = 1; k < 64; ) {
          // Table hits up to EOB, k = 64 or a miss: no calls in this loop, which lets V8 keep
          // the arrays' fields in registers. Runs of symbols go at once when they fit the block.
          let e = 0;
          for (;;) {
            acc |= view.getUint32(p) >>> cnt;
            p += (31 - cnt) >> 3;
            cnt |= 24;
            const m = runs[acc >>> RUN_SHIFT] ?? 0;
            if (m !== 0 && k + ((m >>> 5) & 255) <= 64) {
              acc <<= m & 31;
              cnt -= m & 31;
              k += (m >>> 5) & 255;
              if (m >= RUN_EOB) {
                e = 1; // EOB
                break;
              }
              e = 0x100;
              if (k >= 64) break;
              continue;
            }
            e = lookup[acc >>> LOOKUP_SHIFT] ?? 0;
            if (e === 0) break;
            acc <<= e & 31;
            cnt -= e & 31;
            if (e < 0x100) break; // EOB
            k += (e >>> 12) + 1;
            if (k >= 64) break;
          }
          let rs = e >>> 8;
          if (e === 0) {
            // Longer codes, frequent enough in standard tables: BitReader's walk, inline.
            const peek = acc >>> 16;
            let len = 1;
            while (len < 16 && peek >>> (16 - len) > (ac.maxCode[len] ?? -1)) len++;
            const code = peek >>> (16 - len);
            rs = ac.values[(ac.valPtr[len] ?? 0) + code - (ac.minCode[len] ?? 0)] ?? 0;
            const n = len + (rs & 15);
            if (code <= (ac.maxCode[len] ?? -1) && n <= cnt && ac.lengths[rs] === len && ac.codes[rs] === code) {
              acc <<= n;
              cnt -= n;
            } else {
              // Re-encoded: the code read may not be the one `codes` holds.
              checkEnd(r, 8 * p - cnt);
              if (keep) out.copy(r, from, r.pos);
              rs = r.decode(ac);
              raw = r.bits(rs & 15);
              if (keep) {
                out.symbol(ac, rs);
                out.write(raw, rs & 15);
                from = r.pos;
              }
              p = (r.pos >>> 3) + 3;
              acc = view.getUint32(p - 3) << (r.pos & 7);
              cnt = 24 - (r.pos & 7);
            }
            if (rs !== 0) k += (rs >> 4) + 1;
          }
          if (rs === 0) break; // EOB
          if (k > 64) {
            checkEnd(r, 8 * p - cnt);
            throw new TiffError('Malformed JPEG data.');
          }
        }
        if (8 * p - cnt > size) throw new TiffError('Truncated JPEG data.');
      }
    }
  }
  if (from >= 0) out.copy(r, from, 8 * p - cnt);
  return out.finish();
}

/**
 * The kept MCUs from column `mcuX` or row `mcuY` on, which `recode` reads from `r` and writes to
 * `w` itself (jpeg-extend): DC predictors in `inPred` as read and `outPred` as written, DC coded
 * with the standard table, AC with the component's own.
 */
export interface McuRecoder {
  mcuX: number;
  mcuY: number;
  recode(mx: number, my: number, r: BitReader, w: BitWriter, inPred: number[], outPred: number[]): void;
}

/**
 * Lossless crop of a baseline JPEG to its top-left `width` x `height`: the
 * Huffman-coded coefficients of the kept MCUs are copied (DC differences
 * recomputed), nothing is decoded to pixels. Used for stored edge tiles whose
 * padding spans whole MCU columns, which a SOF patch alone cannot drop.
 */
export function cropJpeg(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  return cropFrame(jpeg, readFrame(jpeg), width, height);
}

/** cropJpeg on a frame already read, the MCUs of `recoder` (if any) recoded by it. */
export function cropFrame(jpeg: Uint8Array, f: Frame, width: number, height: number, recoder?: McuRecoder): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new TiffError('Invalid JPEG size.');
  if (width > f.width || height > f.height) throw new TiffError('JPEG size can only shrink.');
  let mcuW = 8;
  let mcuH = 8;
  if (f.components.length > 1) {
    for (const c of f.components) {
      mcuW = Math.max(mcuW, 8 * c.h);
      mcuH = Math.max(mcuH, 8 * c.v);
    }
  }
  const data = copyScan(jpeg, f, Math.ceil(f.width / mcuW), Math.ceil(width / mcuW), Math.ceil(height / mcuH), recoder);
  return assemble(jpeg, f, data, width, height);
}

function assemble(jpeg: Uint8Array, f: Frame, data: Uint8Array, width: number, height: number): Uint8Array {
  const ids: number[] = [];
  for (const c of f.components) if (!ids.includes(c.dcId)) ids.push(c.dcId);
  // One DHT segment with the standard DC table under each id in use.
  const dhtLength = 4 + ids.length * 29;
  let headerLength = 0;
  for (const s of f.header) headerLength += s.end - s.start;
  const out = new Uint8Array(2 + headerLength + dhtLength + data.length + 2);
  out[0] = 0xff;
  out[1] = 0xd8;
  let at = 2;
  for (const s of f.header) {
    // The new DC tables go right before SOS, overriding earlier definitions.
    if (s.marker === SOS) {
      out.set([0xff, DHT, (dhtLength - 2) >> 8, (dhtLength - 2) & 0xff], at);
      at += 4;
      for (const id of ids) {
        out[at] = id;
        out.set(STANDARD_DC_COUNTS, at + 1);
        out.set(STANDARD_DC_VALUES, at + 17);
        at += 29;
      }
    }
    out.set(jpeg.subarray(s.start, s.end), at);
    if (s === f.sof) out.set([height >> 8, height & 0xff, width >> 8, width & 0xff], at + 5);
    at += s.end - s.start;
  }
  out.set(data, at);
  out[at + data.length] = 0xff;
  out[at + data.length + 1] = 0xd9;
  return out;
}
