import sharp, { type JpegOptions } from 'sharp';
import { describe, expect, it } from 'vitest';
import { TiffError, cropJpeg, jpegFrameSize, rewriteJpegFrameSize, spliceHeadroom, spliceInPlace, spliceJpegTile } from '../../src/tiff/index.ts';
import { colourGrid } from '../helpers/tiff-fixtures.ts';

const W = 300;
const H = 200;

async function jpegOf(opts: JpegOptions, channels: 1 | 3 = 3): Promise<Buffer> {
  const img = sharp(colourGrid(W, H, channels), { raw: { width: W, height: H, channels } });
  return (channels === 1 ? img.toColourspace('b-w') : img).jpeg(opts).toBuffer();
}

const raw = async (input: Uint8Array, grey = false) => {
  const img = sharp(input);
  return (grey ? img.toColourspace('b-w') : img).raw().toBuffer({ resolveWithObject: true });
};

/** Top-left w x h of a decoded image, as tightly packed bytes. */
function topLeft(data: Buffer, width: number, channels: number, w: number, h: number): Buffer {
  const out = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) data.copy(out, y * w * channels, y * width * channels, (y * width + w) * channels);
  return out;
}

function meanDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

/** Removes APPn segments (JFIF, Adobe...) so the colour-transform signal is ours alone. */
function withoutAppSegments(jpeg: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [jpeg.subarray(0, 2)];
  let at = 2;
  while (jpeg[at + 1] !== 0xda) {
    const end = at + 2 + (((jpeg[at + 2] ?? 0) << 8) | (jpeg[at + 3] ?? 0));
    const m = jpeg[at + 1] ?? 0;
    if (m < 0xe0 || m > 0xef) parts.push(jpeg.subarray(at, end));
    at = end;
  }
  parts.push(jpeg.subarray(at));
  return Buffer.concat(parts);
}

/** Splits a standalone JPEG into TIFF-style JPEGTables (SOI, DQT/DHT, EOI) and an abbreviated tile. */
function splitTables(jpeg: Uint8Array): { tables: Uint8Array; tile: Uint8Array } {
  const tables: Uint8Array[] = [Uint8Array.of(0xff, 0xd8)];
  const tile: Uint8Array[] = [Uint8Array.of(0xff, 0xd8)];
  let at = 2;
  while (jpeg[at + 1] !== 0xda) {
    const end = at + 2 + (((jpeg[at + 2] ?? 0) << 8) | (jpeg[at + 3] ?? 0));
    const m = jpeg[at + 1];
    (m === 0xdb || m === 0xc4 ? tables : tile).push(jpeg.subarray(at, end));
    at = end;
  }
  tables.push(Uint8Array.of(0xff, 0xd9));
  tile.push(jpeg.subarray(at));
  return { tables: Buffer.concat(tables), tile: Buffer.concat(tile) };
}

const expectTiffError = (fn: () => unknown, message: RegExp) => {
  expect(fn).toThrow(TiffError);
  expect(fn).toThrow(message);
};

describe('spliceJpegTile', () => {
  it('rebuilds a decodable JPEG from tables + abbreviated tile, byte-identical in content', async () => {
    const original = await jpegOf({ quality: 80 });
    const { tables, tile } = splitTables(original);
    const spliced = spliceJpegTile(tables, tile);
    expect(spliced.length).toBe(tables.length - 4 + tile.length);
    expect(Buffer.from(spliced.subarray(0, 2))).toEqual(Buffer.from([0xff, 0xd8]));
    expect((await raw(spliced)).data.equals((await raw(original)).data)).toBe(true);
  });

  it('passes a tile with its own tables through when there are no JPEGTables', async () => {
    const original = await jpegOf({ quality: 80 });
    expect(Buffer.from(spliceJpegTile(undefined, original)).equals(original)).toBe(true);
  });

  it('rejects tiles without SOI or EOI and malformed tables', async () => {
    const { tables, tile } = splitTables(await jpegOf({ quality: 80 }));
    expectTiffError(() => spliceJpegTile(tables, tile.subarray(2)), /Malformed JPEG tile/);
    expectTiffError(() => spliceJpegTile(tables, tile.subarray(0, tile.length - 2)), /Malformed JPEG tile/);
    expectTiffError(() => spliceJpegTile(tables.subarray(2), tile), /Malformed JPEGTables/);
    expectTiffError(() => spliceJpegTile(tables.subarray(0, 40), tile), /Malformed JPEG/);
    expectTiffError(() => spliceJpegTile(Buffer.concat([tables.subarray(0, tables.length - 2), tile.subarray(2)]), tile), /Malformed JPEGTables/);
  });

  it('rgb: adds Adobe transform=0 so the components are not treated as YCbCr', async () => {
    // A YCbCr JPEG read as RGB yields its Y, Cb, Cr planes: proof decoders honour the marker.
    const ycc = withoutAppSegments(await jpegOf({ quality: 95, chromaSubsampling: '4:4:4' }));
    const rgb = (await raw(ycc)).data;
    const asRgb = (await raw(spliceJpegTile(undefined, ycc, { rgb: true }))).data;
    const expected = Buffer.alloc(rgb.length);
    for (let i = 0; i < rgb.length; i += 3) {
      const [r, g, b] = [rgb[i] ?? 0, rgb[i + 1] ?? 0, rgb[i + 2] ?? 0];
      expected[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      expected[i + 1] = Math.round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      expected[i + 2] = Math.round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
    expect(meanDiff(asRgb, expected)).toBeLessThan(2);
    expect(meanDiff(asRgb, rgb)).toBeGreaterThan(20);
  });

  it('rgb: adds no second APP14 when the tile already has one', async () => {
    const tile = spliceJpegTile(undefined, withoutAppSegments(await jpegOf({ quality: 90 })), { rgb: true });
    const again = spliceJpegTile(undefined, tile, { rgb: true });
    expect(again.length).toBe(tile.length);
  });
});

describe('spliceInPlace', () => {
  /** The tile behind `spliceHeadroom` bytes of garbage, as a reused buffer holds it. */
  const behindHeadroom = (tables: Uint8Array | undefined, tile: Uint8Array): Uint8Array => {
    const buffer = new Uint8Array(spliceHeadroom(tables) + tile.length).fill(0xa5);
    buffer.set(tile, spliceHeadroom(tables));
    return buffer;
  };

  it('gives the bytes spliceJpegTile gives, in the buffer that holds the tile', async () => {
    for (const [opts, channels] of [[{ quality: 80 }, 3], [{ quality: 95, chromaSubsampling: '4:4:4' }, 3], [{ quality: 75 }, 1]] as const) {
      const { tables, tile } = splitTables(await jpegOf(opts, channels));
      expect(spliceHeadroom(tables)).toBe(tables.length - 4);
      const buffer = behindHeadroom(tables, tile);
      const spliced = spliceInPlace(tables, buffer);
      expect(spliced).toBe(buffer);
      expect(Buffer.from(buffer).equals(Buffer.from(spliceJpegTile(tables, tile)))).toBe(true);
    }
  });

  it('needs no headroom without JPEGTables, and leaves such a tile as it is', async () => {
    const original = await jpegOf({ quality: 80 });
    expect(spliceHeadroom(undefined)).toBe(0);
    expect(spliceHeadroom(new Uint8Array(0))).toBe(0);
    const buffer = Uint8Array.from(original);
    expect(Buffer.from(spliceInPlace(undefined, buffer) ?? []).equals(original)).toBe(true);
  });

  it('rgb: in place when the tile has its APP14, undefined (and untouched) when it would need one added', async () => {
    const withApp14 = spliceJpegTile(undefined, withoutAppSegments(await jpegOf({ quality: 90 })), { rgb: true });
    // splitTables keeps APP segments with the tile, as libjpeg-written TIFF tiles have them.
    const { tables, tile } = splitTables(withApp14);
    const buffer = behindHeadroom(tables, tile);
    expect(Buffer.from(spliceInPlace(tables, buffer, { rgb: true }) ?? []).equals(Buffer.from(spliceJpegTile(tables, tile, { rgb: true })))).toBe(true);

    const bare = splitTables(withoutAppSegments(await jpegOf({ quality: 90 })));
    const untouched = behindHeadroom(bare.tables, bare.tile);
    const before = Buffer.from(untouched);
    expect(spliceInPlace(bare.tables, untouched, { rgb: true })).toBeUndefined();
    expect(Buffer.from(untouched).equals(before)).toBe(true);
  });

  it('rejects what spliceJpegTile rejects', async () => {
    const { tables, tile } = splitTables(await jpegOf({ quality: 80 }));
    expectTiffError(() => spliceInPlace(tables, behindHeadroom(tables, tile.subarray(2))), /Malformed JPEG tile/);
    expectTiffError(() => spliceInPlace(tables, behindHeadroom(tables, tile.subarray(0, tile.length - 2))), /Malformed JPEG tile/);
    expectTiffError(() => spliceHeadroom(tables.subarray(2)), /Malformed JPEGTables/);
  });
});

describe('jpegFrameSize / rewriteJpegFrameSize / cropJpeg', () => {
  it('reads the frame size of baseline and progressive JPEGs; rejects others', async () => {
    expect(jpegFrameSize(await jpegOf({ quality: 80 }))).toEqual({ width: W, height: H });
    expect(jpegFrameSize(await jpegOf({ quality: 80, progressive: true }))).toEqual({ width: W, height: H });
    const lossless = Buffer.from(await jpegOf({ quality: 80 }));
    lossless[lossless.indexOf(Buffer.from([0xff, 0xc0])) + 1] = 0xc3;
    expectTiffError(() => jpegFrameSize(lossless), /Unsupported JPEG frame/);
    expectTiffError(() => jpegFrameSize(Uint8Array.of(1, 2, 3)), /Malformed JPEG/);
    expectTiffError(() => jpegFrameSize(Uint8Array.of(0xff, 0xd8, 0xff, 0xd9)), /no frame header/);
  });

  it('rejects growing or empty sizes and never mutates its input', async () => {
    const jpeg = await jpegOf({ quality: 80 });
    const copy = Buffer.from(jpeg);
    expectTiffError(() => rewriteJpegFrameSize(jpeg, W + 1, H), /only shrink/);
    expectTiffError(() => rewriteJpegFrameSize(jpeg, 0, H), /Invalid JPEG size/);
    rewriteJpegFrameSize(jpeg, W, 50);
    rewriteJpegFrameSize(jpeg, 100, 50);
    expect(jpeg.equals(copy)).toBe(true);
  });

  it.each([
    { label: '4:2:0 colour', opts: { quality: 80 }, channels: 3 as const },
    { label: '4:4:4 colour', opts: { quality: 90, chromaSubsampling: '4:4:4' }, channels: 3 as const },
    { label: 'greyscale', opts: { quality: 85 }, channels: 1 as const },
  ])('$label: any crop decodes to the exact size with the same pixels', async ({ opts, channels }) => {
    const jpeg = await jpegOf(opts, channels);
    const grey = channels === 1;
    const full = await raw(jpeg, grey);
    // Height only, width inside the last MCU, and widths that drop whole MCU columns.
    for (const [w, h] of [[W, 123], [W - 3, H], [130, H], [97, 61], [8, 8], [1, 1]] as const) {
      const cut = rewriteJpegFrameSize(jpeg, w, h);
      expect(jpegFrameSize(cut)).toEqual({ width: w, height: h });
      const got = await raw(cut, grey);
      expect([got.info.width, got.info.height, got.info.channels]).toEqual([w, h, channels]);
      const want = topLeft(full.data, W, channels, w, h);
      expect(got.data.length).toBe(want.length);
      expect(meanDiff(got.data, want)).toBeLessThan(1);
    }
  });

  it('cropJpeg drops whole MCU rows too, and is smaller than its input', async () => {
    const jpeg = await jpegOf({ quality: 80 });
    const cut = cropJpeg(jpeg, 96, 64);
    expect(cut.length).toBeLessThan(jpeg.length / 2);
    expect((await raw(cut)).info).toMatchObject({ width: 96, height: 64 });
  });

  it('cropJpeg rejects progressive JPEGs, restart intervals and corrupt data', async () => {
    expectTiffError(() => cropJpeg(new Uint8Array(0), 1, 1), /Malformed JPEG/);
    const progressive = await jpegOf({ quality: 80, progressive: true });
    expectTiffError(() => cropJpeg(progressive, 100, 100), /Unsupported JPEG frame/);
    const baseline = await jpegOf({ quality: 80 });
    const withDri = Buffer.concat([baseline.subarray(0, 2), Buffer.from([0xff, 0xdd, 0, 4, 0, 16]), baseline.subarray(2)]);
    expectTiffError(() => cropJpeg(withDri, 100, 100), /restart interval/);
    const sos = baseline.indexOf(Buffer.from([0xff, 0xda]));
    const truncated = Buffer.concat([baseline.subarray(0, sos + 40), Buffer.from([0xff, 0xd9])]);
    expectTiffError(() => cropJpeg(truncated, 100, 100), /Truncated JPEG data|Malformed JPEG data/);
  });
});
