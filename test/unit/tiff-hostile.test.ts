import { describe, expect, it } from 'vitest';
import {
  type RangeRead,
  TiffError,
  pyramidLevels,
  readTileLocation,
  readTiffStructure,
} from '../../src/tiff/index.ts';
import { type RawEntry, buildTiff, countingSource, tinyImage } from '../helpers/tiff-fixtures.ts';

const ARRAYS = 200;

/** Parses and expects a TiffError, quickly and within a few range reads. */
async function expectRejected(bytes: Uint8Array, message: RegExp, size = bytes.length, read?: RangeRead) {
  const src = countingSource(bytes);
  const started = performance.now();
  const err = await readTiffStructure(read ?? src.read, size).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TiffError);
  expect((err as TiffError).message).toMatch(message);
  expect((err as TiffError).status).toBe(422);
  expect(performance.now() - started).toBeLessThan(500);
  expect(src.calls).toBeLessThanOrEqual(70);
}

const tiny = (overrides?: Parameters<typeof tinyImage>[1], next = 0) =>
  buildTiff(1024, 8, [{ at: 8, entries: tinyImage(ARRAYS, overrides), next }]);

/** A virtual file of `size` bytes: `head` then zeros, never materialised. */
const sparse = (head: Uint8Array): RangeRead => async (offset, length) => {
  const out = new Uint8Array(length);
  out.set(head.subarray(offset, offset + length));
  return out;
};

describe('readTiffStructure on constructed files', () => {
  it('accepts the valid baseline file the hostile cases are made from', async () => {
    const bytes = tiny();
    new DataView(bytes.buffer).setUint32(ARRAYS, 600, true);
    new DataView(bytes.buffer).setUint32(ARRAYS + 64, 20, true);
    const structure = await readTiffStructure(countingSource(bytes).read, bytes.length);
    const [level] = pyramidLevels(structure);
    expect(level && [level.width, level.columns, level.rows, level.offsets.count]).toEqual([64, 4, 4, 16]);
    if (level) expect(await readTileLocation(countingSource(bytes).read, level, 0, 0)).toEqual({ offset: 600, length: 20 });
  });

  it('rejects truncated headers and wrong magic', async () => {
    await expectRejected(Uint8Array.of(0x49, 0x49, 42, 0), /Not a TIFF/);
    await expectRejected(new Uint8Array(0), /Not a TIFF/);
    const wrong = tiny();
    wrong[2] = 41;
    await expectRejected(wrong, /Not a TIFF/);
    await expectRejected(new TextEncoder().encode('GIF89a-not-a-tiff'), /Not a TIFF/);
    const big = new Uint8Array(32);
    big.set([0x49, 0x49, 43, 0, 4, 0, 0, 0]); // BigTIFF with a bad offset size
    await expectRejected(big, /Not a TIFF/);
  });

  it('rejects a header whose first IFD is past EOF or inside the header', async () => {
    const past = tiny();
    new DataView(past.buffer).setUint32(4, 5000, true);
    await expectRejected(past, /past end/);
    const inside = tiny();
    new DataView(inside.buffer).setUint32(4, 2, true);
    await expectRejected(inside, /past end/);
  });

  it('rejects a BigTIFF first-IFD offset beyond 2^53', async () => {
    const big = new Uint8Array(64);
    big.set([0x49, 0x49, 43, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff]);
    await expectRejected(big, /out of range/);
  });

  it('rejects IFD loops: self, two-cycle, and SubIFD back to its parent', async () => {
    await expectRejected(tiny(undefined, 8), /loop/);
    const cycle = buildTiff(1024, 8, [
      { at: 8, entries: tinyImage(ARRAYS), next: 400 },
      { at: 400, entries: tinyImage(ARRAYS), next: 8 },
    ]);
    await expectRejected(cycle, /loop/);
    const subLoop: RawEntry[] = [...tinyImage(ARRAYS), { tag: 330, type: 4, count: 1, value: 8 }];
    await expectRejected(buildTiff(1024, 8, [{ at: 8, entries: subLoop, next: 0 }]), /loop/);
  });

  it('rejects more than 64 directories', async () => {
    const ifds = Array.from({ length: 100 }, (_, i) => ({ at: 400 + i * 140, entries: tinyImage(ARRAYS), next: i < 99 ? 400 + (i + 1) * 140 : 0 }));
    await expectRejected(buildTiff(400 + 100 * 140, 400, ifds), /Too many/);
  });

  it('rejects empty or oversized directories', async () => {
    await expectRejected(buildTiff(1024, 8, [{ at: 8, entries: [], next: 0 }]), /Invalid TIFF directory/);
    const huge = tiny();
    new DataView(huge.buffer).setUint16(8, 65535, true);
    await expectRejected(huge, /Invalid TIFF directory/);
  });

  it('rejects values and tile tables past EOF', async () => {
    await expectRejected(tiny({ 324: { value: 5000 } }), /past end/);
    await expectRejected(tiny({ 325: { count: 16, value: 1000 } }), /past end/);
  });

  it('rejects absurd tile counts and sizes without reading or allocating the tables', async () => {
    const size = 1024 ** 3; // a 1 GiB virtual file: the tables would fit
    const many = tiny({ 324: { count: 50_000_000 }, 325: { count: 50_000_000 } });
    await expectRejected(many, /tile count out of range/, size, sparse(many));
    const wide = tiny({ 256: { type: 4, value: 2 ** 30 }, 322: { value: 1 } });
    await expectRejected(wide, /tile count out of range/, size, sparse(wide));
    const tooWide = tiny({ 256: { type: 4, value: 2 ** 31 } });
    await expectRejected(tooWide, /dimension out of range/);
    await expectRejected(tiny({ 257: { value: 0 } }), /dimension out of range/);
    await expectRejected(tiny({ 324: { count: 3 } }), /too short/);
  });

  it('rejects a source that returns fewer bytes than the size it claimed', async () => {
    const bytes = tiny().subarray(0, 100); // the IFD runs to byte 134
    await expectRejected(bytes, /Unexpected end of TIFF file/, 1024);
  });

  it('caps the bytes a parse may fetch', async () => {
    // 40 IFDs 200 KB apart in a 10 MB virtual file: read-ahead is bounded by the cap, then parsing stops.
    const ifds = Array.from({ length: 40 }, (_, i) => ({ at: 400 + i * 200_000, entries: tinyImage(ARRAYS), next: i < 39 ? 400 + (i + 1) * 200_000 : 0 }));
    const bytes = buildTiff(400 + 40 * 200_000, 400, ifds);
    const src = countingSource(bytes);
    const err = await readTiffStructure(src.read, bytes.length, { maxBytes: 1024 * 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TiffError);
    expect((err as Error).message).toMatch(/too large/);
    expect(src.bytesRead).toBeLessThanOrEqual(1024 * 1024);
  });
});

describe('readTileLocation on constructed files', () => {
  async function level(offset: number, length: number, size = 1024) {
    const bytes = tiny();
    const v = new DataView(bytes.buffer);
    for (let i = 0; i < 16; i++) {
      v.setUint32(ARRAYS + i * 4, offset, true);
      v.setUint32(ARRAYS + 64 + i * 4, length, true);
    }
    const [lv] = pyramidLevels(await readTiffStructure(sparse(bytes), size));
    if (!lv) throw new Error('no level');
    return { lv, read: sparse(bytes) };
  }

  it('rejects tiles outside the grid, past EOF, empty, or absurdly large', async () => {
    const ok = await level(600, 20);
    for (const [c, r] of [[4, 0], [0, 4], [-1, 0], [0.5, 0]] as const) {
      await expect(readTileLocation(ok.read, ok.lv, c, r)).rejects.toThrow(/outside/);
    }
    const past = await level(1000, 100);
    await expect(readTileLocation(past.read, past.lv, 1, 1)).rejects.toThrow(/past end/);
    // 10 MB for a 16x16 grey tile, in a 1 GiB file.
    const huge = await level(600, 10_000_000, 1024 ** 3);
    await expect(readTileLocation(huge.read, huge.lv, 2, 3)).rejects.toThrow(/too large/);
    const empty = await level(600, 0);
    await expect(readTileLocation(empty.read, empty.lv, 0, 0)).rejects.toThrow(/missing/);
  });
});
