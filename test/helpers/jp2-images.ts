/**
 * Colour-grid JPEG 2000 sources made with our own OpenJPEG build, each with a PNG twin of
 * the same pixels, so that a JP2 render can be compared with the same request on the PNG.
 */
import sharp from 'sharp';
import type { Jp2EncodeOptions } from '../../src/jp2/codec.ts';
import { nodeJp2Codec } from '../../src/renderers/sharp-jp2.ts';
import { gridColour } from '../fixtures/images.ts';

export interface Jp2Variant {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  options: Jp2EncodeOptions;
}

/** The shared grid colours; alpha (when asked) steps by cell, gray is the green channel. */
export function gridPixels(width: number, height: number, channels: 1 | 2 | 3 | 4): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = gridColour(x, y);
      const alpha = 255 - ((Math.floor(x / 50) + Math.floor(y / 50)) % 3) * 60;
      const px = channels === 1 ? [g] : channels === 2 ? [g, alpha] : channels === 3 ? [r, g, b] : [r, g, b, alpha];
      data.set(px, (y * width + x) * channels);
    }
  }
  return data;
}

/** The JP2 (or J2K) and a PNG of exactly the pixels that went into the encoder. */
export async function makeJp2Pair(v: Jp2Variant): Promise<{ jp2: Uint8Array; png: Buffer }> {
  const codec = await nodeJp2Codec();
  const data = gridPixels(v.width, v.height, v.channels);
  const jp2 = codec.encode({ data, width: v.width, height: v.height, channels: v.channels }, v.options);
  const png = await sharp(data, { raw: { width: v.width, height: v.height, channels: v.channels } }).png().toBuffer();
  return { jp2, png };
}
