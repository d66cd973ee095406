import { open } from 'node:fs/promises';
import { isTiff, pyramidLevels, readTileTables, readTiffStructure, undecodableCompression } from '../../src/tiff/index.ts';


type RangeRead = (offset: number, length: number) => Promise<Uint8Array>;

async function withFile<T>(file: string, use: (read: RangeRead, size: number) => Promise<T>): Promise<T> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const read = async (offset: number, length: number) => {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, offset);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead);
    };
    return await use(read, size);
  } finally {
    await handle.close();
  }
}

/**
 * Whether a file is a whole pyramid of `tileSize` tiles: every level tiled at that size, and every
 * tile of every level inside the file (a run cut short after its first directory is not done).
 */
export function isWholePyramid(file: string, tileSize: number, quantisation?: string): Promise<boolean> {
  return withFile(file, async (read, size) => {
    if (!isTiff(await read(0, 4))) return false;
    const levels = pyramidLevels(await readTiffStructure(read, size));
    if (levels.length === 0) return false;
    if (quantisation !== undefined && quantisationOf(levels[0]?.jpegTables) !== quantisation) return false;
    for (const level of levels) {
      if (!level.tiled || level.tileWidth !== tileSize || level.tileHeight !== tileSize) return false;
      const tables = await readTileTables(read, level);
      if (!tables) return false;
      for (let i = 0; i < tables.offsets.length; i++) if ((tables.offsets[i] ?? 0) + (tables.counts[i] ?? 0) > size) return false;
    }
    return true;
  }).catch(() => false);
}

/**
 * The quantisation tables (DQT segments, hex) of a JPEG-compressed TIFF's first level: what its
 * JPEG quality set, so that a run with another `--quality` redoes the file.
 */
export function tileQuantisation(file: string): Promise<string | undefined> {
  return withFile(file, async (read, size) => quantisationOf(pyramidLevels(await readTiffStructure(read, size))[0]?.jpegTables)).catch(() => undefined);
}

function quantisationOf(tables: Uint8Array | undefined): string | undefined {
  if (!tables) return undefined;
  let found = '';
  // Segments after SOI: marker, two-byte length (itself included), payload.
  for (let at = 2; at + 4 <= tables.length && tables[at] === 0xff; ) {
    const length = ((tables[at + 2] ?? 0) << 8) | (tables[at + 3] ?? 0);
    if (tables[at + 1] === 0xdb) found += Buffer.from(tables.subarray(at + 4, at + 2 + length)).toString('hex');
    at += 2 + length;
  }
  return found || undefined;
}

/**
 * The compression of a TIFF input that libvips here would decode as black (see
 * undecodableCompression), or undefined. A file the structure reader refuses is left to libvips,
 * which reports it as unreadable.
 */
export function tiffCompression(file: string): Promise<string | undefined> {
  return withFile(file, async (read, size) => {
    if (!isTiff(await read(0, 4))) return undefined;
    return undecodableCompression((await readTiffStructure(read, size)).images);
  }).catch(() => undefined);
}
