/**
 * Hostile and awkward source images for end-to-end tests: decompression bombs (tiny files
 * declaring huge sizes), truncated and corrupt files, TIFFs with looping or out-of-range
 * offsets, and legitimate but unusual encodings (alpha, CMYK, 16-bit, palette, EXIF rotation).
 */
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

type RGB = [number, number, number];

/** 300×200 in four flat quadrants, so any wrong crop, flip or turn shows as a wrong colour. */
export const QUADRANTS = { width: 300, height: 200, tl: [255, 0, 0], tr: [0, 255, 0], bl: [0, 0, 255], br: [255, 255, 255] } as const;

export function quadrantColour(x: number, y: number): RGB {
  const q = QUADRANTS;
  const top = y < q.height / 2;
  const left = x < q.width / 2;
  return [...(top ? (left ? q.tl : q.tr) : left ? q.bl : q.br)] as RGB;
}

function quadrantsRaw(): Buffer {
  const { width, height } = QUADRANTS;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(quadrantColour(x, y), (y * width + x) * 3);
  return data;
}

const quadrants = () => sharp(quadrantsRaw(), { raw: { width: QUADRANTS.width, height: QUADRANTS.height, channels: 3 } });

function pngChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** A valid PNG header declaring `width`×`height` RGB, followed by a few bytes of pixel data only. */
export function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const idat = deflateSync(Buffer.alloc(1024));
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', new Uint8Array())]);
}

/** SOI, a JFIF marker, a baseline frame header declaring `width`×`height`, EOI: no tables, no scan. */
export function jpegBomb(width: number, height: number): Buffer {
  const app0 = [0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof = [0xff, 0xc0, 0, 17, 8, height >> 8, height & 255, width >> 8, width & 255, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1];
  return Buffer.from([0xff, 0xd8, ...app0, ...sof, 0xff, 0xd9]);
}

interface TiffOptions {
  firstIfd?: number;
  next?: number;
  width?: number;
  height?: number;
  stripOffset?: number;
}

/** A little-endian 16×16 8-bit grey strip TIFF, one IFD at offset 8, with pointers to override. */
export function tinyTiff(o: TiffOptions = {}): Buffer {
  const width = o.width ?? 16;
  const height = o.height ?? 16;
  const entries: Array<[tag: number, type: number, value: number]> = [
    [256, 4, width], [257, 4, height], [258, 3, 8], [259, 3, 1], [262, 3, 1],
    [273, 4, o.stripOffset ?? 0], [277, 3, 1], [278, 4, height], [279, 4, 256],
  ];
  const ifdSize = 2 + entries.length * 12 + 4;
  const dataAt = 8 + ifdSize;
  const out = Buffer.alloc(dataAt + 256, 0x80);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(o.firstIfd ?? 8, 4);
  out.writeUInt16LE(entries.length, 8);
  entries.forEach(([tag, type, value], i) => {
    const at = 10 + i * 12;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(1, at + 4);
    if (type === 3) out.writeUInt16LE(value, at + 8);
    else out.writeUInt32LE(tag === 273 && value === 0 ? dataAt : value, at + 8);
  });
  out.writeUInt32LE(o.next ?? 0, 8 + ifdSize - 4);
  return out;
}

type IfdEntry = [tag: number, type: number, count: number, value: number];

/**
 * `length` bytes holding a little-endian TIFF header and one IFD at offset 8 with `entries`.
 * `pointer(tag)` is the 32 bits to write for an entry whose values are not one inline SHORT or
 * LONG (an offset, or two SHORTs packed); the caller writes those values.
 */
function littleTiff(entries: IfdEntry[], length: number, pointer: (tag: number) => number | undefined, fill = 0): Buffer {
  const out = Buffer.alloc(length, fill);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(8, 4);
  out.writeUInt16LE(entries.length, 8);
  entries.forEach(([tag, type, count, value], i) => {
    const at = 10 + i * 12;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(count, at + 4);
    const p = pointer(tag);
    if (p !== undefined) out.writeUInt32LE(p, at + 8);
    else if (type === 3) out.writeUInt16LE(value, at + 8);
    else out.writeUInt32LE(value, at + 8);
  });
  out.writeUInt32LE(0, 10 + entries.length * 12);
  return out;
}

const ifdBytes = (entries: IfdEntry[]) => 2 + entries.length * 12 + 4;

/**
 * A valid little-endian 16×16 8-bit strip TIFF with `samples` samples per pixel, the ones past the
 * colour ones extra samples of the given kinds (ExtraSamples: 0 unspecified, 1 associated and
 * 2 unassociated alpha; all unspecified by default), and the given PhotometricInterpretation:
 * multispectral scans, ICCLab and other layouts libvips reads but cannot turn into sRGB. Every
 * pixel holds `values` (128 in every sample by default).
 */
export function layoutTiff(samples: number, photometric: number, colour: number, kinds: number[] = [], values: number[] = []): Buffer {
  const extra = Math.max(0, samples - colour);
  const entries: IfdEntry[] = [
    [256, 3, 1, 16], [257, 3, 1, 16], [258, 3, samples, 8], [259, 3, 1, 1], [262, 3, 1, photometric],
    [273, 4, 1, 0], [277, 3, 1, samples], [278, 3, 1, 16], [279, 4, 1, 16 * 16 * samples],
    ...(extra > 0 ? [[338, 3, extra, 0] as IfdEntry] : []),
  ];
  const bitsAt = 8 + ifdBytes(entries);
  const extraAt = bitsAt + 2 * samples;
  const dataAt = extraAt + 2 * extra;
  // Up to two SHORTs sit in the entry itself (8, 8 packed; zeros); more are stored after the IFD.
  const out = littleTiff(entries, dataAt + 16 * 16 * samples, (tag) => {
    if (tag === 273) return dataAt;
    if (tag === 258) return samples > 2 ? bitsAt : samples === 2 ? 0x0008_0008 : undefined;
    if (tag === 338) return extra > 2 ? extraAt : extra === 2 ? (kinds[0] ?? 0) | ((kinds[1] ?? 0) << 16) : undefined;
    return undefined;
  }, 0x80);
  for (let s = 0; s < samples; s++) out.writeUInt16LE(8, bitsAt + 2 * s);
  for (let e = 0; e < extra; e++) out.writeUInt16LE(kinds[e] ?? 0, extraAt + 2 * e);
  if (extra === 1) out.writeUInt16LE(kinds[0] ?? 0, 10 + (entries.length - 1) * 12 + 8);
  if (values.length) for (let i = 0; i < 16 * 16; i++) for (let s = 0; s < samples; s++) out[dataAt + i * samples + s] = values[s] ?? 0x80;
  return out;
}

/**
 * A valid little-endian 32×32 RGB TIFF in 16×16 uncompressed tiles with separate sample planes
 * (PlanarConfiguration 2): 4 tiles per plane, red, green and blue planes one after another.
 */
export function planarTiledTiff(rgb: [number, number, number] = [200, 100, 50]): Buffer {
  const tiles = 12;
  const entries: IfdEntry[] = [
    [256, 3, 1, 32], [257, 3, 1, 32], [258, 3, 3, 0], [259, 3, 1, 1], [262, 3, 1, 2], [277, 3, 1, 3],
    [284, 3, 1, 2], [322, 3, 1, 16], [323, 3, 1, 16], [324, 4, tiles, 0], [325, 4, tiles, 0],
  ];
  const bitsAt = 8 + ifdBytes(entries);
  const offsetsAt = bitsAt + 6;
  const countsAt = offsetsAt + tiles * 4;
  const dataAt = countsAt + tiles * 4;
  const pointers: Record<number, number> = { 258: bitsAt, 324: offsetsAt, 325: countsAt };
  const out = littleTiff(entries, dataAt + tiles * 256, (tag) => pointers[tag]);
  for (let i = 0; i < 3; i++) out.writeUInt16LE(8, bitsAt + i * 2);
  for (let t = 0; t < tiles; t++) {
    out.writeUInt32LE(dataAt + t * 256, offsetsAt + t * 4);
    out.writeUInt32LE(256, countsAt + t * 4);
    out.fill(rgb[Math.floor(t / 4)] ?? 0, dataAt + t * 256, dataAt + (t + 1) * 256);
  }
  return out;
}

const cut = (bytes: Buffer, fraction: number) => bytes.subarray(0, Math.floor(bytes.length * fraction));

/** Overwrites the middle third with a fixed pseudo-random pattern (headers stay intact). */
function scramble(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  let seed = 12345;
  for (let i = Math.floor(out.length / 3); i < Math.floor((2 * out.length) / 3); i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = seed & 0xff;
  }
  return out;
}

/** JPEG whose frame header sits behind 70 × 64 KB of APP segments, past the 4 MB probe window. */
async function lateFrameJpeg(): Promise<Buffer> {
  const jpeg = await quadrants().jpeg().toBuffer();
  const app = Buffer.alloc(65_535 + 2, 0x20);
  app.set([0xff, 0xe9, 0xff, 0xff]);
  return Buffer.concat([jpeg.subarray(0, 2), ...Array.from({ length: 70 }, () => app), jpeg.subarray(2)]);
}

/** File name → bytes. Names say what each one is; tests decide what answer each deserves. */
export async function makeHostileFiles(): Promise<Record<string, Buffer>> {
  const jpeg = await quadrants().jpeg({ quality: 90 }).toBuffer();
  const png = await quadrants().png().toBuffer();
  const tiff = await quadrants().tiff({ tile: true, tileWidth: 64, tileHeight: 64, compression: 'deflate' }).toBuffer();
  const alpha = await quadrants()
    .joinChannel(Buffer.alloc(QUADRANTS.width * QUADRANTS.height, 128), { raw: { width: QUADRANTS.width, height: QUADRANTS.height, channels: 1 } })
    .png()
    .toBuffer();
  return {
    'bomb-60000.png': pngBomb(60_000, 60_000),
    'bomb-60000.jpg': jpegBomb(60_000, 60_000),
    'bomb-16000.png': pngBomb(16_000, 16_000),
    'bomb-60000.tif': tinyTiff({ width: 60_000, height: 60_000 }),
    'truncated.jpg': cut(jpeg, 0.5),
    'truncated.png': cut(png, 0.5),
    'truncated.tif': cut(tiff, 0.5),
    'header-only.jpg': cut(jpeg, 0.02),
    'corrupt.jpg': scramble(jpeg),
    'corrupt.png': scramble(png),
    'corrupt.tif': scramble(tiff),
    'empty.png': Buffer.alloc(0),
    'html.png': Buffer.from('<html><script>alert(1)</script></html>'),
    'late-frame.jpg': await lateFrameJpeg(),
    'ifd-loop.tif': tinyTiff({ next: 8 }),
    'ifd-out-of-range.tif': tinyTiff({ firstIfd: 0xffff_ff00 }),
    'ifd-next-out-of-range.tif': tinyTiff({ next: 0x7fff_ffff }),
    'strip-out-of-range.tif': tinyTiff({ stripOffset: 0x7fff_0000 }),
    'alpha.png': alpha,
    'cmyk.jpg': await quadrants().toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer(),
    'deep.png': await quadrants().toColourspace('rgb16').png().toBuffer(),
    'palette.png': await quadrants().png({ palette: true, colours: 4, dither: 0 }).toBuffer(),
    'exif-6.jpg': await quadrants().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer(),
  };
}
