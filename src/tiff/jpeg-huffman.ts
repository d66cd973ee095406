import { TiffError } from './errors.ts';

/** Bits resolved by one table lookup; longer codes take the canonical walk (Annex F.2.2.3). */
const LOOKUP_BITS = 9;

/** A DHT table, ready both to decode and to encode symbols. */
export interface HuffmanTable {
  maxCode: Int32Array;
  minCode: Int32Array;
  valPtr: Int32Array;
  values: Uint8Array;
  /** Indexed by the next LOOKUP_BITS bits: code length << 8 | symbol, or 0 for a longer code. */
  lookup: Uint16Array;
  codes: Uint16Array;
  /** Code length per symbol; 0 when the table has no code for it. */
  lengths: Uint8Array;
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
      if (len <= LOOKUP_BITS) {
        const shift = LOOKUP_BITS - len;
        t.lookup.fill((len << 8) | sym, code << shift, (code + 1) << shift);
      }
    }
    if (n > 0) t.maxCode[len] = code - 1;
    if (code > 1 << len) throw new TiffError('Malformed JPEG Huffman table.');
    code <<= 1;
  }
  return t;
}

/**
 * Reads entropy-coded bits, undoing 0xFF00 stuffing. Bytes are loaded ahead into a word;
 * a marker or the end of the data only fails once a bit past it is actually consumed.
 */
export class BitReader {
  /** The next `count` bits, most significant first; below them, zero padding. */
  private acc = 0;
  private count = 0;
  private ended = false;
  // Plain fields, not parameter properties: Node's type stripping runs this file as is.
  private readonly data: Uint8Array;
  private pos: number;

  constructor(data: Uint8Array, pos: number) {
    this.data = data;
    this.pos = pos;
  }

  /** Loads bytes until at least 25 bits are buffered or the entropy data ends. */
  private fill(): void {
    while (this.count <= 24 && !this.ended) {
      const b = this.data[this.pos];
      if (b === undefined || (b === 0xff && this.data[this.pos + 1] !== 0)) {
        this.ended = true;
        return;
      }
      this.pos += b === 0xff ? 2 : 1;
      this.acc |= b << (24 - this.count);
      this.count += 8;
    }
  }

  /** The next 16 bits without consuming them (zeros past the end). */
  private peek16(): number {
    if (this.count < 16) this.fill();
    return this.acc >>> 16;
  }

  private skip(n: number): void {
    if (n > this.count) throw new TiffError('Truncated JPEG data.');
    this.acc <<= n;
    this.count -= n;
  }

  bits(n: number): number {
    if (n === 0) return 0;
    if (this.count < n) this.fill();
    const v = this.acc >>> (32 - n);
    this.skip(n);
    return v;
  }

  decode(t: HuffmanTable): number {
    const peek = this.peek16();
    const hit = t.lookup[peek >>> (16 - LOOKUP_BITS)] ?? 0;
    if (hit !== 0) {
      this.skip(hit >>> 8);
      return hit & 0xff;
    }
    for (let len = LOOKUP_BITS + 1; len <= 16; len++) {
      const code = peek >>> (16 - len);
      if (code <= (t.maxCode[len] ?? -1)) {
        this.skip(len);
        return t.values[(t.valPtr[len] ?? 0) + code - (t.minCode[len] ?? 0)] ?? 0;
      }
    }
    throw new TiffError('Malformed JPEG data.');
  }
}

/** Writes entropy-coded bits with 0xFF00 stuffing. */
export class BitWriter {
  private buf = new Uint8Array(4096);
  private len = 0;
  /** Pending bits, fewer than 8 between calls, in the low end of `acc`. */
  private acc = 0;
  private n = 0;

  /** Appends the low `bits` bits of `value` (at most 16). */
  write(value: number, bits: number): void {
    this.acc = (this.acc << bits) | (value & ((1 << bits) - 1));
    this.n += bits;
    while (this.n >= 8) {
      this.n -= 8;
      const b = (this.acc >>> this.n) & 0xff;
      this.push(b);
      if (b === 0xff) this.push(0);
    }
    this.acc &= (1 << this.n) - 1;
  }

  symbol(t: HuffmanTable, sym: number): void {
    const len = t.lengths[sym] ?? 0;
    if (len === 0) throw new TiffError('JPEG Huffman table lacks a needed code.');
    this.write(t.codes[sym] ?? 0, len);
  }

  /** Pads the last byte with 1-bits (F.1.2.3) and returns the bytes. */
  finish(): Uint8Array {
    if (this.n > 0) this.write(0x7f, 8 - this.n);
    return this.buf.subarray(0, this.len);
  }

  private push(b: number): void {
    if (this.len === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.len++] = b;
  }
}
