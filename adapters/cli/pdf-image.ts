import { inflateSync } from 'node:zlib';
import { PDFDict, PDFDocument, PDFName, PDFNumber, PDFRawStream } from 'pdf-lib';

/** What sharp can read of a PDF's image: JPEG bytes, or 8-bit pixels, inflated when asked. */
export type PdfImageInput = { jpeg: Uint8Array } | { width: number; height: number; channels: 1 | 3; pixels(): Uint8Array };

const CHANNELS: Record<string, 1 | 3> = { '/DeviceGray': 1, '/DeviceRGB': 3 };

/**
 * The first page's first image, as IIIF servers write one-image PDFs (ours: a JPEG, or a
 * two-colour image, Flate-compressed 8-bit RGB, for bitonal): what `compare` decodes.
 */
export async function pdfImage(pdf: Uint8Array): Promise<PdfImageInput | undefined> {
  const doc = await PDFDocument.load(pdf, { updateMetadata: false });
  if (doc.getPageCount() === 0) return undefined;
  const xobjects = doc.getPage(0).node.Resources()?.lookup(PDFName.of('XObject'), PDFDict);
  for (const key of xobjects?.keys() ?? []) {
    const stream = xobjects?.lookup(key);
    if (!(stream instanceof PDFRawStream)) continue;
    const filter = stream.dict.get(PDFName.of('Filter'));
    if (filter === PDFName.of('DCTDecode')) return { jpeg: stream.contents };
    const channels = CHANNELS[String(stream.dict.get(PDFName.of('ColorSpace')))];
    const number = (name: string) => stream.dict.lookup(PDFName.of(name), PDFNumber).asNumber();
    if (filter === PDFName.of('FlateDecode') && channels && number('BitsPerComponent') === 8) {
      const [width, height] = [number('Width'), number('Height')];
      // The caller checks the size first; inflating stops at what the image says it holds.
      const pixels = () => inflateSync(stream.contents, { maxOutputLength: Math.max(1, width * height * channels) });
      return { width, height, channels, pixels };
    }
  }
  return undefined;
}
