import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { nodeJp2Codec } from '../src/renderers/sharp-jp2.ts';

export type Scale = 'full' | 'small';

export interface Level {
  page: number;
  width: number;
  height: number;
}

export interface Fixtures {
  scale: Scale;
  dir: string;
  /** Tiled pyramidal JPEG-compressed TIFF (Q85); levels[0] is full resolution. */
  tiff: { name: string; path: string; levels: Level[]; tile: number };
  /** The same pyramid at Q75 4:2:0, IIPImage's fast case and the bytes a viewer-grade pyramid costs. */
  tiffQ75: { name: string; path: string };
  /** Large untiled baseline JPEG. */
  jpeg: { name: string; path: string; width: number; height: number };
  /** Medium PNG. */
  png: { name: string; path: string; width: number; height: number };
  /** Lossy JPEG 2000 in 1024² tiles with TLM markers and 6 decomposition levels (issue 13). */
  jp2: { name: string; path: string; width: number; height: number; tile: number; levels: number };
  /** Symlinks to each image (big-0.tif …), so that repeated requests can use distinct identifiers. */
  aliases: { tiff: string[]; jpeg: string[]; png: string[]; jp2: string[] };
}

const SIZES: Record<Scale, { tiff: [number, number]; jpeg: [number, number]; png: [number, number] }> = {
  full: { tiff: [12000, 9000], jpeg: [6000, 4000], png: [3000, 2000] },
  small: { tiff: [3000, 2250], jpeg: [1500, 1000], png: [600, 400] },
};
const TILE = 256;
const JP2_TILE = 1024;
const JP2_LEVELS = 6;
const ALIASES = 16;
/** Bump when the generated images change, so stale caches are not reused. */
const VERSION = 2;

export function scaleFromEnv(value: string | undefined): Scale {
  if (value === undefined || value === '' || value === 'full') return 'full';
  if (value === 'small') return 'small';
  throw new Error(`BENCH_SCALE must be "small" or "full", not ${JSON.stringify(value)}`);
}

/**
 * Photo-like content: smooth blobs (upscaled colour noise) overlaid with
 * fine grain, so JPEG lands near 1.5–2 bits/pixel like a real scan.
 */
function synthetic(width: number, height: number): Sharp {
  const coarse = sharp({
    create: {
      width: Math.ceil(width / 48),
      height: Math.ceil(height / 48),
      channels: 3,
      background: { r: 0, g: 0, b: 0 },
      noise: { type: 'gaussian', mean: 128, sigma: 70 },
    },
  });
  return coarse
    .resize(width, height, { kernel: 'cubic', fit: 'fill' })
    .composite([
      {
        input: { create: { width, height, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 14 } } },
        blend: 'overlay',
      },
    ]);
}

async function writeAtomically(path: string, make: (tmp: string) => Promise<unknown>): Promise<void> {
  if (existsSync(path)) return;
  const tmp = `${path}.${process.pid}.part`;
  await make(tmp);
  await rename(tmp, path);
}

/** Stages through a raw buffer: the composite above cannot stream into a pyramid. */
async function rawOf(width: number, height: number): Promise<Sharp> {
  const { data, info } = await synthetic(width, height).raw().toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
}

/** Creates (or reuses, in os.tmpdir()) the images the benchmark serves. */
export async function ensureFixtures(scale: Scale, log: (msg: string) => void = () => {}): Promise<Fixtures> {
  const size = SIZES[scale];
  const dir = join(tmpdir(), `iiif-edge-bench-v${VERSION}-${scale}`);
  await mkdir(dir, { recursive: true });
  const tiffPath = join(dir, 'big.tif');
  const jpegPath = join(dir, 'photo.jpg');
  // Named by its size, so that a change of size makes a new file.
  const pngStem = `medium-${size.png.join('x')}`;
  const pngPath = join(dir, `${pngStem}.png`);
  const jp2Path = join(dir, 'big.jp2');
  const tiffQ75Path = join(dir, 'big-q75.tif');

  const started = performance.now();
  await writeAtomically(tiffPath, async (tmp) => {
    log(`generating ${size.tiff.join('×')} pyramidal TIFF…`);
    await (await rawOf(...size.tiff))
      .tiff({ tile: true, tileWidth: TILE, tileHeight: TILE, pyramid: true, compression: 'jpeg', quality: 85 })
      .toFile(tmp);
  });
  await writeAtomically(tiffQ75Path, async (tmp) => {
    log(`generating ${size.tiff.join('×')} pyramidal TIFF at Q75 4:2:0…`);
    await (await rawOf(...size.tiff))
      .tiff({ tile: true, tileWidth: TILE, tileHeight: TILE, pyramid: true, compression: 'jpeg', quality: 75 })
      .toFile(tmp);
  });
  await writeAtomically(jpegPath, async (tmp) => {
    log(`generating ${size.jpeg.join('×')} JPEG…`);
    await (await rawOf(...size.jpeg)).jpeg({ quality: 85 }).toFile(tmp);
  });
  await writeAtomically(pngPath, async (tmp) => {
    log(`generating ${size.png.join('×')} PNG…`);
    await (await rawOf(...size.png)).png().toFile(tmp);
  });
  await writeAtomically(jp2Path, async (tmp) => {
    log(`generating ${size.tiff.join('×')} JPEG 2000 (${JP2_TILE} px tiles, ${JP2_LEVELS} levels, RPCL, a tile-part per resolution, TLM)…`);
    const { data, info } = await (await rawOf(...size.tiff)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const codec = await nodeJp2Codec();
    const bytes = codec.encode(
      { data, width: info.width, height: info.height, channels: 3 },
      // The layout of JP2s made for serving (Kakadu's Corder=RPCL ORGtparts=R ORGgen_tlm):
      // a reduced view reads only each tile's first tile-parts.
      { format: 'jp2', rate: 20, tileSize: JP2_TILE, levels: JP2_LEVELS, tlm: true, resolutionTileParts: true },
    );
    await writeFile(tmp, bytes);
  });
  const elapsed = performance.now() - started;
  if (elapsed > 1000) log(`fixtures ready in ${(elapsed / 1000).toFixed(1)} s (cached in ${dir})`);

  const aliases = {
    tiff: await linksTo(dir, 'big', 'tif'),
    jpeg: await linksTo(dir, 'photo', 'jpg'),
    png: await linksTo(dir, pngStem, 'png'),
    jp2: await linksTo(dir, 'big', 'jp2'),
  };

  return {
    scale,
    dir,
    tiff: { name: 'big.tif', path: tiffPath, levels: await levelsOf(dir, tiffPath), tile: TILE },
    tiffQ75: { name: 'big-q75.tif', path: tiffQ75Path },
    jpeg: { name: 'photo.jpg', path: jpegPath, width: size.jpeg[0], height: size.jpeg[1] },
    png: { name: `${pngStem}.png`, path: pngPath, width: size.png[0], height: size.png[1] },
    jp2: { name: 'big.jp2', path: jp2Path, width: size.tiff[0], height: size.tiff[1], tile: JP2_TILE, levels: JP2_LEVELS },
    aliases,
  };
}

async function linksTo(dir: string, stem: string, ext: string): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < ALIASES; i++) {
    const name = `${stem}-${i}.${ext}`;
    if (!existsSync(join(dir, name))) await symlink(`${stem}.${ext}`, join(dir, name));
    names.push(name);
  }
  return names;
}

/** Page sizes of the pyramid, cached next to it (reading each page's header is cheap but noisy). */
async function levelsOf(dir: string, path: string): Promise<Level[]> {
  const cache = join(dir, 'levels.json');
  if (existsSync(cache)) return JSON.parse(await readFile(cache, 'utf8')) as Level[];
  const { pages = 1 } = await sharp(path).metadata();
  const levels: Level[] = [];
  for (let page = 0; page < pages; page++) {
    const { width, height } = await sharp(path, { page }).metadata();
    levels.push({ page, width, height });
  }
  await writeFile(cache, JSON.stringify(levels));
  return levels;
}
