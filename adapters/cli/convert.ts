import { open } from 'node:fs/promises';
import type { Sharp, SharpOptions } from 'sharp';

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

type SharpFactory = (input: string, options: SharpOptions) => Sharp;

/** JP2 box signature, or a bare JPEG 2000 codestream (SOC + SIZ). */
async function isJpeg2000(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(12), 0, 12, 0);
    const head = buffer.subarray(0, bytesRead);
    return head.subarray(4, 8).toString('latin1') === 'jP  ' || head.readUInt32BE(0) === 0xff4fff51;
  } finally {
    await handle.close();
  }
}

/**
 * One input to a tiled pyramidal JPEG TIFF: orientation applied, 8-bit sRGB (or grey), alpha
 * flattened on white since JPEG has none. libvips streams it (sequential read, levels written
 * as rows arrive), so memory follows the image width, not its area.
 */
export async function writePyramid(sharp: SharpFactory, input: string, output: string, o: PyramidOptions): Promise<Pyramid> {
  // No JPEG 2000 decoder in this build's libvips (src/jp2 brings its own once built).
  if (await isJpeg2000(input)) throw new InputError('unsupported input: JPEG 2000 cannot be decoded by this build yet');
  const load: SharpOptions = { limitInputPixels: o.maxInputPixels, sequentialRead: true, failOn: 'error' };
  let meta;
  try {
    // The header only, with no pixel limit, so that a too-large input gets the message below.
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new InputError(`unreadable input: ${firstLine(e)}`);
  }
  if (!meta.width || !meta.height) throw new InputError('unreadable input: no image size');
  if (meta.width * meta.height > o.maxInputPixels) {
    throw new InputError(`input too large: ${meta.width}×${meta.height} is over ${o.maxInputPixels} pixels (--max-input-pixels)`);
  }
  const grey = meta.channels !== undefined && meta.channels <= 2 && (meta.space === 'b-w' || meta.space === 'grey16');
  let image = sharp(input, load).rotate();
  if (meta.hasAlpha) image = image.flatten({ background: '#ffffff' });
  image = image.toColourspace(grey ? 'b-w' : 'srgb');
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
