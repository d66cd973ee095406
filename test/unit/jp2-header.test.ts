import { describe, expect, it } from 'vitest';
import { Jp2Error, type RangeRead, decodedChannels, jp2Geometry, readJp2Structure } from '../../src/jp2/index.ts';
import { planImage } from '../../src/iiif/plan.ts';
import { parseImageRequest } from '../../src/iiif/request.ts';
import { codeBlocksToDecode } from '../../src/jp2/code-blocks.ts';
import { deriveSizes, deriveTiles } from '../../src/iiif/tiles.ts';
import {
  box,
  cdefBox,
  coc,
  cod,
  codestream,
  type CodestreamOptions,
  colrBox,
  ftypBox,
  ihdrBox,
  jp2File,
  signatureBox,
  siz,
  tilePart,
} from '../helpers/jp2-headers.ts';

function counting(bytes: Uint8Array) {
  const state = { calls: 0, bytes: 0 };
  const read: RangeRead = async (offset, length) => {
    state.calls++;
    const out = bytes.subarray(offset, offset + length);
    state.bytes += out.length;
    return out;
  };
  return { read, state };
}

const parse = (bytes: Uint8Array, size = bytes.length, read?: RangeRead) => readJp2Structure(read ?? counting(bytes).read, size);

async function expectRejected(bytes: Uint8Array, message: RegExp, size = bytes.length, read?: RangeRead) {
  const src = counting(bytes);
  const started = performance.now();
  const err = await parse(bytes, size, read ?? src.read).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Jp2Error);
  expect((err as Jp2Error).message).toMatch(message);
  expect((err as Jp2Error).status).toBe(422);
  expect(performance.now() - started).toBeLessThan(500);
  expect(src.state.calls).toBeLessThanOrEqual(80);
}

describe('JPEG 2000 header: valid files', () => {
  it('raw codestream: size, levels and sizes by ceil(w / 2^r), tiles from SIZ, TLM tile-parts located', async () => {
    const cs = codestream({ width: 1000, height: 700, tileWidth: 256, tileHeight: 256, levels: 3, withTlm: true });
    const s = await parse(cs);
    expect([s.siz.x1, s.siz.y1, s.columns, s.rows, s.levels, s.packedHeaders]).toEqual([1000, 700, 4, 3, 3, false]);
    const g = jp2Geometry(s);
    expect(g.levels).toEqual([
      { width: 1000, height: 700 },
      { width: 500, height: 350 },
      { width: 250, height: 175 },
      { width: 125, height: 88 },
    ]);
    expect(g.tile).toEqual({ width: 256, height: 256 });
    expect(deriveTiles(g, 512)).toEqual([{ width: 256, height: 256, scaleFactors: [1, 2, 4, 8] }]);
    expect(deriveSizes(g, {})).toEqual([...g.levels].reverse());
    // The TLM offsets point at real SOT markers with the right tile index.
    expect(s.tileParts?.map((p) => p.tile)).toEqual([...Array(12).keys()]);
    for (const p of s.tileParts ?? []) {
      expect([cs[p.offset], cs[p.offset + 1], (cs[p.offset + 4] ?? 0) * 256 + (cs[p.offset + 5] ?? 0)]).toEqual([0xff, 0x90, p.tile]);
      expect(p.length).toBe(p.tile + 20 + 14);
    }
  });

  it('JP2 boxes: finds the codestream, colour space, and alpha from cdef', async () => {
    const cs = codestream({ width: 64, height: 48, components: 4 });
    const header = [...ihdrBox(64, 48, 4), ...colrBox(16), ...cdefBox(4, 3)];
    const file = jp2File(cs, 64, 48, header);
    const s = await parse(file);
    expect(s.codestream.offset).toBe(file.length - cs.length);
    expect(s.codestream.length).toBe(cs.length);
    expect(s.codestream.colour).toEqual({ enumerated: 16, palette: false, alpha: true });
    expect(jp2Geometry(s)).toMatchObject({ width: 64, height: 48 });
    expect(jp2Geometry(s).tile).toBeUndefined();
  });

  it('palette: the channels come from the cmap box, one level only, and a palette without cmap is refused', async () => {
    const cs = codestream({ width: 512, height: 512, components: 1, levels: 3 });
    const pclr = box('pclr', [0, 2, 3, 7, 7, 7, 0, 0, 0, 255, 255, 255]);
    const cmap = (columns: number) => box('cmap', Array.from({ length: columns }, (_, c) => [0, 0, 1, c]).flat());
    for (const columns of [3, 4]) {
      const s = await parse(jp2File(cs, 512, 512, [...ihdrBox(512, 512, 1), ...colrBox(16), ...pclr, ...cmap(columns)]));
      expect(decodedChannels(s)).toBe(columns);
      // Reductions would average indices, which the palette maps to unrelated colours.
      expect(jp2Geometry(s).levels).toHaveLength(1);
    }
    await expect(parse(jp2File(cs, 512, 512, [...ihdrBox(512, 512, 1), ...colrBox(16), ...pclr]))).rejects.toThrow(/palette without a component mapping/);
    await expect(parse(jp2File(cs, 512, 512, [...ihdrBox(512, 512, 1), ...colrBox(16), ...pclr, ...box('cmap', [0, 0, 1])]))).rejects.toThrow(/component mapping box/);
    // e-sYCC would come out of OpenJPEG unconverted: refused rather than shown in wrong colours.
    await expect(parse(jp2File(codestream({ width: 64, height: 64 }), 64, 64, [...ihdrBox(64, 64), ...colrBox(24)]))).rejects.toThrow(/e-sYCC/);
    // CMYK comes out as RGB; without a palette the components count.
    expect(decodedChannels(await parse(jp2File(codestream({ width: 64, height: 64, components: 4 }), 64, 64, [...ihdrBox(64, 64, 4), ...colrBox(12)])))).toBe(3);
    expect(decodedChannels(await parse(jp2File(codestream({ width: 64, height: 64, components: 4 }), 64, 64, [...ihdrBox(64, 64, 4), ...colrBox(16)])))).toBe(4);
  });

  it('COC with fewer levels than COD limits the reductions', async () => {
    const s = await parse(codestream({ width: 512, height: 512, levels: 5, extra: coc(1, 2) }));
    expect(s.levels).toBe(2);
    expect(jp2Geometry(s).levels).toHaveLength(3);
  });

  it('counts the code-blocks a decode sets up per pixel, from code-block and precinct sizes (B.7)', async () => {
    const per = async (o: Omit<CodestreamOptions, 'width' | 'height'>) =>
      (await parse(codestream({ width: 512, height: 512, components: 1, ...o }))).codeBlocksPerPixel;
    // Each resolution's share of the pixels sums to 1, so uniform blocks give one per block area.
    expect(await per({ levels: 5 })).toBeCloseTo(1 / 4096, 12);
    expect(await per({ levels: 5, codeBlock: 0 })).toBeCloseTo(1 / 16, 12);
    expect(await per({ levels: 5, components: 3 })).toBeCloseTo(3 / 4096, 12);
    // Precincts of 2×2: blocks of 2×2 at resolution 0 (1/4^5 of the pixels), 1×1 above it.
    expect(await per({ levels: 5, precincts: [0x11, 0x11, 0x11, 0x11, 0x11, 0x11] })).toBeCloseTo(1 / 1024 / 4 + 1023 / 1024, 12);
    // Precincts of 128 (Kakadu's usual) leave 64×64 blocks as they are.
    expect(await per({ levels: 5, precincts: [0x77, 0x77, 0x77, 0x77, 0x77, 0x77] })).toBeCloseTo(1 / 4096, 12);
    // A COC gives its component its own blocks: 4×4 for one of three.
    const cocSmall = [0xff, 0x53, ...[0, 9], 1, 0, 5, 0, 0, 0, 0];
    expect(await per({ levels: 5, components: 3, extra: cocSmall })).toBeCloseTo(2 / 4096 + 1 / 16, 12);
  });

  it("counts a tile's own COD and COC over the main header's (A.6: tile COC, tile COD, main COC, main COD)", async () => {
    // Two 256×512 tiles of three components; the main header says 64×64 blocks, and a COC 4×4 for component 2.
    const mainCoc = [0xff, 0x53, ...[0, 9], 2, 0, 5, 0, 0, 0, 0];
    const tileCod = cod(5, 1); // 8×8 for every component of tile 1
    const tileCoc = [0xff, 0x53, ...[0, 9], 0, 0, 5, 2, 2, 0, 0]; // 16×16 for its component 0
    const cs = codestream({ width: 512, height: 512, tileWidth: 256, components: 3, levels: 5, extra: mainCoc, partHeader: (t) => (t === 1 ? [...tileCod, ...tileCoc] : []) });
    const s = await parse(cs);
    const half = 256 * 512;
    const tile0 = half * (2 / 4096 + 1 / 16);
    const tile1 = half * (1 / 256 + 1 / 64 + 1 / 64);
    // Whole numbers here; the sums of powers of two may round up by one.
    const near = (got: number, want: number) => expect(got - want).toSatisfy((d: number) => d >= 0 && d <= 1);
    near(codeBlocksToDecode(cs, s, [0]), tile0);
    near(codeBlocksToDecode(cs, s, [1]), tile1);
    near(codeBlocksToDecode(cs, s, [0, 1]), tile0 + tile1);
    // The same inside JP2 boxes.
    near(codeBlocksToDecode(jp2File(cs, 512, 512), s, [1]), tile1);
    // A tile-part length that walks nowhere is a damaged file, not a loop.
    const bad = cs.slice();
    bad[s.end + 6] = 0;
    bad[s.end + 7] = 0;
    bad[s.end + 8] = 0;
    bad[s.end + 9] = 3;
    expect(() => codeBlocksToDecode(bad, s, [1])).toThrow(/tile-part length/);
  });

  it('offers every reduction, with 2^r as its scale factor however its size rounds', async () => {
    // 1000×700 at 1/32 is 32×22: 1000/32 rounds to 31, which once dropped this level.
    const g = { ...jp2Geometry(await parse(codestream({ width: 1000, height: 700, levels: 5 }))), reducedGrid: { x0: 0, y0: 0 } };
    expect(g.levels.at(-1)).toEqual({ width: 32, height: 22 });
    expect(deriveTiles(g, 256)[0]?.scaleFactors).toEqual([1, 2, 4, 8, 16, 32]);
    const plan = planImage(parseImageRequest(3, { region: 'full', size: '32,22', rotation: '0', quality: 'default', format: 'jpg' }), g, {});
    expect([plan.level, plan.levelRegion]).toEqual([5, { x: 0, y: 0, w: 32, h: 22 }]);
  });

  it('image offsets: reduced sizes are ceil(x1 / 2^r) - ceil(x0 / 2^r)', async () => {
    const s = await parse(codestream({ width: 101, height: 50, x0: 3, y0: 1, levels: 1 }));
    expect(jp2Geometry(s).levels).toEqual([
      { width: 101, height: 50 },
      { width: 52 - 2, height: 26 - 1 },
    ]);
  });

  it('subsampled components with an image offset: levels stop where ceil(x0 / 2^r) or ceil(y0 / 2^r) is off their sample grid', async () => {
    const levels = async (x0: number, y0: number, sub: Array<[number, number]> = [[1, 1], [2, 2], [2, 2]]) =>
      jp2Geometry(await parse(codestream({ width: 1001, height: 701, x0, y0, levels: 4, componentSubsampling: sub }))).levels.length - 1;
    // Measured with opj_compress -d x0,y0 (4:2:0): exact at these reductions, chroma a level pixel off at the next.
    expect(await levels(0, 0)).toBe(4);
    expect(await levels(3, 5)).toBe(0);
    expect(await levels(2, 2)).toBe(0);
    expect(await levels(1, 0)).toBe(0);
    expect(await levels(4, 4)).toBe(1);
    expect(await levels(8, 8)).toBe(2);
    expect(await levels(16, 16)).toBe(3);
    // Level 2 of 6,6 is right too, but level 1 is not, and levels go down one by one.
    expect(await levels(6, 6)).toBe(0);
    // 4:2:2 checks only the subsampled direction; without subsampling any offset keeps every level.
    expect(await levels(0, 3, [[1, 1], [2, 1], [2, 1]])).toBe(4);
    expect(await levels(3, 5, [[1, 1], [1, 1], [1, 1]])).toBe(4);
    // Areas are widened to whole samples of the coarsest component: 2 and 3 do not share that grid.
    expect(await levels(0, 0, [[1, 1], [2, 2], [3, 3]])).toBe(0);
  });

  it('scale factors are the true reductions even where sizes round far from them', async () => {
    const g = jp2Geometry(await parse(codestream({ width: 100, height: 100, levels: 5 })));
    // 100 → 50, 25, 13, 7, 4 (100/7 rounds to 14, not 16; 100/4 is 25, not 32).
    expect(g.levels.map((l) => l.width)).toEqual([100, 50, 25, 13, 7, 4]);
    expect(deriveTiles(g, 512)[0]?.scaleFactors).toEqual([1, 2, 4, 8, 16, 32]);
  });

  it('a big header is read in one range request', async () => {
    const cs = codestream({ width: 12000, height: 9000, tileWidth: 1024, tileHeight: 1024, levels: 6, withTlm: true, partData: () => 4000 });
    const src = counting(jp2File(cs, 12000, 9000));
    const s = await readJp2Structure(src.read, cs.length + 200);
    expect(s.tileParts).toHaveLength(108);
    expect(src.state.calls).toBe(1);
    expect(src.state.bytes).toBeLessThanOrEqual(64 * 1024);
  });
});

describe('JPEG 2000 header: hostile files fail fast with a 422', () => {
  const good = () => codestream({ width: 64, height: 64, tileWidth: 32, tileHeight: 32, withTlm: true });

  it('not JPEG 2000, empty, truncated', async () => {
    await expectRejected(new Uint8Array(0), /Not a JPEG 2000/);
    await expectRejected(new TextEncoder().encode('GIF89a-not-jp2'), /Not a JPEG 2000/);
    const cs = good();
    for (const cut of [4, 20, 50, 60]) await expectRejected(cs.subarray(0, cut), /./);
    const file = jp2File(cs, 64, 64);
    for (const cut of [12, 20, 40, 60, 90]) await expectRejected(file.subarray(0, cut), /./);
  });

  it('huge declared sizes: a codestream longer than the file', async () => {
    const file = jp2File(good(), 64, 64);
    // A jp2c box claiming 4 GB in a small file.
    const at = file.length - good().length - 8;
    new DataView(file.buffer).setUint32(at, 0xffffff00);
    await expectRejected(file, /box length/);
    // XLBox beyond 2^53.
    const xl = Uint8Array.from([...signatureBox(), ...ftypBox(), 0, 0, 0, 1, ...Array.from('jp2h', (c) => c.charCodeAt(0)), 0xff, 0xff, 0, 0, 0, 0, 0, 0]);
    await expectRejected(xl, /out of range/);
  });

  it('bad box lengths: shorter than a header, or a sub-box past its parent', async () => {
    const short = Uint8Array.from([...signatureBox(), ...ftypBox(), 0, 0, 0, 4, 0x6a, 0x70, 0x32, 0x68]);
    await expectRejected(short, /box length/);
    const ihdr = ihdrBox(64, 64);
    ihdr[3] = 200;
    await expectRejected(jp2File(good(), 64, 64, [...ihdr, ...colrBox()]), /box length/);
  });

  it('box loops cannot happen (every box moves forward) and box counts are bounded', async () => {
    // 10000 empty boxes before any codestream.
    const junk = Array.from({ length: 10_000 }, () => box('free', [])).flat();
    await expectRejected(Uint8Array.from([...signatureBox(), ...ftypBox(), ...junk]), /without a codestream/);
    const header = Array.from({ length: 100 }, () => box('free', [])).flat();
    await expectRejected(jp2File(good(), 64, 64, [...ihdrBox(64, 64), ...header]), /Too many boxes/);
  });

  it('every component subsampled: OpenJPEG decodes the components, not the reference grid, so it is refused', async () => {
    await expectRejected(codestream({ width: 64, height: 64, subsampling: [2, 2] }), /subsampled/);
    await expectRejected(codestream({ width: 64, height: 64, subsampling: [1, 2] }), /subsampled/);
  });

  it('a COC for a component the image lacks', async () => {
    await expectRejected(codestream({ width: 64, height: 64, components: 3, extra: coc(3, 5) }), /component the image lacks/);
  });

  it('JP2 without ftyp, jp2h or ihdr', async () => {
    await expectRejected(Uint8Array.from([...signatureBox(), ...box('jp2c', good())]), /file type/);
    await expectRejected(Uint8Array.from([...signatureBox(), ...ftypBox(), ...box('jp2c', good())]), /header box/);
    await expectRejected(jp2File(good(), 64, 64, colrBox()), /image header/);
  });

  it('absurd component and tile counts, and zero or uncovered tiles', async () => {
    await expectRejected(codestream({ width: 64, height: 64, components: 5 }), /5 components/);
    const many = Uint8Array.from([0xff, 0x4f, ...siz({ width: 1_000_000, height: 1_000_000, tileWidth: 1, tileHeight: 1 })]);
    await expectRejected(many, /tiles is not supported/);
    const zero = Uint8Array.from([0xff, 0x4f, ...siz({ width: 64, height: 64, tileWidth: 0 })]);
    await expectRejected(zero, /tile size of zero/);
    const empty = Uint8Array.from([0xff, 0x4f, ...siz({ width: 0, height: 64 })]);
    await expectRejected(empty, /no pixels/);
  });

  it('SIZ length disagreeing with its component count', async () => {
    const cs = good();
    cs[5] = (cs[5] ?? 0) + 3; // Lsiz
    await expectRejected(cs, /./);
    const c = good();
    c[41] = 200; // Csiz low byte: 200 components in a 3-component segment
    await expectRejected(c, /SIZ/);
  });

  it('markers: bad segment length, too many markers, no SOT, bad marker code', async () => {
    const cs = good();
    const lengthAt = 4 + 47 + 2; // COD length after SOC and SIZ
    cs[lengthAt] = 0xff;
    await expectRejected(cs, /segment length/);
    const com = Array.from({ length: 2000 }, () => [0xff, 0x64, 0, 2]).flat();
    await expectRejected(codestream({ width: 64, height: 64, extra: com }), /Too many markers/);
    await expectRejected(Uint8Array.from([0xff, 0x4f, ...siz({ width: 64, height: 64 })]), /ends before/);
    await expectRejected(Uint8Array.from([0xff, 0x4f, ...siz({ width: 64, height: 64 }), 0x12, 0x34, 0, 4, 0, 0, 0, 0]), /Bad marker/);
  });

  it('decomposition levels above 32, and a header without COD', async () => {
    await expectRejected(codestream({ width: 64, height: 64, levels: 200 }), /coding style/);
    const noCod = Uint8Array.from([0xff, 0x4f, ...siz({ width: 64, height: 64 }), ...tilePart(0, 4)]);
    await expectRejected(noCod, /without SIZ or COD/);
  });

  it('TLM lengths running past the codestream or naming absent tiles', async () => {
    const past = codestream({ width: 64, height: 64, tileWidth: 32, tileHeight: 32, withTlm: true, partData: () => 10 });
    // Truncate the tile data but keep the TLM.
    await expectRejected(past.subarray(0, past.length - 30), /TLM/);
    const cs = good();
    const tlmAt = cs.indexOf(0x55, 4) - 1;
    cs[tlmAt + 6] = 0x00;
    cs[tlmAt + 7] = 0x09; // first entry names tile 9 of 4
    await expectRejected(cs, /TLM/);
  });

  it('a file lying about its size is bounded by the header byte cap', async () => {
    // A virtual 100 GB file of COM markers: the parse stops at the cap, not at EOF.
    const size = 100 * 1024 ** 3;
    const head = Uint8Array.from([0xff, 0x4f, ...siz({ width: 64, height: 64 })]);
    let fetched = 0;
    const read: RangeRead = async (offset, length) => {
      fetched += length;
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) {
        const at = offset + i;
        out[i] = at < head.length ? (head[at] ?? 0) : [0xff, 0x64, 0xff, 0xfe][(at - head.length) % 4] ?? 0;
      }
      return out;
    };
    await expectRejected(head, /too large|Too many markers/, size, read);
    expect(fetched).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});
