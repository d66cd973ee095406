import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Jp2Codec, Jp2CodecError, type Jp2EncodeInput, loadJp2Codec } from '../../src/jp2/codec.ts';

const WASM = new URL('../../vendor/openjpeg/openjpeg.wasm', import.meta.url);
const BIG = 1 << 30;

let codec: Jp2Codec;
beforeAll(async () => {
  codec = await loadJp2Codec(await readFile(WASM));
});

type Channels = Jp2EncodeInput['channels'];

/** Every sample different from its neighbours, so only an exact decoder reproduces it. */
function noise(width: number, height: number, channels: Channels): Jp2EncodeInput {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return { data, width, height, channels };
}

/** 32-px cells of flat colour, so reduced and lossy decodes have known values at cell centres. */
const CELL = 32;
function cellColour(cx: number, cy: number, c: number): number {
  return [cx * 40 + 20, cy * 50 + 10, (cx + cy) * 25 + 30, 255 - cy * 60][c]! & 255;
}
function grid(width: number, height: number, channels: Channels): Jp2EncodeInput {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = cellColour(Math.floor(x / CELL), Math.floor(y / CELL), c);
    }
  }
  return { data, width, height, channels };
}

function crop(img: { data: Uint8Array; width: number; channels: number }, x: number, y: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * img.channels);
  for (let row = 0; row < h; row++) {
    const from = ((y + row) * img.width + x) * img.channels;
    out.set(img.data.subarray(from, from + w * img.channels), row * w * img.channels);
  }
  return out;
}

function meanDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

const be32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const ascii = (s: string) => [...s].map((ch) => ch.charCodeAt(0));
const box = (type: string, payload: ArrayLike<number>) => [...be32(8 + payload.length), ...ascii(type), ...Array.from(payload)];

/** A JP2 file (ISO 15444-1 annex I) around a codestream, with the header boxes given. */
function jp2File(codestream: Uint8Array, width: number, height: number, components: number, headerBoxes: number[]): Uint8Array {
  const ihdr = box('ihdr', [...be32(height), ...be32(width), components >> 8, components & 0xff, 7, 7, 0, 0]);
  return Uint8Array.from([
    ...box('jP  ', [0x0d, 0x0a, 0x87, 0x0a]),
    ...box('ftyp', [...ascii('jp2 '), ...be32(0), ...ascii('jp2 ')]),
    ...box('jp2h', [...ihdr, ...headerBoxes]),
    ...box('jp2c', codestream),
  ]);
}

interface Marker {
  code: number;
  offset: number;
  body: Uint8Array;
}

/** Main-header markers (A.4) from SOC to the first SOT, and each tile-part's SOT offset (by Psot). */
function scanCodestream(bytes: Uint8Array): { main: Marker[]; tileParts: Array<{ tile: number; offset: number }> } {
  let pos = bytes[0] === 0xff && bytes[1] === 0x4f ? 0 : Buffer.from(bytes).indexOf('jp2c') + 4;
  expect(bytes[pos] === 0xff && bytes[pos + 1] === 0x4f).toBe(true);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const main: Marker[] = [];
  pos += 2;
  while (view.getUint16(pos) !== 0xff90) {
    const length = view.getUint16(pos + 2);
    main.push({ code: view.getUint16(pos), offset: pos, body: bytes.subarray(pos + 4, pos + 2 + length) });
    pos += 2 + length;
  }
  const tileParts: Array<{ tile: number; offset: number }> = [];
  while (view.getUint16(pos) === 0xff90) {
    tileParts.push({ tile: view.getUint16(pos + 4), offset: pos });
    pos += view.getUint32(pos + 6);
  }
  expect(view.getUint16(pos)).toBe(0xffd9); // EOC
  return { main, tileParts };
}

const marker = (main: Marker[], code: number) => main.find((m) => m.code === code);

describe('JP2 codec: lossless round trips are exact', () => {
  const cases: Array<[string, Channels, 'jp2' | 'j2k', number | undefined]> = [
    ['gray', 1, 'j2k', undefined],
    ['gray+alpha', 2, 'jp2', 64],
    ['RGB', 3, 'jp2', undefined],
    ['RGB tiled', 3, 'j2k', 64],
    ['RGBA tiled', 4, 'jp2', 100],
  ];
  it.each(cases)('%s (%s channels, %s, tile %s)', (_name, channels, format, tileSize) => {
    const input = noise(203, 141, channels);
    const bytes = codec.encode(input, { format, lossless: true, ...(tileSize ? { tileSize } : {}) });
    const out = codec.decode(bytes, { reduce: 0, maxBytes: BIG });
    expect([out.width, out.height, out.channels]).toEqual([203, 141, channels]);
    expect(meanDiff(out.data, input.data)).toBe(0);
  });

  it('writes JP2 boxes for jp2 and a bare codestream for j2k', () => {
    const input = noise(16, 16, 3);
    const jp2 = codec.encode(input, { format: 'jp2', lossless: true });
    const j2k = codec.encode(input, { format: 'j2k', lossless: true });
    expect(Array.from(jp2.subarray(0, 12))).toEqual([0, 0, 0, 12, ...ascii('jP  '), 0x0d, 0x0a, 0x87, 0x0a]);
    expect(Array.from(j2k.subarray(0, 2))).toEqual([0xff, 0x4f]);
  });
});

describe('JP2 codec: lossy encoding', () => {
  it('keeps the colours and respects the compression ratio', () => {
    const input = grid(320, 256, 3);
    const bytes = codec.encode(input, { format: 'jp2', rate: 20 });
    expect(bytes.length).toBeLessThanOrEqual(input.data.length / 20 + 1024);
    const out = codec.decode(bytes, { reduce: 0, maxBytes: BIG });
    expect(meanDiff(out.data, input.data)).toBeLessThan(2);
  });
});

describe('JP2 codec: reduced resolutions and areas', () => {
  const input = grid(500, 300, 3);
  let bytes: Uint8Array;
  beforeAll(() => {
    bytes = codec.encode(input, { format: 'jp2', lossless: true, tileSize: 128, levels: 5 });
  });

  it.each([0, 1, 2, 3, 5])('reduce %i gives ceil(size / 2^r) with the cells in place', (reduce) => {
    const out = codec.decode(bytes, { reduce, maxBytes: BIG });
    const scale = 2 ** reduce;
    expect([out.width, out.height]).toEqual([Math.ceil(500 / scale), Math.ceil(300 / scale)]);
    if (scale > 8) return; // cells smaller than 4 px blur into each other
    for (let cy = 0; cy < 9; cy++) {
      for (let cx = 0; cx < 15; cx++) {
        const x = Math.floor((cx * CELL + CELL / 2) / scale);
        const y = Math.floor((cy * CELL + CELL / 2) / scale);
        const at = (y * out.width + x) * 3;
        for (let c = 0; c < 3; c++) expect(Math.abs(out.data[at + c]! - cellColour(cx, cy, c))).toBeLessThanOrEqual(2);
      }
    }
  });

  it('decodes an area at full resolution to exactly those pixels', () => {
    const area = { x0: 117, y0: 45, x1: 391, y1: 260 };
    const out = codec.decode(bytes, { reduce: 0, area, maxBytes: BIG });
    expect([out.width, out.height]).toEqual([274, 215]);
    expect(meanDiff(out.data, crop(input, 117, 45, 274, 215))).toBe(0);
  });

  it.each([1, 2, 3])('decodes an area at reduce %i as the same window of the whole reduced image', (reduce) => {
    const area = { x0: 117, y0: 45, x1: 391, y1: 260 };
    const s = 2 ** reduce;
    const whole = codec.decode(bytes, { reduce, maxBytes: BIG });
    const out = codec.decode(bytes, { reduce, area, maxBytes: BIG });
    // The reduced grid's window: ceil of each edge (ISO 15444-1 B.5).
    const [x0, y0, x1, y1] = [Math.ceil(117 / s), Math.ceil(45 / s), Math.ceil(391 / s), Math.ceil(260 / s)];
    expect([out.width, out.height]).toEqual([x1 - x0, y1 - y0]);
    expect(meanDiff(out.data, crop(whole, x0, y0, x1 - x0, y1 - y0))).toBe(0);
  });

  it('clips an area running past the image, and refuses one outside it', () => {
    const out = codec.decode(bytes, { reduce: 0, area: { x0: 400, y0: 200, x1: 9000, y1: 9000 }, maxBytes: BIG });
    expect([out.width, out.height]).toEqual([100, 100]);
    expect(() => codec.decode(bytes, { reduce: 0, area: { x0: 600, y0: 0, x1: 700, y1: 10 }, maxBytes: BIG })).toThrow(
      /outside the image/,
    );
  });

  it('decodes only the tiles an area covers: a damaged far tile does not matter', () => {
    const tiled = codec.encode(input, { format: 'j2k', lossless: true, tileSize: 128 });
    const { tileParts } = scanCodestream(tiled);
    const last = tileParts.at(-1)!;
    const damaged = tiled.slice();
    // Overwrite the packet data of the last tile (after SOT and SOD), keeping its markers.
    for (let i = last.offset + 14 + 8; i < damaged.length - 2; i++) damaged[i] = 0xff ^ damaged[i]!;
    const area = { x0: 0, y0: 0, x1: 128, y1: 128 };
    const out = codec.decode(damaged, { reduce: 0, area, maxBytes: BIG });
    expect(meanDiff(out.data, crop(input, 0, 0, 128, 128))).toBe(0);
    // The whole image does read the damaged tile.
    let whole: Uint8Array | undefined;
    try {
      whole = codec.decode(damaged, { reduce: 0, maxBytes: BIG }).data;
    } catch (e) {
      expect(e).toBeInstanceOf(Jp2CodecError);
    }
    if (whole) expect(meanDiff(whole, input.data)).toBeGreaterThan(0);
  });
});

describe('JP2 codec: encoder options reach the codestream', () => {
  it('tile size, decomposition levels and TLM markers', () => {
    const input = grid(600, 400, 3);
    const bytes = codec.encode(input, { format: 'jp2', rate: 10, tileSize: 256, levels: 4, tlm: true });
    const { main, tileParts } = scanCodestream(bytes);
    const siz = new DataView(marker(main, 0xff51)!.body.buffer, marker(main, 0xff51)!.body.byteOffset);
    expect([siz.getUint32(2), siz.getUint32(6), siz.getUint32(18), siz.getUint32(22)]).toEqual([600, 400, 256, 256]);
    // COD: Scod, progression, layers (2), MCT, then the number of decomposition levels.
    expect(marker(main, 0xff52)!.body[5]).toBe(4);
    expect(marker(main, 0xff55)).toBeDefined();
    expect(tileParts.map((t) => t.tile)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('no TLM unless asked; one tile-part per resolution in RPCL order when asked', () => {
    const input = grid(300, 300, 1);
    const plain = scanCodestream(codec.encode(input, { format: 'j2k', lossless: true, tileSize: 256, levels: 3 }));
    expect(marker(plain.main, 0xff55)).toBeUndefined();
    expect(plain.tileParts).toHaveLength(4);
    const parts = scanCodestream(
      codec.encode(input, { format: 'j2k', lossless: true, tileSize: 256, levels: 3, tlm: true, resolutionTileParts: true }),
    );
    expect(marker(parts.main, 0xff52)!.body[1]).toBe(2); // RPCL
    expect(parts.tileParts).toHaveLength(4 * 4);
    expect(parts.tileParts.slice(0, 4).map((t) => t.tile)).toEqual([0, 0, 0, 0]);
  });

  it('fewer levels when tiles do not start on multiples of 2^levels (OpenJPEG #1575 corrupts such edge tiles)', () => {
    const bytes = codec.encode(noise(203, 141, 1), { format: 'j2k', lossless: true, tileSize: 100, levels: 5 });
    expect(marker(scanCodestream(bytes).main, 0xff52)!.body[5]).toBe(2); // 100 = 4 × 25
    expect(meanDiff(codec.decode(bytes, { reduce: 0, maxBytes: BIG }).data, noise(203, 141, 1).data)).toBe(0);
  });

  it('fewer levels when the image is too small for the ones asked', () => {
    const bytes = codec.encode(grid(8, 8, 3), { format: 'j2k', lossless: true, levels: 6 });
    expect(marker(scanCodestream(bytes).main, 0xff52)!.body[5]).toBe(3);
    expect(codec.decode(bytes, { reduce: 3, maxBytes: BIG }).width).toBe(1);
  });
});

describe('JP2 codec: colour', () => {
  it('converts sYCC (colr EnumCS 18) to RGB', () => {
    const rgb = grid(96, 64, 3);
    const ycc = new Uint8Array(rgb.data.length);
    const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
    for (let i = 0; i < ycc.length; i += 3) {
      const [r, g, b] = [rgb.data[i]!, rgb.data[i + 1]!, rgb.data[i + 2]!];
      // ITU-R BT.601 full range, as sYCC (IEC 61966-2-1 amendment 1) defines it.
      ycc[i] = clamp(0.299 * r + 0.587 * g + 0.114 * b);
      ycc[i + 1] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      ycc[i + 2] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
    const bytes = codec.encode({ ...rgb, data: ycc }, { format: 'jp2', lossless: true });
    const colr = Buffer.from(bytes).indexOf('colr');
    expect(new DataView(bytes.buffer).getUint32(colr + 7)).toBe(16);
    new DataView(bytes.buffer).setUint32(colr + 7, 18);
    const out = codec.decode(bytes, { reduce: 0, maxBytes: BIG });
    expect(out.channels).toBe(3);
    expect(meanDiff(out.data, rgb.data)).toBeLessThan(1);
  });

  it('converts CMYK (colr EnumCS 12) to RGB', () => {
    const cmyk = noise(40, 30, 4);
    const bytes = codec.encode(cmyk, { format: 'jp2', lossless: true });
    const colr = Buffer.from(bytes).indexOf('colr');
    new DataView(bytes.buffer).setUint32(colr + 7, 12);
    const out = codec.decode(bytes, { reduce: 0, maxBytes: BIG });
    expect(out.channels).toBe(3);
    const want = new Uint8Array(40 * 30 * 3);
    for (let i = 0; i < 40 * 30; i++) {
      const k = 1 - cmyk.data[i * 4 + 3]! / 255;
      for (let c = 0; c < 3; c++) want[i * 3 + c] = Math.round((255 - cmyk.data[i * 4 + c]!) * k);
    }
    expect(meanDiff(out.data, want)).toBeLessThan(0.01);
  });

  it('applies a palette (pclr + cmap boxes)', () => {
    const palette = [
      [255, 0, 0],
      [0, 128, 255],
      [10, 200, 30],
      [250, 250, 250],
    ];
    const indices = new Uint8Array(40 * 20).map((_, i) => ((i % 40) >> 3) % 4);
    const codestream = codec.encode({ data: indices, width: 40, height: 20, channels: 1 }, { format: 'j2k', lossless: true });
    const pclr = box('pclr', [0, palette.length, 3, 7, 7, 7, ...palette.flat()]);
    const cmap = box('cmap', [0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 2]);
    const colr = box('colr', [1, 0, 0, ...be32(16)]);
    const out = codec.decode(jp2File(codestream, 40, 20, 1, [...colr, ...pclr, ...cmap]), { reduce: 0, maxBytes: BIG });
    expect([out.width, out.height, out.channels]).toEqual([40, 20, 3]);
    const expected = Uint8Array.from(Array.from(indices).flatMap((i) => palette[i]!));
    expect(meanDiff(out.data, expected)).toBe(0);
  });

  it('returns the ICC profile of a colr box for the renderer to apply', async () => {
    const { icc } = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
      .withIccProfile('p3')
      .jpeg()
      .toBuffer()
      .then((b) => sharp(b).metadata());
    expect(icc!.length).toBeGreaterThan(128);
    const codestream = codec.encode(grid(32, 32, 3), { format: 'j2k', lossless: true });
    const colr = box('colr', [2, 0, 0, ...icc!]);
    const out = codec.decode(jp2File(codestream, 32, 32, 3, colr), { reduce: 0, maxBytes: BIG });
    expect(Buffer.from(out.icc!).equals(icc!)).toBe(true);
    expect(codec.decode(codestream, { reduce: 0, maxBytes: BIG }).icc).toBeUndefined();
  });
});

describe('JP2 codec: sample precision', () => {
  // A lossless 8-bit gray codestream whose SIZ is rewritten: the coded coefficients stay, but
  // the decoder's DC level shift (2^(precision-1), none when signed) and clamp follow SIZ (G.1).
  const input = noise(64, 48, 1);
  function withSsiz(ssiz: number): Uint8Array {
    const bytes = codec.encode(input, { format: 'j2k', lossless: true });
    const siz = marker(scanCodestream(bytes).main, 0xff51)!;
    expect(siz.body[36]).toBe(7); // Ssiz of component 0: unsigned, 8 bits
    bytes[siz.offset + 4 + 36] = ssiz;
    return bytes;
  }
  const decoded = (ssiz: number) => codec.decode(withSsiz(ssiz), { reduce: 0, maxBytes: BIG }).data;

  it('12-bit samples are scaled to 8 bits', () => {
    // Shifted by 2048 instead of 128: v + 1920 in 12 bits, then the top 8 bits.
    expect(Array.from(decoded(11))).toEqual(Array.from(input.data, (v) => (v + 1920) >> 4));
  });

  it('4-bit samples are stretched to 0–255', () => {
    // Shifted by 8 instead of 128 and clamped to 0–15, then scaled by 255/15.
    const want = Array.from(input.data, (v) => Math.round((Math.min(15, Math.max(0, v - 120)) * 255) / 15));
    expect(Array.from(decoded(3))).toEqual(want);
  });

  it('signed 8-bit samples are offset back to unsigned', () => {
    expect(Array.from(decoded(0x80 | 7))).toEqual(Array.from(input.data));
  });
});

/**
 * A stand-in module with the glue's exports whose ojw_decode traps (`unreachable`) the first
 * time in each instance, after setting a global: a reused instance would not trap again.
 */
function trappingModule(): Uint8Array<ArrayBuffer> {
  const leb = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...leb(n >>> 7)]);
  const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  const name = (s: string) => [...leb(s.length), ...ascii(s)];
  const [I32, F64, FUNC] = [0x7f, 0x7c, 0x60];
  const types = [
    [FUNC, 0, 0], // () -> ()
    [FUNC, 1, I32, 1, I32], // (i32) -> i32
    [FUNC, 1, I32, 0], // (i32) -> ()
    [FUNC, 8, I32, I32, I32, I32, I32, I32, I32, F64, 1, I32], // ojw_decode
    [FUNC, 0, 1, I32], // () -> i32
  ];
  const funcs: Array<[string, number, number[]]> = [
    ['_initialize', 0, []],
    ['malloc', 1, [0x41, ...leb(1024)]], // i32.const 1024
    ['free', 2, []],
    // global.get 0; i32.eqz; if; i32.const 1; global.set 0; unreachable; end; i32.const 0
    ['ojw_decode', 3, [0x23, 0, 0x45, 0x04, 0x40, 0x41, 1, 0x24, 0, 0x00, 0x0b, 0x41, 0]],
    ['ojw_release', 0, []],
    ['ojw_last_error', 4, [0x41, 0]],
    ['ojw_last_error_code', 4, [0x41, 0]],
  ];
  const exports = [[...name('memory'), 2, 0], ...funcs.map(([n], i) => [...name(n), 0, i])];
  return Uint8Array.from([
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec(types)),
    ...section(3, vec(funcs.map(([, t]) => [t]))),
    ...section(5, vec([[0, 1]])), // one page
    ...section(6, vec([[I32, 1, 0x41, 0, 0x0b]])), // mutable i32 global = 0
    ...section(7, vec(exports)),
    ...section(10, vec(funcs.map(([, , code]) => { const body = [0, ...code, 0x0b]; return [...leb(body.length), ...body]; }))),
  ]);
}

describe('JP2 codec: a trap in the module', () => {
  it('is a Jp2CodecError, and the next call gets a fresh instance', async () => {
    const trapping = await loadJp2Codec(trappingModule());
    for (let i = 0; i < 2; i++) {
      let error: unknown;
      try {
        trapping.decode(new Uint8Array(16), { reduce: 0, maxBytes: BIG });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(Jp2CodecError);
      expect((error as Jp2CodecError).kind).toBe('failed');
      // A reused instance would return 0 (an ordinary failure) instead of trapping.
      expect((error as Jp2CodecError).message).toMatch(/codec stopped: unreachable/);
    }
  });
});

describe('JP2 codec: errors are one line and the codec carries on', () => {
  const good = () => codec.encode(grid(64, 64, 3), { format: 'jp2', lossless: true });

  function failure(fn: () => unknown): Jp2CodecError {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(Jp2CodecError);
      const error = e as Jp2CodecError;
      expect(error.message).not.toMatch(/\n/);
      expect(error.message.length).toBeGreaterThan(5);
      return error;
    }
    throw new Error('expected a failure');
  }

  it('not JPEG 2000, truncated, too many reductions', () => {
    expect(failure(() => codec.decode(new Uint8Array([1, 2, 3, 4]), { reduce: 0, maxBytes: BIG })).kind).toBe('invalid');
    const bytes = good();
    expect(failure(() => codec.decode(bytes.subarray(0, 120), { reduce: 0, maxBytes: BIG })).kind).toBe('invalid');
    expect(failure(() => codec.decode(bytes, { reduce: 9, maxBytes: BIG })).message).toMatch(/resolution/i);
    expect(codec.decode(bytes, { reduce: 0, maxBytes: BIG }).width).toBe(64);
  });

  it('refuses an output over the byte budget before decoding', () => {
    const bytes = good();
    expect(failure(() => codec.decode(bytes, { reduce: 0, maxBytes: 64 * 64 * 3 - 1 })).kind).toBe('too_large');
    expect(codec.decode(bytes, { reduce: 0, maxBytes: 64 * 64 * 3 }).data.length).toBe(64 * 64 * 3);
    expect(codec.decode(bytes, { reduce: 1, maxBytes: 32 * 32 * 3 }).width).toBe(32);
  });

  it('a declared 12000×12000 image over the budget check fails within the 1 GiB module, and the next decode works', () => {
    const bytes = codec.encode(grid(64, 64, 3), { format: 'j2k', lossless: true });
    const siz = marker(scanCodestream(bytes).main, 0xff51)!;
    const view = new DataView(bytes.buffer, siz.offset + 4);
    for (const at of [2, 6, 18, 22]) view.setUint32(at, 12000); // Xsiz, Ysiz, XTsiz, YTsiz
    const error = failure(() => codec.decode(bytes, { reduce: 0, maxBytes: 2 ** 40 }));
    expect(['invalid', 'failed']).toContain(error.kind);
    expect(codec.decode(good(), { reduce: 0, maxBytes: BIG }).width).toBe(64);
  });

  it('rejects bad arguments without calling the module', () => {
    const bytes = good();
    expect(failure(() => codec.decode(bytes, { reduce: -1, maxBytes: BIG })).kind).toBe('invalid');
    expect(failure(() => codec.decode(bytes, { reduce: 0, area: { x0: 5, y0: 5, x1: 5, y1: 9 }, maxBytes: BIG })).kind).toBe('invalid');
    expect(failure(() => codec.encode({ data: new Uint8Array(5), width: 2, height: 2, channels: 3 }, { format: 'jp2' })).kind).toBe(
      'invalid',
    );
  });
});
