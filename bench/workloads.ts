import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { Jp2Area } from '../src/jp2/codec.ts';
import { readJp2Structure } from '../src/jp2/index.ts';
import { nodeJp2Codec } from '../src/renderers/sharp-jp2.ts';
import type { Fixtures, Level } from './fixtures.ts';

/** What a correct response must measure: image pixels, or info.json's width/height. */
export interface Expect {
  kind: 'image' | 'info';
  width: number;
  height: number;
  /** Thumbnail rounding may differ by a pixel between implementations. */
  slack: number;
}

/** Minimum ratios from the issues (ours ÷ reference server, ÷ in-process sharp loop, ÷ IIPImage). */
export interface Targets {
  vsReference?: number;
  vsSharp?: number;
  /** Ours ÷ IIPImage without its cache. */
  vsIipImage?: number;
  /** Ours ÷ IIPImage with its default 10 MB cache. */
  vsIipImageCached?: number;
  /** Ours ÷ the HTTP ceiling at the workload's mean response size (issue 16). */
  vsCeiling?: number;
  /** Our peak RSS under this workload, at most (issues 15 and 16). */
  maxRssMb?: number;
}

export interface Workload {
  id: string;
  title: string;
  /** Paths below /iiif/3/, cycled in order so that consecutive requests differ. */
  paths: string[];
  expect: Expect;
  targets: Targets;
  /** Also measured against the HTTP ceiling (bench/ceiling.ts) for its mean response size. */
  ceiling?: boolean;
  /** The same work done by sharp in-process from the local file, request i of the cycle. */
  sharpJob?: (i: number) => Promise<unknown>;
  /** Served by a separate iiif-edge process with these settings (ours only; the reference is not run). */
  oursEnv?: Record<string, string>;
  /**
   * The reference server cannot serve it (its sharp has no JPEG 2000 decoder): sharpJob then
   * stands for it, reading the whole object per request as it would.
   */
  noReferenceServer?: true;
  /** IIPImage can serve it (TIFF and JP2, not plain JPEG or PNG): measured against it too. */
  iipImage?: true;
}

const QUALITY = 85;

/** Deterministic shuffle, so runs are comparable but neighbours are not requested in order. */
function shuffled<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface Tile {
  x: number;
  y: number;
  w: number;
  h: number;
}

const at = <T>(list: T[], i: number): T => list[i % list.length]!;
const tilePath = (id: string, t: Tile, size: number) => `${id}/${t.x},${t.y},${t.w},${t.h}/${size},/0/default.jpg`;

/** Smallest pyramid page whose both sides are at least the requested ones. */
/** The smallest level at least `width`×`height`, as libvips picks it for a thumbnail. */
export function pageFor(levels: Level[], width: number, height: number): Level {
  const fits = levels.filter((l) => l.width >= width && l.height >= height);
  return fits[fits.length - 1] ?? levels[0]!;
}

/** Fits width×height inside box×box, keeping the aspect ratio (IIIF `!box,box`). */
function fitInside(width: number, height: number, box: number): { width: number; height: number } {
  const scale = Math.min(box / width, box / height);
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
}

export function workloads(fx: Fixtures): Workload[] {
  return [...tiffWorkloads(fx), ...jp2Workloads(fx)];
}

function tiffWorkloads(fx: Fixtures): Workload[] {
  const { tiff, jpeg, png, aliases } = fx;
  const levels = tiff.levels;
  const full = levels[0]!;
  const T = tiff.tile;

  // Aligned full-resolution tiles: every whole 256×256 tile.
  const aligned: Tile[] = [];
  for (let y = 0; y + T <= full.height; y += T) for (let x = 0; x + T <= full.width; x += T) aligned.push({ x, y, w: T, h: T });

  // Aligned tiles at the middle pyramid level (scale factor 8 for 12000×9000): region 256·f → 256 px.
  const midIndex = Math.max(1, Math.floor((levels.length - 1) / 2));
  const f = 2 ** midIndex;
  const mid: Tile[] = [];
  for (let y = 0; y + T * f <= full.height; y += T * f) for (let x = 0; x + T * f <= full.width; x += T * f) mid.push({ x, y, w: T * f, h: T * f });

  // Edge tiles at full resolution: the right column, the bottom row and the corner, at their exact size.
  const edgeX = Math.floor((full.width - 1) / T) * T;
  const edgeY = Math.floor((full.height - 1) / T) * T;
  const edges: Tile[] = [];
  for (let y = 0; y < edgeY; y += T) edges.push({ x: edgeX, y, w: full.width - edgeX, h: T });
  for (let x = 0; x < edgeX; x += T) edges.push({ x, y: edgeY, w: T, h: full.height - edgeY });
  edges.push({ x: edgeX, y: edgeY, w: full.width - edgeX, h: full.height - edgeY });

  // Every partial tile at the right and bottom of every level, at the level's exact cell size.
  const allEdges: string[] = [];
  for (const level of levels) {
    const s = full.width / level.width;
    const cols = Math.ceil(level.width / T);
    const rows = Math.ceil(level.height / T);
    for (let row = 0; row < rows; row++) {
      for (let col = 0; col < cols; col++) {
        const [cw, ch] = [Math.min(T, level.width - col * T), Math.min(T, level.height - row * T)];
        if (cw === T && ch === T) continue;
        const [x, y] = [Math.round(col * T * s), Math.round(row * T * s)];
        allEdges.push(`${tiff.name}/${x},${y},${Math.min(full.width - x, Math.round(T * s))},${Math.min(full.height - y, Math.round(T * s))}/${cw},${ch}/0/default.jpg`);
      }
    }
  }

  // Issue 15: regions 1000 px wide at full resolution on no tile boundary (a viewer with another
  // tile size, a deep link), each at its own size: 20 stored tiles cover each.
  const regions: Tile[] = [];
  const [RW, RH] = [1000, 750];
  for (let y = 101; y + RH <= full.height; y += 2 * RH) for (let x = 67; x + RW <= full.width; x += 1.5 * RW) regions.push({ x, y, w: RW, h: RH });

  const alignedOrder = shuffled(aligned);
  const midOrder = shuffled(mid);
  const regionOrder = shuffled(regions);
  const edgeOrder = shuffled(edges);
  const midLevel = levels[midIndex]!;
  const thumbTiff = fitInside(full.width, full.height, 200);
  const thumbJpeg = fitInside(jpeg.width, jpeg.height, 200);
  const thumbPage = pageFor(levels, thumbTiff.width, thumbTiff.height);
  const encodeTile = (page: number, left: number, top: number, w: number, h: number, size: number) =>
    sharp(tiff.path, { page })
      .extract({ left, top, width: w, height: h })
      .resize(size)
      .jpeg({ quality: QUALITY })
      .toBuffer();

  return [
    {
      id: 'info',
      ceiling: true,
      title: 'info.json (TIFF)',
      paths: [tiff.name, ...aliases.tiff].map((id) => `${id}/info.json`),
      expect: { kind: 'info', width: full.width, height: full.height, slack: 0 },
      targets: { vsReference: 1, vsCeiling: 0.5 },
      iipImage: true,
    },
    {
      id: 'aligned',
      ceiling: true,
      title: `aligned tiles, full resolution (${alignedOrder.length} URLs)`,
      paths: alignedOrder.map((t) => tilePath(tiff.name, t, T)),
      expect: { kind: 'image', width: T, height: T, slack: 0 },
      targets: { vsReference: 100, vsSharp: 5, vsCeiling: 0.5, maxRssMb: 120 },
      iipImage: true,
      sharpJob: (i) => {
        const t = at(alignedOrder, i);
        return encodeTile(0, t.x, t.y, t.w, t.h, T);
      },
    },
    {
      id: 'mid',
      ceiling: true,
      title: `aligned tiles, scale factor ${f} (${midOrder.length} URLs)`,
      paths: midOrder.map((t) => tilePath(tiff.name, t, T)),
      expect: { kind: 'image', width: T, height: T, slack: 0 },
      targets: { vsReference: 100, vsSharp: 5, maxRssMb: 120 },
      iipImage: true,
      sharpJob: (i) => {
        const t = at(midOrder, i);
        const left = t.x / f;
        const top = t.y / f;
        return encodeTile(midLevel.page, left, top, Math.min(T, midLevel.width - left), Math.min(T, midLevel.height - top), T);
      },
    },
    {
      id: 'edge',
      ceiling: true,
      title: `edge tiles, full resolution (${edgeOrder.length} URLs)`,
      paths: edgeOrder.map((t) => tilePath(tiff.name, t, t.w)),
      // The first path is checked; its size is its own region's.
      expect: { kind: 'image', width: edgeOrder[0]!.w, height: edgeOrder[0]!.h, slack: 0 },
      // Ours with its edge-tile cache warm: against IIPImage's cache (edge-first is the uncached pair).
      targets: { vsIipImageCached: 1, maxRssMb: 120 },
      iipImage: true,
      sharpJob: (i) => {
        const t = at(edgeOrder, i);
        return encodeTile(0, t.x, t.y, t.w, t.h, t.w);
      },
    },
    {
      id: 'aligned-q75',
      title: `aligned tiles, full resolution, Q75 4:2:0 pyramid (${alignedOrder.length} URLs)`,
      ceiling: true,
      paths: alignedOrder.map((t) => tilePath(fx.tiffQ75.name, t, T)),
      expect: { kind: 'image', width: T, height: T, slack: 0 },
      targets: { vsReference: 100, vsCeiling: 0.5, maxRssMb: 120 },
      iipImage: true,
    },
    {
      id: 'edge-all',
      title: `edge tiles, every level (${allEdges.length} URLs)`,
      ceiling: true,
      paths: shuffled(allEdges),
      // Sizes differ per tile: only a 200 and an image are checked.
      expect: { kind: 'image', width: 0, height: 0, slack: Number.MAX_SAFE_INTEGER },
      // Ours with its edge-tile cache warm: against IIPImage's cache (edge-first is the uncached pair).
      targets: { vsIipImageCached: 1, maxRssMb: 120 },
      iipImage: true,
    },
    {
      id: 'edge-first',
      title: `edge tiles, every level, first pass (edge-tile cache off: every request crops) (${allEdges.length} URLs)`,
      ceiling: true,
      paths: shuffled(allEdges),
      expect: { kind: 'image', width: 0, height: 0, slack: Number.MAX_SAFE_INTEGER },
      targets: { vsIipImage: 1, maxRssMb: 120 },
      oursEnv: { IIIF_EDGE_TILE_CACHE_BYTES: '0' },
      noReferenceServer: true,
      // Every request crops: against IIPImage without its cache, which decodes and encodes each.
      iipImage: true,
    },
    {
      id: 'region',
      title: `non-aligned ${RW}×${RH} regions, full resolution (${regionOrder.length} URLs)`,
      paths: regionOrder.map((t) => tilePath(tiff.name, t, t.w)),
      expect: { kind: 'image', width: RW, height: RH, slack: 0 },
      targets: { vsSharp: 2 },
      iipImage: true,
      sharpJob: (i) => {
        const t = at(regionOrder, i);
        return encodeTile(0, t.x, t.y, t.w, t.h, t.w);
      },
    },
    {
      id: 'thumb-tiff',
      title: 'thumbnail !200,200 of the tiled TIFF',
      paths: [tiff.name, ...aliases.tiff].map((id) => `${id}/full/!200,200/0/default.jpg`),
      expect: { kind: 'image', ...thumbTiff, slack: 1 },
      targets: { vsReference: 20, vsIipImage: 1, maxRssMb: 150 },
      iipImage: true,
      sharpJob: () =>
        sharp(tiff.path, { page: thumbPage.page })
          .resize(200, 200, { fit: 'inside' })
          .jpeg({ quality: QUALITY })
          .toBuffer(),
    },
    {
      id: 'thumb-jpeg',
      title: `thumbnail !200,200 of the ${jpeg.width}×${jpeg.height} JPEG`,
      paths: [jpeg.name, ...aliases.jpeg].map((id) => `${id}/full/!200,200/0/default.jpg`),
      expect: { kind: 'image', ...thumbJpeg, slack: 1 },
      targets: { vsReference: 1.5 },
      // resize() before any crop lets libjpeg shrink on load.
      sharpJob: () => sharp(jpeg.path).resize(200, 200, { fit: 'inside' }).jpeg({ quality: QUALITY }).toBuffer(),
    },
    {
      id: 'png-max',
      title: `full/max of the ${png.width}×${png.height} PNG`,
      paths: [png.name, ...aliases.png].map((id) => `${id}/full/max/0/default.png`),
      expect: { kind: 'image', width: png.width, height: png.height, slack: 0 },
      // Issue 15: at least the in-process sharp loop's rate.
      targets: { vsReference: 1, vsSharp: 1 },
      sharpJob: () => sharp(png.path).png().toBuffer(),
    },
  ];
}

/**
 * Issue 13's JPEG 2000 workloads on the lossy 1024²-tiled JP2. The reference server's sharp has
 * no JPEG 2000 decoder, so the loop stands for a server that reads the whole object per request
 * (serverless-iiif with OpenJPEG in its layer): the whole file read, then OpenJPEG on it at the
 * same reduction and area, then the same resize and JPEG encode.
 */
function jp2Workloads(fx: Fixtures): Workload[] {
  const { jp2, aliases } = fx;
  const T = 256;
  const aligned: Tile[] = [];
  for (let y = 0; y + T <= jp2.height; y += T) for (let x = 0; x + T <= jp2.width; x += T) aligned.push({ x, y, w: T, h: T });
  const f = 8;
  const mid: Tile[] = [];
  for (let y = 0; y + T * f <= jp2.height; y += T * f) for (let x = 0; x + T * f <= jp2.width; x += T * f) mid.push({ x, y, w: T * f, h: T * f });

  const alignedOrder = shuffled(aligned);
  const midOrder = shuffled(mid);
  const thumb = fitInside(jp2.width, jp2.height, 200);
  // !200,200 of 12000×9000 is 200×150: reduction 5 (375×282) is the smallest at least that big.
  const thumbReduce = Math.max(0, Math.min(jp2.levels, Math.floor(Math.log2(Math.min(jp2.width / thumb.width, jp2.height / thumb.height)))));
  const whole = async (reduce: number, area: Jp2Area | undefined, width: number) => {
    const [codec, bytes] = await Promise.all([nodeJp2Codec(), readFile(jp2.path)]);
    const px = codec.decode(bytes, { reduce, ...(area ? { area } : {}), maxBytes: 2 ** 29 });
    return sharp(px.data, { raw: { width: px.width, height: px.height, channels: px.channels } }).resize(width).jpeg({ quality: QUALITY }).toBuffer();
  };
  const areaOf = (t: Tile): Jp2Area => ({ x0: t.x, y0: t.y, x1: t.x + t.w, y1: t.y + t.h });
  const ids = [jp2.name, ...aliases.jp2];
  return [
    {
      id: 'jp2-info',
      title: 'info.json (JP2; loop: whole object read and its header parsed)',
      paths: ids.map((id) => `${id}/info.json`),
      expect: { kind: 'info', width: jp2.width, height: jp2.height, slack: 0 },
      targets: {},
      iipImage: true,
      noReferenceServer: true,
      sharpJob: async () => {
        const bytes = await readFile(jp2.path);
        return readJp2Structure(async (o, l) => bytes.subarray(o, o + l), bytes.length);
      },
    },
    {
      id: 'jp2-aligned',
      title: `JP2 aligned 256² tiles, full resolution (${alignedOrder.length} URLs; loop: whole-object reference)`,
      paths: alignedOrder.map((t) => tilePath(jp2.name, t, T)),
      expect: { kind: 'image', width: T, height: T, slack: 0 },
      targets: { vsSharp: 20 },
      iipImage: true,
      noReferenceServer: true,
      sharpJob: (i) => whole(0, areaOf(at(alignedOrder, i)), T),
    },
    {
      id: 'jp2-mid',
      title: `JP2 aligned tiles, scale factor ${f} (${midOrder.length} URLs; loop: whole-object reference)`,
      paths: midOrder.map((t) => tilePath(jp2.name, t, T)),
      expect: { kind: 'image', width: T, height: T, slack: 0 },
      targets: {},
      iipImage: true,
      noReferenceServer: true,
      sharpJob: (i) => whole(Math.log2(f), areaOf(at(midOrder, i)), T),
    },
    {
      id: 'jp2-thumb',
      title: 'JP2 thumbnail !200,200 (loop: whole-object reference)',
      paths: ids.map((id) => `${id}/full/!200,200/0/default.jpg`),
      expect: { kind: 'image', ...thumb, slack: 1 },
      targets: { vsSharp: 10 },
      iipImage: true,
      noReferenceServer: true,
      sharpJob: () => whole(thumbReduce, undefined, thumb.width),
    },
  ];
}
