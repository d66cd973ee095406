/**
 * Hand-built decode bombs for the bounded-cost tests: tiny files whose decode costs far more
 * than their size (memory for WebP/PNG, CPU for progressive JPEG). Built byte by byte so the
 * test never holds the decoded image itself.
 */
import { createDeflate, constants } from 'node:zlib';

/** LSB-first bit writer (WebP lossless order). */
class LsbBits {
  private bytes: number[] = [];
  private acc = 0;
  private n = 0;
  put(value: number, bits: number): void {
    for (let i = 0; i < bits; i++) {
      this.acc |= ((value >> i) & 1) << this.n;
      if (++this.n === 8) this.flush();
    }
  }
  private flush(): void {
    this.bytes.push(this.acc);
    this.acc = 0;
    this.n = 0;
  }
  done(): Uint8Array {
    if (this.n > 0) this.flush();
    return Uint8Array.from(this.bytes);
  }
}

const riff = (fourcc: string, payload: Uint8Array): Buffer => {
  const padded = payload.length % 2 === 1 ? Buffer.concat([payload, Buffer.alloc(1)]) : Buffer.from(payload);
  const chunk = Buffer.alloc(8);
  chunk.write(fourcc, 0, 'latin1');
  chunk.writeUInt32LE(payload.length, 4);
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), chunk, padded]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
};

/**
 * A lossless WebP of one colour whose five prefix codes each have a single symbol, so every
 * pixel costs zero bits: a few dozen bytes that decode to width × height × 4 bytes.
 */
export function webpBomb(width = 16383, height = 16383): Buffer {
  const bits = new LsbBits();
  bits.put(0x2f, 8); // VP8L signature
  bits.put(width - 1, 14);
  bits.put(height - 1, 14);
  bits.put(1, 1); // alpha used
  bits.put(0, 3); // version
  bits.put(0, 1); // no transform
  bits.put(0, 1); // no colour cache
  bits.put(0, 1); // no meta prefix codes
  // green, red, blue, alpha, distance: "simple" codes with one symbol each.
  for (const symbol of [0, 200, 30, 255, 0]) {
    bits.put(1, 1);
    bits.put(0, 1);
    const wide = symbol > 1;
    bits.put(wide ? 1 : 0, 1);
    bits.put(symbol, wide ? 8 : 1);
  }
  return riff('VP8L', bits.done());
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (b: Uint8Array): number => {
  let c = 0xffffffff;
  for (const x of b) c = (crcTable[(c ^ x) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const pngChunk = (type: string, data: Uint8Array): Buffer => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
};

/** Raw bytes of an Adam7-interlaced image: per pass, each row is a filter byte and its samples. */
function adam7RawLength(width: number, height: number, bytesPerPixel: number): number {
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ] as const;
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    if (w > 0 && h > 0) total += h * (1 + w * bytesPerPixel);
  }
  return total;
}

/** A valid Adam7-interlaced RGBA PNG of transparent black: about 1 MB for 16383², 1 GiB decoded. */
export async function interlacedPngBomb(width = 16383, height = 16383): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 1], 8); // 8-bit RGBA, deflate, filter 0, Adam7
  const deflate = createDeflate({ level: 1, strategy: constants.Z_RLE });
  const parts: Buffer[] = [];
  deflate.on('data', (b: Buffer) => parts.push(b));
  const ended = new Promise((ok, fail) => deflate.on('end', ok).on('error', fail));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = adam7RawLength(width, height, 4); left > 0; left -= zeros.length) {
    if (!deflate.write(zeros.subarray(0, Math.min(left, zeros.length)))) await new Promise((ok) => deflate.once('drain', ok));
  }
  deflate.end();
  await ended;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.concat(parts)), pngChunk('IEND', new Uint8Array())]);
}

/** MSB-first bit writer with JPEG byte stuffing. */
class JpegBits {
  private bytes: number[] = [];
  private acc = 0;
  private n = 0;
  put(value: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      if (++this.n === 8) this.emit();
    }
  }
  private emit(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0);
    this.acc = 0;
    this.n = 0;
  }
  done(): number[] {
    // Pad with one bits, as the standard asks.
    while (this.n !== 0) this.put(1, 1);
    return this.bytes;
  }
}

const segment = (marker: number, body: number[]): number[] => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];

/**
 * A valid progressive greyscale JPEG of flat mid-grey with the most scans the standard's
 * successive approximation allows: per coefficient (DC and each of the 63 AC) a first scan at
 * Al = 13 and 13 refinement scans, so 64 × 14 = 896 scans (`scans` takes fewer). Each scan is a
 * few bytes (end-of-band runs), yet the decoder visits every block in every scan.
 */
export function progressiveJpegBomb(size = 2048, scans = 896): Buffer {
  const blocks = Math.ceil(size / 8) ** 2;
  const out: number[] = [0xff, 0xd8];
  out.push(...segment(0xdb, [0, ...Array<number>(64).fill(1)]));
  out.push(...segment(0xc2, [8, size >> 8, size & 0xff, size >> 8, size & 0xff, 1, 1, 0x11, 0]));
  // DC table 0: one symbol (category 0) with code "0". AC table 0: the 15 end-of-band run
  // symbols 0x00..0xE0, four bits each (codes 0000..1110).
  out.push(...segment(0xc4, [0x00, 1, ...Array<number>(15).fill(0), 0]));
  const eob = Array.from({ length: 15 }, (_, r) => r << 4);
  out.push(...segment(0xc4, [0x10, 0, 0, 0, 15, ...Array<number>(12).fill(0), ...eob]));
  const plan: Array<{ ss: number; ah: number; al: number }> = [];
  for (let al = 13; al >= 0; al--) plan.push({ ss: 0, ah: al === 13 ? 0 : al + 1, al });
  for (let k = 1; k <= 63; k++) for (let al = 13; al >= 0; al--) plan.push({ ss: k, ah: al === 13 ? 0 : al + 1, al });
  for (const { ss, ah, al } of plan.slice(0, scans)) {
    out.push(...segment(0xda, [1, 1, 0x00, ss, ss, (ah << 4) | al]));
    const bits = new JpegBits();
    if (ss === 0) {
      // DC: first scan codes category 0 per block; a refinement scan sends one zero bit per block.
      for (let b = 0; b < blocks; b++) bits.put(0, 1);
    } else {
      // AC: all blocks are one end-of-band run, split into runs of at most 32767.
      for (let left = blocks; left > 0; ) {
        const run = Math.min(left, 32767);
        const r = Math.floor(Math.log2(run));
        bits.put(r, 4);
        if (r > 0) bits.put(run - (1 << r), r);
        left -= run;
      }
    }
    out.push(...bits.done());
  }
  out.push(0xff, 0xd9);
  return Buffer.from(out);
}
