/** TIFF 6.0 / BigTIFF tag numbers and field types this reader uses. */

export const Tag = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  StripOffsets: 273,
  Orientation: 274,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  PlanarConfiguration: 284,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SubIFDs: 330,
  ExtraSamples: 338,
  SampleFormat: 339,
  JPEGTables: 347,
  YCbCrSubsampling: 530,
  InterColorProfile: 34675,
} as const;

export const Compression = { Jpeg: 7 } as const;

/**
 * Compressions sharp's libtiff is built without: libvips reads their tiles as black with only a
 * warning (measured for LZMA, ZSTD, JBIG and LERC), so such a file is refused instead.
 */
const UNDECODABLE: Record<number, string> = {
  34925: 'LZMA', 50000: 'ZSTD', 34661: 'JBIG', 34887: 'LERC', 33003: 'JPEG 2000', 33005: 'JPEG 2000', 34712: 'JPEG 2000', 50002: 'JPEG XL',
};

/** The name of the first compression among `images` that libvips here cannot decode. */
export const undecodableCompression = (images: Array<{ compression: number }>): string | undefined =>
  images.map((i) => UNDECODABLE[i.compression]).find((name) => name !== undefined);

export const Photometric = { MinIsBlack: 1, Rgb: 2, YCbCr: 6 } as const;

/** NewSubfileType bits. */
export const SubfileType = { ReducedImage: 1, Page: 2, Mask: 4 } as const;

/** Byte size of one value of each field type (TIFF 6.0 §2, BigTIFF adds 16–18). */
const FIELD_TYPE_SIZE: Record<number, number> = {
  1: 1, // BYTE
  2: 1, // ASCII
  3: 2, // SHORT
  4: 4, // LONG
  5: 8, // RATIONAL
  6: 1, // SBYTE
  7: 1, // UNDEFINED
  8: 2, // SSHORT
  9: 4, // SLONG
  10: 8, // SRATIONAL
  11: 4, // FLOAT
  12: 8, // DOUBLE
  13: 4, // IFD
  16: 8, // LONG8
  17: 8, // SLONG8
  18: 8, // IFD8
};

export const fieldTypeSize = (type: number): number | undefined => FIELD_TYPE_SIZE[type];

/** Field types that hold unsigned integers (offsets, counts, sizes). */
export const isUnsignedIntType = (type: number): boolean =>
  type === 1 || type === 3 || type === 4 || type === 13 || type === 16 || type === 18;

/** TIFF or BigTIFF: `II` or `MM`, then 42 or 43 in that byte order. */
export const isTiff = (b: Uint8Array): boolean =>
  b.length >= 4 &&
  ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0) ||
    (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43)));
