import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Sharp } from 'sharp';
import { httpError } from '../errors.ts';
import { wholeReadRefusal } from './sharp-budget.ts';
import type { Rect, RenderPlan } from '../iiif/types.ts';
import { type Jp2Area, type Jp2Codec, Jp2CodecError, type Jp2DecodeOptions, loadJp2Codec } from '../jp2/codec.ts';
import { Jp2Error, type Jp2Structure, type TilePart, decodedChannels } from '../jp2/index.ts';
import { coveringBytes, coveringTiles, partsForDecode, readTileSubset, tilePixels } from '../jp2/subset.ts';
import { walkTileParts } from '../jp2/tile-index.ts';
import { codeBlocksToDecode } from '../jp2/code-blocks.ts';
import { type RenderInput, stopIfGone } from './renderer.ts';
import { type Jp2DecodePool, Jp2ThreadError, jp2DecodePool } from './sharp-jp2-pool.ts';

type SharpFactory = (typeof import('sharp'))['default'];

/** Next to the bundle: the Lambda zip carries it there. */
const BUNDLED_WASM = new URL('./openjpeg.wasm', import.meta.url);
/** In the checkout, spelled from the repository root so that it holds for the sources and dist/node/main.mjs. */
const CHECKOUT_WASM = new URL('../../vendor/openjpeg/openjpeg.wasm', import.meta.url);
/**
 * A codestream read whole (no TLM index) is copied into wasm memory next to the decoder's
 * own buffers, so it is refused above this size rather than risking the process.
 */
const MAX_WHOLE_CODESTREAM = 256 * 1024 * 1024;

/** The pixel bound's code-blocks: as many as four components of its pixels have in 64×64 blocks. */
const CODE_BLOCK_PIXELS = 1024;

/** IIIF_JP2_MAX_DECODE_BYTES's default. OpenJPEG needs about 9 bytes of wasm memory per decoded byte. */
export const JP2_MAX_DECODE_BYTES = 32 * 1024 * 1024;

const tooMuch = () => httpError(400, 'over_limit', 'this request needs more than 256 MB of the JPEG 2000 codestream in memory');

let codec: Promise<Jp2Codec> | undefined;
/** Compiled on the first JP2 render only; a failed load is retried by the next. */
export function nodeJp2Codec(): Promise<Jp2Codec> {
  codec ??= wasmBytes().then((bytes) => loadJp2Codec(bytes));
  codec.catch(() => (codec = undefined));
  return codec;
}

/** Decoding threads, one per core (at most 4); null where they cannot start (the Lambda zip). */
let pool: Jp2DecodePool | null | undefined;
const decodePool = () => (pool === undefined ? (pool = jp2DecodePool(Math.min(4, availableParallelism())) ?? null) : pool);

/** A thread that cannot run (or died) is not the image's fault: decode here, and stop using threads. */
const inThread = (bytes: Uint8Array, options: Jp2DecodeOptions) => async (e: unknown) => {
  if (!(e instanceof Jp2ThreadError)) throw e;
  pool = null;
  return (await nodeJp2Codec()).decode(bytes, options);
};

async function wasmBytes(): Promise<Uint8Array> {
  try {
    return await readFile(BUNDLED_WASM);
  } catch {
    return readFile(CHECKOUT_WASM);
  }
}

/** The full-resolution area whose reduction by 2^r is exactly `r` of the level (ISO 15444-1 B.5: ceil). */
export function areaAtReduction(s: Jp2Structure, level: Rect, reduce: number): Jp2Area {
  const f = 2 ** reduce;
  const { x0, y0, x1, y1 } = s.siz;
  // Level pixel i covers canvas [(ceil(x0 / f) + i) · f, … + f); the area is relative to the image origin.
  const ox = Math.ceil(x0 / f);
  const oy = Math.ceil(y0 / f);
  return {
    x0: Math.max(0, (ox + level.x) * f - x0),
    y0: Math.max(0, (oy + level.y) * f - y0),
    x1: Math.min(x1 - x0, (ox + level.x + level.w) * f - x0),
    y1: Math.min(y1 - y0, (oy + level.y + level.h) * f - y0),
  };
}

/** A level's grid of chroma samples: the largest component subsampling, and the level's origin. */
interface ChromaGrid {
  mx: number;
  my: number;
  ox: number;
  oy: number;
  width: number;
  height: number;
}

function chromaGrid(s: Jp2Structure, reduce: number): ChromaGrid {
  const f = 2 ** reduce;
  const { x0, y0, x1, y1 } = s.siz;
  return {
    mx: Math.max(...s.siz.components.map((c) => c.dx)),
    my: Math.max(...s.siz.components.map((c) => c.dy)),
    ox: Math.ceil(x0 / f),
    oy: Math.ceil(y0 / f),
    width: Math.ceil(x1 / f) - Math.ceil(x0 / f),
    height: Math.ceil(y1 / f) - Math.ceil(y0 / f),
  };
}

/**
 * A level rect widened to whole samples of the subsampled components (4:2:0 chroma): OpenJPEG
 * upsamples a component from its first sample inside the area, so an area starting between two
 * samples took the next one's colour, and one narrower than a sample had none ("failed to decode").
 */
function onChromaGrid(r: Rect, g: ChromaGrid): Rect {
  if (g.mx === 1 && g.my === 1) return r;
  const along = (start: number, length: number, o: number, m: number, size: number) => {
    const from = Math.max(0, Math.floor((o + start) / m) * m - o);
    return [from, Math.min(size, Math.ceil((o + start + length) / m) * m - o) - from] as const;
  };
  const [x, w] = along(r.x, r.w, g.ox, g.mx, g.width);
  const [y, h] = along(r.y, r.h, g.oy, g.my, g.height);
  return { x, y, w, h };
}

export interface OpenedJp2 {
  image: Sharp;
  region: Rect;
  level: { width: number; height: number };
  shrinkOnLoad: false;
  /** Decoded by OpenJPEG, not assembled from stored JPEG tiles. */
  fromTiles?: false;
}

export interface Jp2Limits {
  maxBytes: number;
  maxCanvasBytes: number;
  maxInputPixels: number;
}

/**
 * What a decode of the plan's level region needs, refused from the header alone (no read): the
 * bytes of one decode and of the canvas, the pixels of the covering tiles and their code-blocks.
 */
export function planJp2Decode(s: Jp2Structure, plan: RenderPlan, { maxBytes, maxCanvasBytes, maxInputPixels }: Jp2Limits) {
  const r = plan.levelRegion;
  const channels = decodedChannels(s);
  const grid = chromaGrid(s, plan.level);
  // A region over one decode's bound is decoded in bands of rows, each within it, onto one canvas;
  // each band widened by up to a chroma sample on every side.
  const rows = Math.floor(maxBytes / ((r.w + 2 * (grid.mx - 1)) * channels)) - 2 * (grid.my - 1);
  if (rows < 1) {
    throw httpError(400, 'over_limit', `a row of ${r.w} pixels decoded from JPEG 2000 is more than IIIF_JP2_MAX_DECODE_BYTES (${maxBytes} bytes) allows`);
  }
  if (r.w * r.h * channels > maxCanvasBytes) {
    throw httpError(
      400,
      'over_limit',
      `the region needs ${r.w}x${r.h} pixels decoded from JPEG 2000, more than IIIF_MAX_DECODE_BYTES (${maxCanvasBytes} bytes) allows`,
    );
  }
  const tiles = coveringTiles(s, areaAtReduction(s, onChromaGrid(r, grid), plan.level));
  const pixels = tilePixels(s, tiles);
  if (pixels > maxInputPixels) {
    throw httpError(
      400,
      'over_limit',
      `the region needs JPEG 2000 tiles of ${pixels} pixels decoded, more than IIIF_MAX_INPUT_PIXELS (${maxInputPixels}) allows`,
    );
  }
  // OpenJPEG sets up every code-block of those tiles, at some 200 bytes each: small code-blocks
  // or precincts cost memory and time that the pixel count does not show. Counted from the main
  // header before any read, then again with the tiles' own headers once their bytes are here.
  const maxBlocks = Math.floor(maxInputPixels / CODE_BLOCK_PIXELS);
  checkCodeBlocks(Math.ceil(pixels * s.codeBlocksPerPixel), maxBlocks);
  return { r, grid, rows, tiles, maxBlocks };
}

/**
 * Decodes only the plan's level region: the reduction is the plan's level (levels are
 * reductions 0, 1, 2…), the area only the code-blocks that meet it, from only the covering
 * tile-parts where they can be located (see codestreamFor). Refused before any read when
 * the decoded bytes exceed `maxBytes`, or
 * the tiles to decode hold more than `maxInputPixels` at full resolution.
 */
export async function openJp2(
  sharp: SharpFactory,
  input: RenderInput,
  plan: RenderPlan,
  limits: Jp2Limits,
): Promise<OpenedJp2> {
  const s = input.geometry.jp2;
  if (!s) throw new Jp2Error('Not a JPEG 2000 source.');
  const { r, grid, rows, tiles, maxBlocks } = planJp2Decode(s, plan, limits);
  const { maxBytes } = limits;
  const bytes = await codestreamFor(input, s, tiles, plan.level, limits.maxCanvasBytes);
  checkCodeBlocks(codeBlocksToDecode(bytes, s, tiles), maxBlocks);
  let canvas: { data: Uint8Array<ArrayBuffer>; channels: number } | undefined;
  for (let y = 0; y < r.h; y += rows) {
    stopIfGone(input);
    const band = { ...r, y: r.y + y, h: Math.min(rows, r.h - y) };
    const wide = onChromaGrid(band, grid);
    const decoded = await decodeArea(bytes, { reduce: plan.level, area: areaAtReduction(s, wide, plan.level), maxBytes });
    if (decoded.width !== wide.w || decoded.height !== wide.h) throw new Jp2Error('JPEG 2000 decoder returned an unexpected size.');
    if (band.h === r.h && wide.w === r.w && wide.h === r.h) canvas = decoded;
    else {
      canvas ??= { data: new Uint8Array(r.w * r.h * decoded.channels), channels: decoded.channels };
      const c = canvas.channels;
      if (decoded.channels !== c) throw new Jp2Error('JPEG 2000 decoder returned an unexpected size.');
      for (let row = 0; row < band.h; row++) {
        const from = ((band.y - wide.y + row) * wide.w + (r.x - wide.x)) * c;
        canvas.data.set(decoded.data.subarray(from, from + r.w * c), (y + row) * r.w * c);
      }
    }
  }
  if (!canvas) throw new Jp2Error('JPEG 2000 region with no pixels.');
  const image = sharp(canvas.data, { raw: { width: r.w, height: r.h, channels: canvas.channels as 1 | 2 | 3 | 4 } });
  return { image, region: { x: 0, y: 0, w: r.w, h: r.h }, level: { width: r.w, height: r.h }, shrinkOnLoad: false };
}

/** One OpenJPEG decode, on a decoding thread where there is one; its refusals as HTTP errors. */
async function decodeArea(bytes: Uint8Array, options: Jp2DecodeOptions) {
  const threads = decodePool();
  try {
    return threads ? await threads.decode(bytes, options).catch(inThread(bytes, options)) : (await nodeJp2Codec()).decode(bytes, options);
  } catch (e) {
    if (!(e instanceof Jp2CodecError) || e.kind === 'failed') throw e;
    if (e.kind === 'too_large') throw httpError(400, 'over_limit', `JPEG 2000 decoding refused: ${e.message}`);
    throw new Jp2Error(`JPEG 2000 decoding failed: ${e.message}`);
  }
}

function checkCodeBlocks(blocks: number, maxBlocks: number): void {
  if (blocks <= maxBlocks) return;
  throw httpError(
    400,
    'over_limit',
    `the region needs about ${blocks} JPEG 2000 code-blocks set up (small code-blocks or precincts), more than IIIF_MAX_INPUT_PIXELS / ${CODE_BLOCK_PIXELS} (${maxBlocks}) allows`,
  );
}

/**
 * A JP2 of the covering tile-parts alone (only the first ones of each tile, for a reduced
 * decode of resolution tile-parts), where they can be located (TLM, or a local file's SOT
 * markers) and that is the cheaper read; else the whole object, through the disk cache when
 * there is one. Never more than 256 MB of codestream in memory.
 */
async function codestreamFor(input: RenderInput, s: Jp2Structure, tiles: number[], reduce: number, maxDecodeBytes: number): Promise<Uint8Array> {
  const { source, identifier, object, signal } = input;
  const read = (offset: number, length: number) => source.read(identifier, { offset, length }, signal);
  const index = await tileIndex(input, s, read);
  const partial = index && coveringBytes(partsForDecode(s, index, tiles, reduce).parts, tiles);
  const tooLarge = object.size > MAX_WHOLE_CODESTREAM;
  // Assembling costs copies: most of a local file is cheaper read whole; remotely, the disk cache
  // keeps a whole object for the next requests, worth it once a request needs a quarter of it.
  const share = partial === undefined ? 1 : partial / s.codestream.length;
  const whole = source.local ? share > 1 / 2 : source.localFile !== undefined && share > 1 / 4;
  if (index && partial !== undefined && (tooLarge || !whole)) {
    if (partial > MAX_WHOLE_CODESTREAM) throw tooMuch();
    return readTileSubset(s, index, tiles, read, reduce, { bytes: MAX_WHOLE_CODESTREAM, refuse: tooMuch });
  }
  if (tooLarge) throw tooMuch();
  const file = await source.localFile?.(identifier, object, signal);
  if (file) return readFile(file);
  // Held in memory from a remote store with no disk copy: IIIF_MAX_DECODE_BYTES bounds it, as for every format.
  if (!source.local && object.size > maxDecodeBytes) throw wholeReadRefusal(object.size, maxDecodeBytes);
  return source.read(identifier, undefined, signal);
}

/**
 * Where each tile-part is: from TLM, or on a local file by walking the SOT markers once (kept
 * with the geometry). Undefined when tile-parts cannot be picked alone (PPM), or only by a read
 * per tile-part of a remote object.
 */
async function tileIndex(input: RenderInput, s: Jp2Structure, read: (offset: number, length: number) => Promise<Uint8Array>): Promise<TilePart[] | undefined> {
  if (s.packedHeaders) return undefined;
  if (s.tileParts) return s.tileParts;
  if (!input.source.local || s.columns * s.rows === 1) return undefined;
  if (!s.walkedParts) {
    s.walkedParts = walkTileParts(read, s);
    // A failed read is retried by the next request; a damaged file fails the same way again.
    s.walkedParts.catch(() => (s.walkedParts = undefined));
  }
  return s.walkedParts;
}
