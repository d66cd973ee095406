import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TiffError } from '../../src/tiff/errors.ts';
import { BitReader, BitWriter, LOOKUP_BITS, RUN_BITS, RUN_EOB, acRuns, buildHuffmanTable } from '../../src/tiff/jpeg-huffman.ts';

// Annex K.3.3.2, Table K.5: the standard luminance AC table, with codes from 2 to 16 bits.
const AC_COUNTS = Uint8Array.of(0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d);
const AC_VALUES = Uint8Array.from(
  [
    '01 02 03 00 04 11 05 12 21 31 41 06 13 51 61 07 22 71 14 32 81 91 a1 08 23 42 b1 c1 15 52 d1 f0',
    '24 33 62 72 82 09 0a 16 17 18 19 1a 25 26 27 28 29 2a 34 35 36 37 38 39 3a 43 44 45 46 47 48 49',
    '4a 53 54 55 56 57 58 59 5a 63 64 65 66 67 68 69 6a 73 74 75 76 77 78 79 7a 83 84 85 86 87 88 89',
    '8a 92 93 94 95 96 97 98 99 9a a2 a3 a4 a5 a6 a7 a8 a9 aa b2 b3 b4 b5 b6 b7 b8 b9 ba c2 c3 c4 c5',
    'c6 c7 c8 c9 ca d2 d3 d4 d5 d6 d7 d8 d9 da e1 e2 e3 e4 e5 e6 e7 e8 e9 ea f1 f2 f3 f4 f5 f6 f7 f8',
    'f9 fa',
  ]
    .join(' ')
    .split(' ')
    .map((h) => parseInt(h, 16)),
);
const AC = buildHuffmanTable(AC_COUNTS, AC_VALUES);

describe('JPEG Huffman bit reader and writer', () => {
  it('has 162 symbols with the code lengths of Table K.5', () => {
    expect(AC_VALUES.length).toBe(162);
    expect([0x01, 0x00, 0x04, 0xf0, 0x82, 0xfa].map((s) => AC.lengths[s])).toEqual([2, 4, 4, 11, 15, 16]);
  });

  it('decodes what it encodes: short and 16-bit codes, extra bits, 0xFF stuffing', () => {
    const item = fc.record({ sym: fc.constantFrom(...AC_VALUES), extra: fc.nat(0x7ff) });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 400 }), (items) => {
        const w = new BitWriter();
        for (const { sym, extra } of items) {
          w.symbol(AC, sym);
          w.write(extra, sym & 15);
        }
        const data = w.finish();
        for (let i = 0; i < data.length; i++) if (data[i] === 0xff) expect(data[i + 1]).toBe(0);
        const r = new BitReader(Uint8Array.of(...data, 0xff, 0xd9), 0);
        for (const { sym, extra } of items) {
          expect(r.decode(AC)).toBe(sym);
          expect(r.bits(sym & 15)).toBe(extra & ((1 << (sym & 15)) - 1));
        }
      }),
      { numRuns: 300, seed: 20_240_605 },
    );
  });

  it('fails at the end of the data or at a marker, not before', () => {
    const w = new BitWriter();
    w.symbol(AC, 0xfa);
    const data = w.finish();
    const r = new BitReader(Uint8Array.of(...data, 0xff, 0xd9), 0);
    expect(r.decode(AC)).toBe(0xfa);
    expect(() => r.bits(8)).toThrow(TiffError);
    expect(() => new BitReader(Uint8Array.of(0xff, 0xd9), 0).decode(AC)).toThrow(TiffError);
  });

  it('skips at once, in each run entry, the AC symbols that decoding one by one reads', () => {
    // K.5, and a table whose short EOB and ZRL codes put many symbols in one entry.
    const short = buildHuffmanTable(Uint8Array.of(0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), Uint8Array.of(0x00, 0xf0, 0x01, 0x11, 0x0b, 0x22));
    for (const t of [AC, short]) {
      const runs = acRuns(t);
      expect(acRuns(t)).toBe(runs);
      for (let v = 0; v < 1 << RUN_BITS; v++) {
        // The index's bits, then bits that differ from one index to the next.
        const bits = (v << (32 - RUN_BITS)) | (Math.imul(v, 0x9e3779b1) >>> RUN_BITS);
        const w = new BitWriter();
        w.write(bits >>> 16, 16);
        w.write(bits, 16);
        w.write(0x5a3c96, 24);
        const r = new BitReader(w.finish(), 0);
        const entry = runs[v] ?? 0;
        // Unless the first code is a lookup hit, the entry is empty.
        const hit = (t.lookup[v >>> (RUN_BITS - LOOKUP_BITS)] ?? 0) !== 0;
        expect(entry !== 0, `index ${v}`).toBe(hit);
        if (!hit) continue;
        let steps = 0;
        let eob = false;
        let symbols = 0;
        while (r.pos < (entry & 31)) {
          // Each code after the first lies within the index.
          const at = r.pos;
          const sym = r.decode(t);
          if (symbols > 0) expect(r.pos, `index ${v}`).toBeLessThanOrEqual(RUN_BITS);
          expect(at + (t.lengths[sym] ?? 0), `index ${v}`).toBe(r.pos);
          r.bits(sym & 15);
          symbols++;
          steps += sym === 0 ? 1 : (sym >> 4) + 1;
          if (sym === 0) eob = true;
          expect(eob && r.pos < (entry & 31), `index ${v}: past EOB`).toBe(false);
        }
        expect([r.pos, steps, eob], `index ${v}`).toEqual([entry & 31, (entry >>> 5) & 255, (entry & RUN_EOB) !== 0]);
        expect(r.pos).toBeLessThanOrEqual(24);
      }
    }
    // Two ZRLs (01) and an EOB (00) with the short table: 6 bits, 16 + 16 + 1 steps.
    expect(acRuns(short)[0b0101_0000_0000]).toBe(6 | (33 << 5) | RUN_EOB);
  });

  it('reads and writes the same bits in a used scratch array as in fresh ones', () => {
    const bytes = fc.uint8Array({ maxLength: 600 });
    fc.assert(
      fc.property(bytes, fc.uint8Array({ minLength: 1, maxLength: 900 }), fc.nat(300), (data, dirt, from) => {
        // A scratch array full of what an earlier, larger crop left in it.
        const scratch = new Uint8Array(1200).fill(0xa5);
        scratch.set(dirt);
        const fresh = new BitReader(data, 0);
        const reused = new BitReader(data, 0, scratch);
        expect(reused.data).toBe(scratch);
        expect(reused.size).toBe(fresh.size);
        // Up to 256 bytes past the data, read ahead by crops, are zeros in both.
        for (let at = 0; at + 32 <= fresh.size + 256 * 8; at += 29) expect(reused.peek32(at)).toBe(fresh.peek32(at));
        const to = Math.min(fresh.size, from + 2000);
        const a = new BitWriter(16);
        const b = new BitWriter(16, new Uint8Array(1200).fill(0xff));
        for (const w of [a, b]) {
          w.write(5, 3);
          w.copy(w === a ? fresh : reused, Math.min(from, to), to);
        }
        expect([...b.finish()]).toEqual([...a.finish()]);
      }),
      { numRuns: 300, seed: 20_261_207 },
    );
  });
});
