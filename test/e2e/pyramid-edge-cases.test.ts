import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { readTiffStructure } from '../../src/tiff/index.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { PYRAMID, gridColour, gridPyramid, gridRaw } from '../fixtures/images.ts';
import { chainPages } from '../helpers/tiff-fixtures.ts';

// Cases a black-box review found on pyramids: each request's answer against the source's own pixels.

const pathOf = (res: Response) => /path;desc="(\w+)"/.exec(res.headers.get('server-timing') ?? '')?.[1];

async function decoded(res: Response) {
  return sharp(new Uint8Array(await res.arrayBuffer())).removeAlpha().raw().toBuffer({ resolveWithObject: true });
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-pyramid-cases-'));
  await writeFile(join(root, 'grid.tif'), await gridPyramid(85));
  // Level 1 is 511×384: its last column of tiles holds 255 pixels and one column of padding.
  const odd = (width: number, height: number) =>
    sharp(gridRaw(width, height), { raw: { width, height, channels: 3 } })
      .tiff({ tile: true, tileWidth: 256, tileHeight: 256, pyramid: true, compression: 'jpeg', quality: 90 })
      .toBuffer();
  await writeFile(join(root, 'wide.tif'), await odd(1023, 769));
  await writeFile(join(root, 'tall.tif'), await odd(769, 1023));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const appWith = (env: Record<string, string> = {}) => {
  const config = loadConfig({ IIIF_ROOT: root, ...env });
  return createApp({ config, source: fsSource({ root }), renderer: sharpRenderer({ jpegQuality: 90, maxInputPixels: config.IIIF_MAX_INPUT_PIXELS }) });
};

describe('IIIF_MAX_INPUT_PIXELS counts the pixels decoded, not the level of a tiled pyramid', () => {
  // 2000×1500 = 3 Mpx at full resolution, over a 1 Mpx bound; each 256² tile is 65,536 pixels.
  let app: ReturnType<typeof appWith>;
  beforeAll(() => void (app = appWith({ IIIF_MAX_INPUT_PIXELS: '1000000' })));

  it('passes through, crops and renders full-resolution tiles and small regions of a level over the bound', async () => {
    for (const [url, via] of [
      ['0,0,256,256/256,256', 'passthrough'],
      ['1792,1280,208,220/208,220', 'passthrough'],
      ['310,310,200,100/200,100', 'tiles'],
      ['100,100,600,500/600,500', 'render'],
    ] as const) {
      const res = await app.request(`/iiif/3/grid.tif/${url}/0/default.png`.replace(/png$/, via === 'passthrough' ? 'jpg' : 'png'));
      expect(res.status, url).toBe(200);
      expect(pathOf(res), url).toBe(via);
      const [x, y, w, h] = url.split('/')[0]!.split(',').map(Number) as [number, number, number, number];
      const { data, info } = await decoded(res);
      expect([info.width, info.height], url).toEqual([w, h]);
      // The pixel in the middle of the answer is the grid's colour there.
      const px = [...data.subarray(((h >> 1) * w + (w >> 1)) * 3, ((h >> 1) * w + (w >> 1)) * 3 + 3)];
      const want = gridColour(x + (w >> 1), y + (h >> 1));
      px.forEach((v, i) => expect(Math.abs(v - want[i]!), url).toBeLessThan(16));
    }
  });

  it('still refuses a request that decodes more than the bound, and accepts a level under it', async () => {
    const over = await app.request('/iiif/3/grid.tif/full/max/0/default.jpg');
    expect(over.status).toBe(400);
    expect(((await over.json()) as { message: string }).message).toMatch(/IIIF_MAX_INPUT_PIXELS/);
    const under = await app.request('/iiif/3/grid.tif/full/1000,/0/default.jpg');
    expect(under.status).toBe(200);
    const meta = await sharp(new Uint8Array(await under.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([1000, 750]);
    expect(PYRAMID.width * PYRAMID.height).toBeGreaterThan(1_000_000);
  });
});

describe('a rounding pixel over a stored cell that is as wide as a whole tile', () => {
  let app: ReturnType<typeof appWith>;
  beforeAll(() => void (app = appWith()));
  // wide.tif level 1 is 511×384 (scale 1/2): the tile at column 1 holds level columns 256–510.
  // OpenSeadragon asks its region at 256 pixels (the level rounded up to 512 columns).
  for (const [name, url, axis] of [
    ['wide.tif', '512,0,511,512/256,256', 'x'],
    ['tall.tif', '0,512,512,511/256,256', 'y'],
  ] as const) {
    it(`repeats the last ${axis === 'x' ? 'column' : 'row'} instead of sending the tile's padding (${name})`, async () => {
      const res = await app.request(`/iiif/3/${name}/${url}/0/default.jpg`);
      expect(res.status).toBe(200);
      const { data, info } = await decoded(res);
      expect([info.width, info.height]).toEqual([256, 256]);
      // The last column (row) against the one before it: the same grid colours, not black.
      let diff = 0;
      let sum = 0;
      for (let i = 0; i < 256; i++) {
        const last = axis === 'x' ? (i * 256 + 255) * 3 : (255 * 256 + i) * 3;
        const before = axis === 'x' ? (i * 256 + 254) * 3 : (254 * 256 + i) * 3;
        for (let c = 0; c < 3; c++) {
          diff += Math.abs(data[last + c]! - data[before + c]!);
          sum += data[last + c]!;
        }
      }
      expect(sum / 768).toBeGreaterThan(30);
      expect(diff / 768).toBeLessThan(10);
    });
  }
});

describe('regions of one or two pixels at full size', () => {
  let app: ReturnType<typeof appWith>;
  beforeAll(() => void (app = appWith()));
  it('are the source pixels, not a smaller level\'s', async () => {
    // Full resolution as libvips decodes the stored level 0.
    const level = await sharp(join(root, 'grid.tif'), { page: 0 }).removeAlpha().raw().toBuffer();
    for (const [x, y, n] of [[1999, 1499, 1], [1010, 710, 1], [1998, 1498, 2], [1234, 1111, 2], [75, 75, 2]] as const) {
      const res = await app.request(`/iiif/3/grid.tif/${x},${y},${n},${n}/${n},${n}/0/default.png`);
      expect(res.status).toBe(200);
      const { data, info } = await decoded(res);
      expect([info.width, info.height]).toEqual([n, n]);
      for (let dy = 0; dy < n; dy++) {
        for (let dx = 0; dx < n; dx++) {
          const at = (dy * n + dx) * 3;
          const from = ((y + dy) * PYRAMID.width + x + dx) * 3;
          for (let c = 0; c < 3; c++) expect(Math.abs(data[at + c]! - level[from + c]!), `${x + dx},${y + dy}`).toBeLessThanOrEqual(1);
        }
      }
    }
  });
});

/** A W×256 TIFF (photometric grey or YCbCr) whose 256² JPEG tiles, in one row, are `tiles` as given. */
function jpegTiledTiff(W: number, tiles: Uint8Array[], channels: 1 | 3): Uint8Array {
  const n = tiles.length;
  const ifdAt = 8;
  const entries = [
    [256, 3, 1, W], [257, 3, 1, 256], [258, 3, channels, 8], [259, 3, 1, 7], [262, 3, 1, channels === 1 ? 1 : 6], [277, 3, 1, channels],
    [322, 3, 1, 256], [323, 3, 1, 256], [324, 4, n, 0], [325, 4, n, 0],
  ];
  const arraysAt = ifdAt + 2 + entries.length * 12 + 4;
  const bitsAt = arraysAt + 8 * n;
  let at = bitsAt + 8;
  const offsets = tiles.map((t) => (at += t.length) - t.length);
  entries[8]![3] = n === 1 ? offsets[0]! : arraysAt;
  entries[9]![3] = n === 1 ? tiles[0]!.length : arraysAt + 4 * n;
  if (channels === 3) entries[2]![3] = bitsAt;
  const tiff = new Uint8Array(at);
  const view = new DataView(tiff.buffer);
  tiff.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, ifdAt, true);
  view.setUint16(ifdAt, entries.length, true);
  entries.forEach(([tag, type, count, value], i) => {
    const p = ifdAt + 2 + i * 12;
    view.setUint16(p, tag!, true);
    view.setUint16(p + 2, type!, true);
    view.setUint32(p + 4, count!, true);
    if (type === 3 && count === 1) view.setUint16(p + 8, value!, true);
    else view.setUint32(p + 8, value!, true);
  });
  for (let c = 0; c < 3; c++) view.setUint16(bitsAt + 2 * c, 8, true);
  offsets.forEach((o, i) => view.setUint32(arraysAt + i * 4, o, true));
  tiles.forEach((t, i) => view.setUint32(arraysAt + 4 * n + i * 4, t.length, true));
  tiles.forEach((t, i) => tiff.set(t, offsets[i]!));
  return tiff;
}

describe('stored JPEG tiles that are not what the tile grid says', () => {
  // One 256² tile of a 256×256 image, stored as something else. Sent as stored, a browser would
  // show another size or nothing; the renderer decodes what it can and refuses the rest.
  const grey = (size: number) => sharp({ create: { width: size, height: size, channels: 3, background: { r: 90, g: 90, b: 90 } } }).jpeg({ quality: 90 }).toBuffer();
  const patchSof = (jpeg: Buffer, edit: (copy: Buffer, sof: number) => void) => {
    const copy = Buffer.from(jpeg);
    edit(copy, copy.indexOf(Buffer.from([0xff, 0xc0])));
    return copy;
  };
  it.each([
    ['a 512² JPEG', () => grey(512)],
    ['a 128² JPEG', () => grey(128)],
    ['12-bit samples', async () => patchSof(await grey(256), (b, at) => void (b[at + 4] = 12))],
    ['arithmetic coding', async () => patchSof(await grey(256), (b, at) => void (b[at + 1] = 0xc9))],
  ] as const)('%s is never sent as stored', async (label, make) => {
    const tile = await make();
    const name = `frame-${label.replace(/\W+/g, '-')}.tif`;
    await writeFile(join(root, name), jpegTiledTiff(256, [tile], 3));
    const app = appWith();
    for (const url of ['0,0,256,256/256,256', '0,0,200,200/200,200', 'full/max']) {
      const res = await app.request(`/iiif/3/${name}/${url}/0/default.jpg`);
      expect(pathOf(res), `${label} ${url}`).not.toBe('passthrough');
      if (res.status === 200) {
        const { info } = await decoded(res);
        expect(info.width, `${label} ${url}`).toBe(url.startsWith('0,0,200') ? 200 : 256);
      } else {
        expect(res.status, `${label} ${url}`).toBe(422);
      }
    }
  });
});

describe('edge tiles stored with a JPEG coding the lossless crop does not take', () => {
  // A W×256 image in two 256² tiles, each a complete progressive JPEG (other writers than libvips
  // make those, or use restart markers): the second tile holds W − 256 columns and padding. Grey,
  // or YCbCr 4:2:0 (each sample of a pixel the same grey, so the reference stays one channel).
  const progressiveTiff = async (W: number, channels: 1 | 3): Promise<{ tiff: Uint8Array; grey: Buffer }> => {
    const grey = Buffer.alloc(W * 256);
    for (let y = 0; y < 256; y++) for (let x = 0; x < W; x++) grey[y * W + x] = (x * 7 + y * 3) % 200 + 20;
    const tiles = await Promise.all(
      [0, 256].map(async (left) => {
        const cell = Buffer.alloc(256 * 256 * channels);
        for (let y = 0; y < 256; y++) for (let x = left; x < Math.min(W, left + 256); x++) cell.fill(grey[y * W + x]!, ((y * 256) + x - left) * channels, ((y * 256) + x - left + 1) * channels);
        return sharp(cell, { raw: { width: 256, height: 256, channels } }).jpeg({ quality: 95, progressive: true, chromaSubsampling: '4:2:0' }).toBuffer();
      }),
    );
    return { tiff: jpegTiledTiff(W, tiles, channels), grey };
  };

  it.each([
    // 44 columns: whole MCU columns go, which the crop re-packs, but not in a progressive JPEG.
    ['grey, 44 columns', 300, 1, 44],
    // 248 columns of 4:2:0: the same 16 MCU columns, but the luma of a progressive JPEG's own
    // scans counts 31 blocks a row, not 32: a new frame width sheared it (served with a 200).
    ['4:2:0, 248 columns', 504, 3, 248],
    ['4:2:0, 250 columns', 506, 3, 250],
  ] as const)('are decoded by the renderer instead of refused or sheared (%s)', async (_, W, channels, edge) => {
    const { tiff, grey } = await progressiveTiff(W, channels);
    const name = `progressive-${W}-${channels}.tif`;
    await writeFile(join(root, name), tiff);
    const app = appWith();
    const aligned = await app.request(`/iiif/3/${name}/0,0,256,256/256,256/0/default.jpg`);
    expect(aligned.status).toBe(200);
    expect(pathOf(aligned)).toBe('passthrough');
    for (const url of [`256,0,${edge},256/${edge},256`, `256,0,${edge},256/${edge},`]) {
      const res = await app.request(`/iiif/3/${name}/${url}/0/default.jpg`);
      expect(res.status, url).toBe(200);
      const { data, info } = await decoded(res);
      expect([info.width, info.height], url).toEqual([edge, 256]);
      let diff = 0;
      for (let y = 0; y < 256; y++) for (let x = 0; x < edge; x++) diff += Math.abs(data[(y * edge + x) * 3]! - grey[y * W + 256 + x]!);
      expect(diff / (edge * 256), url).toBeLessThan(3);
    }
  });
});

describe('a size a rounding pixel over a level, rendered rather than passed through', () => {
  // 1500×1125: levels 750×562, 375×281 and 187×140. OpenSeadragon rounds the last up (188×141).
  // Passed through as JPEG, the stored level's edge is copied (tile-passthrough.ts); any other
  // output is rendered, and a resize up by one pixel shifts every pixel by up to one.
  let app: ReturnType<typeof appWith>;
  let reference: Buffer;
  beforeAll(async () => {
    const [width, height] = [1500, 1125];
    // Smooth detail at every scale, as in a photograph: a grid rendered from it is all edges.
    const raw = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const v = (a: number, b: number) => Math.round(127.5 + 127.5 * Math.sin(x / a + y / b));
        raw.set([v(25, 61), v(43, 19), v(77, 33)], (y * width + x) * 3);
      }
    const image = sharp(raw, { raw: { width, height, channels: 3 } });
    await writeFile(join(root, 'smooth.tif'), await image.clone().tiff({ tile: true, tileWidth: 256, tileHeight: 256, pyramid: true, compression: 'jpeg', quality: 95 }).toBuffer());
    reference = await image.clone().resize(188, 141, { fit: 'fill' }).raw().toBuffer();
    app = appWith({ IIIF_RESPONSE_CACHE_BYTES: '0' });
  });

  it('is still enlarged from the smaller level when the larger one is over IIIF_MAX_INPUT_PIXELS', async () => {
    // 375×281 is 105,375 pixels, 187×140 is 26,180: a request that was answered must stay answered.
    const bounded = appWith({ IIIF_RESPONSE_CACHE_BYTES: '0', IIIF_MAX_INPUT_PIXELS: '50000' });
    for (const method of ['GET', 'HEAD']) {
      const res = await bounded.request('/iiif/3/smooth.tif/full/188,141/0/default.png', { method });
      expect(res.status, method).toBe(200);
    }
  });

  it.each(['full/188,141/0/default.png', 'full/188,141/0/gray.jpg', 'full/188,/0/default.webp', '0,0,1500,1125/188,141/90/default.png'])(
    '%s is made from the next larger level, not enlarged from the smaller one',
    async (url) => {
      const res = await app.request(`/iiif/3/smooth.tif/${url}`);
      expect(res.status).toBe(200);
      const { data, info } = await sharp(new Uint8Array(await res.arrayBuffer())).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const turned = url.includes('/90/');
      expect([info.width, info.height]).toEqual(turned ? [141, 188] : [188, 141]);
      if (url.includes('gray') || turned) return;
      let sum = 0;
      for (let i = 0; i < data.length; i++) sum += Math.abs((data[i] ?? 0) - (reference[i] ?? 0));
      // Enlarged from 187×140: 29; from 375×281, 1.6 (measured with sharp on this image). Lossy WebP adds about 5.
      expect(sum / data.length).toBeLessThan(url.includes('webp') ? 9 : 3);
    },
  );
});

describe('a tile stored with no bytes (a sparse tile, as GDAL writes them)', () => {
  let app: ReturnType<typeof appWith>;
  beforeAll(async () => {
    // Level 1 (1000×750) of the grid pyramid with its first tile's byte count set to 0.
    const tif = await gridPyramid(85);
    const read = async (offset: number, length: number) => tif.subarray(offset, offset + length);
    const { images } = await readTiffStructure(read, tif.length);
    const counts = images[1]!.byteCounts;
    expect(counts.type).toBe(4);
    tif.writeUInt32LE(0, counts.offset);
    await writeFile(join(root, 'sparse.tif'), tif);
    app = appWith({ IIIF_RESPONSE_CACHE_BYTES: '0' });
  });

  it.each([
    ['0,0,256,256/128,/0/default.jpg', 'the stored tile'],
    ['0,0,400,400/200,/0/default.png', 'the composed tiles'],
    ['0,0,1200,1200/600,/0/default.jpg', 'libvips reading the level'],
    ['0,0,1200,1200/600,/0/default.webp', 'libvips reading the level'],
  ])('%s (%s) is a 422 naming the missing tile, not a 500', async (url) => {
    const res = await app.request(`/iiif/3/sparse.tif/${url}`);
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: 'unsupported_source', message: expect.stringMatching(/tile is missing/) });
  });

  it('regions of the level away from that tile still render', async () => {
    const res = await app.request('/iiif/3/sparse.tif/1000,1000,1000,500/500,/0/default.jpg');
    expect(res.status).toBe(200);
  });
});

// A crafted pyramid's tile tables can be too large to keep (over a quarter of IIIF_GEOMETRY_CACHE_BYTES):
// each tile's entries are then read on their own, and every check must still be made.
describe.each([
  ['tile tables kept', {}],
  ['tile tables too large to keep', { IIIF_GEOMETRY_CACHE_BYTES: '4096' }],
])('a sparse tile inside the covered region, %s', (_, env: Record<string, string>) => {
  let app: ReturnType<typeof appWith>;
  beforeAll(async () => {
    // Level 1 (1000×750, 4×3 tiles): tile 5, column 1 row 1, with no bytes; never the first tile a region covers below.
    const tif = await gridPyramid(85);
    const { images } = await readTiffStructure(async (offset, length) => tif.subarray(offset, offset + length), tif.length);
    tif.writeUInt32LE(0, images[1]!.byteCounts.offset + 5 * 4);
    await writeFile(join(root, 'sparse-inner.tif'), tif);
    app = appWith({ IIIF_RESPONSE_CACHE_BYTES: '0', ...env });
  });

  it.each([
    '512,512,512,512/256,/0/default.jpg',
    '0,0,1200,1200/600,/0/default.jpg',
    '0,0,1200,1200/600,/0/default.webp',
    '400,400,400,400/200,/0/default.png',
  ])('%s is a 422 naming the missing tile, not a 500', async (url) => {
    const res = await app.request(`/iiif/3/sparse-inner.tif/${url}`);
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: 'unsupported_source', message: expect.stringMatching(/tile is missing/) });
  });

  it('regions away from that tile still render, the same either way', async () => {
    const res = await app.request('/iiif/3/sparse-inner.tif/1200,1000,800,500/400,/0/default.png');
    expect(res.status).toBe(200);
    expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width).toBe(400);
  });

  it('a level whose JPEG tables no decoder accepts is a 422, not a stored tile nobody can show', async () => {
    const bad = Buffer.from(
      await sharp(gridRaw(512, 512), { raw: { width: 512, height: 512, channels: 3 } })
        .tiff({ compression: 'jpeg', quality: 80, tile: true, tileWidth: 16, tileHeight: 16 })
        .toBuffer(),
    );
    const { images } = await readTiffStructure(async (offset, length) => bad.subarray(offset, offset + length), bad.length);
    const tables = images[0]!.jpegTables!;
    const at = bad.indexOf(Buffer.from(tables.subarray(0, 64)));
    const dht = bad.indexOf(Buffer.from([0xff, 0xc4]), at);
    // The DHT's count of 1-bit codes: 3 is more than a code tree holds.
    bad[dht + 5] = 3;
    await writeFile(join(root, 'bad-tables.tif'), bad);
    for (const url of ['0,0,16,16/16,/0/default.jpg', '16,16,16,16/16,/0/default.jpg', '0,0,300,300/150,/0/default.png']) {
      const res = await app.request(`/iiif/3/bad-tables.tif/${url}`);
      expect(res.status, url).toBe(422);
    }
  });
});

describe('a tile libtiff cannot decode (a corrupt deflate tile)', () => {
  let app: ReturnType<typeof appWith>;
  beforeAll(async () => {
    const tif = await sharp(gridRaw(1024, 768), { raw: { width: 1024, height: 768, channels: 3 } })
      .tiff({ tile: true, tileWidth: 256, tileHeight: 256, compression: 'deflate' })
      .toBuffer();
    const read = async (offset: number, length: number) => tif.subarray(offset, offset + length);
    const { offsets } = (await readTiffStructure(read, tif.length)).images[0]!;
    // Tile 5 (column 1, row 1): its deflate stream overwritten past the first bytes.
    expect(offsets.type).toBe(4);
    const at = tif.readUInt32LE(offsets.offset + 5 * 4);
    tif.fill(0xa5, at + 8, at + 400);
    await writeFile(join(root, 'corrupt-deflate.tif'), tif);
    app = appWith({ IIIF_RESPONSE_CACHE_BYTES: '0' });
  });

  it('is a 422 for a region that needs it, not a 200 with the tile black', async () => {
    for (const url of ['256,256,256,256/256,/0/default.png', '200,200,400,300/200,/0/default.jpg', 'full/max/0/default.png']) {
      const res = await app.request(`/iiif/3/corrupt-deflate.tif/${url}`);
      expect(res.status, url).toBe(422);
      expect(await res.json()).toMatchObject({ error: 'unsupported_source' });
    }
    const away = await app.request('/iiif/3/corrupt-deflate.tif/768,512,256,256/256,/0/default.png');
    expect(away.status).toBe(200);
  });
});

describe('one pixel past a level that fills its tiles exactly', () => {
  // 1025 px halve to 512 (two 256-px tiles) and 256 (one): a viewer rounding level sizes up sees
  // 513 and 257 and asks for a further column or row one pixel wide, which no stored cell holds.
  let app: ReturnType<typeof appWith>;
  const smooth = (width: number, height: number) => {
    const raw = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) raw.set([(x * 3 + y) % 251, (x + y * 5) % 253, (x * 7 + y * 2) % 241], (y * width + x) * 3);
    return sharp(raw, { raw: { width, height, channels: 3 } });
  };
  const sizes: Record<string, [number, number]> = { 'wide.tif': [1025, 512], 'tall.tif': [512, 1025], 'both.tif': [1025, 1025] };
  beforeAll(async () => {
    for (const [name, [w, h]] of Object.entries(sizes)) {
      for (const [suffix, quality] of [['', 95], ['-420', 80]] as const) {
        await writeFile(join(root, `past-${suffix}${name}`), await smooth(w, h).tiff({ tile: true, tileWidth: 256, tileHeight: 256, pyramid: true, compression: 'jpeg', quality }).toBuffer());
      }
    }
    app = appWith();
  });

  it.each([
    // file, request, the level (page) and its column/row answering it
    ['wide.tif', '1024,0,1,512/1,256', 1, 'x'],
    ['wide.tif', '1024,0,1,512/1,128', 2, 'x'],
    ['tall.tif', '0,1024,512,1/256,1', 1, 'y'],
    ['tall.tif', '0,1024,512,1/128,1', 2, 'y'],
    ['both.tif', '1024,0,1,512/1,256', 1, 'x'],
  ] as const)('%s %s is the stored level\'s last line, without the renderer', async (name, url, page, axis) => {
    for (const prefix of ['past-', 'past--420']) {
      const file = `${prefix}${name}`;
      const res = await app.request(`/iiif/3/${file}/${url}/0/default.jpg`);
      expect(res.status, file).toBe(200);
      expect(pathOf(res), file).toBe('passthrough');
      const { data, info } = await decoded(res);
      const [w, h] = url.split('/')[1]!.split(',').map(Number) as [number, number];
      expect([info.width, info.height], file).toEqual([w, h]);
      // The level as stored, its last column and/or row, the other axis from the request's start.
      const stored = sharp(await readFile(join(root, file)), { page });
      const meta = await stored.metadata();
      const [rx, ry] = url.split('/')[0]!.split(',').map(Number) as [number, number];
      const left = axis.includes('x') ? meta.width! - 1 : Math.round((rx * meta.width!) / sizes[name]![0]);
      const top = axis.includes('y') ? meta.height! - 1 : Math.round((ry * meta.height!) / sizes[name]![1]);
      const want = await stored.extract({ left, top, width: w, height: h }).raw().toBuffer();
      const mad = (got: Uint8Array) => got.reduce((sum, v, i) => sum + Math.abs(v - (want[i] ?? 0)), 0) / want.length;
      if (prefix === 'past-') {
        // Q95 tiles are RGB at full chroma: the same coefficients, mirrored, give the same pixels.
        expect(mad(data), file).toBeLessThan(1.5);
      } else {
        // A 4:2:0 JPEG one pixel wide is decoded without smoothing its chroma (libjpeg does that
        // from three samples on), however it was made: no worse than those pixels coded so.
        const coded = await sharp(want, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
        expect(mad(data), file).toBeLessThan(mad(await sharp(coded).raw().toBuffer()) + 2.5);
      }
    }
  });
});

describe('a level whose last column or row is one pixel (GDAL halves level sizes rounding up)', () => {
  // 4097×3073 halves to 2049, 1025, 513, 257 and 129 columns: each level's last tile holds one.
  const full: [number, number] = [4097, 3073];
  const levels: Array<[number, number]> = [full];
  while (levels.at(-1)![0] > 256) levels.push(levels.at(-1)!.map((n) => Math.ceil(n / 2)) as [number, number]);
  let app: ReturnType<typeof appWith>;
  beforeAll(async () => {
    const source = sharp(gridRaw(...full), { raw: { width: full[0], height: full[1], channels: 3 } });
    const pages = [];
    for (const [w, h] of levels) {
      const level = sharp(await source.clone().resize(w, h, { fit: 'fill' }).raw().toBuffer(), { raw: { width: w, height: h, channels: 3 } });
      pages.push(await level.tiff({ tile: true, tileWidth: 256, tileHeight: 256, compression: 'jpeg', quality: 90 }).toBuffer());
    }
    await writeFile(join(root, 'gdal.tif'), chainPages(pages));
    app = appWith();
  });

  it.each([
    // OpenSeadragon's requests for those one-pixel lines: the level (page) and the line answering it
    ['4096,0,1,3073/1,193', 4, 'x'],
    ['4096,2048,1,1025/1,129', 3, 'x'],
    ['0,3072,1024,1/256,1', 2, 'y'],
    ['4096,0,1,1024/1,256', 2, 'x'],
  ] as const)('%s is the stored level\'s line, without the renderer', async (url, page, axis) => {
    const res = await app.request(`/iiif/3/gdal.tif/${url}/0/default.jpg`);
    expect(res.status).toBe(200);
    expect(pathOf(res)).toBe('passthrough');
    const { data, info } = await decoded(res);
    const [w, h] = url.split('/')[1]!.split(',').map(Number) as [number, number];
    expect([info.width, info.height]).toEqual([w, h]);
    const [lw, lh] = levels[page]!;
    const [rx, ry] = url.split('/')[0]!.split(',').map(Number) as [number, number];
    // The other axis from the start of the tile the region starts in, within rounding.
    const cell = (start: number, level: number, whole: number) => Math.round((start * level) / whole / 256) * 256;
    const left = axis === 'x' ? lw - 1 : cell(rx, lw, full[0]);
    const top = axis === 'y' ? lh - 1 : cell(ry, lh, full[1]);
    const want = await sharp(await readFile(join(root, 'gdal.tif')), { page }).extract({ left, top, width: w, height: h }).raw().toBuffer();
    const mad = data.reduce((sum, v, i) => sum + Math.abs(v - (want[i] ?? 0)), 0) / want.length;
    expect(mad).toBeLessThan(2);
  });

  it('a single full-resolution pixel near those lines is that pixel, not a reduced level\'s', async () => {
    // A one-pixel checkerboard: every reduced level is mid-grey where full resolution is black or white.
    const board = Buffer.alloc(full[0] * full[1] * 3);
    for (let i = 0; i < full[0] * full[1]; i++) board.fill(((i % full[0]) + Math.floor(i / full[0])) % 2 ? 255 : 0, i * 3, i * 3 + 3);
    const pages = [];
    for (const [w, h] of levels) {
      const level = await sharp(board, { raw: { width: full[0], height: full[1], channels: 3 } }).resize(w, h, { fit: 'fill' }).raw().toBuffer();
      pages.push(await sharp(level, { raw: { width: w, height: h, channels: 3 } }).tiff({ tile: true, tileWidth: 256, tileHeight: 256, compression: 'jpeg', quality: 95 }).toBuffer());
    }
    await writeFile(join(root, 'gdal-board.tif'), chainPages(pages));
    const source = await sharp(await readFile(join(root, 'gdal-board.tif')), { page: 0 }).raw().toBuffer();
    for (const [x, y] of [[4096, 3069], [4093, 3072], [4095, 3071], [4096, 3072], [2048, 0]] as const) {
      // As JPEG, the format a stored tile could answer; a reduced level's grey is ~128 away.
      const res = await app.request(`/iiif/3/gdal-board.tif/${x},${y},1,1/1,1/0/default.jpg`);
      const { data } = await decoded(res);
      const want = source.subarray((y * full[0] + x) * 3, (y * full[0] + x) * 3 + 3);
      expect(Math.max(...[0, 1, 2].map((i) => Math.abs((data[i] ?? 0) - (want[i] ?? 0)))), `${x},${y}`).toBeLessThanOrEqual(24);
    }
  });
});
