import { TiffError } from './errors.ts';

/** Endian-aware unsigned integer reads from a byte slice (positions relative to it). */
export class ByteView {
  private readonly view: DataView;
  // Plain fields, not parameter properties: Node's type stripping runs this file as is.
  readonly bytes: Uint8Array;
  readonly littleEndian: boolean;

  constructor(bytes: Uint8Array, littleEndian: boolean) {
    this.bytes = bytes;
    this.littleEndian = littleEndian;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u8(pos: number): number {
    return this.view.getUint8(pos);
  }

  u16(pos: number): number {
    return this.view.getUint16(pos, this.littleEndian);
  }

  u32(pos: number): number {
    return this.view.getUint32(pos, this.littleEndian);
  }

  /** 64-bit value as a number; BigTIFF offsets beyond 2^53 are no real file. */
  u64(pos: number): number {
    const v = this.view.getBigUint64(pos, this.littleEndian);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TiffError('TIFF offset out of range.');
    return Number(v);
  }

  /** Unsigned integer of 1, 2, 4 or 8 bytes. */
  uint(pos: number, width: number): number {
    switch (width) {
      case 1:
        return this.u8(pos);
      case 2:
        return this.u16(pos);
      case 4:
        return this.u32(pos);
      case 8:
        return this.u64(pos);
      default:
        throw new TiffError('Unsupported TIFF field width.');
    }
  }
}
