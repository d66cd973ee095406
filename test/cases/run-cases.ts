import sharp from 'sharp';
import { expect, it } from 'vitest';
import { jp2Image, pdfImage } from '../helpers/output-image.ts';
import type { IiifCase, PixelCheck } from './iiif-cases.ts';

export type Fetcher = (path: string, init: RequestInit) => Promise<Response>;

/** Registers one vitest `it` per case, each talking HTTP through `fetcher`. */
export function runCases(fetcher: Fetcher, cases: readonly IiifCase[]): void {
  for (const testCase of cases) {
    it(`${testCase.method ?? 'GET'} ${testCase.path} — ${testCase.name}`, async () => {
      await checkCase(fetcher, testCase);
    });
  }
}

export async function checkCase(fetcher: Fetcher, c: IiifCase): Promise<void> {
  const res = await fetcher(c.path, { method: c.method ?? 'GET', headers: c.headers ?? {}, redirect: 'manual' });
  const body = new Uint8Array(await res.arrayBuffer());
  const context = `${c.path}: ${new TextDecoder().decode(body.subarray(0, 200))}`;
  expect(res.status, context).toBe(c.status);
  expect(res.headers.get('access-control-allow-origin'), 'CORS on every response').toBe('*');
  for (const [name, want] of Object.entries(c.expectHeaders ?? {})) {
    const got = res.headers.get(name);
    if (typeof want === 'string') expect(got, name).toBe(want);
    else expect(got, name).toMatch(want);
  }
  if (c.emptyBody) expect(body.length).toBe(0);
  if (c.status >= 400) {
    const error = JSON.parse(new TextDecoder().decode(body)) as { status: number; message: string };
    expect(error.status).toBe(c.status);
    expect(error.message).not.toMatch(/\/work|\/tmp|node_modules|at .*\(|Error:/);
  }
  if (c.json) {
    const json = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
    expect(json).toMatchObject(c.json);
    if ('@context' in c.json) expect(Object.keys(json)[0]).toBe('@context');
  }
  if (c.image) await checkImage(body, c.image);
}

async function checkImage(body: Uint8Array, want: NonNullable<IiifCase['image']>): Promise<void> {
  // libvips reads neither jp2 nor pdf: our OpenJPEG build and pdf-lib open them, then sharp checks pixels.
  const image = want.format === 'jp2' ? await jp2Image(body) : want.format === 'pdf' ? await pdfImage(body) : sharp(body);
  const meta = await image.metadata();
  const tolerance = want.sizeTolerance ?? 0;
  expect(Math.abs(meta.width - want.width), `width ${meta.width} vs ${want.width}`).toBeLessThanOrEqual(tolerance);
  expect(Math.abs(meta.height - want.height), `height ${meta.height} vs ${want.height}`).toBeLessThanOrEqual(tolerance);
  if (want.format && want.format !== 'jp2' && want.format !== 'pdf') expect(meta.format).toBe(want.format);
  if (want.channels !== undefined) expect(meta.channels).toBe(want.channels);
  // IHDR: bit depth is the byte after the 8-byte signature, chunk header and width/height.
  if (want.pngBitDepth !== undefined) expect(body[24]).toBe(want.pngBitDepth);
  if (!want.pixels?.length && !want.twoLevels) return;
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  for (const p of want.pixels ?? []) checkPixel(data, info.width, info.channels, p);
  if (want.twoLevels) expect([...new Set(data)].sort((a, b) => a - b).filter((v) => v !== 0 && v !== 255), 'samples other than 0 and 255').toEqual([]);
}

function checkPixel(data: Buffer, width: number, channels: number, p: PixelCheck): void {
  const at = (p.y * width + p.x) * channels;
  const px = Array.from(data.subarray(at, at + channels));
  const tol = p.tolerance ?? 6;
  const where = `pixel (${p.x},${p.y}) = [${px.join(',')}]`;
  if (p.rgb) p.rgb.forEach((v, i) => expect(Math.abs((px[i] ?? -999) - v), `${where}, want [${p.rgb?.join(',')}]`).toBeLessThanOrEqual(tol));
  if (p.value !== undefined) expect(Math.abs((px[0] ?? -999) - p.value), `${where}, want ${p.value}`).toBeLessThanOrEqual(tol);
  if (p.alpha !== undefined) expect(Math.abs((px[channels - 1] ?? -999) - p.alpha), `${where}, want alpha ${p.alpha}`).toBeLessThanOrEqual(tol);
}
