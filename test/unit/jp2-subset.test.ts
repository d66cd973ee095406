import { describe, expect, it } from 'vitest';
import { type Jp2Structure, readJp2Structure } from '../../src/jp2/index.ts';
import { coveringBytes, coveringTiles, readTileSubset } from '../../src/jp2/subset.ts';
import { walkTileParts } from '../../src/jp2/tile-index.ts';
import { areaAtReduction } from '../../src/renderers/sharp-jp2.ts';
import { codestream, jp2File } from '../helpers/jp2-headers.ts';

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
