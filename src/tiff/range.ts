import { TiffError } from './errors.ts';

/** Byte-range read of a source (S3, R2, file). May return fewer bytes than asked at EOF. */
export type RangeRead = (offset: number, length: number) => Promise<Uint8Array>;

export interface BlockReaderOptions {
  /** Bytes fetched per cache miss (read-ahead); default 64 KiB. */
  blockSize?: number;
  /** A miss this close to EOF reads through to EOF; default 256 KiB. */
  tailSize?: number;
  /** Hard cap on bytes fetched through this reader; default 4 MiB. */
  maxBytes?: number;
}

/** Exact-range reads served from a read-ahead cache, for one parse. */
export interface BlockReader {
  readonly size: number;
  /** Exactly `length` bytes at `offset`; TiffError past EOF or over the byte cap. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Range requests sent to the source so far. */
  readonly requests: number;
  readonly bytesRead: number;
}

interface Block {
  start: number;
  bytes: Uint8Array;
}

/**
 * Wraps a RangeRead with a block cache: a miss fetches at least `blockSize`
 * bytes from the asked offset, so an IFD and its out-of-line values (which
 * writers put next to each other) cost one request. libtiff writes each IFD
 * after its image data, so the small pyramid levels' IFDs crowd the end of the
 * file: a miss within `tailSize` of EOF fetches the whole tail. Read-ahead only
 * spends what is left of `maxBytes`, the bound on what a hostile file can make
 * us download.
 */
export function createBlockReader(read: RangeRead, size: number, opts: BlockReaderOptions = {}): BlockReader {
  const blockSize = opts.blockSize ?? 64 * 1024;
  const tailSize = opts.tailSize ?? 256 * 1024;
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  if (!Number.isSafeInteger(size) || size < 0) throw new TiffError('Invalid source size.');
  const blocks: Block[] = [];
  let requests = 0;
  let bytesRead = 0;

  const cached = (offset: number, end: number): Uint8Array | undefined => {
    for (const b of blocks) {
      if (offset >= b.start && end <= b.start + b.bytes.length) {
        return b.bytes.subarray(offset - b.start, end - b.start);
      }
    }
    return undefined;
  };

  return {
    size,
    get requests() {
      return requests;
    },
    get bytesRead() {
      return bytesRead;
    },
    async read(offset, length) {
      const end = offset + length;
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || end > size) {
        throw new TiffError('TIFF offset past end of file.');
      }
      const hit = cached(offset, end);
      if (hit) return hit;
      if (bytesRead + length > maxBytes) throw new TiffError('TIFF structure too large.');
      const ahead = size - offset <= tailSize ? size - offset : blockSize;
      const fetchLength = Math.max(length, Math.min(ahead, size - offset, maxBytes - bytesRead));
      requests++;
      const got = await read(offset, fetchLength);
      const bytes = got.length > fetchLength ? got.subarray(0, fetchLength) : got;
      bytesRead += bytes.length;
      if (bytes.length < length) throw new TiffError('Unexpected end of TIFF file.');
      blocks.push({ start: offset, bytes });
      return bytes.subarray(0, length);
    },
  };
}
