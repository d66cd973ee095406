import type { Metadata, Sharp, SharpOptions } from 'sharp';
import { decodeJp2, isJp2Failure, isJpeg2000File, jp2DecodeBytes, type Jp2Header, readJp2Header } from './jp2-input.ts';
import type { MemoryBudget } from './memory-budget.ts';

export interface PyramidOptions {
  /** JPEG quality of the tiles (1–100). */
  quality: number;
  tileSize: number;
  /** Inputs with more pixels than this are refused before decoding. */
  maxInputPixels: number;
}

export interface Pyramid {
  width: number;
  height: number;
  /** Pyramid levels, full size included: one TIFF page each. */
  pages: number;
  bytes: number;
}

/** A per-file failure worth one line in the report; anything else is reported with its own message. */
export class InputError extends Error {
  override name = 'InputError';
}

type SharpFactory = (input: string | Uint8Array, options: SharpOptions) => Sharp;

/**
 * One input to a tiled pyramidal JPEG TIFF: orientation applied, 8-bit sRGB (or grey), alpha
 * flattened on white since JPEG has none. libvips streams what it decodes (sequential read,
 * levels written as rows arrive), so memory follows the image width, not its area; JPEG 2000
 * is decoded whole by our OpenJPEG build. The conversion starts once its estimate fits in the
 * shared budget.
 */
export async function writePyramid(
  sharp: SharpFactory,
  input: string,
  output: string,
  o: PyramidOptions,
  budget: MemoryBudget,
): Promise<Pyramid> {
  const jp2 = await isJpeg2000File(input);
  let meta: Jp2Header & { orientation: number; hasAlpha: boolean; grey: boolean };
  try {
    meta = jp2 ? fromJp2(await readJp2Header(input)) : fromSharp(await sharp(input, { limitInputPixels: false }).metadata());
  } catch (e) {
    throw new InputError(`unreadable input: ${firstLine(e)}`);
  }
  if (meta.width * meta.height > o.maxInputPixels) {
    throw new InputError(`input too large: ${meta.width}×${meta.height} is over ${o.maxInputPixels} pixels (--max-input-pixels)`);
  }
  const release = await budget.reserve(jp2 ? jp2DecodeBytes(meta) : decodedBytes(meta.width, meta.height, meta.channels, meta.orientation, o.tileSize));
  try {
    let image: Sharp;
    if (jp2) {
      const raw = await decodeJp2(input, meta).catch((e: unknown) => {
        throw isJp2Failure(e) ? new InputError(`unreadable input: ${firstLine(e)}`) : e;
      });
      image = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels as 1 | 2 | 3 | 4 } });
    } else {
      image = sharp(input, { limitInputPixels: o.maxInputPixels, sequentialRead: true, failOn: 'error' }).rotate();
    }
    return await convert(sharp, image, output, o, meta);
  } finally {
    release();
  }
}

function fromSharp(m: Metadata) {
  if (!m.width || !m.height) throw new Error('no image size');
  const channels = m.channels ?? 3;
  const grey = channels <= 2 && (m.space === 'b-w' || m.space === 'grey16');
  return { width: m.width, height: m.height, channels, orientation: m.orientation ?? 1, hasAlpha: m.hasAlpha ?? false, grey };
}

/** JPEG 2000 has no EXIF orientation; 2 or 4 components carry alpha. */
const fromJp2 = (h: Jp2Header) => ({ ...h, orientation: 1, hasAlpha: h.channels % 2 === 0, grey: h.channels <= 2 });

/**
 * What libvips holds while converting, measured: a streamed image keeps a few tile-high strips
 * per level (10000 px wide: about 60 MB); turning or flipping top to bottom needs the whole
 * decoded image (10000×10000: 300 MB, 450 MB peak RSS in all).
 */
export function decodedBytes(width: number, height: number, channels: number, orientation: number, tileSize: number): number {
  return orientation > 2 ? width * height * channels : width * channels * tileSize * 8;
}

async function convert(
  sharp: SharpFactory,
  image: Sharp,
  output: string,
  o: PyramidOptions,
  meta: { hasAlpha: boolean; grey: boolean },
): Promise<Pyramid> {
  if (meta.hasAlpha) image = image.flatten({ background: '#ffffff' });
  image = image.toColourspace(meta.grey ? 'b-w' : 'srgb');
  let info;
  try {
    info = await image
      .tiff({ tile: true, pyramid: true, tileWidth: o.tileSize, tileHeight: o.tileSize, compression: 'jpeg', quality: o.quality })
      .toFile(output);
  } catch (e) {
    throw new InputError(`cannot convert: ${firstLine(e)}`);
  }
  const written = await sharp(output, {}).metadata();
  return { width: info.width, height: info.height, pages: written.pages ?? 1, bytes: info.size };
}

/** libvips errors span lines ("VipsJpeg: ...\nvips2tiff: ..."); the first says what went wrong. */
export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]?.trim() ?? 'unknown error';
}
