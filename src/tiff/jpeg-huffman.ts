import { TiffError } from './errors.ts';

/** Bits resolved by one table lookup; longer codes take the canonical walk (Annex F.2.2.3). */
export const LOOKUP_BITS = 10;
/** The most bits a lookup hit may take with its extra bits: a refilled 32-bit word holds 24. */
const LOOKUP_MAX = 24;
/** Bits indexing `runs`: 8 KB a table, within the L1 cache with the rest of a crop's data. */
export const RUN_BITS = 12;
/** In a `runs` entry, set when its last symbol is EOB. */
export const RUN_EOB = 1 << 13;
/** `runs` of no entries, which sends every symbol to `lookup`. */
export const NO_RUNS = new Uint16Array(1 << RUN_BITS);

/** A DHT table, ready both to decode and to encode symbols. */
export interface HuffmanTable {
  maxCode: Int32Array;
  minCode: Int32Array;
  valPtr: Int32Array;
  values: Uint8Array;
  /**
   * Indexed by the next LOOKUP_BITS bits: symbol << 8 | code length + (symbol & 15), the bits
   * an AC symbol takes with its extra bits. 0 sends to the walk: longer codes, hits of more than
   * LOOKUP_MAX bits, and codes `codes` does not hold (a symbol listed twice), so that the bits
   * of a hit re-encode as they were read.
   */
  lookup: Uint16Array;
  codes: Uint16Array;
  /** Code length per symbol; 0 when the table has no code for it. */
  lengths: Uint8Array;
  /** acRuns(this), once built. */
  runs?: Uint16Array;
}

/**
 * Indexed by the next RUN_BITS bits: AC symbols skipped at once, the first a `lookup` hit and
 * the others' codes within the index. An entry is bits (at most LOOKUP_MAX, extra bits included)
 * | steps << 5 | RUN_EOB when it ends with EOB; steps sums run + 1 of its symbols, plus 1 for an
 * EOB, so that an entry fits a block when k + steps <= 64. 0 when the first code is no hit.
 */
export function acRuns(t: HuffmanTable): Uint16Array {
  if (t.runs) return t.runs;
  // Built from the end: entry [1 << w | x] is that of the last w bits `x` of the index, joined
  // from those of the last w - 1 bits or fewer; the index's own are the last 1 << RUN_BITS.
  const all = new Uint16Array(2 << RUN_BITS);
  const lookup = t.lookup;
  for (let w = 1; w <= RUN_BITS; w++) {
    for (let x = 0; x < 1 << w; x++) {
      const e = lookup[w >= LOOKUP_BITS ? x >>> (w - LOOKUP_BITS) : x << (LOOKUP_BITS - w)] ?? 0;
      const bits = e & 31;
      if (e === 0 || bits - ((e >>> 8) & 15) > w) continue;
      const one = bits | ((e < 0x100 ? 1 : (e >>> 12) + 1) << 5) | (e < 0x100 ? RUN_EOB : 0);
      const left = w - bits;
      const more = e < 0x100 || left <= 0 ? 0 : (all[(1 << left) | (x & ((1 << left) - 1))] ?? 0);
      // Joined when the pair stays within the bits a refill guarantees.
      all[(1 << w) | x] = more !== 0 && bits + (more & 31) <= LOOKUP_MAX ? more + one : one;
    }
  }
  const runs = all.slice(1 << RUN_BITS);
  t.runs = runs;
  return runs;
}

/** Builds the canonical code (Annex C) from BITS counts and HUFFVAL symbols. */
export function buildHuffmanTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  const t: HuffmanTable = {
    maxCode: new Int32Array(18).fill(-1),
    minCode: new Int32Array(17),
    valPtr: new Int32Array(17),
    values,
    lookup: new Uint16Array(1 << LOOKUP_BITS),
    codes: new Uint16Array(256),
    lengths: new Uint8Array(256),
  };
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1] ?? 0;
    t.valPtr[len] = k;
    t.minCode[len] = code;
    for (let i = 0; i < n; i++, k++, code++) {
      const sym = values[k] ?? 0;
      t.codes[sym] = code;
      t.lengths[sym] = len;
    }
    if (n > 0) t.maxCode[len] = code - 1;
    if (code > 1 << len) throw new TiffError('Malformed JPEG Huffman table.');
    code <<= 1;
  }
  for (let len = 1; len <= LOOKUP_BITS; len++) {
    const min = t.minCode[len] ?? 0;
    for (let c = min; c <= (t.maxCode[len] ?? -1); c++) {
      const sym = values[(t.valPtr[len] ?? 0) + c - min] ?? 0;
      if (t.codes[sym] !== c || t.lengths[sym] !== len || len + (sym & 15) > LOOKUP_MAX) continue;
      const shift = LOOKUP_BITS - len;
      t.lookup.fill((sym << 8) | (len + (sym & 15)), c << shift, (c + 1) << shift);
    }
  }
  return t;
}

/**
 * Reads entropy-coded bits. The data is unstuffed up front, up to the first marker or the end,
 * so that a caller can also read it a word at a time; reading past its end only fails once a bit
 * past it is actually consumed.
 */
export class BitReader {
  // Plain fields, not parameter properties: Node's type stripping runs this file as is.
  /** The entropy-coded bytes without their 0xFF00 stuffing, then 256 zeros to read ahead into. */
  readonly data: Uint8Array;
  /** `data` as big-endian words. */
  readonly view: DataView;
  /** The number of bits of entropy data. */
  readonly size: number;
  /** Position of the next bit. */
  pos = 0;

  /** `scratch`: used instead of a new array when large enough, its content lost. */
  constructor(data: Uint8Array, pos: number, scratch?: Uint8Array) {
    const n = Math.max(0, data.length - pos);
    // Bit positions stay below 2^32, for >>> 3.
    if (n >= 2 ** 29) throw new TiffError('JPEG data too large.');
    const out = scratch && scratch.length >= n + 256 ? scratch : new Uint8Array(n + 256);
    const src = new DataView(data.buffer, data.byteOffset + Math.min(pos, data.length), n);
    const view = new DataView(out.buffer);
    let i = 0;
    let len = 0;
    for (;;) {
      // Four bytes at a time while none is 0xFF (a zero byte of ~w, by the SWAR test).
      for (; i + 4 <= n; i += 4, len += 4) {
        const x = ~src.getUint32(i);
        if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
        view.setUint32(len, ~x);
      }
      for (const stop = Math.min(n, i + 4); i < stop; i++) {
        const b = data[pos + i] ?? 0;
        if (b === 0xff && data[pos + i + 1] !== 0) i = n; // a marker
        else {
          out[len++] = b;
          if (b === 0xff) i++;
        }
      }
      if (i >= n) break;
    }
    out.fill(0, len, len + 256);
    this.data = out;
    this.view = view;
    this.size = len * 8;
  }

  /** The 32 bits from bit `at` (at most `size`), most significant first. */
  peek32(at: number): number {
    const i = at >>> 3;
    return (this.view.getUint32(i) << (at & 7)) | ((this.data[i + 4] ?? 0) >>> (8 - (at & 7)));
  }

  private skip(n: number): void {
    if (this.pos + n > this.size) throw new TiffError('Truncated JPEG data.');
    this.pos += n;
  }

  bits(n: number): number {
    if (n === 0) return 0;
    const v = this.peek32(this.pos) >>> (32 - n);
    this.skip(n);
    return v;
  }

  decode(t: HuffmanTable): number {
    const peek = this.peek32(this.pos) >>> 16;
    const hit = t.lookup[peek >>> (16 - LOOKUP_BITS)] ?? 0;
    if (hit !== 0) {
      this.skip((hit & 31) - ((hit >>> 8) & 15));
      return hit >>> 8;
    }
    for (let len = 1; len <= 16; len++) {
      const code = peek >>> (16 - len);
      if (code <= (t.maxCode[len] ?? -1)) {
        this.skip(len);
        return t.values[(t.valPtr[len] ?? 0) + code - (t.minCode[len] ?? 0)] ?? 0;
      }
    }
    throw new TiffError('Malformed JPEG data.');
  }
}

/** Writes entropy-coded bits with 0xFF00 stuffing, a 32-bit word at a time. */
export class BitWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;
  /** buf.length as a small integer, cheaper to compare than the length. */
  private capacity: number;
  /** Pending bits, fewer than 32, at the top of `acc`. */
  private acc = 0;
  private n = 0;

  /** `capacity`: the expected size, to avoid growing; `scratch`: used instead when large enough. */
  constructor(capacity = 4096, scratch?: Uint8Array) {
    this.capacity = Math.max(capacity, 16);
    this.buf = scratch && scratch.length >= this.capacity ? scratch : new Uint8Array(this.capacity);
    this.capacity = this.buf.length;
    this.view = new DataView(this.buf.buffer);
  }

  /** Appends the low `bits` bits of `value` (at most 31). */
  write(value: number, bits: number): void {
    const v = value & ((1 << bits) - 1);
    if (bits < 32 - this.n) {
      this.acc |= v << (32 - this.n - bits);
      this.n += bits;
      return;
    }
    this.n += bits - 32;
    this.word(this.acc | (v >>> this.n));
    this.acc = (v << (31 - this.n)) << 1;
  }

  symbol(t: HuffmanTable, sym: number): void {
    const len = t.lengths[sym] ?? 0;
    if (len === 0) throw new TiffError('JPEG Huffman table lacks a needed code.');
    this.write(t.codes[sym] ?? 0, len);
  }

  /** Appends bits `from` to `to` of `r`'s data. */
  copy(r: BitReader, from: number, to: number): void {
    const { data, view } = r;
    const o = from & 7;
    let i = from >>> 3;
    let at = from;
    // Whole words first: with `n` pending bits, each fills the current word and leaves n bits.
    const n = this.n;
    let acc = this.acc;
    for (; to - at >= 32; at += 32, i += 4) {
      const w = (view.getUint32(i) << o) | ((data[i + 4] ?? 0) >>> (8 - o));
      this.word(acc | (w >>> n));
      acc = (w << (31 - n)) << 1;
    }
    this.acc = acc;
    if (at < to) this.write(((view.getUint32(i) << o) | ((data[i + 4] ?? 0) >>> (8 - o))) >>> (32 - to + at), to - at);
  }

  /** Appends 32 bits, stuffed, ahead of the pending ones. */
  private word(w: number): void {
    this.room();
    const x = ~w;
    if (((x - 0x01010101) & ~x & 0x80808080) === 0) {
      this.view.setUint32(this.len, w);
      this.len += 4;
    } else {
      for (let i = 24; i >= 0; i -= 8) this.byte((w >>> i) & 0xff);
    }
  }

  /** Pads the last byte with 1-bits (F.1.2.3) and returns the bytes. */
  finish(): Uint8Array {
    const pad = -this.n & 7;
    this.write((1 << pad) - 1, pad);
    this.room();
    for (let i = 0; i < this.n; i += 8) this.byte((this.acc >>> (24 - i)) & 0xff);
    return this.buf.subarray(0, this.len);
  }

  /** Makes room for a word, stuffed. */
  private room(): void {
    if (this.len + 8 <= this.capacity) return;
    this.capacity *= 2;
    const next = new Uint8Array(this.capacity);
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private byte(b: number): void {
    this.buf[this.len++] = b;
    if (b === 0xff) this.buf[this.len++] = 0;
  }
}
