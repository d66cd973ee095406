import { TiffError } from './errors.ts';
import { BitReader, BitWriter, type HuffmanTable, buildHuffmanTable } from './jpeg-huffman.ts';
import { type JpegSegment, SOS, jpegSegments, startsWithSoi } from './jpeg-markers.ts';

const DHT = 0xc4;
const DRI = 0xdd;

/**
 * DC differences change when MCUs are dropped, and an optimised DC table may
 * lack the new categories; re-encoding DC with the complete standard table
 * (Annex K.3) always works. AC symbols are copied, so their tables stay.
 */
const STANDARD_DC_COUNTS = Uint8Array.of(0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0);
const STANDARD_DC_VALUES = Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
const STANDARD_DC = buildHuffmanTable(STANDARD_DC_COUNTS, STANDARD_DC_VALUES);

interface ScanComponent {
  h: number;
  v: number;
  dcId: number;
  dc: HuffmanTable;
  ac: HuffmanTable;
  /** DC predictors of the input and of the output. */
  inPred: number;
  outPred: number;
}

interface Frame {
  width: number;
  height: number;
  components: ScanComponent[];
  /** Header segments to copy, SOS included. */
  header: JpegSegment[];
  sof: JpegSegment;
  dataStart: number;
}

const u16 = (b: Uint8Array, at: number): number => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);

function readDht(jpeg: Uint8Array, seg: JpegSegment, dc: Map<number, HuffmanTable>, ac: Map<number, HuffmanTable>): void {
  for (let at = seg.start + 4; at < seg.end; ) {
    const tc = (jpeg[at] ?? 0) >> 4;
    const counts = jpeg.subarray(at + 1, at + 17);
    const n = counts.reduce((a, b) => a + b, 0);
    if (at + 17 + n > seg.end || n > 256) throw new TiffError('Malformed JPEG Huffman table.');
    (tc === 0 ? dc : ac).set((jpeg[at] ?? 0) & 15, buildHuffmanTable(counts, jpeg.subarray(at + 17, at + 17 + n)));
    at += 17 + n;
  }
}

/** Parses tables, the frame (baseline/extended Huffman, 8-bit) and its single scan. */
function readFrame(jpeg: Uint8Array): Frame {
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
      const c = Array.from({ length: nf }, (_, k) => sofStart + 10 + k * 3).find((at) => jpeg[at] === id);
      const dcTable = dc.get(tables >> 4);
      const acTable = ac.get(tables & 15);
      if (c === undefined || !dcTable || !acTable) throw new TiffError('Malformed JPEG data.');
      const hv = jpeg[c + 1] ?? 0;
      // Sampling factors are 1–4 (B.2.2); zero would make the MCU grid infinite.
      if (hv >> 4 < 1 || hv >> 4 > 4 || (hv & 15) < 1 || (hv & 15) > 4) throw new TiffError('Malformed JPEG data.');
      components.push({ h: hv >> 4, v: hv & 15, dcId: tables >> 4, dc: dcTable, ac: acTable, inPred: 0, outPred: 0 });
    }
    return { width: u16(jpeg, sof.start + 7), height: u16(jpeg, sof.start + 5), components, header, sof, dataStart: seg.end };
  }
  throw new TiffError('JPEG has no scan.');
}

/** Decodes one 8x8 block's coefficients and, when `out` is given, re-encodes them. */
function copyBlock(r: BitReader, out: BitWriter | undefined, c: ScanComponent): void {
  const s = r.decode(c.dc);
  if (s > 11) throw new TiffError('Malformed JPEG data.');
  const raw = r.bits(s);
  c.inPred += s === 0 ? 0 : raw < 1 << (s - 1) ? raw - (1 << s) + 1 : raw;
  if (out) {
    const diff = c.inPred - c.outPred;
    c.outPred = c.inPred;
    const size = diff === 0 ? 0 : 32 - Math.clz32(Math.abs(diff));
    out.symbol(STANDARD_DC, size);
    out.write(diff < 0 ? (diff - 1) & ((1 << size) - 1) : diff, size);
  }
  for (let k = 1; k < 64; ) {
    const rs = r.decode(c.ac);
    const bits = r.bits(rs & 15);
    if (out) {
      out.symbol(c.ac, rs);
      out.write(bits, rs & 15);
    }
    if (rs === 0) return; // EOB
    k += (rs >> 4) + 1;
    if (k > 64) throw new TiffError('Malformed JPEG data.');
  }
}

/**
 * Lossless crop of a baseline JPEG to its top-left `width` x `height`: the
 * Huffman-coded coefficients of the kept MCUs are copied (DC differences
 * recomputed), nothing is decoded to pixels. Used for stored edge tiles whose
 * padding spans whole MCU columns, which a SOF patch alone cannot drop.
 */
export function cropJpeg(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const f = readFrame(jpeg);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new TiffError('Invalid JPEG size.');
  if (width > f.width || height > f.height) throw new TiffError('JPEG size can only shrink.');
  const interleaved = f.components.length > 1;
  const mcuW = interleaved ? 8 * Math.max(...f.components.map((c) => c.h)) : 8;
  const mcuH = interleaved ? 8 * Math.max(...f.components.map((c) => c.v)) : 8;
  const mcusX = Math.ceil(f.width / mcuW);
  const keepX = Math.ceil(width / mcuW);
  const keepY = Math.ceil(height / mcuH);
  const r = new BitReader(jpeg, f.dataStart);
  const out = new BitWriter();
  for (let my = 0; my < keepY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      for (const c of f.components) {
        const blocks = interleaved ? c.h * c.v : 1;
        for (let b = 0; b < blocks; b++) copyBlock(r, mx < keepX ? out : undefined, c);
      }
    }
  }
  return assemble(jpeg, f, out.finish(), width, height);
}

/** A DHT segment defining the standard DC table under each given id. */
function standardDcSegment(ids: number[]): Uint8Array {
  const table = [...STANDARD_DC_COUNTS, ...STANDARD_DC_VALUES];
  const length = 2 + ids.length * (1 + table.length);
  return Uint8Array.from([0xff, DHT, length >> 8, length & 0xff, ...ids.flatMap((id) => [id, ...table])]);
}

function assemble(jpeg: Uint8Array, f: Frame, data: Uint8Array, width: number, height: number): Uint8Array {
  const dht = standardDcSegment([...new Set(f.components.map((c) => c.dcId))]);
  const headerLength = f.header.reduce((a, s) => a + s.end - s.start, 0);
  const out = new Uint8Array(2 + headerLength + dht.length + data.length + 2);
  out.set([0xff, 0xd8]);
  let at = 2;
  for (const s of f.header) {
    // The new DC tables go right before SOS, overriding earlier definitions.
    if (s.marker === SOS) {
      out.set(dht, at);
      at += dht.length;
    }
    out.set(jpeg.subarray(s.start, s.end), at);
    if (s === f.sof) out.set([height >> 8, height & 0xff, width >> 8, width & 0xff], at + 5);
    at += s.end - s.start;
  }
  out.set(data, at);
  out.set([0xff, 0xd9], at + data.length);
  return out;
}
