import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskResponseStore } from '../../adapters/node/response-disk.ts';
import { startServer } from '../../adapters/node/server.ts';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';

let root: string;
let images: string;
const solid = (r: number, g: number, b: number) =>
  sharp({ create: { width: 600, height: 400, channels: 3, background: { r, g, b } } }).png().toBuffer();
/** Noise: its PNG renders do not compress, so a response's size is known (3 bytes a pixel). */
const noise = () => sharp(randomBytes(600 * 400 * 3), { raw: { width: 600, height: 400, channels: 3 } }).png().toBuffer();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-response-disk-'));
  images = join(root, 'images');
  await mkdir(images);
  await writeFile(join(images, 'a.png'), await solid(200, 30, 30));
  await writeFile(join(images, 'noise.png'), await noise());
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** The app as the Node adapter builds it, with memory caching off so that every hit is the disk's. */
async function build(dir: string, diskBytes = 64 * 1024 * 1024, warnings: string[] = []) {
  const config = loadConfig({ IIIF_ROOT: images, IIIF_RESPONSE_CACHE_BYTES: '0' });
  const responseStore = await diskResponseStore(dir, diskBytes, (line) => void warnings.push(line));
  return createApp({ config, source: fsSource({ root: images }), renderer: sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e9 }), responseStore });
}

const timing = (res: Response, name: string) => new RegExp(`${name};desc="([^"]*)"`).exec(res.headers.get('server-timing') ?? '')?.[1];
// Writes are not awaited by the request.
const settle = () => new Promise((ok) => setTimeout(ok, 250));
async function filesOf(dir: string) {
  const folder = join(dir, 'iiif-edge-responses');
  const names = await readdir(folder);
  const sizes = await Promise.all(names.map(async (n) => (await stat(join(folder, n))).size));
  return { names, bytes: sizes.reduce((a, b) => a + b, 0) };
}

describe('rendered responses on disk (IIIF_RESPONSE_CACHE_DIR, Node)', () => {
  it('answers a repeated render from disk, the same bytes, also after a restart', async () => {
    const dir = join(root, 'restart');
    const url = '/iiif/3/a.png/full/!200,200/0/default.jpg';
    const first = await (await build(dir)).request(url);
    expect(timing(first, 'cache')).toBe('miss');
    const body = new Uint8Array(await first.arrayBuffer());
    await settle();
    const again = await (await build(dir)).request(url); // a new process's app, the same folder
    expect(timing(again, 'cache')).toBe('hit-store');
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(body);
    const { info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([200, 133]);
  });

  it('misses once the source changes (its ETag), and serves the new pixels', async () => {
    const dir = join(root, 'changed');
    const app = await build(dir);
    const url = '/iiif/3/a.png/full/50,/0/default.png';
    await app.request(url);
    await settle();
    expect(timing(await app.request(url), 'cache')).toBe('hit-store');
    await writeFile(join(images, 'a.png'), await solid(30, 30, 200));
    await utimes(join(images, 'a.png'), new Date(), new Date(Date.now() + 5000));
    await new Promise((ok) => setTimeout(ok, 1100)); // the fs source trusts a stat for 1 s
    const changed = await app.request(url);
    expect(timing(changed, 'cache')).toBe('miss');
    const { data } = await sharp(new Uint8Array(await changed.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    expect(Array.from(data.subarray(0, 3))).toEqual([30, 30, 200]);
  });

  it('keeps no more than IIIF_RESPONSE_CACHE_DISK_BYTES of files, dropping the least recently used', async () => {
    const dir = join(root, 'bounded');
    // Widths 40..90: PNGs of 3–16 KB, about 150 KB in all, the 88 px one under an eighth of the bound.
    const bound = 128 * 1024;
    const app = await build(dir, bound);
    let written = 0;
    for (let w = 40; w <= 90; w += 2) written += (await (await app.request(`/iiif/3/noise.png/full/${w},/0/default.png`)).arrayBuffer()).byteLength;
    await settle();
    expect(written).toBeGreaterThan(bound);
    const { names, bytes } = await filesOf(dir);
    expect(bytes).toBeLessThanOrEqual(bound);
    expect(names.length).toBeGreaterThan(5);
    // The last written is kept, the first was dropped.
    expect(timing(await app.request('/iiif/3/noise.png/full/88,/0/default.png'), 'cache')).toBe('hit-store');
    expect(timing(await app.request('/iiif/3/noise.png/full/40,/0/default.png'), 'cache')).toBe('miss');
    // A restart with a lower bound trims what an earlier process left.
    await diskResponseStore(dir, bound / 4, () => undefined);
    await settle();
    expect((await filesOf(dir)).bytes).toBeLessThanOrEqual(bound / 4);
  });

  it('ignores a file whose content is not the response asked for', async () => {
    const dir = join(root, 'foreign');
    const app = await build(dir);
    const url = '/iiif/3/a.png/full/60,/0/default.png';
    await app.request(url);
    await settle();
    const { names } = await filesOf(dir);
    for (const n of names) await writeFile(join(dir, 'iiif-edge-responses', n), 'not a response');
    const res = await app.request(url);
    expect(timing(res, 'cache')).toBe('miss');
    expect((await sharp(new Uint8Array(await res.arrayBuffer())).metadata()).width).toBe(60);
  });

  it('never serves a damaged file: cut short, or a byte of its body changed, it is a miss and a fresh render', async () => {
    const dir = join(root, 'damaged');
    const url = '/iiif/3/a.png/full/80,/0/default.png';
    for (const damage of [(b: Buffer) => b.subarray(0, b.length - 100), (b: Buffer) => (b.writeUInt8(b[b.length - 200]! ^ 0xff, b.length - 200), b)]) {
      const app = await build(dir);
      await app.request(url);
      await settle();
      const { names } = await filesOf(dir);
      for (const n of names) {
        const file = join(dir, 'iiif-edge-responses', n);
        await writeFile(file, damage(await readFile(file)));
      }
      // A restart reads the damaged file from disk (nothing in memory).
      const res = await (await build(dir)).request(url);
      expect(timing(res, 'cache')).toBe('miss');
      const { info } = await sharp(new Uint8Array(await res.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
      expect(info.width).toBe(80);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says in one line when the folder cannot be created, and warns once when writes fail', async () => {
    const blocked = join(root, 'file-not-dir');
    await writeFile(blocked, 'x');
    await expect(startServer({ IIIF_ROOT: images, PORT: '0', IIIF_RESPONSE_CACHE_DIR: blocked })).rejects.toThrow(
      /^invalid configuration: IIIF_RESPONSE_CACHE_DIR: cannot create .* \(ENOTDIR\)$/,
    );
    // Its folder removed under it: every write fails.
    const dir = join(root, 'removed');
    const warnings: string[] = [];
    const app = await build(dir, 64 * 1024 * 1024, warnings);
    await rm(dir, { recursive: true });
    for (const w of [70, 80]) expect((await app.request(`/iiif/3/a.png/full/${w},/0/default.png`)).status).toBe(200);
    await settle();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^response cache: cannot write to .*ENOENT/);
  });
});
