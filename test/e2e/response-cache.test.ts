import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { ENTRY_OVERHEAD } from '../../src/http/response-cache.ts';
import { type CacheName, noMetrics } from '../../src/metrics.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { fsSource } from '../../src/sources/fs-source.ts';

let root: string;
const solid = (r: number, g: number, b: number) =>
  sharp({ create: { width: 600, height: 400, channels: 3, background: { r, g, b } } }).png().toBuffer();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-responses-'));
  await writeFile(join(root, 'a.png'), await solid(200, 30, 30));
});
afterAll(() => rm(root, { recursive: true, force: true }));

function build(env: Record<string, string>) {
  const inner = fsSource({ root });
  const counts = { reads: 0 };
  const source: ImageSource = {
    kind: inner.kind,
    local: true,
    stat: (id, signal) => inner.stat(id, signal),
    read: (id, range, signal) => {
      counts.reads++;
      return inner.read(id, range, signal);
    },
  };
  const lookups: Array<[CacheName, boolean]> = [];
  const app = createApp({
    config: loadConfig({ IIIF_ROOT: root, ...env }),
    source,
    renderer: sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e9 }),
    metrics: { ...noMetrics, cacheLookup: (cache, hit) => void lookups.push([cache, hit]) },
  });
  return { app, counts, lookups };
}

const timing = (res: Response, name: string) =>
  new RegExp(`${name};desc="([^"]*)"`).exec(res.headers.get('server-timing') ?? '')?.[1];

async function centre(body: ArrayBuffer) {
  const { data, info } = await sharp(new Uint8Array(body)).raw().toBuffer({ resolveWithObject: true });
  const at = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * info.channels;
  return Array.from(data.subarray(at, at + 3));
}

describe('response cache', () => {
  it('answers a repeated render, and its canonical equivalents, from memory', async () => {
    const { app, counts, lookups } = build({ IIIF_RESPONSE_CACHE_BYTES: String(4 * 1024 * 1024) });
    const first = await app.request('/iiif/3/a.png/full/!150,150/0/default.png');
    expect(timing(first, 'cache')).toBe('miss');
    const body = new Uint8Array(await first.arrayBuffer());
    const reads = counts.reads;
    // `full/150,` is the same canonical request (150×100).
    for (const url of ['/iiif/3/a.png/full/!150,150/0/default.png', '/iiif/3/a.png/full/150,/0/default.png']) {
      const again = await app.request(url);
      expect(again.status).toBe(200);
      expect(timing(again, 'cache'), url).toBe('hit');
      expect(new Uint8Array(await again.arrayBuffer()), url).toEqual(body);
    }
    expect(counts.reads).toBe(reads);
    expect(timing(await app.request('/iiif/3/a.png/full/150,/0/default.png'), 'cache-hit-rate')).toBe('0.750');
    expect(lookups.filter(([cache]) => cache === 'response')).toEqual([
      ['response', false],
      ['response', true],
      ['response', true],
      ['response', true],
    ]);
  });

  it('renders again when the source ETag changes', async () => {
    const { app } = build({ IIIF_RESPONSE_CACHE_BYTES: String(4 * 1024 * 1024) });
    await writeFile(join(root, 'b.png'), await solid(200, 30, 30));
    const url = '/iiif/3/b.png/full/!100,100/0/default.png';
    expect(await centre(await (await app.request(url)).arrayBuffer())).toEqual([200, 30, 30]);
    expect(timing(await app.request(url), 'cache')).toBe('hit');
    await writeFile(join(root, 'b.png'), await solid(20, 40, 220));
    await utimes(join(root, 'b.png'), new Date(), new Date(Date.now() + 5000));
    const changed = await app.request(url);
    expect(timing(changed, 'cache')).toBe('miss');
    expect(await centre(await changed.arrayBuffer())).toEqual([20, 40, 220]);
  });

  it('keeps no more bytes than IIIF_RESPONSE_CACHE_BYTES, and no response over an eighth of it', async () => {
    const size = (await (await build({}).app.request('/iiif/3/a.png/full/!100,100/0/default.png')).arrayBuffer()).byteLength;
    // Room for about 10 such thumbnails, each counted with its keeping cost; each is well under an eighth of it.
    const bound = (size + ENTRY_OVERHEAD) * 10.5;
    const { app } = build({ IIIF_RESPONSE_CACHE_BYTES: String(Math.floor(bound)) });
    const urls = Array.from({ length: 14 }, (_, i) => `/iiif/3/a.png/full/!${100 + i},${100 + i}/0/default.png`);
    for (const url of urls) await (await app.request(url)).arrayBuffer();
    expect(timing(await app.request(urls[13]!), 'cache')).toBe('hit');
    expect(timing(await app.request(urls[0]!), 'cache')).toBe('miss');
    // A full-size PNG is far over an eighth of the bound: rendered every time.
    const big = '/iiif/3/a.png/full/max/0/default.png';
    await (await app.request(big)).arrayBuffer();
    expect(timing(await app.request(big), 'cache')).toBe('miss');
  });

  it('is off unless configured', async () => {
    expect(loadConfig({}).IIIF_RESPONSE_CACHE_BYTES).toBe(0);
    const { app, lookups } = build({});
    await app.request('/iiif/3/a.png/full/!150,150/0/default.png');
    const res = await app.request('/iiif/3/a.png/full/!150,150/0/default.png');
    expect(timing(res, 'cache')).toBeUndefined();
    expect(timing(res, 'path')).toBe('render');
    expect(lookups.filter(([cache]) => cache === 'response')).toEqual([]);
  });
});
