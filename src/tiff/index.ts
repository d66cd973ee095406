/** Runtime-agnostic TIFF/BigTIFF structure reader and JPEG tile pass-through. */
export { TiffError, isTiffError } from './errors.ts';
export { type BlockReader, type BlockReaderOptions, type RangeRead, createBlockReader } from './range.ts';
export { readTiffStructure } from './structure.ts';
export { isTiff, undecodableCompression } from './tags.ts';
export { isPassThroughJpeg, pyramidLevels, spliceOptionsFor } from './levels.ts';
export { type TileLocation, readTileLocation, readTileLocations } from './tile-location.ts';
export { MAX_TABLE_ENTRIES, type TileTables, readTileTables, tileFromTables } from './tile-tables.ts';
export { type SpliceOptions, spliceHeadroom, spliceInPlace, spliceJpegTile } from './jpeg-splice.ts';
export { frameIs, jpegFrameSize, rewriteJpegFrameSize } from './jpeg-frame.ts';
export { cropJpeg } from './jpeg-crop.ts';
export { MAX_TILE_ICC_BYTES, readIccProfile, withIccProfile } from './jpeg-icc.ts';
export { extendJpeg, lastLineJpeg } from './jpeg-extend.ts';
export type { TiffArray, TiffImage, TiffLevel, TiffStructure } from './types.ts';
export { type TileGrid, buildTileSubset, canSubsetTiles, coveringGrid } from './tile-subset.ts';
