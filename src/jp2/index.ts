export { isJpeg2000 } from './boxes.ts';
export type { Siz, TilePart } from './codestream.ts';
export { Jp2Error } from './errors.ts';
export { decodedChannels, jp2Geometry, reducedSize } from './geometry.ts';
export type { RangeRead } from './reader.ts';
export { type Jp2Structure, readJp2Structure } from './structure.ts';
