/**
 * JPEG 2000 sources through the Node adapter over HTTP: colour-grid JP2s (tiled with and without
 * TLM, in one tile-part per resolution, untiled, with and without alpha, lossless and lossy, JP2
 * and raw J2K) rendered at every region and size form, compared pixel by pixel with the same
 * request on a PNG of the same pixels.
 *
 * Lossless and unscaled (the region at full resolution): identical bytes after decoding.
 * Scaled: the JP2 path decodes a wavelet reduction and the PNG path shrinks the full image,
 * so edges of the 50 px cells differ a little (a reduction's samples sit at even positions,
 * a half pixel from the box centre sharp uses). Measured mean absolute differences (0–255):
 * lossless scaled 2.6–5.3 (5.9 for a 50×38 gray crop of many cell edges), lossy scaled up to
 * 4.7, lossy unscaled under 1. A wrong crop, level or channel order gives 40 and more.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { nodeJp2Codec } from '../../src/renderers/sharp-jp2.ts';
import { type Jp2Variant, makeJp2Pair, makePaletteJp2 } from '../helpers/jp2-images.ts';

const VARIANTS: Record<string, Jp2Variant & { lossless: boolean }> = {
  'tiled.jp2': { width: 1000, height: 700, channels: 3, lossless: true, options: { format: 'jp2', lossless: true, tileSize: 256, levels: 3, tlm: true } },
  'tiled-no-tlm.jp2': { width: 1000, height: 700, channels: 3, lossless: true, options: { format: 'jp2', lossless: true, tileSize: 256, levels: 3 } },
  // RPCL, one tile-part per resolution: reduced views read each tile's first tile-parts only (from TLM, or the SOT walk).
  'by-resolution.jp2': { width: 1000, height: 700, channels: 3, lossless: true, options: { format: 'jp2', lossless: true, tileSize: 256, levels: 3, tlm: true, resolutionTileParts: true } },
  'by-resolution-no-tlm.jp2': { width: 1000, height: 700, channels: 3, lossless: true, options: { format: 'jp2', lossless: true, tileSize: 256, levels: 3, resolutionTileParts: true } },
  'untiled.jp2': { width: 1000, height: 700, channels: 3, lossless: true, options: { format: 'jp2', lossless: true, levels: 4 } },
  'alpha.jp2': { width: 600, height: 400, channels: 4, lossless: true, options: { format: 'jp2', lossless: true, tileSize: 128, levels: 2, tlm: true } },
  'lossy.jp2': { width: 1000, height: 700, channels: 3, lossless: false, options: { format: 'jp2', rate: 8, tileSize: 256, levels: 3, tlm: true } },
  'gray.j2k': { width: 300, height: 200, channels: 1, lossless: true, options: { format: 'j2k', lossless: true, levels: 2 } },
};

const REGIONS = ['full', 'square', '100,50,400,300', 'pct:10,20,50,40', '256,256,256,256', '900,600,200,200'];
const SIZES = ['max', '200,', ',150', 'pct:25', '123,77', '!200,200', '^1200,'];
/** Mean absolute difference allowed when the output is scaled (measured: see the header). */
const SCALED_MAD = { lossless: 7, lossy: 7 };
const UNSCALED_LOSSY_MAD = 3;

let server: RunningServer;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-jp2-'));
  for (const [name, v] of Object.entries(VARIANTS)) {
    const { jp2, png } = await makeJp2Pair(v);
    await writeFile(join(root, name), jp2);
    await writeFile(join(root, `${name}.png`), png);
  }
  server = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

async function decoded(path: string) {
  const res = await fetch(`${server.url}${path}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { status: res.status, text: body.toString() };
  const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
  return { status: 200, data, info };
}

/** Both renders, their sizes checked equal; the mean absolute difference of their samples. */
async function compare(name: string, tail: string): Promise<{ mad: number; width: number; height: number }> {
  const [jp2, png] = await Promise.all([decoded(`/iiif/3/${name}/${tail}`), decoded(`/iiif/3/${name}.png/${tail}`)]);
  expect(jp2.status, `${name}/${tail}: ${jp2.text ?? ''}`).toBe(png.status);
  if (!jp2.info || !png.info || !jp2.data || !png.data) return { mad: 0, width: 0, height: 0 };
  expect([jp2.info.width, jp2.info.height, jp2.info.channels], `${name}/${tail}`).toEqual([png.info.width, png.info.height, png.info.channels]);
  let sum = 0;
  for (let i = 0; i < png.data.length; i++) sum += Math.abs((jp2.data[i] ?? 0) - (png.data[i] ?? 0));
  return { mad: sum / png.data.length, width: png.info.width, height: png.info.height };
}

const REGION_SIZE = (name: string, region: string): { w: number; h: number } | undefined => {
  const v = VARIANTS[name];
  if (!v) return undefined;
  if (region === 'full') return { w: v.width, h: v.height };
  if (region === 'square') return { w: Math.min(v.width, v.height), h: Math.min(v.width, v.height) };
  const m = /^(\d+),(\d+),(\d+),(\d+)$/.exec(region);
  return m ? { w: Math.min(Number(m[3]), v.width - Number(m[1])), h: Math.min(Number(m[4]), v.height - Number(m[2])) } : undefined;
};

describe('JPEG 2000 renders match the same request on a PNG of the same pixels', () => {
  for (const [name, v] of Object.entries(VARIANTS)) {
    const regions = ['tiled.jp2', 'lossy.jp2', 'by-resolution.jp2'].includes(name) ? REGIONS : REGIONS.filter((r) => /^(full|100,50|900,600)/.test(r));
    const bound = v.lossless ? SCALED_MAD.lossless : SCALED_MAD.lossy;
    it(`${name}: every region × size form (scaled MAD ≤ ${bound}; lossless unscaled is exact)`, async () => {
      for (const region of regions) {
        for (const size of SIZES) {
          const r = REGION_SIZE(name, region);
          const out = await compare(name, `${region}/${size}/0/default.png`);
          if (out.width === 0) continue;
          const unscaled = r !== undefined && out.width === r.w && out.height === r.h;
          const where = `${name}/${region}/${size}: MAD ${out.mad.toFixed(3)}`;
          if (unscaled && v.lossless) expect(out.mad, where).toBe(0);
          else expect(out.mad, where).toBeLessThanOrEqual(unscaled ? UNSCALED_LOSSY_MAD : bound);
        }
      }
    }, 120_000);
  }

  it('rotation, mirroring, qualities and formats on a tiled JP2', async () => {
    for (const tail of ['100,50,400,300/200,/90/default.png', '100,50,400,300/max/!0/default.png', 'full/!300,300/180/gray.png', 'full/max/!270/color.png', '256,256,256,256/max/0/bitonal.png']) {
      const out = await compare('tiled.jp2', tail);
      expect(out.mad, tail).toBeLessThanOrEqual(tail.includes('/max/') ? 0 : SCALED_MAD.lossless);
    }
    for (const format of ['jpg', 'webp']) {
      const res = await fetch(`${server.url}/iiif/3/tiled.jp2/0,0,512,512/256,/0/default.${format}`);
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect([res.status, meta.width, meta.height]).toEqual([200, 256, 256]);
    }
  });

  it('info.json: size, native tiles, scaleFactors from the decomposition levels, sizes by ceil(w / 2^r)', async () => {
    const tiled = await (await fetch(`${server.url}/iiif/3/tiled.jp2/info.json`)).json();
    expect(tiled).toMatchObject({
      width: 1000,
      height: 700,
      tiles: [{ width: 256, height: 256, scaleFactors: [1, 2, 4, 8] }],
      sizes: [
        { width: 125, height: 88 },
        { width: 250, height: 175 },
        { width: 500, height: 350 },
        { width: 1000, height: 700 },
      ],
    });
    const untiled = await (await fetch(`${server.url}/iiif/3/untiled.jp2/info.json`)).json();
    expect(untiled).toMatchObject({ tiles: [{ width: 512, height: 512, scaleFactors: [1, 2, 4, 8, 16] }] });
    const gray = await (await fetch(`${server.url}/iiif/2/gray.j2k/info.json`)).json();
    expect(gray).toMatchObject({ width: 300, height: 200 });
  });
});

describe('JPEG 2000 viewer tiles on sides that are not multiples of 2^r', () => {
  it('are exactly the crop of their level (the reduction grid, not a resize of one pixel more)', async () => {
    // 601×401: level 1 is 301×201, level 3 is 76×51 (ceil), so proportional mapping is off by one.
    const { jp2 } = await makeJp2Pair({ width: 601, height: 401, channels: 3, options: { format: 'jp2', lossless: true, tileSize: 128, levels: 3 } });
    await writeFile(join(root, 'odd-sides.jp2'), jp2);
    for (const s of [1, 2, 4, 8]) {
      const [lw, lh] = [Math.ceil(601 / s), Math.ceil(401 / s)];
      const level = await decoded(`/iiif/3/odd-sides.jp2/full/${lw},${lh}/0/default.png`);
      expect([level.status, level.info?.width, level.info?.height], `level ${s}`).toEqual([200, lw, lh]);
      for (let y = 0; y < 401; y += 128 * s) {
        for (let x = 0; x < 601; x += 128 * s) {
          const [w, h] = [Math.min(128 * s, 601 - x), Math.min(128 * s, 401 - y)];
          const [tw, th] = [Math.ceil(w / s), Math.ceil(h / s)];
          const tile = await decoded(`/iiif/3/odd-sides.jp2/${x},${y},${w},${h}/${tw},${th}/0/default.png`);
          const where = `scale ${s} tile ${x},${y}`;
          expect([tile.status, tile.info?.width, tile.info?.height], where).toEqual([200, tw, th]);
          let sum = 0;
          for (let r = 0; r < th; r++) {
            for (let c = 0; c < tw * 3; c++) sum += Math.abs(tile.data![r * tw * 3 + c]! - level.data![((y / s + r) * lw + x / s) * 3 + c]!);
          }
          expect(sum / (tw * th * 3), where).toBe(0);
        }
      }
    }
  });
});

describe('JPEG 2000 regions larger than one decode', () => {
  it('are decoded in bands of at most IIIF_JP2_MAX_DECODE_BYTES, exactly the pixels of one decode', async () => {
    // 1 MiB per decode: 1000×700×3 (2.1 MB) takes three bands; the canvas is within IIIF_MAX_DECODE_BYTES.
    const banded = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1', IIIF_JP2_MAX_DECODE_BYTES: String(1024 * 1024) });
    try {
      const get = async (path: string) => {
        const res = await fetch(`${banded.url}${path}`);
        return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
      };
      for (const name of ['tiled.jp2', 'untiled.jp2', 'by-resolution.jp2']) {
        for (const tail of ['full/max/0/default.png', '0,10,1000,690/max/0/default.png', 'full/max/90/default.png']) {
          const [ours, png] = await Promise.all([get(`/iiif/3/${name}/${tail}`), get(`/iiif/3/${name}.png/${tail}`)]);
          expect(ours.status, `${name}/${tail}: ${ours.body.toString().slice(0, 200)}`).toBe(200);
          const [a, b] = await Promise.all([ours.body, png.body].map((x) => sharp(x).raw().toBuffer({ resolveWithObject: true })));
          expect([a?.info.width, a?.info.height], `${name}/${tail}`).toEqual([b?.info.width, b?.info.height]);
          // Lossless: the same samples as the PNG of the same pixels.
          expect(Buffer.compare(a!.data, b!.data), `${name}/${tail}`).toBe(0);
        }
      }
    } finally {
      await banded.close();
    }
    // The assembled region is bounded by IIIF_MAX_DECODE_BYTES: over it, a 400 naming that setting.
    const small = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1', IIIF_JP2_MAX_DECODE_BYTES: String(1024 * 1024), IIIF_MAX_DECODE_BYTES: String(2_000_000) });
    try {
      const res = await fetch(`${small.url}/iiif/3/tiled.jp2/full/max/0/default.png`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(/IIIF_MAX_DECODE_BYTES/);
    } finally {
      await small.close();
    }
  }, 120_000);
});

describe('JPEG 2000 with subsampled chroma (4:2:0, made by opj_compress: test/fixtures/jp2)', () => {
  const FIXTURE = fileURLToPath(new URL('../fixtures/jp2/yuv420-703x601.jp2', import.meta.url));
  const [W, H] = [703, 601];

  it('regions and bands at odd rows and columns are the pixels of the whole decode', async () => {
    await writeFile(join(root, 'yuv420.jp2'), await readFile(FIXTURE));
    const whole = await decoded('/iiif/3/yuv420.jp2/full/max/0/default.png');
    expect([whole.status, whole.info?.width, whole.info?.height], whole.text).toEqual([200, W, H]);
    const same = (label: string, got: Awaited<ReturnType<typeof decoded>>, x: number, y: number, w: number, h: number) => {
      expect([got.status, got.info?.width, got.info?.height], `${label}: ${got.text ?? ''}`).toEqual([200, w, h]);
      let diff = 0;
      for (let r = 0; r < h; r++) for (let c = 0; c < w * 3; c++) diff += Math.abs(got.data![r * w * 3 + c]! - whole.data![((y + r) * W + x) * 3 + c]!);
      expect(diff / (w * h * 3), label).toBe(0);
    };
    for (const [x, y, w, h] of [[0, 1, 64, 64], [1, 1, 100, 100], [1, 0, 64, 64], [0, 5, 100, 1], [5, 0, 1, 100], [3, 3, 1, 1], [173, 173, 50, 50], [702, 600, 1, 1]] as const) {
      same(`${x},${y},${w},${h}`, await decoded(`/iiif/3/yuv420.jp2/${x},${y},${w},${h}/max/0/default.png`), x, y, w, h);
    }
    // 1 MiB per decode: bands of 497 rows (1048576 / (703 × 3)), the second starting at an odd row.
    const banded = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1', IIIF_JP2_MAX_DECODE_BYTES: String(1024 * 1024) });
    try {
      const res = await fetch(`${banded.url}/iiif/3/yuv420.jp2/full/max/0/default.png`);
      const body = Buffer.from(await res.arrayBuffer());
      const got = res.status === 200 ? { status: 200, ...(await sharp(body).raw().toBuffer({ resolveWithObject: true })) } : { status: res.status, text: body.toString() };
      same('banded full/max', got, 0, 0, W, H);
    } finally {
      await banded.close();
    }
  }, 120_000);
});

describe('JPEG 2000 with subsampled chroma and an image offset (4:2:0 at 3,5 on the grid, made by opj_compress: test/fixtures/jp2)', () => {
  const FIXTURE = fileURLToPath(new URL('../fixtures/jp2/yuv420-offset-500x300.jp2', import.meta.url));
  const [W, H] = [500, 300];

  it('scaled views are the full-resolution render resized (a reduction takes chroma a level pixel off)', async () => {
    await writeFile(join(root, 'yuv420-offset.jp2'), await readFile(FIXTURE));
    const whole = await decoded('/iiif/3/yuv420-offset.jp2/full/max/0/default.png');
    expect([whole.status, whole.info?.width, whole.info?.height], whole.text).toEqual([200, W, H]);
    // No reductions offered: 5 / 2 is odd, so level 1's first row is off the chroma grid.
    const info = await (await fetch(`${server.url}/iiif/3/yuv420-offset.jp2/info.json`)).json();
    expect(info).toMatchObject({ tiles: [{ scaleFactors: [1] }], sizes: [{ width: W, height: H }] });
    // Region (full-resolution pixels) and output size. Measured MAD: 0 here; decoded at a reduction
    // (before), 10 to 27, where the same content at the grid origin gave 4 to 23 (edges of
    // 32-px chroma cells, a reduction's filter against sharp's).
    for (const [x, y, w, h, tw, th] of [[0, 0, W, H, 250, 150], [0, 0, W, H, 125, 75], [0, 0, W, H, 63, 38], [0, 0, 256, 256, 128, 128], [256, 0, 244, 256, 61, 64], [128, 128, 256, 172, 128, 86]] as const) {
      const got = await decoded(`/iiif/3/yuv420-offset.jp2/${x},${y},${w},${h}/${tw},${th}/0/default.png`);
      const where = `${x},${y},${w},${h}/${tw},${th}: ${got.text ?? ''}`;
      expect([got.status, got.info?.width, got.info?.height], where).toEqual([200, tw, th]);
      const ref = await sharp(whole.data, { raw: { width: W, height: H, channels: 3 } })
        .extract({ left: x, top: y, width: w, height: h })
        .resize(tw, th, { fit: 'fill' })
        .raw()
        .toBuffer();
      let diff = 0;
      for (let i = 0; i < ref.length; i++) diff += Math.abs(got.data![i]! - ref[i]!);
      expect(diff / ref.length, where).toBeLessThan(2);
    }
  });
});

describe('JPEG 2000 in one tile-part per resolution with SOP and EPH markers (made by opj_compress: test/fixtures/jp2)', () => {
  const FIXTURE = fileURLToPath(new URL('../fixtures/jp2/rpcl-sop-eph-600x400.jp2', import.meta.url));

  it('reduced views are the pixels of a whole-file decode at that reduction (not a 422)', async () => {
    const bytes = new Uint8Array(await readFile(FIXTURE));
    await writeFile(join(root, 'rpcl-eph.jp2'), bytes);
    const codec = await nodeJp2Codec();
    for (const r of [1, 2, 3]) {
      const s = 2 ** r;
      const level = codec.decode(bytes, { reduce: r, maxBytes: 64 * 1024 * 1024 });
      // The whole level, and a viewer tile at scale factor 2^r (the last column of 256² tiles, or all).
      const x = 256 * s < 600 ? 256 * s : 0;
      for (const [rx, w, h] of [[0, 600, 400], [x, Math.min(256 * s, 600 - x), Math.min(256 * s, 400)]] as const) {
        const [tw, th] = [Math.ceil(w / s), Math.ceil(h / s)];
        const got = await decoded(`/iiif/3/rpcl-eph.jp2/${rx},0,${w},${h}/${tw},${th}/0/default.png`);
        const where = `reduction ${r}, region ${rx},0,${w},${h}: ${got.text ?? ''}`;
        expect([got.status, got.info?.width, got.info?.height], where).toEqual([200, tw, th]);
        let diff = 0;
        for (let row = 0; row < th; row++) {
          for (let c = 0; c < tw * 3; c++) diff += Math.abs(got.data![row * tw * 3 + c]! - level.data[(row * level.width + rx / s) * 3 + c]!);
        }
        expect(diff / (tw * th * 3), where).toBe(0);
      }
    }
  });
});

describe('JPEG 2000 with a palette (pclr and cmap boxes over one index component)', () => {
  const PALETTES = { 'palette.jp2': 3, 'palette-alpha.jp2': 4 } as const;

  it('renders the mapped colours at every size, in bands too, as the PNG of the same pixels', async () => {
    for (const [name, columns] of Object.entries(PALETTES)) {
      const { jp2, png } = await makePaletteJp2(1000, 700, columns, { lossless: true, tileSize: 256, levels: 3, tlm: true });
      await writeFile(join(root, name), jp2);
      await writeFile(join(root, `${name}.png`), png);
      // Unscaled: the same samples. Scaled: a reduction would average indices into unrelated
      // colours; decoded at full size and resized, it matches the PNG's resize.
      for (const tail of ['full/max/0/default.png', '100,50,400,300/max/0/default.png', 'full/!200,200/0/default.png', '256,256,512,512/128,/0/default.png', 'full/pct:25/0/default.png']) {
        const { mad } = await compare(name, tail);
        expect(mad, `${name}/${tail}`).toBeLessThan(tail.includes('/max/') ? 1e-9 : 1);
      }
      // One index component, RGB(A) out: decoded in bands counted by the output's channels.
      const banded = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1', IIIF_JP2_MAX_DECODE_BYTES: String(1024 * 1024) });
      try {
        const [a, b] = await Promise.all([`/iiif/3/${name}/full/max/0/default.png`, `/iiif/3/${name}.png/full/max/0/default.png`].map((p) => fetch(`${banded.url}${p}`)));
        const [ours, ref] = await Promise.all([a!, b!].map(async (r) => ({ status: r.status, body: Buffer.from(await r.arrayBuffer()) })));
        expect(ours!.status, `${name} banded: ${ours!.body.toString().slice(0, 200)}`).toBe(200);
        const [x, y] = await Promise.all([ours!.body, ref!.body].map((body) => sharp(body).raw().toBuffer()));
        expect(Buffer.compare(x!, y!), `${name} banded`).toBe(0);
      } finally {
        await banded.close();
      }
    }
  }, 120_000);
});
