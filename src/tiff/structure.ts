import { ByteView } from './bytes.ts';
import { TiffError } from './errors.ts';
import { type IfdContext, readIfd, readUints } from './ifd.ts';
import { imageFromIfd } from './image.ts';
import { type BlockReaderOptions, createBlockReader, type RangeRead } from './range.ts';
import { Tag } from './tags.ts';
import type { TiffImage, TiffStructure } from './types.ts';

/** Directories per file, SubIFDs included; pyramids have ~10–20. */
const MAX_IFDS = 64;

interface Walk {
  ctx: IfdContext;
  visited: Set<number>;
  headerSize: number;
}

async function readHeader(read: RangeRead, size: number, opts: BlockReaderOptions) {
  if (size < 8) throw new TiffError('Not a TIFF file.');
  const reader = createBlockReader(read, size, opts);
  const head = await reader.read(0, Math.min(16, size));
  const order = String.fromCharCode(head[0] ?? 0, head[1] ?? 0);
  if (order !== 'II' && order !== 'MM') throw new TiffError('Not a TIFF file.');
  const view = new ByteView(head, order === 'II');
  const magic = view.u16(2);
  if (magic === 42) {
    return { ctx: { reader, littleEndian: view.littleEndian, bigTiff: false }, first: view.u32(4), headerSize: 8 };
  }
  // BigTIFF: bytesize 8, reserved 0, then an 8-byte first-IFD offset.
  if (magic !== 43 || head.length < 16 || view.u16(4) !== 8 || view.u16(6) !== 0) throw new TiffError('Not a TIFF file.');
  return { ctx: { reader, littleEndian: view.littleEndian, bigTiff: true }, first: view.u64(8), headerSize: 16 };
}

/** Follows a chain of IFDs from `offset`, descending into SubIFDs; loops and excess throw. */
async function readChain(walk: Walk, offset: number): Promise<TiffImage[]> {
  const images: TiffImage[] = [];
  for (let at = offset; at !== 0; ) {
    if (walk.visited.has(at)) throw new TiffError('TIFF directory loop.');
    if (walk.visited.size >= MAX_IFDS) throw new TiffError('Too many TIFF directories.');
    if (at < walk.headerSize || at >= walk.ctx.reader.size) throw new TiffError('TIFF offset past end of file.');
    walk.visited.add(at);
    const ifd = await readIfd(walk.ctx, at);
    const image = await imageFromIfd(walk.ctx, ifd);
    const subs = ifd.entries.get(Tag.SubIFDs);
    if (subs) {
      for (const sub of await readUints(walk.ctx, subs, MAX_IFDS)) image.subImages.push(...(await readChain(walk, sub)));
    }
    images.push(image);
    at = ifd.next;
  }
  return images;
}

/**
 * Reads the header and every IFD (main chain and SubIFDs) of a TIFF or BigTIFF
 * through a block cache: a typical pyramid costs one to three range requests.
 * Tile offset tables are located, not read. Throws TiffError on anything
 * malformed or hostile (loops, offsets past EOF, absurd counts or sizes).
 */
export async function readTiffStructure(read: RangeRead, size: number, opts: BlockReaderOptions = {}): Promise<TiffStructure> {
  const { ctx, first, headerSize } = await readHeader(read, size, opts);
  if (first === 0) throw new TiffError('TIFF file has no image.');
  const images = await readChain({ ctx, visited: new Set(), headerSize }, first);
  return { littleEndian: ctx.littleEndian, bigTiff: ctx.bigTiff, size, images };
}
