import { Jp2Error } from './errors.ts';

/** Byte-range read of a source (S3, R2, file). May return fewer bytes than asked at EOF. */
export type RangeRead = (offset: number, length: number) => Promise<Uint8Array>;

/** Exact-range reads for one header parse, with read-ahead and a hard cap on bytes fetched. */
export interface HeaderReader {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  readonly bytesRead: number;
}

const BLOCK = 64 * 1024;

/**
 * A miss fetches at least 64 KiB from the asked offset: JP2 header boxes and the
 * codestream's main header sit together at the start, so a parse is one or two
 * requests. `maxBytes` bounds what a hostile file can make us download.
 */
export function headerReader(read: RangeRead, size: number, maxBytes: number, head?: Uint8Array): HeaderReader {
  if (!Number.isSafeInteger(size) || size < 0) throw new Jp2Error('Invalid JPEG 2000 source size.');
  const blocks: Array<{ start: number; bytes: Uint8Array }> = head ? [{ start: 0, bytes: head }] : [];
  let bytesRead = 0;
  return {
    size,
    get bytesRead() {
      return bytesRead;
    },
    async read(offset, length) {
      const end = offset + length;
      if (!Number.isSafeInteger(end) || offset < 0 || length < 0 || end > size) {
        throw new Jp2Error('JPEG 2000 structure points past the end of the file.');
      }
      for (const b of blocks) {
        if (offset >= b.start && end <= b.start + b.bytes.length) return b.bytes.subarray(offset - b.start, end - b.start);
      }
      if (bytesRead + length > maxBytes) throw new Jp2Error('JPEG 2000 header too large.');
      const fetchLength = Math.max(length, Math.min(BLOCK, size - offset, maxBytes - bytesRead));
      const got = await read(offset, fetchLength);
      const bytes = got.length > fetchLength ? got.subarray(0, fetchLength) : got;
      bytesRead += bytes.length;
      if (bytes.length < length) throw new Jp2Error('Unexpected end of JPEG 2000 file.');
      blocks.push({ start: offset, bytes });
      return bytes.subarray(0, length);
    },
  };
}

export const u16 = (b: Uint8Array, at: number): number => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
export const u32 = (b: Uint8Array, at: number): number => u16(b, at) * 0x10000 + u16(b, at + 2);
