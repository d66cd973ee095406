import { open } from 'node:fs/promises';
import { probeTiffGeometry } from '../../src/image/tiff-geometry.ts';

/**
 * The level sizes of a written pyramid, read by the server's own TIFF reader, as the `levels`
 * metadata value (`12000x9000,6000x4500,…`) that lets info.json skip the object on S3.
 */
export async function levelsMetadata(path: string): Promise<string | undefined> {
  const file = await open(path);
  try {
    const { size } = await file.stat();
    const read = async (offset: number, length: number) => {
      const buffer = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
      return buffer.subarray(0, bytesRead);
    };
    const geometry = await probeTiffGeometry(await read(0, 64 * 1024), read, size);
    return geometry?.levels?.map((l) => `${l.width}x${l.height}`).join(',');
  } finally {
    await file.close();
  }
}
