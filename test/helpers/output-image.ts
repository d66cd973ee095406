/**
 * jp2 and pdf responses opened for pixel checks: jp2 decoded by our OpenJPEG build (sharp's
 * libvips has no JPEG 2000), pdf parsed by pdf-lib down to the JPEG its one page draws.
 */
import { readFile } from 'node:fs/promises';
import { PDFDict, PDFDocument, PDFName, PDFNumber, PDFRawStream } from 'pdf-lib';
import sharp, { type Sharp } from 'sharp';
import { type Jp2Codec, loadJp2Codec } from '../../src/jp2/codec.ts';

let codec: Promise<Jp2Codec> | undefined;
export const testJp2Codec = () => (codec ??= readFile(new URL('../../vendor/openjpeg/openjpeg.wasm', import.meta.url)).then(loadJp2Codec));

const JP2_SIGNATURE = [0, 0, 0, 12, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a];

export async function jp2Image(body: Uint8Array): Promise<Sharp> {
  if (!JP2_SIGNATURE.every((b, i) => body[i] === b)) throw new Error('not a JP2 file (no signature box)');
  const { data, width, height, channels } = (await testJp2Codec()).decode(body, { reduce: 0, maxBytes: 1 << 30 });
  return sharp(data, { raw: { width, height, channels } });
}

export interface PdfPage {
  /** Page size in points. */
  width: number;
  height: number;
  /** The image XObject's declared pixel size and its DCT (JPEG) stream. */
  imageWidth: number;
  imageHeight: number;
  jpeg: Uint8Array;
}

/** The single page of a PDF and the single JPEG it holds; anything else is an error. */
export async function pdfPage(body: Uint8Array): Promise<PdfPage> {
  const doc = await PDFDocument.load(body);
  if (doc.getPageCount() !== 1) throw new Error(`expected one page, got ${doc.getPageCount()}`);
  const page = doc.getPage(0);
  const xobjects = page.node.Resources()?.lookup(PDFName.of('XObject'), PDFDict);
  const images = (xobjects?.keys() ?? []).map((k) => xobjects!.lookup(k)).filter((o) => o instanceof PDFRawStream);
  if (images.length !== 1) throw new Error(`expected one image on the page, got ${images.length}`);
  const image = images[0] as PDFRawStream;
  if (image.dict.get(PDFName.of('Filter')) !== PDFName.of('DCTDecode')) throw new Error('the image is not a JPEG (DCTDecode)');
  const size = (key: string) => image.dict.lookup(PDFName.of(key), PDFNumber).asNumber();
  return { ...page.getSize(), imageWidth: size('Width'), imageHeight: size('Height'), jpeg: image.contents };
}

export async function pdfImage(body: Uint8Array): Promise<Sharp> {
  return sharp((await pdfPage(body)).jpeg);
}
