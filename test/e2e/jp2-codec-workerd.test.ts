import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Jp2Codec, loadJp2Codec } from '../../src/jp2/codec.ts';
import { COMPATIBILITY_DATE } from '../helpers/workerd.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/** A Worker that imports the .wasm as a module, as a Workers deployment must, and runs codec.ts on it. */
const WORKER = `
import wasm from './openjpeg.wasm';
import { loadJp2Codec } from './src/jp2/codec.ts';
let codec;
export default {
  async fetch(request) {
    codec ??= await loadJp2Codec(wasm);
    const url = new URL(request.url);
    const body = new Uint8Array(await request.arrayBuffer());
    if (url.pathname === '/decode') {
      const reduce = Number(url.searchParams.get('reduce'));
      const [x0, y0, x1, y1] = url.searchParams.get('area').split(',').map(Number);
      const out = codec.decode(body, { reduce, area: { x0, y0, x1, y1 }, maxBytes: 1 << 26 });
      return new Response(out.data, { headers: { 'x-size': [out.width, out.height, out.channels].join('x') } });
    }
    const [width, height, channels] = url.searchParams.get('size').split('x').map(Number);
    return new Response(codec.encode({ data: body, width, height, channels }, { format: 'jp2', lossless: true, tileSize: 64, tlm: true }));
  },
};
`;

let mf: Miniflare;
let url: string;
let node: Jp2Codec;
beforeAll(async () => {
  const wasm = await readFile(`${ROOT}vendor/openjpeg/openjpeg.wasm`);
  node = await loadJp2Codec(wasm);
  const bundled = await build({
    stdin: { contents: WORKER, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    external: ['./openjpeg.wasm'],
    logLevel: 'silent',
  });
  mf = new Miniflare({
    modules: [
      { type: 'ESModule', path: 'worker.mjs', contents: bundled.outputFiles[0]!.text },
      { type: 'CompiledWasm', path: 'openjpeg.wasm', contents: wasm },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    host: '127.0.0.1',
    port: 0,
  });
  url = (await mf.ready).origin;
});
afterAll(() => mf?.dispose());

/** Noise: only an exact decoder reproduces it. */
function pixels(width: number, height: number, channels: 3 | 4): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return data;
}

describe('the JP2 codec in workerd', () => {
  it('decodes a reduced area exactly as in Node', async () => {
    const jp2 = node.encode({ data: pixels(300, 200, 3), width: 300, height: 200, channels: 3 }, { format: 'jp2', lossless: true, tileSize: 128 });
    const res = await fetch(`${url}/decode?reduce=1&area=40,30,250,190`, { method: 'POST', body: jp2 });
    expect(res.status).toBe(200);
    const here = node.decode(jp2, { reduce: 1, area: { x0: 40, y0: 30, x1: 250, y1: 190 }, maxBytes: 1 << 26 });
    // ceil(250/2) - ceil(40/2) by ceil(190/2) - ceil(30/2)
    expect(res.headers.get('x-size')).toBe('105x80x3');
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(here.data))).toBe(true);
  });

  it('encodes losslessly: Node decodes the very pixels sent', async () => {
    const data = pixels(150, 100, 4);
    const res = await fetch(`${url}/encode?size=150x100x4`, { method: 'POST', body: data });
    expect(res.status).toBe(200);
    const out = node.decode(new Uint8Array(await res.arrayBuffer()), { reduce: 0, maxBytes: 1 << 26 });
    expect([out.width, out.height, out.channels]).toEqual([150, 100, 4]);
    expect(Buffer.from(out.data).equals(Buffer.from(data))).toBe(true);
  });
});
