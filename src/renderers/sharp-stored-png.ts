import { LRUCache } from 'lru-cache';
import type { RenderPlan } from '../iiif/types.ts';
import { storedEtag } from '../sources/source.ts';
import type { RenderInput } from './renderer.ts';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Chunks the answer keeps: the pixels. Ancillary ones are metadata the render path strips too. */
const KEPT = new Set(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND']);
/**
 * Chunks that make libvips' pixels differ from the stored ones: a colour profile (converted to
 * sRGB), an orientation, HDR signalling, animation. Their images are rendered.
 */
const RENDERED = new Set(['iCCP', 'eXIf', 'cICP', 'mDCV', 'cLLI', 'acTL', 'fcTL', 'fdAT']);
/** Bit depths per colour type whose decoded pixels are 8-bit, as libvips writes them. */
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8], 2: [8], 3: [1, 2, 4, 8], 4: [8], 6: [8] };
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Adam7: [x0, y0, dx, dy] of each pass. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

/**
 * Whether the request asks for a PNG source exactly as stored: the whole image at its size, not
 * turned, in colour, as PNG. Its pixels are then the source's own.
 */
export function asStoredPng(input: RenderInput, plan: RenderPlan, density: number | undefined): boolean {
  const g = input.geometry;
  return g.format === 'png' && plan.format === 'png' && density === undefined && !g.extraBands && (g.orientation ?? 1) === 1 &&
    plan.rotation === 0 && !plan.mirror && (plan.quality === 'default' || plan.quality === 'color') &&
    plan.region.x === 0 && plan.region.y === 0 && plan.region.w === g.width && plan.region.h === g.height &&
    plan.width === g.width && plan.height === g.height;
}

/** The file's byte ranges that make the answer, or false: the image is rendered. */
type Verdict = Array<[start: number, end: number]> | false;
/** Verdicts kept, counted as their key plus this (a few ranges and the cache's bookkeeping). */
const VERDICT_BYTES = 256;

/** `refusals` runs the render's checks from the header, only when the file may be passed through. */
export type StoredPng = (input: RenderInput, refusals: () => Promise<unknown>) => Promise<Uint8Array<ArrayBuffer> | undefined>;

/**
 * The stored PNG without its metadata chunks, when libvips would decode it to the same pixels and
 * write them back: 8-bit samples, no colour profile, every critical chunk's CRC right, the image
 * data inflating to exactly its rows with valid filter bytes. Otherwise undefined, and the image is
 * rendered (which refuses a damaged file as before). The check (a CRC and an inflate without
 * unfiltering: 50–70 ms for a 1500×1000 noise PNG here, about a third of its render) is made once
 * per source version and kept, in `maxVerdictBytes`, so a full/max PNG then costs its read.
 * Sources larger than `maxBytes` (what a render may read whole) are rendered.
 */
export function storedPngs(maxBytes: number, maxVerdictBytes = 1024 * 1024): StoredPng {
  const verdicts = new LRUCache<string, Verdict>({ maxSize: maxVerdictBytes, sizeCalculation: (_, key) => key.length * 2 + VERDICT_BYTES });
  return async (input, refusals) => {
    const key = `${storedEtag(input.object)}\u0000${input.identifier}`;
    let verdict = verdicts.get(key);
    if (verdict === false || input.object.size > maxBytes) return undefined;
    await refusals();
    const file = await wholeObject(input);
    if (!verdict) {
      verdict = await check(file, input.geometry);
      verdicts.set(key, verdict);
    }
    return verdict ? answer(file, verdict) : undefined;
  };
}

/**
 * The object's bytes, from the disk cache's copy when a remote source has one (as a render reads
 * it: a second request downloads nothing), else read whole from the source. A copy evicted or cut
 * short meanwhile is read from the source instead.
 */
async function wholeObject(input: RenderInput): Promise<Uint8Array> {
  const { source, identifier, object, signal } = input;
  const path = !source.local && source.localFile ? await source.localFile(identifier, object, signal) : undefined;
  const copy = path === undefined ? undefined : await readCopy(path, object.size).catch(() => undefined);
  return copy ?? source.read(identifier, undefined, signal);
}

async function readCopy(path: string, size: number): Promise<Uint8Array | undefined> {
  const { open } = await import('node:fs/promises');
  const file = await open(path, 'r');
  try {
    const bytes = new Uint8Array(size);
    const { bytesRead } = await file.read(bytes, 0, size, 0);
    return bytesRead === size ? bytes : undefined;
  } finally {
    await file.close();
  }
}

type Zlib = typeof import('node:zlib');

async function check(file: Uint8Array, size: { width: number; height: number }): Promise<Verdict> {
  // Loaded on the first check: a start that serves info.json and tiles never loads zlib.
  const zlib: Zlib = await import('node:zlib');
  const chunks = pixelChunks(file, size, zlib.crc32);
  if (!chunks || !(await rowsInflate(chunks.idat, chunks.header, zlib.createInflate))) return false;
  // Kept chunks next to each other make one range: at most IHDR, PLTE, tRNS, the IDAT run, IEND.
  const ranges: Array<[number, number]> = [];
  for (const [start, end] of chunks.kept) {
    const last = ranges.at(-1);
    if (last && last[1] === start) last[1] = end;
    else ranges.push([start, end]);
  }
  return ranges;
}

/**
 * The kept ranges moved to the front of the file's own bytes (a read's bytes are the caller's):
 * an answer holds one buffer of at most the file's size, not a second copy.
 */
function answer(file: Uint8Array, ranges: Array<[number, number]>): Uint8Array<ArrayBuffer> | undefined {
  // A file shorter than its verdict is another version than its ETag says: rendered.
  if (ranges.at(-1)![1] > file.byteLength || !(file.buffer instanceof ArrayBuffer)) return undefined;
  let at = SIGNATURE.length;
  for (const [start, end] of ranges) {
    file.copyWithin(at, start, end);
    at += end - start;
  }
  return new Uint8Array(file.buffer, file.byteOffset, at);
}

interface Header {
  width: number;
  height: number;
  depth: number;
  colourType: number;
  interlaced: boolean;
}

interface PixelChunks {
  header: Header;
  /** Byte ranges of whole chunks (length, type, data, CRC), in file order. */
  kept: Array<[number, number]>;
  /** The IDAT chunks' data. */
  idat: Uint8Array[];
}

function pixelChunks(file: Uint8Array, size: { width: number; height: number }, crc32: Zlib['crc32']): PixelChunks | undefined {
  if (file.byteLength < 8 || SIGNATURE.some((b, i) => file[i] !== b)) return undefined;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const kept: Array<[number, number]> = [];
  const idat: Uint8Array[] = [];
  let header: Header | undefined;
  let previous = '';
  let palette = false;
  // Each chunk moves on by at least its 12 bytes: the loop ends within the file.
  for (let at = 8; at + 12 <= file.byteLength; ) {
    const length = view.getUint32(at);
    const end = at + 12 + length;
    if (length > 0x7fffffff || end > file.byteLength) return undefined;
    const type = String.fromCharCode(file[at + 4]!, file[at + 5]!, file[at + 6]!, file[at + 7]!);
    // IHDR comes first, as libpng requires.
    if (!header && type !== 'IHDR') return undefined;
    if (RENDERED.has(type)) return undefined;
    const critical = (file[at + 4]! & 0x20) === 0;
    if (critical && !KEPT.has(type)) return undefined;
    if (KEPT.has(type)) {
      const data = file.subarray(at + 8, at + 8 + length);
      if (crc32(file.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) return undefined;
      if (type === 'IHDR') {
        if (kept.length > 0 || length !== 13) return undefined;
        header = readHeader(data);
        if (!header || header.width !== size.width || header.height !== size.height) return undefined;
      }
      if (type === 'IDAT') {
        // Image data must be one run of IDAT chunks.
        if (idat.length > 0 && previous !== 'IDAT') return undefined;
        idat.push(data);
      } else if (idat.length > 0 && type !== 'IEND') return undefined;
      if (type === 'PLTE') {
        // A palette in a grey image is an error to libpng.
        if (header!.colourType === 0 || header!.colourType === 4) return undefined;
        palette = true;
      }
      kept.push([at, end]);
      if (type === 'IEND') return header && idat.length > 0 && (palette || header.colourType !== 3) ? { header, kept, idat } : undefined;
    }
    previous = type;
    at = end;
  }
  return undefined;
}

function readHeader(d: Uint8Array): Header | undefined {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const [width, height, depth, colourType] = [v.getUint32(0), v.getUint32(4), d[8]!, d[9]!];
  if (!DEPTHS[colourType]?.includes(depth) || d[10] !== 0 || d[11] !== 0 || d[12]! > 1) return undefined;
  return { width, height, depth, colourType, interlaced: d[12] === 1 };
}

/** Row lengths in bytes (filter byte included) of each pass, in order. */
function passRows(h: Header): Array<{ rows: number; bytes: number }> {
  const bits = h.depth * CHANNELS[h.colourType]!;
  const line = (w: number) => 1 + Math.ceil((w * bits) / 8);
  if (!h.interlaced) return [{ rows: h.height, bytes: line(h.width) }];
  return ADAM7.map(([x0, y0, dx, dy]) => {
    const w = Math.ceil((h.width - x0) / dx);
    const rows = Math.ceil((h.height - y0) / dy);
    return w > 0 && rows > 0 ? { rows, bytes: line(w) } : { rows: 0, bytes: 0 };
  });
}

/**
 * Inflates the image data (in libuv's threads, a 16 KiB window at a time) and checks that it is
 * exactly the rows the header says, each starting with a filter type of 0–4, as libvips'
 * decoder requires. Output beyond that size stops the inflate: a bomb costs no more than the image.
 */
async function rowsInflate(idat: Uint8Array[], h: Header, createInflate: Zlib['createInflate']): Promise<boolean> {
  const passes = passRows(h).filter((p) => p.rows > 0);
  const expected = passes.reduce((n, p) => n + p.rows * p.bytes, 0);
  let pass = 0;
  let rowLeft = 0;
  let rowsLeft = passes[0]?.rows ?? 0;
  let seen = 0;
  const inflate = createInflate();
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      inflate.removeAllListeners('data');
      inflate.destroy();
      resolve(ok);
    };
    inflate.on('data', (piece: Buffer) => {
      seen += piece.byteLength;
      if (seen > expected) return done(false);
      for (let i = 0; i < piece.byteLength; ) {
        if (rowLeft === 0) {
          if (piece[i]! > 4) return done(false);
          rowLeft = passes[pass]!.bytes;
          if (--rowsLeft === 0 && ++pass < passes.length) rowsLeft = passes[pass]!.rows;
        }
        const step = Math.min(rowLeft, piece.byteLength - i);
        rowLeft -= step;
        i += step;
      }
    });
    inflate.on('error', () => done(false));
    inflate.on('end', () => done(seen === expected));
    for (const d of idat) inflate.write(d);
    inflate.end();
  });
}
