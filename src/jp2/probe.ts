import type { SourceGeometry } from '../image/geometry.ts';
import { isJpeg2000 } from './boxes.ts';
import { jp2Geometry } from './geometry.ts';
import type { RangeRead } from './reader.ts';
import { readJp2Structure } from './structure.ts';

/**
 * Geometry of a JP2 file or raw J2K codestream from its headers alone (a range read or
 * two, no wasm, so Workers answer info.json too). Undefined for anything else.
 */
export async function probeJp2Geometry(head: Uint8Array, read: RangeRead, size: number): Promise<SourceGeometry | undefined> {
  if (!isJpeg2000(head)) return undefined;
  const jp2 = await readJp2Structure(read, size, head);
  return { ...jp2Geometry(jp2), format: 'jp2', jp2 };
}
