/** Where an array of tile/strip offsets or byte counts lives in the file; read lazily. */
export interface TiffArray {
  /** File offset of the first value (inside the IFD entry when the values fit there). */
  offset: number;
  count: number;
  /** Field type: 3 SHORT, 4 LONG, 16 LONG8. */
  type: number;
}

/** One image file directory (IFD), without its pixel data. */
export interface TiffImage {
  ifdOffset: number;
  width: number;
  height: number;
  /** False for strips: then tileWidth is the width and tileHeight the rows per strip. */
  tiled: boolean;
  tileWidth: number;
  tileHeight: number;
  /** Tile (or strip) grid of one sample plane. */
  columns: number;
  rows: number;
  /** RowsPerStrip as stored, for striped images. */
  rowsPerStrip?: number;
  compression: number;
  photometric?: number;
  samplesPerPixel: number;
  bitsPerSample: number[];
  planarConfiguration: number;
  newSubfileType: number;
  orientation: number;
  /** Tags 317, 338 and 339 when present: needed to decode the stored tiles on their own. */
  predictor?: number;
  extraSamples?: number[];
  sampleFormat?: number[];
  /** Tag 530 when present (YCbCr JPEG tiles; libtiff assumes 2,2 without it). */
  ycbcrSubsampling?: number[];
  /** Tag 347: abbreviated JPEG stream holding the shared DQT/DHT tables. */
  jpegTables?: Uint8Array;
  /** Tag 34675: where the ICC profile lies in the file (read when a stored tile needs it). */
  iccProfile?: { offset: number; length: number };
  /** TileOffsets/TileByteCounts, or StripOffsets/StripByteCounts. */
  offsets: TiffArray;
  byteCounts: TiffArray;
  /** Images reached through this IFD's SubIFDs tag (330), in order. */
  subImages: TiffImage[];
}

export interface TiffStructure {
  littleEndian: boolean;
  bigTiff: boolean;
  /** File size in bytes. */
  size: number;
  /** The main IFD chain, in file order. */
  images: TiffImage[];
}

/** One resolution level of the main image, with what tile reads need. */
export interface TiffLevel extends TiffImage {
  /** 0 is the full image; each next level is smaller. */
  level: number;
  littleEndian: boolean;
  fileSize: number;
}
