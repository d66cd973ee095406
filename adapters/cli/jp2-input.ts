import { open, readFile } from 'node:fs/promises';
import { Jp2CodecError } from '../../src/jp2/codec.ts';
import { Jp2Error, decodedChannels, isJpeg2000, readJp2Structure, reducedSize } from '../../src/jp2/index.ts';
import { nodeJp2Codec } from '../../src/renderers/sharp-jp2.ts';

/** The whole file is copied into the codec's heap for each band, so it must stay well below the 4 GiB wasm limit. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;

export interface Jp2Header {
  width: number;
  height: number;
  channels: number;
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
    return { ...reducedSize(s.siz, 0), channels: decodedChannels(s) };
  } finally {
    await handle.close();
  }
}

/** One band of rows as OpenJPEG decodes it: its heap (about 9 bytes per decoded byte) follows the band. */
export interface Jp2Band {
  rows: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

/** The image `bandRows` rows at a time, decoded with our OpenJPEG build. */
export async function* jp2Bands(file: string, h: Jp2Header, bandRows: number): AsyncGenerator<Jp2Band> {
  const bytes = await readFile(file);
  if (bytes.length > MAX_FILE_BYTES) throw new Jp2Error(`JPEG 2000 files over ${MAX_FILE_BYTES} bytes are not supported.`);
  const codec = await nodeJp2Codec();
  for (let y0 = 0; y0 < h.height; y0 += bandRows) {
    const y1 = Math.min(h.height, y0 + bandRows);
    const band = codec.decode(bytes, { reduce: 0, area: { x0: 0, y0, x1: h.width, y1 }, maxBytes: h.width * bandRows * 4 });
    if (band.width !== h.width || band.height !== y1 - y0) throw new Jp2Error('JPEG 2000 decoder returned an unexpected size.');
    yield { rows: y1 - y0, channels: band.channels, data: band.data };
  }
}

/** Codec and header failures are the input's fault: one line for the report. */
export const isJp2Failure = (e: unknown): e is Error => e instanceof Jp2Error || e instanceof Jp2CodecError;
