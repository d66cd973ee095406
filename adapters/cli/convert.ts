import type { Metadata, Sharp, SharpOptions } from 'sharp';
import { rm } from 'node:fs/promises';
import { BAND_ROWS, jp2Strips, uprightStrips } from './bands.ts';
import { isJp2Failure, isJpeg2000File, type Jp2Header, readJp2Header } from './jp2-input.ts';
import { tiffCompression } from './tiff-input.ts';
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
 * flattened on white since JPEG has none. libvips streams it (sequential read, levels written
 * as rows arrive), so memory follows the image width, not its area. What cannot stream (JPEG
 * 2000, turned images) is first assembled band by band into an uncompressed strip TIFF beside
 * the output (width × height × channels bytes of disk). The conversion starts once its working
 * memory fits in the shared budget.
 */
export async function writePyramid(
  sharp: SharpFactory,
  input: string,
  output: string,
  o: PyramidOptions,
  budget: MemoryBudget,
): Promise<Pyramid> {
  const undecodable = await tiffCompression(input);
  if (undecodable) throw new InputError(`cannot convert: TIFF images compressed with ${undecodable} cannot be decoded here`);
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
  const release = await budget.reserve(workingBytes(meta, jp2, o.tileSize));
  const strips = `${output}.strips.tif`;
  try {
    const sequential = { limitInputPixels: o.maxInputPixels, sequentialRead: true, failOn: 'error' } as const;
    if (jp2) {
      const upright = await jp2Strips(sharp, input, meta, strips).catch((e: unknown) => {
        throw isJp2Failure(e) ? new InputError(`unreadable input: ${firstLine(e)}`) : e;
      });
      return await convert(sharp, sharp(strips, sequential), output, o, { hasAlpha: false, grey: upright.grey });
    }
    // Orientation 2 is a mirror within each row, which libvips streams; the others need other rows.
    if (meta.orientation > 2) {
      const upright = await uprightStrips(sharp, input, meta, strips, o.maxInputPixels).catch((e: unknown) => {
        throw new InputError(`cannot convert: ${firstLine(e)}`);
      });
      return await convert(sharp, sharp(strips, sequential), output, o, { hasAlpha: false, grey: upright.grey });
    }
    return await convert(sharp, sharp(input, sequential).rotate(), output, o, meta);
  } finally {
    release();
    await rm(strips, { force: true });
  }
}

/**
 * What libvips (and OpenJPEG) hold for one conversion: a few tile- or band-high strips of the
 * image's width, never its area. A turned image is read in bands of its stored height.
 */
export function workingBytes(m: { width: number; height: number; channels: number }, jp2: boolean, tileSize: number): number {
  if (jp2) return m.width * BAND_ROWS * m.channels * 10;
  return Math.max(m.width, m.height) * m.channels * Math.max(tileSize, BAND_ROWS) * 8;
}

function fromSharp(m: Metadata) {
  if (!m.width || !m.height) throw new Error('no image size');
  const channels = m.channels ?? 3;
  const grey = channels <= 2 && (m.space === 'b-w' || m.space === 'grey16');
  return { width: m.width, height: m.height, channels, orientation: m.orientation ?? 1, hasAlpha: m.hasAlpha ?? false, grey };
}

/** JPEG 2000 has no EXIF orientation; 2 or 4 components carry alpha. */
const fromJp2 = (h: Jp2Header) => ({ ...h, orientation: 1, hasAlpha: h.channels % 2 === 0, grey: h.channels <= 2 });

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
