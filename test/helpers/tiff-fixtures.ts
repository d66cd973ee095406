/** Test-time TIFF fixtures: sharp-written pyramids and hand-built byte arrays. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { RangeRead } from '../../src/tiff/index.ts';

export const GRID_W = 2000;
export const GRID_H = 1500;

/** Flat colour cells of 100 px, distinct per cell: any misplaced tile shows. */
export function colourGrid(width: number, height: number, channels: 1 | 3): Buffer {
  const raw = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const cx = Math.floor(x / 100);
      const cy = Math.floor(y / 100);
      const i = (y * width + x) * channels;
      if (channels === 1) raw[i] = (cx * 23 + cy * 41) % 256;
      else {
        raw[i] = (cx * 37) % 256;
        raw[i + 1] = (cy * 53) % 256;
        raw[i + 2] = ((cx + cy) * 29) % 256;
      }
    }
  }
  return raw;
}

export interface CountingSource {
  bytes: Uint8Array;
  read: RangeRead;
  calls: number;
  bytesRead: number;
}

/** An in-memory source that counts its range requests. */
export function countingSource(bytes: Uint8Array): CountingSource {
  const src: CountingSource = {
    bytes,
    calls: 0,
    bytesRead: 0,
    read: async (offset, length) => {
      src.calls++;
      const out = bytes.subarray(offset, offset + length);
      src.bytesRead += out.length;
      return out;
    },
  };
  return src;
}

export interface Fixtures {
  dir: string;
  path(name: string): string;
  cleanup(): Promise<void>;
}

const tiled = { tile: true, tileWidth: 256, tileHeight: 256 } as const;

/** Writes every fixture once into a fresh temp dir. */
export async function makeFixtures(): Promise<Fixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'iiif-tiff-'));
  const path = (name: string) => join(dir, `${name}.tif`);
  const rgb = () => sharp(colourGrid(GRID_W, GRID_H, 3), { raw: { width: GRID_W, height: GRID_H, channels: 3 } });
  const grey = () => sharp(colourGrid(GRID_W, GRID_H, 1), { raw: { width: GRID_W, height: GRID_H, channels: 1 } });
  await Promise.all([
    rgb().tiff({ ...tiled, pyramid: true, compression: 'jpeg', quality: 90 }).toFile(path('jpeg-q90')),
    rgb().tiff({ ...tiled, pyramid: true, compression: 'jpeg', quality: 75 }).toFile(path('jpeg-q75')),
    grey().toColourspace('b-w').tiff({ ...tiled, pyramid: true, compression: 'jpeg', quality: 85 }).toFile(path('jpeg-grey')),
    rgb().tiff({ ...tiled, pyramid: true, compression: 'jpeg', quality: 75, bigtiff: true }).toFile(path('jpeg-bigtiff')),
    rgb().tiff({ ...tiled, pyramid: true, compression: 'lzw' }).toFile(path('lzw')),
    rgb().tiff({ ...tiled, compression: 'deflate' }).toFile(path('deflate')),
    rgb().tiff({ ...tiled, compression: 'none' }).toFile(path('tiled-none')),
    rgb().tiff({ compression: 'none' }).toFile(path('striped')),
  ]);
  await writeFile(path('jpeg-subifd'), toSubIfdLayout(await readFile(path('jpeg-q75'))));
  return { dir, path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Rewrites a little-endian classic TIFF whose pyramid is an IFD chain into
 * the SubIFD layout (what libvips writes with `subifd`): a copy of IFD0 with
 * tag 330 listing the other IFDs, whose next pointers are cut.
 */
export function toSubIfdLayout(src: Uint8Array): Uint8Array {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const ifds: number[] = [];
  for (let at = view.getUint32(4, true); at !== 0; at = view.getUint32(at + 2 + view.getUint16(at, true) * 12, true)) ifds.push(at);
  const [first, ...subs] = ifds;
  if (first === undefined || subs.length === 0) throw new Error('not a chained pyramid');
  const n = view.getUint16(first, true);
  const entries = Array.from({ length: n }, (_, i) => src.slice(first + 2 + i * 12, first + 14 + i * 12));
  const base = src.length + (src.length % 2);
  const arrayAt = base;
  const ifdAt = arrayAt + subs.length * 4;
  const sub = new Uint8Array(12);
  const sv = new DataView(sub.buffer);
  sv.setUint16(0, 330, true);
  sv.setUint16(2, 13, true);
  sv.setUint32(4, subs.length, true);
  sv.setUint32(8, subs.length === 1 ? (subs[0] ?? 0) : arrayAt, true);
  entries.push(sub);
  entries.sort((a, b) => a[0]! + a[1]! * 256 - (b[0]! + b[1]! * 256));
  const out = new Uint8Array(ifdAt + 2 + entries.length * 12 + 4);
  out.set(src);
  const ov = new DataView(out.buffer);
  subs.forEach((s, i) => {
    ov.setUint32(arrayAt + i * 4, s, true);
    ov.setUint32(s + 2 + ov.getUint16(s, true) * 12, 0, true);
  });
  ov.setUint16(ifdAt, entries.length, true);
  entries.forEach((e, i) => out.set(e, ifdAt + 2 + i * 12));
  ov.setUint32(ifdAt + 2 + entries.length * 12, 0, true);
  ov.setUint32(4, ifdAt, true);
  return out;
}

export interface RawEntry {
  tag: number;
  type: number;
  count: number;
  /** Inline value, or the offset of out-of-line values. */
  value: number;
}

/** A little-endian classic TIFF of `size` bytes with IFDs placed at given offsets. */
export function buildTiff(size: number, first: number, ifds: Array<{ at: number; entries: RawEntry[]; next: number }>): Uint8Array {
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  v.setUint32(4, first, true);
  for (const ifd of ifds) {
    v.setUint16(ifd.at, ifd.entries.length, true);
    ifd.entries.forEach((e, i) => {
      const p = ifd.at + 2 + i * 12;
      v.setUint16(p, e.tag, true);
      v.setUint16(p + 2, e.type, true);
      v.setUint32(p + 4, e.count, true);
      v.setUint32(p + 8, e.value, true);
    });
    v.setUint32(ifd.at + 2 + ifd.entries.length * 12, ifd.next, true);
  }
  return out;
}

/** Entries of a valid 64x64 grey image tiled 16x16 (16 tiles), tables at `tablesAt`. */
export function tinyImage(tablesAt: number, overrides: Partial<Record<number, Partial<RawEntry>>> = {}): RawEntry[] {
  const base: RawEntry[] = [
    { tag: 256, type: 3, count: 1, value: 64 },
    { tag: 257, type: 3, count: 1, value: 64 },
    { tag: 258, type: 3, count: 1, value: 8 },
    { tag: 259, type: 3, count: 1, value: 1 },
    { tag: 262, type: 3, count: 1, value: 1 },
    { tag: 277, type: 3, count: 1, value: 1 },
    { tag: 322, type: 3, count: 1, value: 16 },
    { tag: 323, type: 3, count: 1, value: 16 },
    { tag: 324, type: 4, count: 16, value: tablesAt },
    { tag: 325, type: 4, count: 16, value: tablesAt + 64 },
  ];
  return base.map((e) => ({ ...e, ...overrides[e.tag] }));
}

const TYPE_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };

/**
 * Chains single-image little-endian classic TIFFs into one page pyramid, each file's offsets
 * moved by where it lands: levels of any size (GDAL halves rounding up, libvips rounding down).
 */
export function chainPages(files: Uint8Array[]): Uint8Array {
  const starts: number[] = [];
  let size = 0;
  for (const f of files) {
    starts.push(size);
    size += f.length + (f.length % 2);
  }
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  const ifdOf = (i: number) => new DataView(files[i]!.buffer, files[i]!.byteOffset).getUint32(4, true) + starts[i]!;
  files.forEach((f, i) => {
    const base = starts[i]!;
    out.set(f, base);
    const at = ifdOf(i);
    const n = v.getUint16(at, true);
    for (let e = 0; e < n; e++) {
      const p = at + 2 + e * 12;
      const [tag, type, count] = [v.getUint16(p, true), v.getUint16(p + 2, true), v.getUint32(p + 4, true)];
      const inline = (TYPE_BYTES[type] ?? 1) * count <= 4;
      if (!inline) v.setUint32(p + 8, v.getUint32(p + 8, true) + base, true);
      // Strip and tile offsets point into the file: each moves too.
      if (tag === 273 || tag === 324) {
        if (inline) v.setUint32(p + 8, v.getUint32(p + 8, true) + base, true);
        else for (let k = 0, a = v.getUint32(p + 8, true); k < count; k++) v.setUint32(a + k * 4, v.getUint32(a + k * 4, true) + base, true);
      }
      if (tag === 330 || tag === 34665) throw new Error('chainPages takes files without sub-IFDs');
    }
    v.setUint32(at + 2 + n * 12, i + 1 < files.length ? ifdOf(i + 1) : 0, true);
  });
  v.setUint32(4, ifdOf(0), true);
  return out;
}
