import { createRequire } from 'node:module';
import type { JpegOptions, Sharp, SharpOptions } from 'sharp';
import type { Config } from '../config.ts';
import { httpError, isHttpError } from '../errors.ts';
import { MAX_SUBSET_ICC_BYTES, assertCoveringTilesStored, readCoveringTiff } from '../image/covering-tiff.ts';
import { DEFAULT_MAX_DECODE_BYTES, DEFAULT_MAX_JPEG_SCANS } from '../iiif/limits.ts';
import type { Dimensions, Format, Rect, RenderPlan } from '../iiif/types.ts';
import type { SourceGeometry } from '../image/geometry.ts';
import { type TiffLevel, canSubsetTiles } from '../tiff/index.ts';
import { type RenderInput, type Renderer, stopIfGone } from './renderer.ts';
import { type DecodeBudget, type StripShape, assertDecodeBytes, checkWholeDecode, tiledDecodeBytes, wholeReadRefusal } from './sharp-budget.ts';
import { extraBandsBytes, withoutExtraBands } from './sharp-bands.ts';
import { sharpHttpError } from './sharp-errors.ts';
import { composableLevel, composeTiles } from './sharp-tiles.ts';
import { JP2_MAX_DECODE_BYTES, type Jp2Limits, openJp2, planJp2Decode } from './sharp-jp2.ts';
import { outputBody, prepareOutput } from './sharp-output.ts';
import { asStoredPng, storedPngs } from './sharp-stored-png.ts';

type SharpFactory = (typeof import('sharp'))['default'];
let loading: Promise<SharpFactory> | undefined;
/**
 * Loaded on first render so that info.json-only processes never pay for libvips. Its
 * operation cache is off: requests rarely repeat an operation, and it holds up to 50 MB.
 * Through require(), which takes sharp's CommonJS build: its ES module build, through import(),
 * took 92–114 ms and 161–192 ms of CPU to load here, the CommonJS one 67–77 ms and 71–82 ms
 * (a fresh node that had imported hono, valibot and lru-cache first; 5 runs each).
 */
const loadSharp = (): Promise<SharpFactory> =>
  (loading ??= Promise.resolve().then(() => {
    const sharp = createRequire(import.meta.url)('sharp') as SharpFactory;
    sharp.cache(false);
    return sharp;
  }));

/**
 * Starts loading sharp ahead of the first render (about 70 ms here, most of it native): the Node adapter
 * calls it once the server is quiet, the Lambda adapter after a streamed response (and awaits it).
 * A failure shows on the first render.
 */
export const preloadSharp = (): Promise<void> => loadSharp().then(
  () => undefined,
  () => undefined,
);

export interface SharpRendererOptions {
  jpegQuality: number;
  /** Huffman tables made for each image (a second pass): about 5% fewer bytes; 1000×750 renders measured 15–38% slower. */
  jpegOptimizeCoding?: boolean;
  maxInputPixels: number;
  /** IIIF_MAX_DECODE_BYTES and IIIF_MAX_JPEG_SCANS; their defaults when absent. */
  maxDecodeBytes?: number;
  maxJpegScans?: number;
  density?: number;
  /** Bytes of pixels one JPEG 2000 decode may produce (IIIF_JP2_MAX_DECODE_BYTES). */
  jp2MaxDecodeBytes?: number;
}

const TRANSPARENT = { r: 0, g: 0, b: 0, alpha: 0 };
const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };
/** Formats that keep an alpha channel, so arbitrary rotation leaves transparent corners. */
const HAS_ALPHA = new Set<Format>(['png', 'webp', 'gif', 'tif', 'avif', 'jp2']);
/** Decoders that shrink while loading, which only applies when resizing comes first. */
const SHRINK_ON_LOAD = new Set(['jpg', 'webp']);

export const sharpRendererFromConfig = (config: Config): Renderer =>
  sharpRenderer({
    jpegQuality: config.IIIF_JPEG_QUALITY,
    jpegOptimizeCoding: config.IIIF_JPEG_OPTIMIZE_CODING,
    maxInputPixels: config.IIIF_MAX_INPUT_PIXELS,
    maxDecodeBytes: config.IIIF_MAX_DECODE_BYTES,
    maxJpegScans: config.IIIF_MAX_JPEG_SCANS,
    jp2MaxDecodeBytes: config.IIIF_JP2_MAX_DECODE_BYTES,
    ...(config.IIIF_DENSITY ? { density: config.IIIF_DENSITY } : {}),
  });

export function sharpRenderer(options: SharpRendererOptions): Renderer {
  const budget: DecodeBudget = {
    maxDecodeBytes: options.maxDecodeBytes ?? DEFAULT_MAX_DECODE_BYTES,
    maxJpegScans: options.maxJpegScans ?? DEFAULT_MAX_JPEG_SCANS,
  };
  const jp2Limits: Jp2Limits = {
    maxBytes: options.jp2MaxDecodeBytes ?? JP2_MAX_DECODE_BYTES,
    maxCanvasBytes: budget.maxDecodeBytes,
    maxInputPixels: options.maxInputPixels,
  };
  const storedPng = storedPngs(budget.maxDecodeBytes);
  const renderer: Renderer = {
    async render(input, plan) {
      const sharp = await loadSharp();
      const started = performance.now();
      try {
        if (asStoredPng(input, plan, options.density)) {
          // The refusals a render would make come first, so HEAD (which checks) and GET agree; a
          // file known to be rendered skips them here, as the render makes them.
          const stored = await storedPng(input, () => open(sharp, input, plan, options.maxInputPixels, budget, true));
          if (stored) return { body: stored, readMs: performance.now() - started, via: 'passthrough' };
        }
        const opened = input.geometry.jp2
          ? await openJp2(sharp, input, plan, jp2Limits)
          : await open(sharp, input, plan, options.maxInputPixels, budget);
        const extra = input.geometry.extraBands;
        const source = extra && !opened.fromTiles ? { ...opened, ...(await withoutExtraBands(sharp, opened, extra)), shrinkOnLoad: false } : opened;
        const readMs = performance.now() - started;
        stopIfGone(input);
        let image = 'turn' in source && source.turn
          ? await cropThenTurn(sharp, source, plan, input.deadline)
          : cropAndScale(source.image, plan, source.region, source.level, source.shrinkOnLoad);
        if (plan.mirror || plan.rotation !== 0) image = await rotate(sharp, image, plan, input.deadline);
        image = applyQuality(image, plan);
        image = encode(image, plan, options);
        stopIfGone(input);
        const body = await outputBody(withDeadline(image, input.deadline), plan.format, options.density);
        return source.fromTiles ? { body, readMs, via: 'tiles' } : { body, readMs };
      } catch (e) {
        if (isHttpError(e)) throw e;
        if (e instanceof Error && e.message.startsWith('timeout:')) throw tooLong();
        throw sharpHttpError(e);
      }
    },
  };
  return {
    async check(input, plan) {
      const { jp2 } = input.geometry;
      if (jp2) return void planJp2Decode(jp2, plan, jp2Limits);
      try {
        await open(await loadSharp(), input, plan, options.maxInputPixels, budget, true);
      } catch (e) {
        if (isHttpError(e)) throw e;
        throw sharpHttpError(e);
      }
    },
    // libvips keeps one error buffer for all its threads, and sharp clears it as each pipeline
    // ends: under concurrent renders a failure's words can be gone before sharp reads them
    // ("Unknown error"), so a damaged source looked like our fault (500 for 12 of 80 renders of a
    // truncated JPEG, 8 at once). A wordless failure is tried again, four times at most (measured: 3 tries left 4 of 800 renders at 500, 5 tries none).
    // Wordless every time, it is the file's: libvips' interlaced PNG loader says nothing on a truncated file.
    async render(input, plan) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await renderer.render(input, plan);
        } catch (e) {
          if (!wordless(e)) throw e;
          if (attempt >= WORDLESS_ATTEMPTS) throw httpError(422, 'unsupported_source', 'the source image could not be decoded', {}, new Error(`sharp failed (bad source): no words in ${attempt} tries`, { cause: e }));
        }
      }
    },
  };
}

const WORDLESS_ATTEMPTS = 5;

const wordless = (e: unknown): boolean => {
  const cause = isHttpError(e) && e.cause instanceof Error ? e.cause.cause : undefined;
  return cause instanceof Error && cause.message === 'Unknown error';
};

interface OpenedSource {
  image: Sharp;
  /** What to take from `image`, in its own pixels. */
  region: Rect;
  level: Dimensions;
  shrinkOnLoad: boolean;
  fromTiles?: boolean;
  /** EXIF orientation (2–8) still to apply: `region` and `level` are then in the stored frame. */
  turn?: number;
}

type OpenArgs = [sharp: SharpFactory, input: RenderInput, plan: RenderPlan, maxInputPixels: number, budget: DecodeBudget];

/**
 * The cheapest way in: a local file, read with random access; from a remote store, only
 * the stored tiles covering the region of a tiled JPEG pyramid; else the whole object
 * (kept in the disk cache when there is one).
 */
async function open(...args: [...OpenArgs, checkOnly: true]): Promise<undefined>;
async function open(...args: OpenArgs): Promise<OpenedSource>;
/** `checkOnly`: stop after the refusals known from the header, before decoding or reading a remote object. */
async function open(...[sharp, input, plan, maxInputPixels, budget, checkOnly = false]: [...OpenArgs, checkOnly?: boolean]): Promise<OpenedSource | undefined> {
  const { geometry } = input;
  // A few stored tiles beat downloading the whole object, even into a cache, and beat libvips
  // opening a local TIFF for a small region.
  const composable = composableLevel(input, plan);
  if (composable) {
    if (checkOnly) return undefined;
    const { image, width: w, height: h } = await composeTiles(sharp, input, plan, composable);
    return { image, region: { x: 0, y: 0, w, h }, level: { width: w, height: h }, shrinkOnLoad: false, fromTiles: true };
  }
  const tiff = geometry.tiffLevels?.[plan.level];
  if (tiff?.tiled) assertDecodeBytes(tiledDecodeBytes(tiff, plan.levelRegion), budget);
  if (geometry.extraBands) assertDecodeBytes(extraBandsBytes(plan.levelRegion, geometry.extraBands), budget);
  // libvips reads a tiled level tile by tile: the route bounded the covering tiles, so only a
  // level larger than the probe found is refused here.
  const limitInputPixels = tiff?.tiled ? Math.max(maxInputPixels, tiff.width * tiff.height) : maxInputPixels;
  // libvips renders a tile libtiff cannot decode (a corrupt deflate tile) black unless told to
  // fail on warnings; for tiled levels that is all it changes (libtiff's warnings fail strips only).
  const loadOptions: SharpOptions = { limitInputPixels, failOn: tiff?.tiled ? 'warning' : 'error' };
  // From a remote store, any other tiled level is read by its covering tiles too, a striped one by
  // its strips; so is a local compressed striped level for a band of it, since libvips decodes every
  // strip above the region (a 256² tile at the foot of a 16000² LZW file took 2.2 s against 0.2 s at its top).
  if (tiff && canSubsetTiles(tiff) && (!input.source.local || stripBand(tiff, plan.levelRegion, budget.maxDecodeBytes))) {
    if (checkOnly) return undefined;
    const subset = await readCoveringTiff(input, tiff, plan.levelRegion, budget.maxDecodeBytes);
    const level = { width: subset.width, height: subset.height };
    return { image: sharp(subset.bytes, loadOptions), region: subset.region, level, shrinkOnLoad: false };
  }
  if (tiff?.tiled && !checkOnly) await assertCoveringTilesStored(input, tiff, plan.levelRegion);
  // A remote object's local copy is made by downloading it: a check goes no further than its size.
  const file = checkOnly && !input.source.local ? undefined : await input.source.localFile?.(input.identifier, input.object, input.signal);
  // Without a local copy the whole object is held in memory: never more than a decode may use.
  if (file === undefined && input.object.size > budget.maxDecodeBytes && !(checkOnly && input.source.localFile)) {
    throw wholeReadRefusal(input.object.size, budget.maxDecodeBytes);
  }
  if (checkOnly && file === undefined) return undefined;
  const data = file ?? (await input.source.read(input.identifier, undefined, input.signal));
  Object.assign(loadOptions, geometry.levelAccess?.[plan.level]);
  const image = sharp(data, loadOptions);
  // Tiled TIFF levels are decoded tile by tile, striped ones strip by strip.
  const meta = tiff?.tiled ? undefined : await checkWholeDecode(image, data, budget, tiff && stripShape(tiff));
  if (meta && geometry.format === 'gif') assertFrameSize(geometry, meta);
  const turn = orientationToApply(geometry, meta?.orientation);
  if (checkOnly) return undefined;
  const level = geometry.levels?.[plan.level] ?? geometry;
  const region = plan.levelRegion;
  const shrinkOnLoad = SHRINK_ON_LOAD.has(geometry.format);
  const whole = region.x === 0 && region.y === 0 && region.w === level.width && region.h === level.height;
  // libvips turns a streamed image (JPEG, PNG, a striped TIFF) by holding all of it, then cuts
  // the part: 830 MB and 3.4 s for a 256² region of a 16000² JPEG with orientation 6. A part is
  // cut from the stored frame instead and turned afterwards; a whole image turns cheaply.
  if (turn !== undefined && turn !== 1 && !whole) {
    return { image, region: storedRect(region, level, turn), level: storedSize(level, turn), shrinkOnLoad, turn };
  }
  return { image: turn === 1 ? image : image.autoOrient(), region, level, shrinkOnLoad };
}

/**
 * The frame libvips decodes must be the image info.json describes: a GIF whose first frame is not
 * its logical screen (a 1×1 frame on 4000×3000) was cut out of bounds (500) or served at the
 * frame's size. Only GIF: sizes recorded by a store are upright while libvips reads the stored
 * frame, and image-size reads HEIF's rotation and clean aperture otherwise than libvips.
 */
function assertFrameSize(geometry: SourceGeometry, meta: { width: number; height: number }): void {
  if (meta.width !== geometry.width || meta.height !== geometry.height) {
    throw httpError(422, 'unsupported_source', `the source image decodes to ${meta.width}x${meta.height} pixels, not the ${geometry.width}x${geometry.height} its header gives`);
  }
}

/**
 * The orientation that turns the image upright as info.json's size says: the one the probe found,
 * which must be the one libvips reads. Where libvips finds one the probe did not, the stored frame
 * is served (1), as info.json describes it. Store-recorded sizes (format unknown) say nothing:
 * undefined, libvips decides.
 */
function orientationToApply(geometry: SourceGeometry, found: number | undefined): number | undefined {
  const expected = geometry.orientation ?? 1;
  if (geometry.format === 'unknown') return undefined;
  if (expected === (found ?? 1) || expected === 1) return expected;
  throw httpError(422, 'unsupported_source', 'the source image has orientation tags that disagree');
}

/** Orientations 5–8 swap the axes (EXIF). */
const storedSize = (upright: Dimensions, turn: number): Dimensions =>
  turn >= 5 ? { width: upright.height, height: upright.width } : upright;

/** The stored-frame rectangle that shows as `r` once turned by EXIF orientation `turn`. */
function storedRect(r: Rect, upright: Dimensions, turn: number): Rect {
  const { width: ws, height: hs } = storedSize(upright, turn);
  const fromRight = (x: number, w: number, size: number) => size - x - w;
  switch (turn) {
    case 2:
      return { ...r, x: fromRight(r.x, r.w, ws) };
    case 3:
      return { x: fromRight(r.x, r.w, ws), y: fromRight(r.y, r.h, hs), w: r.w, h: r.h };
    case 4:
      return { ...r, y: fromRight(r.y, r.h, hs) };
    case 5:
      return { x: r.y, y: r.x, w: r.h, h: r.w };
    case 6:
      return { x: r.y, y: fromRight(r.x, r.w, hs), w: r.h, h: r.w };
    case 7:
      return { x: fromRight(r.y, r.h, ws), y: fromRight(r.x, r.w, hs), w: r.h, h: r.w };
    default:
      return { x: fromRight(r.y, r.h, ws), y: r.x, w: r.h, h: r.w };
  }
}

/** sharp mirrors before it rotates, whatever the call order. */
const TURNS: Record<number, (image: Sharp) => Sharp> = {
  2: (i) => i.flop(),
  3: (i) => i.rotate(180),
  4: (i) => i.flip(),
  5: (i) => i.flop().rotate(270),
  6: (i) => i.rotate(90),
  7: (i) => i.flop().rotate(90),
  8: (i) => i.rotate(270),
};

/** The stored-frame part cut and scaled, then turned upright: the turn holds only the output's pixels. */
async function cropThenTurn(sharp: SharpFactory, source: OpenedSource, plan: RenderPlan, deadline: number | undefined): Promise<Sharp> {
  const turn = source.turn ?? 1;
  const size = storedSize({ width: plan.width, height: plan.height }, turn);
  const cut = cropAndScale(source.image, size, source.region, source.level, source.shrinkOnLoad);
  const { data, info } = await withDeadline(cut, deadline).raw().toBuffer({ resolveWithObject: true });
  const raw = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  return TURNS[turn]?.(raw) ?? raw;
}

function cropAndScale(image: Sharp, plan: Dimensions, r: Rect, level: Dimensions, shrinkOnLoad: boolean): Sharp {
  const whole = r.x === 0 && r.y === 0 && r.w === level.width && r.h === level.height;
  const scaled = plan.width !== r.w || plan.height !== r.h;
  const sx = plan.width / r.w;
  const sy = plan.height / r.h;
  if (!whole && shrinkOnLoad && sx < 0.5 && sy < 0.5) {
    // Scale the whole image first so the decoder can shrink on load; libvips then
    // computes only the pixels of the extracted window.
    const width = Math.max(plan.width, Math.round(level.width * sx));
    const height = Math.max(plan.height, Math.round(level.height * sy));
    const left = Math.min(Math.round(r.x * sx), width - plan.width);
    const top = Math.min(Math.round(r.y * sy), height - plan.height);
    return image
      .resize(width, height, { fit: 'fill' })
      .extract({ left, top, width: plan.width, height: plan.height });
  }
  if (!whole) image = image.extract({ left: r.x, top: r.y, width: r.w, height: r.h });
  if (scaled) image = image.resize(plan.width, plan.height, { fit: 'fill' });
  return image;
}

/** Mirroring and rotation come after scaling (IIIF order), so they run on the scaled pixels. */
async function rotate(sharp: SharpFactory, image: Sharp, plan: RenderPlan, deadline: number | undefined): Promise<Sharp> {
  const { data, info } = await withDeadline(image, deadline).raw().toBuffer({ resolveWithObject: true });
  let next = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  if (plan.mirror) next = next.flop();
  if (plan.rotation !== 0) {
    const quarter = plan.rotation % 90 === 0;
    const transparent = !quarter && HAS_ALPHA.has(plan.format) && plan.quality !== 'bitonal';
    if (transparent) next = next.ensureAlpha();
    next = next.rotate(plan.rotation, { background: transparent ? TRANSPARENT : WHITE });
  }
  return next;
}

/**
 * A band of a compressed striped level at least twice its height below the top, in at most 256
 * strips decoding to at most a quarter of the budget: read from a local file by those strips
 * alone. Others (a view from the top, a tall region, a whole image) stream through libvips, which
 * holds one strip at a time and is then as fast (a review measured tall regions 1.5–2.5× slower
 * read strip by strip, one read each).
 */
function stripBand(level: TiffLevel, region: Rect, maxDecodeBytes: number): boolean {
  if (level.tiled || level.compression === 1 || region.y < 2 * region.h) return false;
  if ((level.iccProfile?.length ?? 0) > MAX_SUBSET_ICC_BYTES) return false;
  const strips = Math.floor((region.y + region.h - 1) / level.tileHeight) - Math.floor(region.y / level.tileHeight) + 1;
  if (strips > 256) return false;
  const bytesPerSample = Math.ceil(Math.max(8, ...level.bitsPerSample) / 8);
  return strips * level.tileHeight * level.width * level.samplesPerPixel * bytesPerSample <= maxDecodeBytes / 4;
}

const stripShape = (level: TiffLevel): StripShape => ({
  width: level.width,
  rows: level.tileHeight,
  samples: level.samplesPerPixel,
  bytesPerSample: Math.ceil(Math.max(...level.bitsPerSample) / 8),
});

/**
 * A pipeline still running at the request's deadline is killed (libvips checks between
 * tiles, at whole seconds), so its render slot is free again for the next request.
 */
function withDeadline(image: Sharp, deadline: number | undefined): Sharp {
  if (deadline === undefined) return image;
  return image.timeout({ seconds: Math.max(1, Math.ceil((deadline - Date.now()) / 1000)) });
}

const tooLong = () => httpError(503, 'busy', 'the request took too long, try again later', { 'Retry-After': '5' });

function applyQuality(image: Sharp, plan: RenderPlan): Sharp {
  switch (plan.quality) {
    case 'gray':
      return image.toColourspace('b-w');
    case 'bitonal':
      return image.flatten({ background: WHITE }).threshold(128).toColourspace('b-w');
    default:
      return image;
  }
}

/** sharp optimises Huffman tables unless told not to; libjpeg and libvips do not by default. */
const jpegOptions = (options: SharpRendererOptions): JpegOptions => ({ quality: options.jpegQuality, optimiseCoding: options.jpegOptimizeCoding ?? false });

function encode(image: Sharp, plan: RenderPlan, options: SharpRendererOptions): Sharp {
  if (options.density) image = image.withMetadata({ density: options.density, orientation: 1 });
  switch (plan.format) {
    case 'jpg':
      return image.flatten({ background: WHITE }).jpeg(jpegOptions(options));
    case 'png':
      // Two colours make libvips write a 1-bit palette PNG.
      return plan.quality === 'bitonal' ? image.png({ palette: true, colours: 2 }) : image.png();
    case 'webp':
      // Lossy WebP would put grey at every edge of a bitonal image.
      return plan.quality === 'bitonal' ? image.webp({ lossless: true, effort: 2 }) : image.webp({ quality: 80, effort: 2 });
    case 'gif':
      return image.gif();
    case 'tif':
      return image.tiff({ compression: 'lzw' });
    case 'avif':
      return image.avif({ quality: 50, effort: 2 });
    case 'jp2':
    case 'pdf':
      return prepareOutput(image, plan.format, jpegOptions(options), plan.quality === 'bitonal');
  }
}
