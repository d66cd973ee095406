/**
 * OpenJPEG compiled to a standalone WebAssembly module (vendor/openjpeg/, built by
 * scripts/build-openjpeg-wasm.sh). Runtime-agnostic: the caller supplies the module
 * (Workers import the .wasm; Node reads the file in a plug-in), so no node:* here.
 *
 *   loadJp2Codec(wasm: WebAssembly.Module | BufferSource): Promise<Jp2Codec>
 *   codec.decode(bytes: Uint8Array, { reduce, area?, maxBytes }): Jp2Pixels
 *   codec.encode({ data, width, height, channels }, { format, ... }): Uint8Array
 *
 * Failures throw Jp2CodecError with a kind and a one-line message (OpenJPEG's error
 * handler, or a trapped wasm call, after which the instance is discarded and made afresh).
 * Memory: the module grows to 1 GiB at most; heaps above 256 MiB are dropped after the call.
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
  /** RPCL order with one tile-part per resolution (Kakadu's ORGtparts=R), so a reduced read needs only the first tile-parts. */
  resolutionTileParts?: boolean;
}

export interface Jp2Codec {
  decode(bytes: Uint8Array, options: Jp2DecodeOptions): Jp2Pixels;
  encode(input: Jp2EncodeInput, options: Jp2EncodeOptions): Uint8Array<ArrayBuffer>;
}

/** `invalid`: the data (OpenJPEG's reason); `too_large`: over the byte budget; `failed`: memory or a trap. */
export type Jp2CodecErrorKind = 'invalid' | 'too_large' | 'failed';

export class Jp2CodecError extends Error {
  override name = 'Jp2CodecError';
  readonly kind: Jp2CodecErrorKind;
  constructor(kind: Jp2CodecErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** What scripts/openjpeg-glue.c exports (wasm32: pointers are numbers below the 1 GiB cap). */
interface GlueExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  malloc(size: number): number;
  free(ptr: number): void;
  ojw_decode(data: number, length: number, reduce: number, x0: number, y0: number, x1: number, y1: number, maxBytes: number): number;
  ojw_encode_begin(width: number, height: number, channels: number, format: number, rate: number, tile: number, levels: number, flags: number): number;
  ojw_encode_tile(index: number, samples: number, length: number): number;
  ojw_encode_end(): number;
  ojw_last_error(): number;
  ojw_last_error_code(): number;
  ojw_release(): void;
}

const ERROR_KINDS: Record<number, Jp2CodecErrorKind> = { 1: 'invalid', 2: 'too_large', 3: 'failed' };
/** Above this, memory the module grew to is given back (by dropping the instance) after the call. */
const RETAINED_MEMORY = 256 * 1024 * 1024;
const MAX_COORDINATE = 2 ** 31 - 1;
const DEFAULT_RATE = 20;
const DEFAULT_LEVELS = 5;

/**
 * The module's only imports: OpenJPEG reads no environment and writes nothing (its
 * handlers are ours), so WASI gets empty answers and output is discarded.
 */
function imports(memory: () => WebAssembly.Memory): WebAssembly.Imports {
  const zeros = (...ptrs: number[]) => {
    const view = new DataView(memory().buffer);
    for (const p of ptrs) view.setUint32(p, 0, true);
    return 0;
  };
  return {
    env: { emscripten_notify_memory_growth: () => undefined },
    wasi_snapshot_preview1: {
      environ_sizes_get: (count: number, size: number) => zeros(count, size),
      environ_get: () => 0,
      fd_write: (_fd: number, iovs: number, iovsLength: number, written: number) => {
        const view = new DataView(memory().buffer);
        let total = 0;
        for (let i = 0; i < iovsLength; i++) total += view.getUint32(iovs + i * 8 + 4, true);
        view.setUint32(written, total, true);
        return 0;
      },
    },
  };
}

function instantiate(module: WebAssembly.Module): GlueExports {
  let exports: GlueExports | undefined;
  const instance = new WebAssembly.Instance(
    module,
    imports(() => exports!.memory),
  );
  exports = instance.exports as unknown as GlueExports;
  exports._initialize();
  return exports;
}

/** A tile of interleaved samples as OpenJPEG's opj_write_tile takes it: one plane per component. */
function planar(input: Jp2EncodeInput, x: number, y: number, w: number, h: number, out: Uint8Array): void {
  const { data, width, channels } = input;
  for (let c = 0; c < channels; c++) {
    let o = c * w * h;
    for (let row = 0; row < h; row++) {
      let i = ((y + row) * width + x) * channels + c;
      for (let col = 0; col < w; col++, i += channels) out[o++] = data[i]!;
    }
  }
}

function checkInteger(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Jp2CodecError('invalid', `${what} must be an integer from 0 to ${max}`);
  }
  return value;
}

/**
 * Compiles the module once (when given bytes) and instantiates it on first use. Calls are
 * synchronous, so one instance serves the whole isolate.
 */
export async function loadJp2Codec(wasm: WebAssembly.Module | BufferSource): Promise<Jp2Codec> {
  const module = wasm instanceof WebAssembly.Module ? wasm : await WebAssembly.compile(wasm);
  let current: GlueExports | undefined = instantiate(module);

  /** Runs fn on the instance; a trap discards it (its heap may be inconsistent), as does a large heap. */
  function run<T>(fn: (glue: GlueExports) => T): T {
    const glue = (current ??= instantiate(module));
    try {
      return fn(glue);
    } catch (e) {
      if (e instanceof Jp2CodecError) throw e;
      current = undefined;
      const reason = e instanceof Error ? e.message : String(e);
      throw new Jp2CodecError('failed', `the JPEG 2000 codec stopped: ${reason}`);
    } finally {
      if (current && current.memory.buffer.byteLength > RETAINED_MEMORY) current = undefined;
    }
  }

  function failure(glue: GlueExports): Jp2CodecError {
    const at = glue.ojw_last_error();
    const bytes = new Uint8Array(glue.memory.buffer, at, 200);
    const end = bytes.indexOf(0);
    const message = new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end));
    return new Jp2CodecError(ERROR_KINDS[glue.ojw_last_error_code()] ?? 'failed', message);
  }

  /** Copies bytes into the module's heap; the caller frees the returned pointer. */
  function copyIn(glue: GlueExports, bytes: Uint8Array): number {
    const at = glue.malloc(Math.max(1, bytes.length));
    if (!at) throw new Jp2CodecError('failed', 'the JPEG 2000 codec is out of memory for its input');
    new Uint8Array(glue.memory.buffer, at, bytes.length).set(bytes);
    return at;
  }

  return {
    decode(bytes, options) {
      const reduce = checkInteger(options.reduce, 32, 'reduce');
      const area = options.area ?? { x0: 0, y0: 0, x1: 0, y1: 0 };
      const x0 = checkInteger(area.x0, MAX_COORDINATE, 'area x0');
      const y0 = checkInteger(area.y0, MAX_COORDINATE, 'area y0');
      const x1 = checkInteger(area.x1, MAX_COORDINATE, 'area x1');
      const y1 = checkInteger(area.y1, MAX_COORDINATE, 'area y1');
      if (options.area && (x1 <= x0 || y1 <= y0)) throw new Jp2CodecError('invalid', 'the decode area is empty');
      return run((glue) => {
        const input = copyIn(glue, bytes);
        try {
          const at = glue.ojw_decode(input, bytes.length, reduce, x0, y0, x1, y1, options.maxBytes);
          if (!at) throw failure(glue);
          const [width = 0, height = 0, channels = 0, data = 0, icc = 0, iccLength = 0] = new Uint32Array(glue.memory.buffer, at, 6);
          const pixels: Jp2Pixels = {
            width,
            height,
            channels: channels as Jp2Pixels['channels'],
            data: new Uint8Array(glue.memory.buffer, data, width * height * channels).slice(),
          };
          if (icc) pixels.icc = new Uint8Array(glue.memory.buffer, icc, iccLength).slice();
          return pixels;
        } finally {
          glue.ojw_release();
          glue.free(input);
        }
      });
    },

    encode(input, options) {
      const { width, height, channels } = input;
      checkInteger(width, MAX_COORDINATE, 'width');
      checkInteger(height, MAX_COORDINATE, 'height');
      if (input.data.length !== width * height * channels) {
        throw new Jp2CodecError('invalid', `expected ${width * height * channels} bytes of pixels, got ${input.data.length}`);
      }
      const rate = options.lossless ? 0 : (options.rate ?? DEFAULT_RATE);
      if (!options.lossless && !(rate > 1)) throw new Jp2CodecError('invalid', 'a lossy rate must be above 1');
      const tile = checkInteger(options.tileSize ?? 0, MAX_COORDINATE, 'tileSize');
      const levels = checkInteger(options.levels ?? DEFAULT_LEVELS, 32, 'levels');
      const flags = (options.tlm ? 1 : 0) | (options.resolutionTileParts ? 2 : 0);
      return run((glue) => {
        if (!glue.ojw_encode_begin(width, height, channels, options.format === 'jp2' ? 1 : 0, rate, tile, levels, flags)) {
          throw failure(glue);
        }
        // Tile by tile, so the module holds one tile's samples and coder state, never the image.
        const [tw, th] = tile ? [tile, tile] : [width, height];
        const samples = glue.malloc(Math.min(tw, width) * Math.min(th, height) * channels);
        try {
          if (!samples) throw new Jp2CodecError('failed', 'the JPEG 2000 codec is out of memory for a tile');
          let index = 0;
          for (let y = 0; y < height; y += th) {
            for (let x = 0; x < width; x += tw) {
              const w = Math.min(tw, width - x);
              const h = Math.min(th, height - y);
              planar(input, x, y, w, h, new Uint8Array(glue.memory.buffer, samples, w * h * channels));
              if (!glue.ojw_encode_tile(index++, samples, w * h * channels)) throw failure(glue);
            }
          }
          const at = glue.ojw_encode_end();
          if (!at) throw failure(glue);
          const [data = 0, length = 0] = new Uint32Array(glue.memory.buffer, at, 2);
          return new Uint8Array(glue.memory.buffer, data, length).slice();
        } finally {
          glue.ojw_release();
          glue.free(samples);
        }
      });
    },
  };
}
