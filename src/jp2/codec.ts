/**
 * OpenJPEG compiled to a standalone WebAssembly module (vendor/openjpeg/, built by
 * scripts/build-openjpeg-wasm.sh). Runtime-agnostic: the caller supplies the module
 * (Workers import the .wasm; Node reads the file in a plug-in), so no node:* here.
 *
 *   loadJp2Codec(wasm: WebAssembly.Module | BufferSource): Promise<Jp2Codec>
 *   codec.decode(bytes: Uint8Array, { reduce, area?, maxBytes }): Jp2Pixels
 *   codec.encode({ data, width, height, channels }, { format, ... }): Uint8Array
 *
 * Failures throw Jp2CodecError with a one-line message (OpenJPEG's error handler, or a
 * trapped wasm call, after which the instance is discarded and made afresh).
 */

/** A rectangle in full-resolution pixel coordinates, x1/y1 exclusive. */
export interface Jp2Area {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface Jp2DecodeOptions {
  /** Resolution reduction: 0 is full size, each step halves (rounding up) the dimensions. */
  reduce: number;
  /** Area to decode, in full-resolution coordinates; the whole image when absent. */
  area?: Jp2Area;
  /** Refuse (before decoding) when the decoded width × height × channels exceeds this. */
  maxBytes: number;
}

export interface Jp2Pixels {
  /** Decoded size, at the requested reduction. */
  width: number;
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** Interleaved 8-bit samples, width × height × channels. */
  data: Uint8Array<ArrayBuffer>;
  /** ICC profile from the JP2 colr box, for the renderer to apply. */
  icc?: Uint8Array<ArrayBuffer>;
}

export interface Jp2EncodeInput {
  data: Uint8Array;
  width: number;
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
}

export interface Jp2EncodeOptions {
  /** `jp2` wraps the codestream in JP2 boxes; `j2k` is the raw codestream. */
  format: 'jp2' | 'j2k';
  /** Reversible 5/3 wavelet, exact pixels. Otherwise lossy 9/7 at `rate`. */
  lossless?: boolean;
  /** Compression ratio of the single quality layer (lossy only); default 20. */
  rate?: number;
  /** Square tile edge in pixels; untiled when absent. */
  tileSize?: number;
  /** Decomposition levels (default 5, fewer when the image or tile is small). */
  levels?: number;
  /** Write TLM (tile-part length) markers in the main header. */
  tlm?: boolean;
}

export interface Jp2Codec {
  decode(bytes: Uint8Array, options: Jp2DecodeOptions): Jp2Pixels;
  encode(input: Jp2EncodeInput, options: Jp2EncodeOptions): Uint8Array<ArrayBuffer>;
}

export class Jp2CodecError extends Error {
  override name = 'Jp2CodecError';
}

export async function loadJp2Codec(_wasm: WebAssembly.Module | BufferSource): Promise<Jp2Codec> {
  throw new Jp2CodecError('the OpenJPEG codec is not built yet');
}
