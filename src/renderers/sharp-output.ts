import type { JpegOptions, Sharp } from 'sharp';
import type { Format } from '../iiif/types.ts';
import type { Jp2EncodeInput } from '../jp2/codec.ts';
import { nodeJp2Codec } from './sharp-jp2.ts';

/** Compression ratio of jp2 output: 2.4 bits per RGB pixel, about what JPEG quality 80 spends. */
const JP2_OUTPUT_RATE = 10;
/** Encoding memory follows the tile, not the image: a 12000×9000 RGB encode peaks at 72 MiB of wasm memory. */
const JP2_OUTPUT_TILE = 1024;

/**
 * What `encode` in sharp-renderer prepares for the formats libvips does not write: raw pixels
 * for jp2 (sharp's prebuilt libvips has no OpenJPEG), a JPEG for pdf, or for a bitonal pdf a
 * two-colour PNG (a JPEG would put greys at every edge).
 */
export function prepareOutput(image: Sharp, format: 'jp2' | 'pdf', jpeg: JpegOptions, bitonal = false): Sharp {
  if (format === 'jp2') return image.raw();
  return bitonal ? image.png({ palette: true, colours: 2 }) : image.flatten({ background: '#ffffff' }).jpeg(jpeg);
}

/** The response body: sharp's own encoding, or jp2 and pdf made from what `prepareOutput` asked of it. */
export async function outputBody(image: Sharp, format: Format, density?: number): Promise<Uint8Array<ArrayBuffer>> {
  if (format === 'jp2') {
    const [codec, { data, info }] = await Promise.all([nodeJp2Codec(), image.toBuffer({ resolveWithObject: true })]);
    const pixels = { data, width: info.width, height: info.height, channels: info.channels as Jp2EncodeInput['channels'] };
    return codec.encode(pixels, { format: 'jp2', rate: JP2_OUTPUT_RATE, tileSize: JP2_OUTPUT_TILE });
  }
  if (format === 'pdf') {
    // pdf-lib inflates its fonts when imported (over 100 ms): only a process asked for a PDF loads it.
    const [{ imagePdf }, { data, info }] = await Promise.all([import('./pdf-page.ts'), image.toBuffer({ resolveWithObject: true })]);
    return imagePdf(data, info.format === 'png' ? 'png' : 'jpeg', info.width, info.height, density);
  }
  return image.toBuffer();
}
