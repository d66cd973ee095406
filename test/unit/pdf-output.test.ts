import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { type Env, loadConfig } from '../../src/config.ts';
import { sharpRendererFromConfig } from '../../src/renderers/sharp-renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { GRID, gridColour, makeFixtures } from '../fixtures/images.ts';
import { jp2Image, pdfPage } from '../helpers/output-image.ts';
import { PDFDict, PDFDocument, PDFName, PDFNumber, PDFRawStream } from 'pdf-lib';
import { pdfImage } from '../../adapters/cli/pdf-image.ts';
import { pdfPageSize } from '../../src/renderers/pdf-page.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-outputs-'));
  await writeFile(join(root, 'grid.png'), (await makeFixtures())['grid.png']!);
});
afterAll(() => rm(root, { recursive: true, force: true }));

function app(env: Env = {}) {
  const config = loadConfig({ IIIF_ROOT: root, ...env });
  return createApp({ config, source: fsSource({ root }), renderer: sharpRendererFromConfig(config) });
}

async function get(path: string, env?: Env) {
  const res = await app(env).request(path);
  return { res, body: new Uint8Array(await res.arrayBuffer()) };
}

/** Colours at cell centres of the 300×200 grid, scaled into a w×h rendering of the region at (rx, ry). */
function expectGrid(data: Buffer, width: number, channels: number, region: { x: number; y: number; w: number; h: number }, out: { w: number; h: number }, tolerance: number) {
  for (let sy = region.y + 25; sy < region.y + region.h; sy += 50) {
    for (let sx = region.x + 25; sx < region.x + region.w; sx += 50) {
      const x = Math.floor(((sx - region.x) * out.w) / region.w);
      const y = Math.floor(((sy - region.y) * out.h) / region.h);
      const at = (y * width + x) * channels;
      const want = gridColour(sx, sy);
      for (let c = 0; c < 3; c++) expect(Math.abs(data[at + c]! - want[c]!), `(${sx},${sy}) channel ${c}`).toBeLessThanOrEqual(tolerance);
    }
  }
}

describe('pdf output', () => {
  it('is one page, one point per pixel, holding the rendered JPEG with the grid colours', async () => {
    const { res, body } = await get('/iiif/3/grid.png/50,0,200,200/100,/0/default.pdf');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(new TextDecoder().decode(body.subarray(0, 5))).toBe('%PDF-');
    const page = await pdfPage(body);
    expect([page.width, page.height, page.imageWidth, page.imageHeight]).toEqual([100, 100, 100, 100]);
    const { data, info } = await sharp(page.jpeg).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([100, 100, 3]);
    expectGrid(data, 100, 3, { x: 50, y: 0, w: 200, h: 200 }, { w: 100, h: 100 }, 12);
  });

  it('sizes the page by IIIF_DENSITY (300 dpi: 300 px is one inch, 72 points)', async () => {
    const page = await pdfPage((await get('/iiif/3/grid.png/full/max/0/default.pdf', { IIIF_DENSITY: '300' })).body);
    expect([page.width, page.height]).toEqual([72, 48]);
    expect([page.imageWidth, page.imageHeight]).toEqual([GRID.width, GRID.height]);
  });

  it('gray quality embeds a one-channel JPEG', async () => {
    const page = await pdfPage((await get('/iiif/3/grid.png/full/max/0/gray.pdf')).body);
    expect((await sharp(page.jpeg).metadata()).channels).toBe(1);
  });

  it('bitonal quality embeds black and white only (a JPEG put greys at every edge)', async () => {
    const { res, body } = await get('/iiif/3/grid.png/full/max/0/bitonal.pdf');
    expect(res.status).toBe(200);
    const doc = await PDFDocument.load(body);
    const xobjects = doc.getPage(0).node.Resources()?.lookup(PDFName.of('XObject'), PDFDict);
    const [image] = (xobjects?.keys() ?? []).map((k) => xobjects!.lookup(k)).filter((o): o is PDFRawStream => o instanceof PDFRawStream);
    expect(image?.dict.get(PDFName.of('Filter'))).toBe(PDFName.of('FlateDecode'));
    // What any PDF reader does with it (compare's reader rebuilds the PNG it holds), against the PNG of the same request.
    const held = await pdfImage(body);
    if (!held || !('encoded' in held)) throw new Error('no encoded image in the pdf');
    const fromPdf = await sharp(held.encoded).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect([fromPdf.info.width, fromPdf.info.height]).toEqual([GRID.width, GRID.height]);
    expect([...new Set(fromPdf.data)].sort((a, b) => a - b)).toEqual([0, 255]);
    const pngBody = (await get('/iiif/3/grid.png/full/max/0/bitonal.png')).body;
    const asPng = await sharp(pngBody).toColourspace('b-w').raw().toBuffer();
    expect(Buffer.compare(fromPdf.data, asPng)).toBe(0);
    // The PNG's compressed rows as they are: nothing decoded or compressed again in JavaScript
    // (pdf-lib's embedPng took 7 s and 118 MB for 25 Mpx).
    const idat: Buffer[] = [];
    const png = Buffer.from(pngBody);
    for (let at = 8; at < png.length; at += 12 + png.readUInt32BE(at)) {
      if (png.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + png.readUInt32BE(at)));
    }
    expect(Buffer.compare(Buffer.from(image!.contents), Buffer.concat(idat))).toBe(0);
  });

  it('keeps the page within 3 to 14,400 units a side (ISO 32000-1 Annex C), with a UserUnit past it', async () => {
    // 300 px at 1 dpi: 21,600 points wide.
    const wide = await PDFDocument.load((await get('/iiif/3/grid.png/full/max/0/default.pdf', { IIIF_DENSITY: '1' })).body);
    const page = wide.getPage(0);
    expect(page.getSize()).toEqual({ width: 14_400, height: 9_600 });
    expect(page.node.lookup(PDFName.of('UserUnit'), PDFNumber).asNumber()).toBe(1.5);
    // 1 px at 300 dpi would be 0.24 points.
    const tiny = await PDFDocument.load((await get('/iiif/3/grid.png/0,0,2,1/2,1/0/default.pdf', { IIIF_DENSITY: '300' })).body);
    expect(tiny.getPage(0).getSize()).toEqual({ width: 6, height: 3 });
    expect(pdfPageSize(300, 200)).toEqual({ width: 300, height: 200, userUnit: 1 });
  });

  it('gives the same bytes for the same request (no dates), so caches and ETags agree', async () => {
    const first = await get('/iiif/3/grid.png/full/150,/0/default.pdf');
    expect(first.res.status).toBe(200);
    const b = (await get('/iiif/3/grid.png/full/150,/0/default.pdf')).body;
    expect(Buffer.from(first.body).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(first.body).toString('latin1')).not.toMatch(/CreationDate|ModDate/);
  });
});

describe('jp2 output', () => {
  it('decodes to the requested size and the grid colours (lossy, at most 1/10 of the raw bytes)', async () => {
    const { res, body } = await get('/iiif/3/grid.png/full/max/0/default.jp2');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jp2');
    expect(body.length).toBeLessThanOrEqual((GRID.width * GRID.height * 3) / 10 + 1024);
    const { data, info } = await (await jp2Image(body)).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([300, 200, 3]);
    expectGrid(data, 300, 3, { x: 0, y: 0, w: 300, h: 200 }, { w: 300, h: 200 }, 12);
    // Against the PNG of the same request: small mean difference for a 10:1 rate.
    const png = await sharp((await get('/iiif/3/grid.png/full/max/0/default.png')).body).raw().toBuffer();
    let sum = 0;
    for (let i = 0; i < png.length; i++) sum += Math.abs(png[i]! - data[i]!);
    expect(sum / png.length).toBeLessThan(3);
  });

  it('keeps alpha where rotation leaves transparent corners', async () => {
    const { data, info } = await (await jp2Image((await get('/iiif/3/grid.png/full/100,/45/default.jp2')).body))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(4);
    expect(data[3]).toBe(0);
    const centre = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * 4;
    expect(data[centre + 3]).toBeGreaterThan(250);
  });

  it('refuses an output over IIIF_JP2_MAX_OUTPUT_PIXELS with a one-line 400, other formats unaffected', async () => {
    // 200, is 200×133 pixels, 201, is 201×134.
    const env = { IIIF_JP2_MAX_OUTPUT_PIXELS: String(200 * 134) };
    const under = await get('/iiif/3/grid.png/full/200,/0/default.jp2', env);
    expect(under.res.status).toBe(200);
    const over = await get('/iiif/3/grid.png/full/201,/0/default.jp2', env);
    expect(over.res.status).toBe(400);
    const error = JSON.parse(new TextDecoder().decode(over.body)) as { error: string; message: string };
    expect(error.error).toBe('over_limit');
    expect(error.message).toMatch(/IIIF_JP2_MAX_OUTPUT_PIXELS/);
    expect((await get('/iiif/3/grid.png/full/201,/0/default.png', env)).res.status).toBe(200);
    // The refusal is arithmetic on the request: HEAD gets it too, and neither carries the image's validators.
    const head = await app(env).request('/iiif/3/grid.png/full/201,/0/default.jp2', { method: 'HEAD' });
    expect(head.status).toBe(400);
    for (const res of [over.res, head]) {
      for (const name of ['etag', 'last-modified', 'link']) expect(res.headers.get(name), name).toBeNull();
    }
  });

  it("refuses an output side past its encoder's limit with a 400 before any read, on GET and HEAD", async () => {
    // libwebp writes at most 16383 pixels a side, libheif (AVIF) 16384, libjpeg 65500.
    const env = { IIIF_MAX_WIDTH: '70000', IIIF_MAX_HEIGHT: '70000', IIIF_MAX_AREA: '5000000000' };
    const cases: Array<[string, number]> = [
      ['full/^16383,/0/default.webp', 200], ['full/^16384,/0/default.webp', 400],
      ['full/^16385,/0/default.avif', 400], ['full/^65501,/0/default.jpg', 400], ['full/^65501,/0/default.pdf', 400],
    ];
    for (const [path, status] of cases) {
      for (const method of status === 200 ? ['HEAD'] : ['GET', 'HEAD']) {
        const res = await app(env).request(`/iiif/3/grid.png/${path}`, { method });
        expect(res.status, `${method} ${path}`).toBe(status);
        if (status === 400 && method === 'GET') expect(((await res.json()) as { error: string }).error).toBe('over_limit');
      }
    }
  });

  it('shrinks max and !w,h to IIIF_JP2_MAX_OUTPUT_PIXELS, as max shrinks to maxArea (IIIF 3.0 §4.2)', async () => {
    const env = { IIIF_JP2_MAX_OUTPUT_PIXELS: '10000' };
    for (const size of ['max', '!300,300']) {
      const { res, body } = await get(`/iiif/3/grid.png/full/${size}/0/default.jp2`, env);
      expect(res.status, size).toBe(200);
      const { info } = await (await jp2Image(body)).toBuffer({ resolveWithObject: true });
      // 300×200 in at most 10,000 pixels, aspect kept.
      expect(info.width * info.height, size).toBeLessThanOrEqual(10_000);
      expect(Math.abs(info.width / info.height - 1.5), size).toBeLessThan(0.02);
      expect(info.width, size).toBeGreaterThanOrEqual(120);
    }
    // Other formats keep the full size.
    expect((await get('/iiif/3/grid.png/full/max/0/default.png', env)).res.status).toBe(200);
  });

  it('is advertised with pdf in info.json', async () => {
    const info = (await (await app().request('/iiif/3/grid.png/info.json')).json()) as { extraFormats: string[] };
    expect(info.extraFormats).toEqual(expect.arrayContaining(['jp2', 'pdf']));
  });
});

describe('gif and avif output, whose encoders run past the render deadline', () => {
  it('max and !w,h shrink to IIIF_GIF_MAX_OUTPUT_PIXELS and IIIF_AVIF_MAX_OUTPUT_PIXELS (1024² by default); a larger explicit size is a 400 naming the setting', async () => {
    // 1500×1000 is over the default 1,048,576: libvips' GIF quantiser and libheif ignore sharp's
    // timeout, at up to 4.9 and 3.1 s per megapixel here, so 25 megapixels held a render slot for minutes.
    await writeFile(join(root, 'wide.png'), await sharp({ create: { width: 1500, height: 1000, channels: 3, background: '#2060a0' } }).png().toBuffer());
    for (const format of ['gif', 'avif']) {
      for (const size of ['max', '!1500,1500']) {
        const { res, body } = await get(`/iiif/3/wide.png/full/${size}/0/default.${format}`);
        expect(res.status, `${format} ${size}`).toBe(200);
        const { width = 0, height = 0 } = await sharp(body).metadata();
        expect(width * height, `${format} ${size}`).toBeLessThanOrEqual(1024 * 1024);
        expect(width, `${format} ${size}`).toBeGreaterThanOrEqual(1250);
        expect(Math.abs(width / height - 1.5), `${format} ${size}`).toBeLessThan(0.01);
      }
      const over = await get(`/iiif/3/wide.png/full/1500,/0/default.${format}`);
      expect(over.res.status, format).toBe(400);
      const error = JSON.parse(new TextDecoder().decode(over.body)) as { error: string; message: string };
      expect(error).toEqual({ status: 400, error: 'over_limit', message: `${format} output is limited to 1048576 pixels (IIIF_${format.toUpperCase()}_MAX_OUTPUT_PIXELS); ask for a smaller size` });
      // The setting moves the bound; other formats keep the full size.
      const setting = { [`IIIF_${format.toUpperCase()}_MAX_OUTPUT_PIXELS`]: '1500000' };
      expect((await get(`/iiif/3/wide.png/full/1500,/0/default.${format}`, setting)).res.status, format).toBe(200);
    }
    const png = await get('/iiif/3/wide.png/full/max/0/default.png');
    expect(await sharp(png.body).metadata()).toMatchObject({ width: 1500, height: 1000 });
  }, 60_000);
});
