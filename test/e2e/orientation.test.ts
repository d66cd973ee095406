/**
 * Sources with an orientation tag (EXIF in JPEG, PNG eXIf, WebP EXIF, the TIFF Orientation tag):
 * info.json gives the upright size, and every region, size and tile is cut from the upright image,
 * checked against sharp turning the source upright itself (autoOrient) and cutting the same rectangle.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';

const W = 320;
const H = 200;
let server: RunningServer;
let root: string;
const files = new Map<string, Buffer>();

/** Every pixel differs from its mirror images and quarter turns: a gradient and an off-centre block. */
function asymmetric(width: number, height: number): Buffer {
  const b = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      b[o] = Math.round((x * 255) / width);
      b[o + 1] = Math.round((y * 255) / height);
      b[o + 2] = x < width / 4 && y < height / 3 ? 230 : 30;
    }
  }
  return b;
}

const FORMATS = { jpg: 'jpeg', png: 'png', webp: 'webp', tif: 'tiff' } as const;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-orientation-'));
  const raw = { raw: { width: W, height: H, channels: 3 as const } };
  const pixels = asymmetric(W, H);
  for (const [ext, format] of Object.entries(FORMATS)) {
    for (let o = 1; o <= 8; o++) {
      const lossless = format === 'webp' ? { lossless: true } : format === 'jpeg' ? { quality: 95 } : {};
      files.set(`o${o}.${ext}`, await sharp(pixels, raw).toFormat(format, lossless).withMetadata({ orientation: o }).toBuffer());
    }
  }
  // A JPEG-tiled pyramid turned a quarter: no stored tile is the upright image's.
  const big = asymmetric(1280, 800);
  files.set(
    'pyramid-o6.tif',
    await sharp(big, { raw: { width: 1280, height: 800, channels: 3 } })
      .tiff({ tile: true, tileWidth: 256, tileHeight: 256, pyramid: true, compression: 'jpeg', quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer(),
  );
  for (const [name, bytes] of files) await writeFile(join(root, name), bytes);
  server = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

async function get(path: string) {
  const res = await fetch(`${server.url}/iiif/3/${path}`);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** Mean absolute difference per sample between our answer and sharp's own upright cut of the source. */
async function diffFromUpright(name: string, answer: Buffer, cut: { left: number; top: number; width: number; height: number }, size: { width: number; height: number }): Promise<number> {
  const ours = await sharp(answer).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([ours.info.width, ours.info.height], name).toEqual([size.width, size.height]);
  const upright = await sharp(files.get(name)).autoOrient().png().toBuffer();
  const expected = await sharp(upright).extract(cut).resize(size.width, size.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  let sum = 0;
  for (let i = 0; i < expected.length; i++) sum += Math.abs((expected[i] ?? 0) - (ours.data[i] ?? 0));
  return sum / expected.length;
}

describe('orientation tags', () => {
  it.each(Object.keys(FORMATS).flatMap((ext) => [1, 2, 3, 4, 5, 6, 7, 8].map((o) => `o${o}.${ext}`)))('%s: info.json and renders use the upright frame', async (name) => {
    const o = Number(name[1]);
    const [w, h] = o >= 5 ? [H, W] : [W, H];
    const info = JSON.parse((await get(`${name}/info.json`)).body.toString()) as { width: number; height: number };
    expect([info.width, info.height]).toEqual([w, h]);

    const full = await get(`${name}/full/max/0/default.png`);
    expect(full.status).toBe(200);
    expect(await diffFromUpright(name, full.body, { left: 0, top: 0, width: w, height: h }, { width: w, height: h })).toBeLessThan(1);

    // A region reaching past the stored frame's height when turned a quarter.
    const region = { left: w - 60, top: h - 50, width: 60, height: 50 };
    const cut = await get(`${name}/${region.left},${region.top},60,50/max/0/default.png`);
    expect(cut.status).toBe(200);
    expect(await diffFromUpright(name, cut.body, region, { width: 60, height: 50 })).toBeLessThan(1);

    // A part away from every edge, scaled: cut from the stored frame, then turned.
    const part = await get(`${name}/10,20,100,60/50,30/0/default.png`);
    expect(part.status).toBe(200);
    expect(await diffFromUpright(name, part.body, { left: 10, top: 20, width: 100, height: 60 }, { width: 50, height: 30 })).toBeLessThan(3);

    // Scaled: !w,h fits the upright frame (spec 3.0 §4.2).
    const fit = await get(`${name}/full/!100,100/0/default.png`);
    expect(fit.status).toBe(200);
    const fitted = o >= 5 ? { width: 63, height: 100 } : { width: 100, height: 63 };
    expect(await diffFromUpright(name, fit.body, { left: 0, top: 0, width: w, height: h }, fitted)).toBeLessThan(3);

    const square = await get(`${name}/square/50,/0/default.png`);
    expect(square.status).toBe(200);
    const side = Math.min(w, h);
    const squareCut = { left: Math.floor((w - side) / 2), top: Math.floor((h - side) / 2), width: side, height: side };
    expect(await diffFromUpright(name, square.body, squareCut, { width: 50, height: 50 })).toBeLessThan(3);
  });

  it('a tiled pyramid with Orientation 6: upright size, and its tiles are the upright image', async () => {
    const info = JSON.parse((await get('pyramid-o6.tif/info.json')).body.toString()) as { width: number; height: number; tiles?: Array<{ width: number; scaleFactors: number[] }> };
    expect([info.width, info.height]).toEqual([800, 1280]);
    const tile = info.tiles?.[0];
    expect(tile).toBeDefined();
    // The right and bottom edge tiles of the advertised grid, at full size.
    const t = tile?.width ?? 0;
    const x = Math.floor((800 - 1) / t) * t;
    const y = Math.floor((1280 - 1) / t) * t;
    const [tw, th] = [800 - x, 1280 - y];
    const edge = await get(`pyramid-o6.tif/${x},${y},${tw},${th}/${tw},${th}/0/default.png`);
    expect(edge.status).toBe(200);
    expect(await diffFromUpright('pyramid-o6.tif', edge.body, { left: x, top: y, width: tw, height: th }, { width: tw, height: th })).toBeLessThan(1);
    const thumb = await get('pyramid-o6.tif/full/!100,100/0/default.png');
    expect(thumb.status).toBe(200);
    expect(await diffFromUpright('pyramid-o6.tif', thumb.body, { left: 0, top: 0, width: 800, height: 1280 }, { width: 63, height: 100 })).toBeLessThan(3);
  });
});
