import { PDFDocument } from 'pdf-lib';

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
