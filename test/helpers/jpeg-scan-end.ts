import { readFrame } from '../../src/tiff/jpeg-crop.ts';
import { BitReader } from '../../src/tiff/jpeg-huffman.ts';

/**
 * Bits of entropy-coded data left once every MCU the frame declares is decoded (baseline,
 * one interleaved scan): at most 7, the padding to a byte (ITU T.81 F.1.2.3); more are data a
 * decoder stops before ("extraneous bytes before marker"), which strict decoders refuse.
 */
export function bitsAfterLastMcu(jpeg: Uint8Array): number {
  const f = readFrame(jpeg);
  const many = f.components.length > 1;
  const mcuW = many ? 8 * Math.max(...f.components.map((c) => c.h)) : 8;
  const mcuH = many ? 8 * Math.max(...f.components.map((c) => c.v)) : 8;
  const r = new BitReader(jpeg, f.dataStart);
  const mcus = Math.ceil(f.width / mcuW) * Math.ceil(f.height / mcuH);
  for (let m = 0; m < mcus; m++) {
    for (const c of f.components) {
      for (let b = many ? c.h * c.v : 1; b > 0; b--) {
        r.bits(r.decode(c.dc));
        for (let k = 1; k < 64; k++) {
          const rs = r.decode(c.ac);
          if ((rs & 15) === 0) {
            if (rs >> 4 !== 15) break;
            k += 15;
            continue;
          }
          k += rs >> 4;
          r.bits(rs & 15);
        }
      }
    }
  }
  return r.size - r.pos;
}
