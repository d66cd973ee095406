import sharp, { type JpegOptions } from 'sharp';
import { describe, expect, it } from 'vitest';
import { TiffError, cropJpeg } from '../../src/tiff/index.ts';
import { BitReader, BitWriter, type HuffmanTable, buildHuffmanTable } from '../../src/tiff/jpeg-huffman.ts';

// cropJpeg's fast paths (inline decoding, copied runs of bits, lazy end checks) must give the
// bytes and errors of the plain per-symbol crop, which this model is: the implementation they
// replaced, minus the header work.

const STANDARD_DC = buildHuffmanTable(Uint8Array.of(0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0), Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));

/** The entropy-coded data of the crop, decoding and re-encoding one symbol at a time. */
function modelScan(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const tables = new Map<number, HuffmanTable>();
  let frame: { w: number; h: number; comps: Map<number, { h: number; v: number }> } | undefined;
  for (let at = 2; ; ) {
    const marker = jpeg[at + 1] ?? 0;
    const end = at + 2 + (((jpeg[at + 2] ?? 0) << 8) | (jpeg[at + 3] ?? 0));
    if (marker === 0xc4) {
      for (let t = at + 4; t < end; ) {
        let n = 0;
        for (let i = 1; i <= 16; i++) n += jpeg[t + i] ?? 0;
        tables.set(jpeg[t] ?? 0, buildHuffmanTable(jpeg.subarray(t + 1, t + 17), jpeg.subarray(t + 17, t + 17 + n)));
        t += 17 + n;
      }
    } else if (marker === 0xc0) {
      const comps = new Map<number, { h: number; v: number }>();
      for (let i = 0; i < (jpeg[at + 9] ?? 0); i++) {
        const hv = jpeg[at + 11 + 3 * i] ?? 0;
        comps.set(jpeg[at + 10 + 3 * i] ?? 0, { h: hv >> 4, v: hv & 15 });
      }
      frame = { h: ((jpeg[at + 5] ?? 0) << 8) | (jpeg[at + 6] ?? 0), w: ((jpeg[at + 7] ?? 0) << 8) | (jpeg[at + 8] ?? 0), comps };
    } else if (marker === 0xda && frame) {
      const scan = Array.from({ length: jpeg[at + 4] ?? 0 }, (_, i) => {
        const sel = jpeg[at + 6 + 2 * i] ?? 0;
        const c = frame?.comps.get(jpeg[at + 5 + 2 * i] ?? 0) ?? { h: 1, v: 1 };
        const dc = tables.get(sel >> 4);
        const ac = tables.get(0x10 | (sel & 15));
        if (!dc || !ac) throw new Error('model: missing table');
        return { ...c, dc, ac, inPred: 0, outPred: 0 };
      });
      const multi = scan.length > 1;
      const mcuW = multi ? 8 * Math.max(...scan.map((c) => c.h)) : 8;
      const mcuH = multi ? 8 * Math.max(...scan.map((c) => c.v)) : 8;
      const r = new BitReader(jpeg, end);
      const out = new BitWriter();
      for (let my = 0; my < Math.ceil(height / mcuH); my++) {
        for (let mx = 0; mx < Math.ceil(frame.w / mcuW); mx++) {
          const keep = mx < Math.ceil(width / mcuW);
          for (const c of scan) {
            for (let b = 0; b < (multi ? c.h * c.v : 1); b++) {
              const s = r.decode(c.dc);
              if (s > 11) throw new TiffError('Malformed JPEG data.');
              const raw = r.bits(s);
              c.inPred += s === 0 ? 0 : raw < 1 << (s - 1) ? raw - (1 << s) + 1 : raw;
              if (keep) {
                const diff = c.inPred - c.outPred;
                c.outPred = c.inPred;
                const size = diff === 0 ? 0 : 32 - Math.clz32(Math.abs(diff));
                out.symbol(STANDARD_DC, size);
                out.write(diff < 0 ? diff - 1 : diff, size);
              }
              for (let k = 1; k < 64; ) {
                const rs = r.decode(c.ac);
                const bits = r.bits(rs & 15);
                if (keep) {
                  out.symbol(c.ac, rs);
                  out.write(bits, rs & 15);
                }
                if (rs === 0) break;
                k += (rs >> 4) + 1;
                if (k > 64) throw new TiffError('Malformed JPEG data.');
              }
            }
          }
        }
      }
      return out.finish();
    }
    at = end;
  }
}

/** The entropy-coded data of a crop: from the end of SOS to EOI. */
function scanOf(jpeg: Uint8Array): Uint8Array {
  let at = 2;
  while (jpeg[at + 1] !== 0xda) at += 2 + (((jpeg[at + 2] ?? 0) << 8) | (jpeg[at + 3] ?? 0));
  return jpeg.subarray(at + 2 + (((jpeg[at + 2] ?? 0) << 8) | (jpeg[at + 3] ?? 0)), jpeg.length - 2);
}

const outcome = (fn: () => Uint8Array): string => {
  try {
    return Buffer.from(fn()).toString('hex');
  } catch (e) {
    if (!(e instanceof TiffError)) throw e;
    return `${e.name}: ${e.message}`;
  }
};

function expectSameCrop(jpeg: Uint8Array, width: number, height: number, label: string): void {
  const model = outcome(() => modelScan(jpeg, width, height));
  expect(outcome(() => scanOf(cropJpeg(jpeg, width, height))), `${label} ${width}x${height}`).toBe(model);
}

let seed = 20_240_605;
const random = (n: number): number => {
  seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
  return Math.floor((seed / 2 ** 32) * n);
};

/** Smooth shapes, edges and noise: all code lengths and extra-bit sizes occur. */
function photo(w: number, h: number, channels: number, phase: number): Buffer {
  const px = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < channels; c++) {
        const v = 128 + 60 * Math.sin((x + phase) / (9 + 4 * c)) * Math.cos(y / 13) + (x > w / 2 ? 40 : -40) + random(50) - 25;
        px[(y * w + x) * channels + c] = Math.max(0, Math.min(255, v));
      }
    }
  }
  return px;
}

async function jpegOf(w: number, h: number, channels: 1 | 3, opts: JpegOptions): Promise<Uint8Array> {
  const img = sharp(photo(w, h, channels, random(100)), { raw: { width: w, height: h, channels } });
  return new Uint8Array(await (channels === 1 ? img.toColourspace('b-w') : img).jpeg(opts).toBuffer());
}

describe('cropJpeg against the per-symbol crop', () => {
  it('gives the same bytes for 4:2:0, 4:4:4 and grey, standard and optimised tables', async () => {
    for (const channels of [3, 1] as const) {
      for (const chromaSubsampling of channels === 3 ? ['4:2:0', '4:4:4'] : ['4:2:0']) {
        for (const optimiseCoding of [false, true]) {
          for (const [w, h, quality] of [[256, 256, 90], [203, 150, 75]] as const) {
            const jpeg = await jpegOf(w, h, channels, { quality, chromaSubsampling, optimiseCoding });
            const label = `${channels}ch ${chromaSubsampling} ${optimiseCoding ? 'optimised' : 'standard'} q${quality}`;
            for (const width of [1, 8, 9, 16, 17, 100, w - 32, w - 8, w]) expectSameCrop(jpeg, width, h, label);
            expectSameCrop(jpeg, 100, 1 + random(h), label);
          }
        }
      }
    }
  });

  it('fails as it does on truncated, corrupt or cut entropy data', async () => {
    const jpeg = await jpegOf(256, 256, 3, { quality: 90, optimiseCoding: false });
    const data = jpeg.length - scanOf(jpeg).length - 2;
    for (let i = 0; i < 150; i++) {
      const bad = new Uint8Array(jpeg);
      const kind = i % 3;
      if (kind === 0) for (let n = 0; n < 1 + random(4); n++) bad[data + random(jpeg.length - data - 2)] = random(256);
      else if (kind === 1) bad.set([0xff, 0xd0 + random(10)], data + random(jpeg.length - data - 2));
      expectSameCrop(kind === 2 ? bad.subarray(0, data + random(jpeg.length - data)) : bad, 1 + random(256), 1 + random(256), `case ${i}`);
    }
  });

  it('gives the same bytes and errors for crafted tables: symbols listed twice, long codes, big extra bits', () => {
    const segment = (marker: number, body: number[]): number[] => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];
    /** Counts and symbols of a random complete-enough code; some symbols twice. */
    function table(dc: boolean): { counts: number[]; values: number[] } {
      const counts = Array<number>(16).fill(0);
      const total = dc ? 1 + random(14) : 2 + random(random(2) ? 30 : 160);
      let assigned = 0;
      for (let len = 1, room = 2; len <= 16 && assigned < total; len++, room *= 2) {
        const n = Math.min(total - assigned, random(Math.min(room - 1, len < 4 ? 2 : 40) + 1));
        counts[len - 1] = n;
        assigned += n;
        room -= n;
      }
      const pool = dc ? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] : Array.from({ length: 256 }, (_, i) => i);
      const values = Array.from({ length: assigned }, () => pool[random(pool.length)] ?? 0);
      if (!dc) values[random(assigned)] = 0;
      return { counts, values };
    }
    /** Every code of each symbol, to write codes `codes` does not hold too. */
    function codesOf(t: { counts: number[]; values: number[] }): Map<number, Array<[number, number]>> {
      const all = new Map<number, Array<[number, number]>>();
      for (let len = 1, code = 0, k = 0; len <= 16; len++, code <<= 1) {
        for (let i = 0; i < (t.counts[len - 1] ?? 0); i++, k++, code++) {
          const sym = t.values[k] ?? 0;
          all.set(sym, [...(all.get(sym) ?? []), [code, len]]);
        }
      }
      return all;
    }
    for (let iter = 0; iter < 300; iter++) {
      const nc = random(3) === 0 ? 1 : 3;
      const sampling = Array.from({ length: nc }, (_, i) => (i === 0 && nc > 1 ? ([0x11, 0x22, 0x21, 0x12][random(4)] ?? 0x11) : 0x11));
      const [w, h] = [1 + random(70), 1 + random(50)];
      const ts = [0, 1].map(() => ({ dc: table(true), ac: table(false) }));
      const dht = ts.flatMap((t, id) => [id, ...t.dc.counts, ...t.dc.values, 0x10 | id, ...t.ac.counts, ...t.ac.values]);
      const header = [
        0xff,
        0xd8,
        ...segment(0xc4, dht),
        ...segment(0xc0, [8, h >> 8, h & 255, w >> 8, w & 255, nc, ...sampling.flatMap((s, i) => [i + 1, s, 0])]),
        ...segment(0xda, [nc, ...sampling.flatMap((_, i) => [i + 1, i === 0 ? 0x00 : 0x11]), 0, 63, 0]),
      ];
      const out = new BitWriter();
      const put = (codes: Map<number, Array<[number, number]>>, sym: number, extra: number): void => {
        const options = codes.get(sym) ?? [];
        const [code, len] = options[random(options.length)] ?? [0, 1];
        out.write(code, len);
        out.write(random(1 << extra), extra);
      };
      const codes = ts.map((t) => ({ dc: codesOf(t.dc), ac: codesOf(t.ac) }));
      const blocks = nc === 1 ? [0] : sampling.flatMap((s, i) => Array<number>((s >> 4) * (s & 15)).fill(i));
      const mcus = Math.ceil(w / 8) * Math.ceil(h / 8) + 2;
      for (let m = 0; m < mcus; m++) {
        for (const comp of blocks) {
          const t = ts[comp === 0 ? 0 : 1];
          const c = codes[comp === 0 ? 0 : 1];
          if (!t || !c) continue;
          const dcSym = t.dc.values[random(t.dc.values.length)] ?? 0;
          put(c.dc, dcSym, Math.min(dcSym, 16));
          for (let k = 1, n = random(random(8) ? 8 : 40); n > 0 && k < 64; n--) {
            const sym = t.ac.values[random(t.ac.values.length)] ?? 0;
            if (sym === 0 || k + (sym >> 4) + 1 > 64) continue;
            k += (sym >> 4) + 1;
            put(c.ac, sym, sym & 15);
          }
          put(c.ac, 0, 0);
        }
      }
      let data = [...out.finish()];
      if (random(4) === 0) data = data.slice(0, random(data.length + 1));
      const jpeg = Uint8Array.from([...header, ...data, 0xff, 0xd9]);
      for (let q = 0; q < 3; q++) expectSameCrop(jpeg, 1 + random(w), 1 + random(h), `crafted ${iter}`);
    }
  });
});
