import { open, readFile } from 'node:fs/promises';
import { Jp2CodecError } from '../../src/jp2/codec.ts';
import { Jp2Error, isJpeg2000, readJp2Structure, reducedSize } from '../../src/jp2/index.ts';
import { nodeJp2Codec } from '../../src/renderers/sharp-jp2.ts';

/** Rows decoded per OpenJPEG call: its heap (about 9 bytes per decoded byte) follows a band, not the image. */
export const BAND_ROWS = 512;
/** The whole file is copied into the codec's heap for each band, so it must stay well below the 4 GiB wasm limit. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;

export interface Jp2Header {
  width: number;
  height: number;
  channels: number;
}

export interface Jp2Raw extends Jp2Header {
  data: Uint8Array;
}

/** JP2 boxes or a bare codestream, from the first bytes. */
export async function isJpeg2000File(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64), 0, 64, 0);
    return isJpeg2000(buffer.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** Size and components from the main header, without decoding. */
export async function readJp2Header(file: string): Promise<Jp2Header> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const read = async (offset: number, length: number) => {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, offset);
      return buffer.subarray(0, bytesRead);
    };
    const s = await readJp2Structure(read, size);
    return { ...reducedSize(s.siz, 0), channels: Math.min(4, s.siz.components.length) };
  } finally {
    await handle.close();
  }
}

/** Decoded bytes a conversion holds: the whole image, plus the codec's heap for one band. */
export const jp2DecodeBytes = (h: Jp2Header): number => h.width * h.height * h.channels + h.width * BAND_ROWS * h.channels * 9;

/** The whole image as interleaved 8-bit samples, decoded band by band with our OpenJPEG build. */
export async function decodeJp2(file: string, h: Jp2Header): Promise<Jp2Raw> {
  const bytes = await readFile(file);
  if (bytes.length > MAX_FILE_BYTES) throw new Jp2Error(`JPEG 2000 files over ${MAX_FILE_BYTES} bytes are not supported.`);
  const codec = await nodeJp2Codec();
  let data: Uint8Array | undefined;
  let channels = h.channels;
  for (let y0 = 0; y0 < h.height; y0 += BAND_ROWS) {
    const y1 = Math.min(h.height, y0 + BAND_ROWS);
    const band = codec.decode(bytes, { reduce: 0, area: { x0: 0, y0, x1: h.width, y1 }, maxBytes: h.width * BAND_ROWS * 4 });
    if (band.width !== h.width || band.height !== y1 - y0) throw new Jp2Error('JPEG 2000 decoder returned an unexpected size.');
    channels = band.channels;
    data ??= new Uint8Array(h.width * h.height * channels);
    data.set(band.data, y0 * h.width * channels);
  }
  if (!data) throw new Jp2Error('JPEG 2000 image is empty.');
  return { width: h.width, height: h.height, channels, data };
}

/** Codec and header failures are the input's fault: one line for the report. */
export const isJp2Failure = (e: unknown): e is Error => e instanceof Jp2Error || e instanceof Jp2CodecError;
