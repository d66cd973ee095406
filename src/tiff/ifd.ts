import { ByteView } from './bytes.ts';
import { TiffError } from './errors.ts';
import type { BlockReader } from './range.ts';
import { fieldTypeSize, isUnsignedIntType } from './tags.ts';

/** Real IFDs hold a few dozen entries; more means a damaged or hostile file. */
const MAX_ENTRIES = 1024;
/** Bound on any array we index lazily (tile offsets of one level). */
export const MAX_ARRAY_COUNT = 10_000_000;

export interface IfdEntry {
  tag: number;
  type: number;
  count: number;
  /** File offset of the values (the entry's own value field when they fit there). */
  valueOffset: number;
  /** Byte size of one value; 0 for types this reader does not know. */
  valueSize: number;
}

export interface Ifd {
  offset: number;
  entries: Map<number, IfdEntry>;
  /** Next IFD in the chain, 0 at the end. */
  next: number;
}

export interface IfdContext {
  reader: BlockReader;
  littleEndian: boolean;
  bigTiff: boolean;
}

/** Parses the directory at `offset`: entry headers only, values stay in the file. */
export async function readIfd(ctx: IfdContext, offset: number): Promise<Ifd> {
  const { reader, littleEndian, bigTiff } = ctx;
  const countSize = bigTiff ? 8 : 2;
  const entrySize = bigTiff ? 20 : 12;
  const slot = bigTiff ? 8 : 4;
  const count = new ByteView(await reader.read(offset, countSize), littleEndian).uint(0, countSize);
  if (count === 0 || count > MAX_ENTRIES) throw new TiffError('Invalid TIFF directory.');
  const body = new ByteView(await reader.read(offset + countSize, count * entrySize + slot), littleEndian);
  const entries = new Map<number, IfdEntry>();
  for (let i = 0; i < count; i++) {
    const at = i * entrySize;
    const tag = body.u16(at);
    const type = body.u16(at + 2);
    const n = body.uint(at + 4, slot);
    const valueSize = fieldTypeSize(type) ?? 0;
    const field = offset + countSize + at + 4 + slot;
    let valueOffset = field;
    if (valueSize * n > slot) {
      valueOffset = body.uint(at + 4 + slot, slot);
      if (valueOffset + valueSize * n > reader.size) throw new TiffError('TIFF value past end of file.');
    }
    entries.set(tag, { tag, type, count: n, valueOffset, valueSize });
  }
  return { offset, entries, next: body.uint(count * entrySize, slot) };
}

/** Reads up to `max` unsigned integer values of an entry; TiffError when it has more. */
export async function readUints(ctx: IfdContext, entry: IfdEntry, max: number): Promise<number[]> {
  if (!isUnsignedIntType(entry.type)) throw new TiffError('Unexpected TIFF field type.');
  if (entry.count > max) throw new TiffError('TIFF field count out of range.');
  const bytes = await ctx.reader.read(entry.valueOffset, entry.count * entry.valueSize);
  const view = new ByteView(bytes, ctx.littleEndian);
  return Array.from({ length: entry.count }, (_, i) => view.uint(i * entry.valueSize, entry.valueSize));
}

/** Raw bytes of an entry (e.g. JPEGTables), bounded by `maxBytes`. */
export async function readBytes(ctx: IfdContext, entry: IfdEntry, maxBytes: number): Promise<Uint8Array> {
  const length = entry.count * entry.valueSize;
  if (entry.valueSize !== 1 || length > maxBytes) throw new TiffError('TIFF field too large.');
  // A copy (not Buffer#slice, which shares memory): the block cache must not outlive the parse.
  return new Uint8Array(await ctx.reader.read(entry.valueOffset, length));
}
