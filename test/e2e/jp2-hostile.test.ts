/**
 * Hostile JPEG 2000 files through the Node adapter over HTTP: every request ends quickly in
 * an image or a clean JSON error (422 for a damaged file, 400 over_limit for a bomb), and the
 * server keeps serving.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { readJp2Structure } from '../../src/jp2/index.ts';
import { box, cod, codestream, colrBox, ihdrBox, jp2File, siz } from '../helpers/jp2-headers.ts';
import { makeJp2Pair } from '../helpers/jp2-images.ts';

let server: RunningServer;
let root: string;
const files: Record<string, Uint8Array> = {};

beforeAll(async () => {
  const { jp2 } = await makeJp2Pair({ width: 512, height: 384, channels: 3, options: { format: 'jp2', rate: 10, tileSize: 128, levels: 3, tlm: true } });
  const s = await readJp2Structure(async (o, l) => jp2.subarray(o, o + l), jp2.length);
  const firstPart = s.tileParts?.[0];
  if (!firstPart) throw new Error('no TLM');
  const flip = jp2.slice();
  for (let i = s.end + 40; i < flip.length; i += 97) flip[i] = (flip[i] ?? 0) ^ 0x5a;
  const lying = jp2.slice();
  // The TLM says tile-part 0 is 200 bytes longer than it is.
  const tlmAt = s.codestream.offset + lying.subarray(s.codestream.offset).findIndex((b, i, a) => b === 0xff && a[i + 1] === 0x55);
  new DataView(lying.buffer).setUint32(tlmAt + 8, firstPart.length + 200);
  Object.assign(files, {
    'good.jp2': jp2,
    'truncated-data.jp2': jp2.subarray(0, Math.floor(jp2.length * 0.6)),
    'truncated-header.jp2': jp2.subarray(0, s.codestream.offset + 30),
    'flipped.jp2': flip,
    'tlm-lies.jp2': lying,
    'bomb-untiled.jp2': jp2File(codestream({ width: 60_000, height: 60_000, levels: 5 }), 60_000, 60_000),
    'bomb-tiled.j2k': codestream({ width: 60_000, height: 60_000, tileWidth: 1024, tileHeight: 1024, levels: 5, withTlm: true, partData: () => 2 }),
    // 189 bytes that ask OpenJPEG for 5 million code-blocks of 4×4 (about 1 GB and 10 s before the bound).
    'code-block-bomb.jp2': jp2File(codestream({ width: 8000, height: 8000, levels: 5, codeBlock: 0, partData: () => 2 }), 8000, 8000),
    'code-block-bomb-tiled.j2k': codestream({ width: 16_000, height: 16_000, tileWidth: 2048, tileHeight: 2048, levels: 5, codeBlock: 0, partData: () => 2 }),
    // 64×64 code-blocks in the main header; each tile's own COD asks for 4×4 (A.6: it wins).
    'tile-cod-bomb.jp2': jp2File(codestream({ width: 8000, height: 8000, levels: 5, partHeader: () => cod(5, 0), partData: () => 2 }), 8000, 8000),
    'tile-cod-bomb-tiled.j2k': codestream({ width: 16_000, height: 16_000, tileWidth: 2048, tileHeight: 2048, levels: 5, withTlm: true, partHeader: () => cod(5, 0), partData: () => 2 }),
    // 64×64 code-blocks, but precincts of 2×2 above resolution 0 cut them to 1×1.
    'precinct-bomb.jp2': jp2File(codestream({ width: 8000, height: 8000, levels: 5, precincts: [0x11, 0x11, 0x11, 0x11, 0x11, 0x11], partData: () => 2 }), 8000, 8000),
    // ihdr says 5000×5000, SIZ 64×64: OpenJPEG refuses every decode of it.
    'ihdr-mismatch.jp2': jp2File(codestream({ width: 64, height: 64 }), 5000, 5000),
    'components.j2k': codestream({ width: 64, height: 64, components: 5 }),
    'tiles.j2k': Uint8Array.from([0xff, 0x4f, ...siz({ width: 1_000_000, height: 1_000_000, tileWidth: 2, tileHeight: 2 }), 0xff, 0x90]),
    'bad-box.jp2': jp2File(codestream({ width: 64, height: 64 }), 64, 64, [...ihdrBox(64, 64), ...colrBox()].map((b, i) => (i === 3 ? 200 : b))),
    'no-codestream.jp2': Uint8Array.from([...jp2.subarray(0, s.codestream.offset - 8), ...box('free', [1, 2, 3])]),
    // One byte of the signature box's 0d 0a 87 0a changed: still 'jP  ' and an ftyp of 'jp2 ' to other readers.
    'bad-signature.jp2': Uint8Array.from(jp2, (b, i) => (i === 10 ? 0xc9 : b)),
  });
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-jp2-hostile-'));
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(root, name), bytes);
  server = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1' });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

interface Answer {
  status: number;
  ms: number;
  body: Buffer;
  json?: { status: number; error: string; message: string };
}

async function get(path: string): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(15_000) });
  const body = Buffer.from(await res.arrayBuffer());
  const answer: Answer = { status: res.status, ms: performance.now() - started, body };
  if (res.status >= 400) {
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    answer.json = JSON.parse(body.toString()) as Answer['json'];
    expect(answer.json?.message).not.toContain(root);
    expect(answer.json?.message).not.toMatch(/\/tmp|\/work|node_modules|Error:|\n|wasm|at /);
  }
  return answer;
}

const TAILS = ['info.json', 'full/max/0/default.jpg', '0,0,128,128/128,/0/default.png', 'full/!100,100/0/default.png'];

describe('hostile JPEG 2000 files', () => {
  it('every file and request: an image or a clean 400/422 within 5 s, and the server survives', async () => {
    for (const name of Object.keys(files)) {
      for (const tail of TAILS) {
        const a = await get(`/iiif/3/${name}/${tail}`);
        const where = `${name}/${tail}: ${a.status} ${a.json?.message ?? ''}`;
        expect(a.ms, where).toBeLessThan(5_000);
        expect([200, 400, 422], where).toContain(a.status);
        if (a.status === 200 && tail !== 'info.json') expect((await sharp(a.body).metadata()).width, where).toBeGreaterThan(0);
      }
      expect((await get('/health')).status, `after ${name}`).toBe(200);
    }
  }, 120_000);

  it('damaged headers are a 422 unsupported_source on info.json', async () => {
    for (const name of ['truncated-header.jp2', 'components.j2k', 'tiles.j2k', 'bad-box.jp2', 'no-codestream.jp2', 'ihdr-mismatch.jp2']) {
      const a = await get(`/iiif/3/${name}/info.json`);
      expect([a.status, a.json?.error], name).toEqual([422, 'unsupported_source']);
    }
  });

  it('a damaged signature box is a short-cacheable 422 unsupported_source, not a 501', async () => {
    for (const tail of ['info.json', 'full/max/0/default.jpg']) {
      const res = await fetch(`${server.url}/iiif/3/bad-signature.jp2/${tail}`);
      const body = await res.text();
      expect([res.status, res.headers.get('cache-control')], `${tail}: ${body}`).toEqual([422, 'public, max-age=60']);
      expect(body).not.toContain('\n');
      expect(JSON.parse(body)).toMatchObject({ error: 'unsupported_source', message: expect.stringMatching(/JPEG 2000 signature/) });
    }
  });

  it('a tile-part that is not where TLM says is a 422, not a wrong image', async () => {
    const a = await get('/iiif/3/tlm-lies.jp2/0,0,128,128/max/0/default.png');
    expect([a.status, a.json?.error]).toEqual([422, 'unsupported_source']);
  });

  it.each(['code-block-bomb.jp2', 'code-block-bomb-tiled.j2k', 'precinct-bomb.jp2', 'tile-cod-bomb.jp2', 'tile-cod-bomb-tiled.j2k'])('%s: small code-blocks are counted, so pixels are refused with 400 in under a second', async (name) => {
    expect((await get(`/iiif/3/${name}/info.json`)).status).toBe(200);
    for (const tail of ['full/!100,100/0/default.png', '0,0,512,512/512,/0/default.jpg']) {
      const a = await get(`/iiif/3/${name}/${tail}`);
      expect([a.status, a.json?.error], tail).toEqual([400, 'over_limit']);
      expect(a.json?.message).toMatch(/code-blocks/);
      expect(a.ms).toBeLessThan(1_000);
      // HEAD and a conditional GET say what GET says when the main header tells (tile-part headers
      // are only read by GET): a 400, not a 200 or a 304.
      if (!name.startsWith('tile-cod')) {
        expect((await fetch(`${server.url}/iiif/3/${name}/${tail}`, { method: 'HEAD' })).status, `HEAD ${tail}`).toBe(400);
        expect((await fetch(`${server.url}/iiif/3/${name}/${tail}`, { headers: { 'If-None-Match': '*' } })).status, `If-None-Match ${tail}`).toBe(400);
      }
    }
    // The same request of an image as large in 64×64 code-blocks is decoded.
    expect((await get('/iiif/3/good.jp2/full/!100,100/0/default.png')).status).toBe(200);
  });

  it.each(['bomb-untiled.jp2', 'bomb-tiled.j2k'])('%s (60000² declared): info.json from the header, pixels refused with 400 in under a second', async (name) => {
    const info = await get(`/iiif/3/${name}/info.json`);
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body.toString())).toMatchObject({ width: 60_000, height: 60_000 });
    for (const tail of ['full/max/0/default.jpg', 'full/!64,64/0/default.png', '0,0,512,512/512,/0/default.jpg']) {
      const a = await get(`/iiif/3/${name}/${tail}`);
      if (name === 'bomb-tiled.j2k' && tail.startsWith('0,0,512')) continue; // one empty 1024² tile is a fair request
      expect([a.status, a.json?.error], tail).toEqual([400, 'over_limit']);
      expect(a.ms).toBeLessThan(1_000);
    }
  });
});
