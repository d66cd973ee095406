import { open } from 'node:fs/promises';
import { readTiffStructure, undecodableCompression } from '../../src/tiff/index.ts';

const isTiff = (b: Uint8Array) => /^(II\*\0|MM\0\*|II\+\0|MM\0\+)$/.test(String.fromCharCode(...b.subarray(0, 4)));

/**
 * The compression of a TIFF input that libvips here would decode as black (see
 * undecodableCompression), or undefined. A file the structure reader refuses is left to libvips,
 * which reports it as unreadable.
 */
export async function tiffCompression(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const read = async (offset: number, length: number) => {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, offset);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead);
    };
    if (!isTiff(await read(0, 4))) return undefined;
    return undecodableCompression((await readTiffStructure(read, size)).images);
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}
