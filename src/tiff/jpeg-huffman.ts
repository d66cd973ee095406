import { TiffError } from './errors.ts';

/** A DHT table, ready both to decode (Annex F.2.2.3) and to encode symbols. */
export interface HuffmanTable {
  maxCode: Int32Array;
  minCode: Int32Array;
  valPtr: Int32Array;
  values: Uint8Array;
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
  return t;
}

/** Reads entropy-coded bits, undoing 0xFF00 stuffing; a marker mid-data is an error. */
export class BitReader {
  private cur = 0;
  private left = 0;

  constructor(
    private readonly data: Uint8Array,
    private pos: number,
  ) {}

  bit(): number {
    if (this.left === 0) {
      const b = this.data[this.pos];
      if (b === undefined) throw new TiffError('Truncated JPEG data.');
      if (b === 0xff) {
        if (this.data[this.pos + 1] !== 0) throw new TiffError('Truncated JPEG data.');
        this.pos++;
      }
      this.pos++;
      this.cur = b;
      this.left = 8;
    }
    this.left--;
    return (this.cur >> this.left) & 1;
  }

  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | this.bit();
    return v;
  }

  decode(t: HuffmanTable): number {
    let code = 0;
    for (let len = 1; len <= 16; len++) {
      code = (code << 1) | this.bit();
      if (code <= (t.maxCode[len] ?? -1)) return t.values[(t.valPtr[len] ?? 0) + code - (t.minCode[len] ?? 0)] ?? 0;
    }
    throw new TiffError('Malformed JPEG data.');
  }
}

/** Writes entropy-coded bits with 0xFF00 stuffing. */
export class BitWriter {
  private buf = new Uint8Array(4096);
  private len = 0;
  private acc = 0;
  private n = 0;

  write(value: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      if (++this.n === 8) {
        this.push(this.acc);
        if (this.acc === 0xff) this.push(0);
        this.acc = 0;
        this.n = 0;
      }
    }
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
