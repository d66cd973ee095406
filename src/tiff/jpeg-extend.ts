import { TiffError } from './errors.ts';
import { type Frame, type McuRecoder, type ScanComponent, STANDARD_DC, STANDARD_DC_COUNTS, STANDARD_DC_VALUES, cropFrame, readFrame } from './jpeg-crop.ts';
import { BitReader, BitWriter, type HuffmanTable, buildHuffmanTable } from './jpeg-huffman.ts';
import { SOS, type JpegSegment } from './jpeg-markers.ts';

const DHT = 0xc4;
const DQT = 0xdb;

/** Annex K.3.3.2, Table K.5: the standard luminance AC table, complete (every run/size symbol). */
const STANDARD_AC_COUNTS = Uint8Array.of(0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d);
const STANDARD_AC_VALUES = Uint8Array.from([
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81,
  0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18,
  0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
  0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75,
  0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
  0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
  0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5,
  0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
]);
const STANDARD_AC = buildHuffmanTable(STANDARD_AC_COUNTS, STANDARD_AC_VALUES);

/** Row-major index of each zig-zag position (Figure A.6). */
const ZIGZAG = Uint8Array.of(
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42,
  49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
);

/** The JPEG DCT is orthonormal (A.3.3): BASIS[x * 8 + u] = c(u) cos((2x + 1) u π / 16), its inverse the transpose. */
const BASIS = Float64Array.from({ length: 64 }, (_, i) => {
  const x = i >> 3;
  const u = i & 7;
  return (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
});

/** The one block along an axis whose samples change: `target`, from `source`'s (c = 0: its sample 7). */
interface Edit {
  source: number;
  target: number;
  c: number;
}

interface Plane {
  component: ScanComponent;
  /** Quantisation steps in zig-zag order. */
  steps: Uint16Array;
  /** Blocks per MCU along each axis. */
  bw: number;
  bh: number;
  /** Blocks per row and rows of blocks kept. */
  blocksX: number;
  blocksY: number;
  /** 64 coefficients per block, zig-zag order, blocks row-major. */
  coef: Int16Array;
  /** Samples of the image along each axis: before (valid) and after (wanted) the extension. */
  validX: number;
  validY: number;
  wantX: number;
  wantY: number;
}

/** A missing code in the tile's own AC table: the scan is then coded again with the standard ones. */
class MissingCode extends Error {}

/**
 * A baseline JPEG of `width` x `height` from the top-left of `jpeg`, whose pixels from column
 * `validWidth` and row `validHeight` on repeat the last valid column and row: a stored edge tile
 * one rounding pixel larger than its level. The padding the encoder left there (black, in
 * libvips' pyramids) is replaced: only the blocks along those edges change, by a linear operator
 * on their coefficients, and are quantised again with the tile's own tables; every other block
 * keeps its coefficients.
 * - One pixel over, the usual case: the tile is cropped (jpeg-crop), copying the bits of every
 *   MCU but those holding or feeding the edited blocks, which are decoded and coded again with
 *   the tile's own AC tables.
 * - Otherwise, or when those tables lack a code an edited block needs (`fullRecode` forces it),
 *   the whole scan is decoded and coded again with the standard tables (Annex K), which hold
 *   every symbol.
 */
export function extendJpeg(
  jpeg: Uint8Array,
  width: number,
  height: number,
  validWidth: number,
  validHeight: number,
  options: { fullRecode?: boolean } = {},
): Uint8Array {
  const f = readFrame(jpeg);
  for (const n of [width, height, validWidth, validHeight]) if (!Number.isInteger(n) || n < 1) throw new TiffError('Invalid JPEG size.');
  if (width > f.width || height > f.height || validWidth > f.width || validHeight > f.height) throw new TiffError('JPEG size exceeds the frame.');
  const { interleaved, hMax, vMax, mcuW, mcuH } = mcuOf(f);
  const keepX = Math.ceil(width / mcuW);
  const keepY = Math.ceil(height / mcuH);
  const steps = quantTables(jpeg, f.header);
  const planes = f.components.map((component): Plane => {
    const table = steps.get(component.quant);
    if (!table) throw new TiffError('Malformed JPEG data.');
    const bw = interleaved ? component.h : 1;
    const bh = interleaved ? component.v : 1;
    const along = (n: number, s: number, max: number) => Math.ceil((n * s) / max);
    return {
      component,
      steps: table,
      bw,
      bh,
      blocksX: keepX * bw,
      blocksY: keepY * bh,
      coef: new Int16Array(keepX * bw * keepY * bh * 64),
      validX: along(Math.min(validWidth, width), component.h, hMax),
      validY: along(Math.min(validHeight, height), component.v, vMax),
      wantX: along(width, component.h, hMax),
      wantY: along(height, component.v, vMax),
    };
  });
  const recoder = options.fullRecode ? undefined : edgeRecoder(planes);
  if (recoder) {
    try {
      return cropFrame(jpeg, f, width, height, recoder);
    } catch (e) {
      if (!(e instanceof MissingCode)) throw e;
    }
  }
  decodeScan(jpeg, f, planes, Math.ceil(f.width / mcuW), keepX, keepY);
  for (const p of planes) {
    repeatEdge(p, 'x');
    repeatEdge(p, 'y');
  }
  return assemble(jpeg, f, encodeScan(planes, keepX, keepY, jpeg.length), width, height);
}

/**
 * A baseline JPEG one pixel wide (`pastX`) or high (`pastY`), or both, showing the last column
 * or row of `jpeg`, a full stored tile: what a viewer that rounds level sizes up asks one pixel
 * past a level that fills its tiles exactly. The last MCU column (row) is mirrored in the DCT
 * domain, which is exact (blocks swap, odd frequencies along that axis change sign), so the
 * frame's one pixel is the stored last one. Along the other axis the tile is kept from its
 * start, `width` or `height` long. The scan is coded again with the standard tables.
 */
export function lastLineJpeg(jpeg: Uint8Array, width: number, height: number, pastX: boolean, pastY: boolean): Uint8Array {
  const f = readFrame(jpeg);
  for (const n of [width, height]) if (!Number.isInteger(n) || n < 1) throw new TiffError('Invalid JPEG size.');
  if ((pastX && width !== 1) || (pastY && height !== 1) || width > f.width || height > f.height) throw new TiffError('Invalid JPEG size.');
  const { interleaved, mcuW, mcuH } = mcuOf(f);
  const mcusX = Math.ceil(f.width / mcuW);
  const mcusY = Math.ceil(f.height / mcuH);
  // The mirrored MCU's first pixel is the frame's last only when the frame fills its MCUs.
  if ((pastX && f.width % mcuW !== 0) || (pastY && f.height % mcuH !== 0)) throw new TiffError('Unsupported JPEG size.');
  const keepX = pastX ? 1 : Math.ceil(width / mcuW);
  const keepY = pastY ? 1 : Math.ceil(height / mcuH);
  const planes = f.components.map((component): Plane => {
    const bw = interleaved ? component.h : 1;
    const bh = interleaved ? component.v : 1;
    return { component, steps: new Uint16Array(64), bw, bh, blocksX: keepX * bw, blocksY: keepY * bh, coef: new Int16Array(keepX * bw * keepY * bh * 64), validX: 0, validY: 0, wantX: 0, wantY: 0 };
  });
  const r = new BitReader(jpeg, f.dataStart);
  const pred = [0, 0, 0, 0];
  const scratch = new Int16Array(64);
  for (let my = 0; my < (pastY ? mcusY : keepY); my++) {
    const oy = pastY ? (my === mcusY - 1 ? 0 : -1) : my;
    for (let mx = 0; mx < mcusX; mx++) {
      const ox = pastX ? (mx === mcusX - 1 ? 0 : -1) : mx < keepX ? mx : -1;
      for (const p of planes) {
        for (let by = 0; by < p.bh; by++) {
          for (let bx = 0; bx < p.bw; bx++) {
            if (ox < 0 || oy < 0) decodeBlock(r, p.component, pred, scratch, 0);
            else decodeBlock(r, p.component, pred, p.coef, blockAt(p, ox * p.bw + (pastX ? p.bw - 1 - bx : bx), oy * p.bh + (pastY ? p.bh - 1 - by : by)));
          }
        }
      }
    }
  }
  for (const p of planes) {
    for (let at = 0; at < p.coef.length; at += 64) {
      for (let k = 1; k < 64; k++) {
        const i = ZIGZAG[k] ?? 0;
        if ((pastX && (i & 1) === 1) !== (pastY && ((i >> 3) & 1) === 1)) p.coef[at + k] = -(p.coef[at + k] ?? 0);
      }
    }
  }
  return assemble(jpeg, f, encodeScan(planes, keepX, keepY, 1024), width, height);
}

/** The largest sampling factors and the MCU's size in pixels (one block when not interleaved). */
function mcuOf(f: Frame): { interleaved: boolean; hMax: number; vMax: number; mcuW: number; mcuH: number } {
  const interleaved = f.components.length > 1;
  let hMax = 1;
  let vMax = 1;
  for (const c of f.components) {
    hMax = Math.max(hMax, c.h);
    vMax = Math.max(vMax, c.v);
  }
  return { interleaved, hMax, vMax, mcuW: interleaved ? 8 * hMax : 8, mcuH: interleaved ? 8 * vMax : 8 };
}

/** DQT tables by id, 8- or 16-bit steps, in zig-zag order. */
function quantTables(jpeg: Uint8Array, header: JpegSegment[]): Map<number, Uint16Array> {
  const tables = new Map<number, Uint16Array>();
  for (const seg of header) {
    if (seg.marker !== DQT) continue;
    for (let at = seg.start + 4; at < seg.end; ) {
      const pq = (jpeg[at] ?? 0) >> 4;
      const size = pq === 0 ? 64 : 128;
      if (pq > 1 || at + 1 + size > seg.end) throw new TiffError('Malformed JPEG quantisation table.');
      const t = new Uint16Array(64);
      for (let k = 0; k < 64; k++) t[k] = pq === 0 ? (jpeg[at + 1 + k] ?? 0) : ((jpeg[at + 1 + 2 * k] ?? 0) << 8) | (jpeg[at + 2 + 2 * k] ?? 0);
      if (t.includes(0)) throw new TiffError('Malformed JPEG quantisation table.');
      tables.set((jpeg[at] ?? 0) & 15, t);
      at += 1 + size;
    }
  }
  return tables;
}

/** The block along one axis that changes; null when more than one does (only the full recode takes that). */
function editAlong(valid: number, want: number): Edit | undefined | null {
  if (want <= valid) return undefined;
  const source = (valid - 1) >> 3;
  const c = valid & 7;
  const target = c ? source : source + 1;
  return Math.ceil(want / 8) - 1 === target ? { source, target, c } : null;
}

/**
 * The MCUs the edits need, in scan order: from the MCU column and row of the first source block
 * on. Each is decoded, its edits made, and coded again. An edit along x is made as soon as its
 * source is decoded, before edits along y change that source (the full recode's order); when
 * its target lies in the next MCU, that block is then decoded into scratch.
 */
function edgeRecoder(planes: Plane[]): McuRecoder | undefined {
  let mcuX = Infinity;
  let mcuY = Infinity;
  const edits = planes.map((p) => ({ p, x: editAlong(p.validX, p.wantX), y: editAlong(p.validY, p.wantY) }));
  for (const { p, x, y } of edits) {
    if (x === null || y === null) return undefined;
    if (x) mcuX = Math.min(mcuX, Math.floor(x.source / p.bw));
    if (y) mcuY = Math.min(mcuY, Math.floor(y.source / p.bh));
  }
  const scratch = new Int16Array(64);
  return {
    mcuX,
    mcuY,
    recode(mx, my, r, w, inPred, outPred) {
      for (const { p, x } of edits) {
        const done = x && x.target !== x.source && Math.floor(x.source / p.bw) < mx ? x.target : -1;
        for (let by = 0; by < p.bh; by++) {
          for (let bx = 0; bx < p.bw; bx++) {
            const col = mx * p.bw + bx;
            if (col === done) decodeBlock(r, p.component, inPred, scratch, 0);
            else decodeBlock(r, p.component, inPred, p.coef, blockAt(p, col, my * p.bh + by));
          }
        }
      }
      for (const { p, x, y } of edits) {
        if (x && Math.floor(x.source / p.bw) === mx) {
          for (let row = my * p.bh; row < (my + 1) * p.bh; row++) repeatBlock(p, blockAt(p, x.source, row), blockAt(p, x.target, row), x.c, 'x');
        }
        if (y && Math.floor(y.target / p.bh) === my) {
          for (let col = mx * p.bw; col < (mx + 1) * p.bw; col++) repeatBlock(p, blockAt(p, col, y.source), blockAt(p, col, y.target), y.c, 'y');
        }
      }
      for (const { p } of edits) {
        for (let by = 0; by < p.bh; by++) {
          for (let bx = 0; bx < p.bw; bx++) encodeBlock(w, p.component.ac, p.component.index, outPred, p.coef, blockAt(p, mx * p.bw + bx, my * p.bh + by));
        }
      }
    },
  };
}

/** Huffman-decodes every MCU of the first `keepY` rows; those of the first `keepX` columns are kept. */
function decodeScan(jpeg: Uint8Array, f: Frame, planes: Plane[], mcusX: number, keepX: number, keepY: number): void {
  const r = new BitReader(jpeg, f.dataStart);
  const pred = [0, 0, 0, 0];
  const scratch = new Int16Array(64);
  for (let my = 0; my < keepY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      for (const p of planes) {
        for (let by = 0; by < p.bh; by++) {
          for (let bx = 0; bx < p.bw; bx++) {
            // A dropped block is decoded into `scratch`.
            if (mx < keepX) decodeBlock(r, p.component, pred, p.coef, blockAt(p, mx * p.bw + bx, my * p.bh + by));
            else decodeBlock(r, p.component, pred, scratch, 0);
          }
        }
      }
    }
  }
}

/** One block's coefficients into `out` from `at`, zig-zag order, DC from the predictor `pred`. */
function decodeBlock(r: BitReader, c: ScanComponent, pred: number[], out: Int16Array, at: number): void {
  out.fill(0, at, at + 64);
  const s = r.decode(c.dc);
  if (s > 11) throw new TiffError('Malformed JPEG data.');
  const dc = (pred[c.index] ?? 0) + extend(r.bits(s), s);
  pred[c.index] = dc;
  out[at] = dc;
  for (let k = 1; k < 64; ) {
    const rs = r.decode(c.ac);
    const size = rs & 15;
    if (size === 0) {
      if (rs !== 0xf0) break; // EOB
      k += 16;
      continue;
    }
    k += rs >> 4;
    if (k > 63) throw new TiffError('Malformed JPEG data.');
    out[at + k++] = extend(r.bits(size), size);
  }
}

const extend = (raw: number, s: number): number => (s === 0 ? 0 : raw < 1 << (s - 1) ? raw - (1 << s) + 1 : raw);
const blockAt = (p: Plane, bx: number, by: number): number => (by * p.blocksX + bx) * 64;

/**
 * The 1-D operator, in the DCT domain along one axis, that keeps samples 0..c-1 of a block and
 * sets samples c..7 to sample c-1 (c = 0: all eight to the previous block's sample 7, which the
 * caller passes as the source): K = Bᵀ A B over that axis, the other axis left transformed.
 */
const repeatOperators = new Map<number, Float64Array>();
function repeatOperator(c: number): Float64Array {
  let k = repeatOperators.get(c);
  if (k) return k;
  k = new Float64Array(64);
  for (let u = 0; u < 8; u++) {
    for (let w = 0; w < 8; w++) {
      let sum = 0;
      // Sample x of the result is sample `from` of the input: itself, or the edge.
      for (let x = 0; x < 8; x++) sum += (BASIS[x * 8 + u] ?? 0) * (BASIS[(c === 0 ? 7 : x < c ? x : c - 1) * 8 + w] ?? 0);
      k[u * 8 + w] = sum;
    }
  }
  repeatOperators.set(c, k);
  return k;
}

/**
 * Along `axis`, samples from the last valid one up to the end of the block holding the last
 * wanted one repeat the last valid sample (the full recode's way: any number of blocks).
 */
function repeatEdge(p: Plane, axis: 'x' | 'y'): void {
  const valid = axis === 'x' ? p.validX : p.validY;
  const want = axis === 'x' ? p.wantX : p.wantY;
  if (want <= valid) return;
  const across = axis === 'x' ? p.blocksY : p.blocksX;
  const from = (valid - 1) >> 3;
  const last = Math.ceil(want / 8) - 1;
  for (let i = 0; i < across; i++) {
    const source = axis === 'x' ? blockAt(p, from, i) : blockAt(p, i, from);
    // The source block itself last, when it has samples past the edge: the others read it.
    for (let b = last; b >= (valid & 7 ? from : from + 1); b--) {
      repeatBlock(p, source, axis === 'x' ? blockAt(p, b, i) : blockAt(p, i, b), b === from ? valid & 7 : 0, axis);
    }
  }
}

const IN = new Float64Array(64);
const OUT = new Float64Array(64);

/**
 * Block `target` from the coefficients of block `source` (read before `target` is written: they
 * may be the same) by the operator of `c` along `axis`. Done on dequantised coefficients (no
 * inverse transform), then quantised again with the plane's steps. Lines of the other axis that
 * are all zero stay zero, which skips most of the work.
 */
function repeatBlock(p: Plane, source: number, target: number, c: number, axis: 'x' | 'y'): void {
  const op = repeatOperator(c);
  const { coef, steps } = p;
  IN.fill(0);
  for (let k = 0; k < 64; k++) {
    const q = coef[source + k] ?? 0;
    if (q !== 0) IN[ZIGZAG[k] ?? 0] = q * (steps[k] ?? 1);
  }
  // Index v * 8 + u: the operator acts on u along x (within a row), on v along y (within a column).
  const step = axis === 'x' ? 1 : 8;
  const lineStep = axis === 'x' ? 8 : 1;
  OUT.fill(0);
  for (let line = 0; line < 8; line++) {
    const base = line * lineStep;
    let any = false;
    for (let w = 0; w < 8 && !any; w++) any = IN[base + w * step] !== 0;
    if (!any) continue;
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let w = 0; w < 8; w++) sum += (op[u * 8 + w] ?? 0) * (IN[base + w * step] ?? 0);
      OUT[base + u * step] = sum;
    }
  }
  for (let k = 0; k < 64; k++) {
    const limit = k === 0 ? 2047 : 1023;
    coef[target + k] = Math.max(-limit, Math.min(limit, Math.round((OUT[ZIGZAG[k] ?? 0] ?? 0) / (steps[k] ?? 1))));
  }
}

const bitSize = (n: number): number => (n === 0 ? 0 : 32 - Math.clz32(Math.abs(n)));

function encodeScan(planes: Plane[], keepX: number, keepY: number, expected: number): Uint8Array {
  const w = new BitWriter(expected);
  const pred = [0, 0, 0, 0];
  for (let my = 0; my < keepY; my++) {
    for (let mx = 0; mx < keepX; mx++) {
      for (const p of planes) {
        for (let by = 0; by < p.bh; by++) {
          for (let bx = 0; bx < p.bw; bx++) encodeBlock(w, STANDARD_AC, p.component.index, pred, p.coef, blockAt(p, mx * p.bw + bx, my * p.bh + by));
        }
      }
    }
  }
  return w.finish();
}

/** One block: DC against the predictor `pred[index]` with the standard table, AC with `ac` (MissingCode if it lacks one). */
function encodeBlock(w: BitWriter, ac: HuffmanTable, index: number, pred: number[], coef: Int16Array, at: number): void {
  const dc = coef[at] ?? 0;
  const diff = dc - (pred[index] ?? 0);
  pred[index] = dc;
  w.symbol(STANDARD_DC, bitSize(diff));
  w.write(diff < 0 ? diff - 1 : diff, bitSize(diff));
  let run = 0;
  for (let k = 1; k < 64; k++) {
    const c = coef[at + k] ?? 0;
    if (c === 0) {
      run++;
      continue;
    }
    for (; run > 15; run -= 16) acSymbol(w, ac, 0xf0);
    const size = bitSize(c);
    acSymbol(w, ac, (run << 4) | size);
    w.write(c < 0 ? c - 1 : c, size);
    run = 0;
  }
  if (run > 0) acSymbol(w, ac, 0);
}

function acSymbol(w: BitWriter, ac: HuffmanTable, sym: number): void {
  const len = ac.lengths[sym] ?? 0;
  if (len === 0) throw new MissingCode();
  w.write(ac.codes[sym] ?? 0, len);
}

/** The header without its Huffman tables, the standard ones (id 0) before SOS, which selects them. */
function assemble(jpeg: Uint8Array, f: Frame, data: Uint8Array, width: number, height: number): Uint8Array {
  const dht = [0xff, DHT, 0, 0, 0x00, ...STANDARD_DC_COUNTS, ...STANDARD_DC_VALUES, 0x10, ...STANDARD_AC_COUNTS, ...STANDARD_AC_VALUES];
  dht[2] = (dht.length - 2) >> 8;
  dht[3] = (dht.length - 2) & 0xff;
  const kept = f.header.filter((s) => s.marker !== DHT);
  let length = 2 + dht.length + data.length + 2;
  for (const s of kept) length += s.end - s.start;
  const out = new Uint8Array(length);
  out[0] = 0xff;
  out[1] = 0xd8;
  let at = 2;
  for (const s of kept) {
    if (s.marker === SOS) {
      out.set(dht, at);
      at += dht.length;
    }
    out.set(jpeg.subarray(s.start, s.end), at);
    if (s === f.sof) out.set([height >> 8, height & 0xff, width >> 8, width & 0xff], at + 5);
    if (s.marker === SOS) for (let i = 0; i < f.components.length; i++) out[at + 6 + 2 * i] = 0x00;
    at += s.end - s.start;
  }
  out.set(data, at);
  out[at + data.length] = 0xff;
  out[at + data.length + 1] = 0xd9;
  return out;
}
