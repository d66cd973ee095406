import { rm } from 'node:fs/promises';
import type { Sharp, SharpOptions } from 'sharp';
import { type Jp2Header, jp2Bands } from './jp2-input.ts';
import { createStripTiff } from './strip-tiff.ts';

type SharpFactory = (input: string | Uint8Array, options: SharpOptions) => Sharp;

/** Rows assembled per step: memory holds about one band (width × rows × channels), never the image. */
export const BAND_ROWS = 512;

/** EXIF orientation as sharp operations; sharp flips before it rotates (clockwise). */
const TURNS: Record<number, { flip?: true; flop?: true; angle?: number }> = {
  2: { flop: true },
  3: { angle: 180 },
  4: { flip: true },
  5: { flip: true, angle: 90 },
  6: { angle: 90 },
  7: { flip: true, angle: 270 },
  8: { angle: 270 },
};

/** The stored rectangle that becomes displayed rows [r0, r1) once turned (orientations 1–8). */
export function storedRect(orientation: number, width: number, height: number, r0: number, r1: number) {
  const rows = r1 - r0;
  if (orientation <= 2) return { left: 0, top: r0, width, height: rows };
  if (orientation <= 4) return { left: 0, top: height - r1, width, height: rows };
  if (orientation <= 6) return { left: r0, top: 0, width: rows, height };
  return { left: width - r1, top: 0, width: rows, height };
}

export interface Banded {
  width: number;
  height: number;
  grey: boolean;
}

/**
 * An image whose orientation needs random access (turned, or flipped top to bottom): copied
 * to a tiled file so any rectangle reads only its tiles, then turned band by band into an
 * upright sRGB (or grey) strip TIFF, which the pyramid writer then reads sequentially.
 */
export async function uprightStrips(
  sharp: SharpFactory,
  input: string,
  meta: Banded & { orientation: number; hasAlpha: boolean },
  out: string,
  maxInputPixels: number,
): Promise<Banded> {
  const tiled = `${out}.tiled.tif`;
  const swap = meta.orientation >= 5;
  const width = swap ? meta.height : meta.width;
  const height = swap ? meta.width : meta.height;
  const channels = meta.grey ? 1 : 3;
  const strips = await createStripTiff(out, width, height, channels);
  try {
    await sharp(input, { limitInputPixels: maxInputPixels, sequentialRead: true, failOn: 'error' })
      .keepIccProfile()
      .tiff({ tile: true, tileWidth: 256, tileHeight: 256, compression: 'none' })
      .toFile(tiled);
    const turn = TURNS[meta.orientation] ?? {};
    for (let r0 = 0; r0 < height; r0 += BAND_ROWS) {
      const r1 = Math.min(height, r0 + BAND_ROWS);
      let band = sharp(tiled, { limitInputPixels: maxInputPixels }).extract(storedRect(meta.orientation, meta.width, meta.height, r0, r1));
      if (turn.flip) band = band.flip();
      if (turn.flop) band = band.flop();
      if (turn.angle) band = band.rotate(turn.angle);
      if (meta.hasAlpha) band = band.flatten({ background: '#ffffff' });
      await strips.append(await band.toColourspace(meta.grey ? 'b-w' : 'srgb').raw().toBuffer());
    }
    await strips.finish();
  } finally {
    await strips.close();
    await rm(tiled, { force: true });
  }
  return { width, height, grey: meta.grey };
}

/** A JPEG 2000 decoded band by band by our OpenJPEG build into an upright strip TIFF. */
export async function jp2Strips(sharp: SharpFactory, input: string, header: Jp2Header, out: string): Promise<Banded> {
  const grey = header.channels <= 2;
  const strips = await createStripTiff(out, header.width, header.height, grey ? 1 : 3);
  try {
    for await (const band of jp2Bands(input, header, BAND_ROWS)) {
      // Alpha (2 or 4 components) goes on white, as JPEG tiles cannot keep it.
      const flat =
        band.channels % 2 === 0
          ? await sharp(band.data, { raw: { width: header.width, height: band.rows, channels: band.channels } })
              .flatten({ background: '#ffffff' })
              .toColourspace(grey ? 'b-w' : 'srgb')
              .raw()
              .toBuffer()
          : band.data;
      await strips.append(flat);
    }
    await strips.finish();
  } finally {
    await strips.close();
  }
  return { width: header.width, height: header.height, grey };
}
