import { describe, expect, it } from 'vitest';
import { type Jp2Structure, readJp2Structure } from '../../src/jp2/index.ts';
import { coveringBytes, coveringTiles, partsForDecode, readTileSubset } from '../../src/jp2/subset.ts';
import { walkTileParts } from '../../src/jp2/tile-index.ts';
import { areaAtReduction } from '../../src/renderers/sharp-jp2.ts';
import { be16, be32, codestream, coc, jp2File, qcd, siz, tlm } from '../helpers/jp2-headers.ts';

const parse = (bytes: Uint8Array) => readJp2Structure(async (o, l) => bytes.subarray(o, o + l), bytes.length);

/** Walks the tile-parts of an assembled codestream: their tile indices, and whether TLM is still there. */
function describeCodestream(cs: Uint8Array) {
  const u16 = (at: number) => ((cs[at] ?? 0) << 8) | (cs[at + 1] ?? 0);
  let pos = 2;
  let tlm = false;
  while (u16(pos) !== 0xff90) {
    if (u16(pos) === 0xff55) tlm = true;
    pos += 2 + u16(pos + 2);
  }
  const tiles: number[] = [];
  while (u16(pos) === 0xff90) {
    tiles.push(u16(pos + 4));
    pos += u16(pos + 6) * 0x10000 + u16(pos + 8);
  }
  return { tiles, tlm, ends: u16(pos) === 0xffd9 && pos + 2 === cs.length };
}

describe('reading only the covering tile-parts', () => {
  const cs = codestream({ width: 1000, height: 700, tileWidth: 256, tileHeight: 256, withTlm: true, partData: (t) => 100 + t });

  it('finds the tiles an area meets, on the tile grid', async () => {
    const s = await parse(cs);
    expect(coveringTiles(s, { x0: 0, y0: 0, x1: 256, y1: 256 })).toEqual([0]);
    expect(coveringTiles(s, { x0: 255, y0: 255, x1: 257, y1: 257 })).toEqual([0, 1, 4, 5]);
    expect(coveringTiles(s, { x0: 900, y0: 600, x1: 1000, y1: 700 })).toEqual([11]);
    expect(coveringBytes(s.tileParts ?? [], [0, 11])).toBe(14 + 100 + 14 + 111);
  });

  it('a raw codestream of just those tile-parts, TLM dropped, each keeping its tile index; bytes read are header + parts', async () => {
    const s = await parse(cs);
    let read = 0;
    const out = await readTileSubset(s, s.tileParts ?? [], [5, 6], async (o, l) => {
      read += l;
      return cs.subarray(o, o + l);
    });
    expect(describeCodestream(out)).toEqual({ tiles: [5, 6], tlm: false, ends: true });
    expect(read).toBeLessThanOrEqual(s.end + (105 + 14) + (106 + 14) + 16 * 1024);
  });

  it('a JP2 keeps its jp2h box around the smaller codestream', async () => {
    const file = jp2File(cs, 1000, 700);
    const s = await parse(file);
    const out = await readTileSubset(s, s.tileParts ?? [], [11], async (o, l) => file.subarray(o, o + l));
    const again = await parse(out);
    expect(again.codestream.colour).toEqual(s.codestream.colour);
    expect(describeCodestream(out.subarray(again.codestream.offset))).toEqual({ tiles: [11], tlm: false, ends: true });
  });

  it('refuses when a tile-part is not where TLM says', async () => {
    const bad = cs.slice();
    const s: Jp2Structure = await parse(bad);
    const part = s.tileParts?.[3];
    if (!part) throw new Error('no tile-part');
    bad[part.offset + 5] = 9; // its SOT now names tile 9
    await expect(readTileSubset(s, s.tileParts ?? [], [3], async (o, l) => bad.subarray(o, o + l))).rejects.toMatchObject({ status: 422 });
  });
});

/** COD with a progression order (0 LRCP, 1 RLCP, 2 RPCL, 3 PCRL, 4 CPRL) and Scod (2: SOP, 4: EPH markers). */
const codOrder = (order: number, levels: number, scod = 0) => [0xff, 0x52, ...be16(12), scod, order, ...be16(1), 1, levels, 4, 4, 0, 0];
/** A tile-part with TPsot/TNsot, optional header markers, then `data` filler bytes after SOD. */
function part(tile: number, index: number, count: number, data: number, header: number[] = []): number[] {
  const length = 12 + header.length + 2 + data;
  return [0xff, 0x90, ...be16(10), ...be16(tile), ...be32(length), index, count, ...header, 0xff, 0x93, ...new Array<number>(data).fill(0x22 + index)];
}

/** Four 256² tiles, 2 levels (3 resolutions), `perTile` tile-parts each, with TLM. */
function resolutionParts(o: { order?: number; scod?: number; perTile?: number; extra?: number[]; header?: (tile: number, index: number) => number[] } = {}) {
  const perTile = o.perTile ?? 3;
  const parts: number[][] = [];
  for (let t = 0; t < 4; t++) for (let k = 0; k < perTile; k++) parts.push(part(t, k, perTile, 40 * (k + 1) + t, o.header?.(t, k)));
  const head = [0xff, 0x4f, ...siz({ width: 512, height: 512, tileWidth: 256, tileHeight: 256 }), ...codOrder(o.order ?? 2, 2, o.scod), ...qcd(2), ...(o.extra ?? [])];
  head.push(...tlm(parts.map((p) => ({ tile: (p[4] ?? 0) * 256 + (p[5] ?? 0), length: p.length }))));
  return Uint8Array.from([...head, ...parts.flat(), 0xff, 0xd9]);
}

/** The tile-parts of an assembled codestream: [tile, TPsot, TNsot, first data byte]. */
function partsOf(cs: Uint8Array): number[][] {
  const u16 = (at: number) => ((cs[at] ?? 0) << 8) | (cs[at + 1] ?? 0);
  let pos = 2;
  while (u16(pos) !== 0xff90) pos += 2 + u16(pos + 2);
  const out: number[][] = [];
  while (u16(pos) === 0xff90) {
    let sod = pos + 12;
    while (u16(sod) !== 0xff93) sod += 2 + u16(sod + 2);
    out.push([u16(pos + 4), cs[pos + 10] ?? -1, cs[pos + 11] ?? -1, cs[sod + 2] ?? -1]);
    pos += u16(pos + 6) * 0x10000 + u16(pos + 8);
  }
  return out;
}

describe('reading only the first tile-parts for a reduced decode (one tile-part per resolution)', () => {
  const reader = (bytes: Uint8Array) => {
    const counted = { bytes: 0 };
    return { counted, read: async (o: number, l: number) => ((counted.bytes += l), bytes.subarray(o, o + l)) };
  };

  it('knows the packet order from COD: resolution-major for RLCP and RPCL only, not with POC or a COC of other levels', async () => {
    expect((await parse(resolutionParts({ order: 2 }))).resolutionMajor).toBe(true);
    expect((await parse(resolutionParts({ order: 1 }))).resolutionMajor).toBe(true);
    for (const order of [0, 3, 4]) expect((await parse(resolutionParts({ order }))).resolutionMajor).toBe(false);
    const poc = [0xff, 0x5f, ...be16(9), 0, 0, ...be16(1), 3, 3, 0];
    expect((await parse(resolutionParts({ extra: poc }))).resolutionMajor).toBe(false);
    expect((await parse(resolutionParts({ extra: coc(1, 1) }))).resolutionMajor).toBe(false);
    expect((await parse(resolutionParts({ extra: coc(1, 2) }))).resolutionMajor).toBe(true);
    // OpenJPEG 2.5.0 cannot decode a tile cut to its first tile-parts when packet headers end in EPH; SOP alone is fine.
    expect((await parse(resolutionParts({ scod: 2 }))).resolutionMajor).toBe(true);
    for (const scod of [4, 6]) expect((await parse(resolutionParts({ scod }))).resolutionMajor).toBe(false);
  });

  it('keeps the first levels + 1 - reduce tile-parts of each tile, and all of them otherwise', async () => {
    const s = await parse(resolutionParts());
    const index = s.tileParts ?? [];
    const picked = (tiles: number[], reduce: number) => {
      const { parts, perTile } = partsForDecode(s, index, tiles, reduce);
      return { parts: parts.map((p) => [p.tile, index.indexOf(p) % 3]), perTile };
    };
    expect(picked([0, 3], 2)).toEqual({ parts: [[0, 0], [3, 0]], perTile: 1 });
    expect(picked([1], 1)).toEqual({ parts: [[1, 0], [1, 1]], perTile: 2 });
    expect(picked([1], 0)).toEqual({ parts: [[1, 0], [1, 1], [1, 2]] });
    // Beyond the levels there is nothing to drop: the decoder refuses such a reduction itself.
    expect(picked([1], 3).parts).toHaveLength(3);
    // Layer-major packets, or another number of tile-parts a tile: everything.
    const lrcp = await parse(resolutionParts({ order: 0 }));
    expect(partsForDecode(lrcp, lrcp.tileParts ?? [], [0], 2).parts).toHaveLength(3);
    const two = await parse(resolutionParts({ perTile: 2 }));
    expect(partsForDecode(two, two.tileParts ?? [], [0], 2)).toEqual({ parts: (two.tileParts ?? []).slice(0, 2) });
  });

  it('reads only those tile-parts, and says in TNsot how many each tile now has', async () => {
    const cs = resolutionParts();
    const s = await parse(cs);
    const { counted, read } = reader(cs);
    const out = await readTileSubset(s, s.tileParts ?? [], [0, 2], read, 1);
    expect(partsOf(out)).toEqual([
      [0, 0, 2, 0x22],
      [0, 1, 2, 0x23],
      [2, 0, 2, 0x22],
      [2, 1, 2, 0x23],
    ]);
    const kept = (s.tileParts ?? []).filter((_, i) => [0, 1, 6, 7].includes(i)).reduce((n, p) => n + p.length, 0);
    expect(counted.bytes).toBeLessThanOrEqual(s.end + kept + 16 * 1024);
    // The source's bytes are not patched in place.
    expect(cs[(s.tileParts?.[0]?.offset ?? 0) + 11]).toBe(3);
  });

  it('leaves the source untouched when reads return Node Buffers (whose slice() shares memory)', async () => {
    const file = Buffer.from(resolutionParts());
    const before = Buffer.from(file);
    const s = await parse(file);
    const read = async (o: number, l: number) => file.subarray(o, o + l);
    const reduced = await readTileSubset(s, s.tileParts ?? [], [0], read, 2);
    expect(partsOf(reduced).map((p) => p[2])).toEqual([1]);
    expect(file.equals(before)).toBe(true);
    // So a full-resolution subset read next still says three tile-parts.
    const whole = await readTileSubset(s, s.tileParts ?? [], [0], read, 0);
    expect(partsOf(whole).map((p) => p[2])).toEqual([3, 3, 3]);
  });

  it('reads every tile-part when a kept tile-part header changes the coding order (COD, COC, POC or PPT)', async () => {
    for (const marker of [codOrder(0, 2), coc(0, 2), [0xff, 0x5f, ...be16(9), 0, 0, ...be16(1), 3, 3, 0], [0xff, 0x61, ...be16(4), 0, 0]]) {
      const cs = resolutionParts({ header: (tile, index) => (tile === 2 && index === 0 ? marker : []) });
      const s = await parse(cs);
      const out = await readTileSubset(s, s.tileParts ?? [], [0, 2], reader(cs).read, 1);
      expect(partsOf(out).map(([tile, index, count]) => [tile, index, count])).toEqual([
        [0, 0, 3],
        [0, 1, 3],
        [0, 2, 3],
        [2, 0, 3],
        [2, 1, 3],
        [2, 2, 3],
      ]);
    }
  });

  it('that fallback stays within the caller\'s bound on tile-part bytes', async () => {
    const cs = resolutionParts({ header: (tile, index) => (tile === 0 && index === 0 ? codOrder(0, 2) : []) });
    const s = await parse(cs);
    const all = coveringBytes(s.tileParts ?? [], [0]);
    const refuse = () => Object.assign(new Error('over'), { status: 400 });
    await expect(readTileSubset(s, s.tileParts ?? [], [0], reader(cs).read, 1, { bytes: all - 1, refuse })).rejects.toMatchObject({ status: 400 });
    expect(partsOf(await readTileSubset(s, s.tileParts ?? [], [0], reader(cs).read, 1, { bytes: all, refuse }))).toHaveLength(3);
  });

  it('reads every tile-part when the first ones of a tile are not its tile-parts 0, 1… (TPsot)', async () => {
    const cs = resolutionParts();
    const s = await parse(cs);
    const second = s.tileParts?.[1];
    if (!second) throw new Error('no tile-part');
    cs[second.offset + 10] = 2; // tile 0's second tile-part now says it is its third
    const out = await readTileSubset(s, s.tileParts ?? [], [0], reader(cs).read, 1);
    expect(partsOf(out).map(([tile, index, count]) => [tile, index, count])).toEqual([
      [0, 0, 3],
      [0, 2, 3],
      [0, 2, 3],
    ]);
  });

  it('refuses a kept tile-part whose header runs past its end', async () => {
    const cs = resolutionParts({ header: (tile, index) => (tile === 0 && index === 0 ? [0xff, 0x58, ...be16(200)] : []) });
    const s = await parse(cs);
    await expect(readTileSubset(s, s.tileParts ?? [], [0], reader(cs).read, 1)).rejects.toMatchObject({ status: 422 });
  });
});

describe('walking the SOT markers of a codestream without TLM', () => {
  const read = (bytes: Uint8Array) => async (o: number, l: number) => bytes.subarray(o, o + l);

  it('finds the same tile-parts TLM lists', async () => {
    const opts = { width: 1000, height: 700, tileWidth: 256, tileHeight: 256, partData: (t: number) => 100 + t };
    const withTlm = await parse(codestream({ ...opts, withTlm: true }));
    const plain = codestream(opts);
    const s = await parse(plain);
    expect(s.tileParts).toBeUndefined();
    const walked = await walkTileParts(read(plain), s);
    expect(walked.map((p) => [p.tile, p.length])).toEqual(withTlm.tileParts?.map((p) => [p.tile, p.length]));
    expect(describeCodestream(await readTileSubset(s, walked, [5, 6], read(plain)))).toEqual({ tiles: [5, 6], tlm: false, ends: true });
  });

  it('refuses a chain that leaves the codestream, names an absent tile or loses its SOT', async () => {
    const opts = { width: 512, height: 512, tileWidth: 256, tileHeight: 256, partData: () => 30 };
    const s = await parse(codestream(opts));
    const first = s.end;
    for (const [at, value] of [[first + 6, 0x7f], [first + 5, 9], [first + 44 + 1, 0x00]] as const) {
      const bad = codestream(opts);
      bad[at] = value; // Psot huge; Isot 9 of 4; the second SOT's marker byte
      await expect(walkTileParts(read(bad), s)).rejects.toMatchObject({ status: 422 });
    }
  });
});

describe('areaAtReduction', () => {
  it('maps a level region back to the full-resolution area that reduces to exactly it', async () => {
    const s = await parse(codestream({ width: 1000, height: 700, levels: 3 }));
    expect(areaAtReduction(s, { x: 0, y: 0, w: 125, h: 88 }, 3)).toEqual({ x0: 0, y0: 0, x1: 1000, y1: 700 });
    expect(areaAtReduction(s, { x: 64, y: 64, w: 64, h: 24 }, 2)).toEqual({ x0: 256, y0: 256, x1: 512, y1: 352 });
  });

  it('with an image offset, level pixels start at ceil(x0 / 2^r)', async () => {
    const s = await parse(codestream({ width: 101, height: 50, x0: 3, y0: 1, levels: 1 }));
    // Level 1 is canvas columns ceil(3/2)=2 .. ceil(104/2)=52: its pixel 0 is canvas 4..5, image 1..2.
    expect(areaAtReduction(s, { x: 0, y: 0, w: 50, h: 25 }, 1)).toEqual({ x0: 1, y0: 1, x1: 101, y1: 50 });
    expect(areaAtReduction(s, { x: 1, y: 0, w: 1, h: 1 }, 1)).toEqual({ x0: 3, y0: 1, x1: 5, y1: 3 });
  });
});
