import { PDFDict, PDFDocument, PDFName, PDFRawStream } from 'pdf-lib';

/** PDF user space units per inch. */
const POINTS_PER_INCH = 72;

/**
 * A one-page PDF holding a rendered JPEG as its only content, the page exactly the image:
 * at `density` dots per inch when set, else one point per pixel. No dates or producer, so
 * the same render gives the same bytes.
 */
export async function jpegPdf(jpeg: Uint8Array, width: number, height: number, density?: number): Promise<Uint8Array<ArrayBuffer>> {
  const pdf = await PDFDocument.create({ updateMetadata: false });
  const image = await pdf.embedJpg(jpeg);
  const scale = density ? POINTS_PER_INCH / density : 1;
  const page = pdf.addPage([width * scale, height * scale]);
  page.drawImage(image, { x: 0, y: 0, width: width * scale, height: height * scale });
  const bytes = await pdf.save();
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Uint8Array<ArrayBuffer>;
}

/** The JPEG bytes of the first page's first DCTDecode image (what `jpegPdf` writes), or undefined. */
export async function pdfJpeg(pdf: Uint8Array): Promise<Uint8Array | undefined> {
  const doc = await PDFDocument.load(pdf, { updateMetadata: false });
  if (doc.getPageCount() === 0) return undefined;
  const xobjects = doc.getPage(0).node.Resources()?.lookup(PDFName.of('XObject'), PDFDict);
  for (const key of xobjects?.keys() ?? []) {
    const stream = xobjects?.lookup(key);
    if (stream instanceof PDFRawStream && stream.dict.get(PDFName.of('Filter')) === PDFName.of('DCTDecode')) return stream.contents;
  }
  return undefined;
}
