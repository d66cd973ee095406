/**
 * Colour-grid JPEG 2000 sources made with our own OpenJPEG build, each with a PNG twin of
 * the same pixels, so that a JP2 render can be compared with the same request on the PNG.
 */
import sharp from 'sharp';
import type { Jp2EncodeOptions } from '../../src/jp2/codec.ts';
import { nodeJp2Codec } from '../../src/renderers/sharp-jp2.ts';
import { gridColour } from '../fixtures/images.ts';
import { be16, box, colrBox, ihdrBox, jp2File } from './jp2-headers.ts';

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

/** Entries of the palette JP2s: more than a few, so neighbouring cells have unrelated colours. */
const PALETTE_ENTRIES = 23;

/** Entry i of the palette: colours far apart for neighbouring indices; alpha in three steps. */
const paletteEntry = (i: number) => [(i * 97) & 255, (i * 57 + 30) & 255, (i * 151 + 90) & 255, 255 - (i % 3) * 60];

/**
 * A JP2 whose one component holds palette indices (50-px cells) mapped by pclr and cmap boxes
 * to RGB (3 columns) or RGBA (4), which our encoder does not write, and a PNG of the mapped pixels.
 */
export async function makePaletteJp2(width: number, height: number, columns: 3 | 4, options: Omit<Jp2EncodeOptions, 'format'>) {
  const indices = new Uint8Array(width * height);
  const mapped = new Uint8Array(width * height * columns);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (Math.floor(x / 50) * 3 + Math.floor(y / 50) * 5) % PALETTE_ENTRIES;
      indices[y * width + x] = i;
      mapped.set(paletteEntry(i).slice(0, columns), (y * width + x) * columns);
    }
  }
  const codec = await nodeJp2Codec();
  const cs = codec.encode({ data: indices, width, height, channels: 1 }, { ...options, format: 'j2k' });
  // pclr (ISO 15444-1 I.5.3.4): entries, columns, each column's depth (7: 8-bit unsigned), then the entries.
  const pclr = [...be16(PALETTE_ENTRIES), columns, ...new Array<number>(columns).fill(7)];
  for (let i = 0; i < PALETTE_ENTRIES; i++) pclr.push(...paletteEntry(i).slice(0, columns));
  // cmap (I.5.3.5): each output channel is column c of the palette applied to component 0.
  const cmap = Array.from({ length: columns }, (_, c) => [...be16(0), 1, c]).flat();
  const header = [...ihdrBox(width, height, 1), ...colrBox(16), ...box('pclr', pclr), ...box('cmap', cmap)];
  const png = await sharp(mapped, { raw: { width, height, channels: columns } }).png().toBuffer();
  return { jp2: jp2File(cs, width, height, header), png };
}
