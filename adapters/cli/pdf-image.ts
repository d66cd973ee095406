import { crc32, inflateSync } from 'node:zlib';
import { PDFArray, PDFDict, PDFDocument, PDFHexString, PDFName, PDFNumber, PDFRawStream, PDFString } from 'pdf-lib';

/** What sharp can read of a PDF's image: encoded bytes (JPEG, PNG), or 8-bit pixels inflated when asked. */
export type PdfImageInput = { encoded: Uint8Array } | { width: number; height: number; channels: 1 | 3; pixels(): Uint8Array };

/** PNG colour type by PDF colour space. */
const PNG_COLOUR: Record<string, number> = { '/DeviceGray': 0, '/DeviceRGB': 2, '/Indexed': 3 };

/**
 * The first page's first image, as IIIF servers write one-image PDFs (ours: a JPEG, or for
 * bitonal a palette PNG's rows under the PNG predictor): what `compare` decodes.
 */
export async function pdfImage(pdf: Uint8Array): Promise<PdfImageInput | undefined> {
  const doc = await PDFDocument.load(pdf, { updateMetadata: false });
  if (doc.getPageCount() === 0) return undefined;
  const xobjects = doc.getPage(0).node.Resources()?.lookup(PDFName.of('XObject'), PDFDict);
  for (const key of xobjects?.keys() ?? []) {
    const stream = xobjects?.lookup(key);
    if (!(stream instanceof PDFRawStream)) continue;
    const { dict, contents } = stream;
    const filter = dict.get(PDFName.of('Filter'));
    if (filter === PDFName.of('DCTDecode')) return { encoded: contents };
    if (filter !== PDFName.of('FlateDecode')) continue;
    const number = (name: string) => dict.lookup(PDFName.of(name), PDFNumber).asNumber();
    const [width, height, depth] = [number('Width'), number('Height'), number('BitsPerComponent')];
    const space = dict.get(PDFName.of('ColorSpace'));
    const indexed = space instanceof PDFArray ? space : undefined;
    const colour = PNG_COLOUR[String(indexed ? indexed.get(0) : space)];
    if (colour === undefined) continue;
    const predictor = dict.lookupMaybe(PDFName.of('DecodeParms'), PDFDict)?.lookupMaybe(PDFName.of('Predictor'), PDFNumber)?.asNumber() ?? 1;
    if (predictor >= 10) {
      const lookup = indexed?.get(3);
      const palette = lookup instanceof PDFHexString || lookup instanceof PDFString ? lookup.asBytes() : undefined;
      return { encoded: png(width, height, depth, colour, contents, palette) };
    }
    if (depth === 8 && colour !== 3) {
      const channels = colour === 0 ? 1 : 3;
      // The caller checks the size first; inflating stops at what the image says it holds.
      return { width, height, channels, pixels: () => inflateSync(contents, { maxOutputLength: Math.max(1, width * height * channels) }) };
    }
  }
  return undefined;
}

/** A PNG around rows as PDF's PNG predictor holds them: the same bytes as a PNG's IDAT. */
export function png(width: number, height: number, depth: number, colour: number, rows: Uint8Array, palette?: Uint8Array): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const header = new Uint8Array(13);
  new DataView(header.buffer).setUint32(0, width);
  new DataView(header.buffer).setUint32(4, height);
  header.set([depth, colour, 0, 0, 0], 8);
  const parts = [Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), chunk('IHDR', header), ...(palette ? [chunk('PLTE', palette)] : []), chunk('IDAT', rows), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}
