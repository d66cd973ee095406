import { PDFDocument, PDFName, PDFNumber } from 'pdf-lib';

/** PDF user space units per inch. */
const POINTS_PER_INCH = 72;
/** ISO 32000-1 Annex C: page sides of 3 to 14,400 units; UserUnit (PDF 1.6) makes a unit larger. */
const MIN_SIDE = 3;
const MAX_SIDE = 14_400;

export interface PdfPageSize {
  width: number;
  height: number;
  /** Points per unit: 1 unless the page would be wider or taller than MAX_SIDE points. */
  userUnit: number;
}

/**
 * The page for a `width`×`height` image: at `density` dots per inch when set, else a point per
 * pixel, kept within 3–14,400 units a side as far as the image's shape allows: a smaller page
 * grows (viewers refuse one under 3 units), a larger one takes a UserUnit.
 */
export function pdfPageSize(width: number, height: number, density?: number): PdfPageSize {
  const scale = density ? POINTS_PER_INCH / density : 1;
  const grow = Math.max(1, MIN_SIDE / (Math.min(width, height) * scale));
  const [w, h] = [width * scale * grow, height * scale * grow];
  const userUnit = Math.max(1, Math.max(w, h) / MAX_SIDE);
  return { width: w / userUnit, height: h / userUnit, userUnit };
}

/**
 * A one-page PDF holding a rendered image (JPEG, or PNG for bitonal output, which JPEG would
 * blur into greys) as its only content, the page exactly the image. No dates or producer, so
 * the same render gives the same bytes.
 */
export async function imagePdf(image: Uint8Array, kind: 'jpeg' | 'png', width: number, height: number, density?: number): Promise<Uint8Array<ArrayBuffer>> {
  const pdf = await PDFDocument.create({ updateMetadata: false });
  const embedded = kind === 'png' ? await pdf.embedPng(image) : await pdf.embedJpg(image);
  const size = pdfPageSize(width, height, density);
  const page = pdf.addPage([size.width, size.height]);
  if (size.userUnit !== 1) page.node.set(PDFName.of('UserUnit'), PDFNumber.of(size.userUnit));
  page.drawImage(embedded, { x: 0, y: 0, width: size.width, height: size.height });
  const bytes = await pdf.save();
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Uint8Array<ArrayBuffer>;
}
