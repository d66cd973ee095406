import {
  concatTransformationMatrix,
  drawObject,
  PDFDocument,
  PDFHexString,
  PDFName,
  PDFNumber,
  popGraphicsState,
  pushGraphicsState,
} from 'pdf-lib';

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
 * A one-page PDF holding a rendered image as its only content, the page exactly the image: a
 * JPEG, or for bitonal output a PNG (a JPEG would put greys at every edge). No dates or
 * producer, so the same render gives the same bytes.
 */
export async function imagePdf(image: Uint8Array, kind: 'jpeg' | 'png', width: number, height: number, density?: number): Promise<Uint8Array<ArrayBuffer>> {
  const pdf = await PDFDocument.create({ updateMetadata: false });
  const size = pdfPageSize(width, height, density);
  const page = pdf.addPage([size.width, size.height]);
  if (size.userUnit !== 1) page.node.set(PDFName.of('UserUnit'), PDFNumber.of(size.userUnit));
  if (kind === 'jpeg') {
    page.drawImage(await pdf.embedJpg(image), { x: 0, y: 0, width: size.width, height: size.height });
  } else {
    const name = page.node.newXObject('Image', pdf.context.register(pngXObject(pdf, image)));
    page.pushOperators(pushGraphicsState(), concatTransformationMatrix(size.width, 0, 0, size.height, 0, 0), drawObject(name), popGraphicsState());
  }
  const bytes = await pdf.save();
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Uint8Array<ArrayBuffer>;
}

/**
 * A palette or grey PNG (what libvips writes for two colours) as an image XObject holding the
 * PNG's own compressed rows: PDF's Flate filter with the PNG predictor reads them as they are.
 * pdf-lib's embedPng would decode and re-compress them in JavaScript: 7 s and 118 MB for 25 Mpx.
 */
function pngXObject(pdf: PDFDocument, png: Uint8Array) {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const idat: Uint8Array[] = [];
  let header: { width: number; height: number; depth: number; colour: number; interlace: number } | undefined;
  let palette: Uint8Array | undefined;
  for (let at = 8; at + 8 <= png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') header = { width: view.getUint32(at + 8), height: view.getUint32(at + 12), depth: data[8]!, colour: data[9]!, interlace: data[12]! };
    else if (type === 'PLTE') palette = data;
    else if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  if (!header || header.interlace !== 0 || (header.colour !== 0 && !(header.colour === 3 && palette))) {
    throw new Error('a bitonal PDF needs a non-interlaced grey or palette PNG');
  }
  const rows = new Uint8Array(idat.reduce((n, d) => n + d.length, 0));
  idat.reduce((at, d) => (rows.set(d, at), at + d.length), 0);
  const colourSpace = palette
    ? [PDFName.of('Indexed'), PDFName.of('DeviceRGB'), palette.length / 3 - 1, PDFHexString.of(Array.from(palette, (b) => b.toString(16).padStart(2, '0')).join(''))]
    : PDFName.of('DeviceGray');
  return pdf.context.stream(rows, {
    Type: 'XObject',
    Subtype: 'Image',
    Width: header.width,
    Height: header.height,
    BitsPerComponent: header.depth,
    ColorSpace: colourSpace,
    Filter: 'FlateDecode',
    DecodeParms: { Predictor: 15, Colors: 1, BitsPerComponent: header.depth, Columns: header.width },
  });
}
