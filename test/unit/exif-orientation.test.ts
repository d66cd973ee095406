import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { exifOrientation, oriented, pngOrientation, webpOrientation } from '../../src/image/exif-orientation.ts';

/** A TIFF-structured EXIF block whose first directory holds one entry. */
function exif(le: boolean, tag: number, type: number, value: number): Uint8Array {
  const b = new Uint8Array(26);
  const v = new DataView(b.buffer);
  b.set(le ? [0x49, 0x49] : [0x4d, 0x4d]);
  v.setUint16(2, 42, le);
  v.setUint32(4, 8, le);
  v.setUint16(8, 1, le);
  v.setUint16(10, tag, le);
  v.setUint16(12, type, le);
  v.setUint32(14, 1, le);
  v.setUint16(18, value, le);
  return b;
}

const reader = (bytes: Uint8Array) => async (offset: number, length: number) => bytes.subarray(offset, offset + length);

describe('EXIF orientation', () => {
  it('reads tag 274 in either byte order, with or without the Exif prefix (TIFF 6.0, Exif 2.3 §4.6.4)', () => {
    expect(exifOrientation(exif(true, 0x0112, 3, 6))).toBe(6);
    expect(exifOrientation(exif(false, 0x0112, 3, 8))).toBe(8);
    expect(exifOrientation(Uint8Array.from([...Buffer.from('Exif\0\0'), ...exif(true, 0x0112, 3, 3)]))).toBe(3);
  });

  it('anything else is 1: another tag, another type, a value outside 1–8, a cut block', () => {
    expect(exifOrientation(exif(true, 0x0110, 3, 6))).toBe(1);
    expect(exifOrientation(exif(true, 0x0112, 4, 6))).toBe(1);
    expect(exifOrientation(exif(true, 0x0112, 3, 9))).toBe(1);
    expect(exifOrientation(exif(true, 0x0112, 3, 6).subarray(0, 20))).toBe(1);
    expect(exifOrientation(new Uint8Array(3))).toBe(1);
  });

  it('orientations 5–8 swap the size; a value outside 1–8 counts as 1', () => {
    expect(oriented({ width: 30, height: 20 }, 6)).toEqual({ width: 20, height: 30, orientation: 6 });
    expect(oriented({ width: 30, height: 20 }, 4)).toEqual({ width: 30, height: 20, orientation: 4 });
    expect(oriented({ width: 30, height: 20 }, 0)).toEqual({ width: 30, height: 20, orientation: 1 });
  });

  it('finds the eXIf chunk of a PNG and the EXIF chunk of a WebP that sharp wrote', async () => {
    const raw = { raw: { width: 8, height: 4, channels: 3 as const } };
    const px = Buffer.alloc(8 * 4 * 3, 90);
    const png = await sharp(px, raw).png().withMetadata({ orientation: 7 }).toBuffer();
    const webp = await sharp(px, raw).webp().withMetadata({ orientation: 5 }).toBuffer();
    expect(await pngOrientation(reader(png), png.length)).toBe(7);
    expect(await webpOrientation(reader(webp), webp.length)).toBe(5);
    const plain = await sharp(px, raw).webp().toBuffer();
    expect(await webpOrientation(reader(plain), plain.length)).toBe(1);
  });

  it('a PNG whose eXIf follows IDAT, or chunks that never end, give 1 after a bounded walk', async () => {
    const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    const chunk = (type: string, data: number[]) => [0, 0, 0, data.length, ...Buffer.from(type), ...data, 0, 0, 0, 0];
    const late = Uint8Array.from([...sig, ...chunk('IDAT', [1, 2]), ...chunk('eXIf', [...exif(true, 0x0112, 3, 6)])]);
    expect(await pngOrientation(reader(late), late.length)).toBe(1);
    const many = Uint8Array.from([...sig, ...Array.from({ length: 500 }, () => chunk('tEXt', [])).flat()]);
    let reads = 0;
    const counting = async (o: number, l: number) => {
      reads++;
      return many.subarray(o, o + l);
    };
    expect(await pngOrientation(counting, many.length)).toBe(1);
    expect(reads).toBeLessThanOrEqual(64);
  });
});
