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
import { type CachedResponse, createResponseCache } from '../../src/http/response-cache.ts';
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

/**
 * The app as the Node adapter builds it, with memory caching off unless asked so that every hit
 * is the disk's, once the files already there are indexed (a restarted process some time later).
 */
async function build(dir: string, diskBytes = 64 * 1024 * 1024, warnings: string[] = [], memoryBytes = 0) {
  const config = loadConfig({ IIIF_ROOT: images, IIIF_RESPONSE_CACHE_BYTES: String(memoryBytes) });
  const responseStore = await diskResponseStore(dir, diskBytes, (line) => void warnings.push(line));
  await responseStore.indexed;
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

/** Waits for what background I/O makes true; fails with its name rather than the test's timeout. */
async function until(what: string, ok: () => Promise<boolean>) {
  for (const start = Date.now(); !(await ok()); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() - start > 10_000) throw new Error(`timed out waiting until ${what}`);
  }
}

/** Each response file by its key, with its first body byte, from its header (key length, key, 9 bytes). */
async function onDisk(dir: string): Promise<Map<string, { path: string; first: number | undefined }>> {
  const folder = join(dir, 'iiif-edge-responses');
  const found = new Map<string, { path: string; first: number | undefined }>();
  for (const name of await readdir(folder)) {
    const path = join(folder, name);
    const bytes = name.endsWith('.part') ? undefined : await readFile(path).catch(() => undefined);
    if (!bytes || bytes.length < 4) continue;
    const length = bytes.readUInt32BE(0);
    found.set(bytes.subarray(4, 4 + length).toString(), { path, first: bytes[13 + length] });
  }
  return found;
}

/** Sets the files' times so that `keys` were last used in that order, hours ago. */
async function agedInOrder(dir: string, keys: string[]) {
  const folder = join(dir, 'iiif-edge-responses');
  for (const name of await readdir(folder)) {
    const bytes = await readFile(join(folder, name));
    const at = keys.indexOf(bytes.subarray(4, 4 + bytes.readUInt32BE(0)).toString());
    const when = new Date(Date.now() - (keys.length + 1 - at) * 3_600_000);
    await utimes(join(folder, name), when, when);
  }
}

const response = (fill: number, length = 1000): CachedResponse => ({ body: new Uint8Array(length).fill(fill), via: 'render' });

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
    await (await diskResponseStore(dir, bound / 4, () => undefined)).indexed;
    expect((await filesOf(dir)).bytes).toBeLessThanOrEqual(bound / 4);
  });

  it('counts each file in whole 4 KiB blocks, so that many small responses stay within the bound on disk too', async () => {
    const dir = join(root, 'blocks');
    const bound = 64 * 1024;
    const store = await diskResponseStore(dir, bound, () => undefined);
    await store.indexed;
    for (let i = 0; i < 40; i++) store.set(`small-${i}`, response(i, 100));
    await settle();
    const folder = join(dir, 'iiif-edge-responses');
    const names = await readdir(folder);
    const allocated = (await Promise.all(names.map(async (n) => (await stat(join(folder, n))).blocks * 512))).reduce((a, b) => a + b, 0);
    // 40 files of about 150 bytes take 40 blocks: only 16 fit.
    expect(names.length).toBeLessThanOrEqual(bound / 4096);
    expect(allocated).toBeLessThanOrEqual(bound);
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

  it('keeps on disk a response served from memory: a memory hit is a use of the disk entry too', async () => {
    // The reviewer's case, scaled down: a small disk bound under a large memory cache, one URL
    // asked for again between renders that fill the disk about twice over.
    const dir = join(root, 'memory-hits');
    const bound = 128 * 1024;
    const app = await build(dir, bound, [], 32 * 1024 * 1024);
    const hot = '/iiif/3/noise.png/full/60,/0/default.png';
    expect(timing(await app.request(hot), 'cache')).toBe('miss');
    for (let i = 0; i < 24; i++) {
      // 60×60 noise: an 11 KB PNG each, 260 KB in all.
      expect(timing(await app.request(`/iiif/3/noise.png/${i * 10},0,60,60/max/0/default.png`), 'cache')).toBe('miss');
      expect(timing(await app.request(hot), 'cache')).toBe('hit');
    }
    await settle();
    // A restart: memory empty, the disk has it, while the first of the others made room.
    const restarted = await build(dir, bound);
    expect(timing(await restarted.request(hot), 'cache')).toBe('hit-store');
    expect(timing(await restarted.request('/iiif/3/noise.png/0,0,60,60/max/0/default.png'), 'cache')).toBe('miss');
  });

  it("records a use in the file's time, so that the order survives a restart", async () => {
    const dir = join(root, 'touch-restart');
    const keys = Array.from({ length: 12 }, (_, i) => `k-${String(i).padStart(2, '0')}`);
    const first = await diskResponseStore(dir, 1 << 20, () => undefined);
    for (const k of keys) first.set(k, response(1, 100));
    await until('12 files are written', async () => (await onDisk(dir)).size === 12);
    await agedInOrder(dir, keys);
    const second = await diskResponseStore(dir, 1 << 20, () => undefined);
    await second.indexed;
    const memory = createResponseCache(1 << 20, second)!;
    memory.set('k-00', response(1, 100)); // already on disk: not written again
    expect((await memory.get('k-00'))?.from).toBe('memory');
    const used = (await onDisk(dir)).get('k-00')!.path;
    await until("k-00's file time is its use", async () => (await stat(used)).mtimeMs > Date.now() - 60_000);
    // Room for 8 files (117 bytes each, counted as a 4 KiB block): k-00 (used) and the 7 newest stay.
    const third = await diskResponseStore(dir, 8 * 4096, () => undefined);
    await third.indexed;
    expect([...(await onDisk(dir)).keys()].sort()).toEqual(['k-00', ...keys.slice(5)]);
  });

  it('is ready before the files already there are indexed; they are hits once they are', async () => {
    const dir = join(root, 'background-index');
    const first = await diskResponseStore(dir, 64 << 20, () => undefined);
    first.set('planted', response(3, 500));
    await until('the file is written', async () => (await onDisk(dir)).size === 1);
    // An earlier process's many files: only their names and sizes matter to the index.
    const folder = join(dir, 'iiif-edge-responses');
    for (let i = 0; i < 2000; i += 250) {
      await Promise.all(Array.from({ length: 250 }, (_, j) => writeFile(join(folder, (i + j).toString(16).padStart(40, '0')), 'x')));
    }
    const store = await diskResponseStore(dir, 64 << 20, () => undefined);
    // No I/O has completed since it returned: indexing cannot have finished.
    expect(await store.get('planted'), 'a hit: the store was returned only after indexing').toBeUndefined();
    expect(await store.indexed).toBe(2001);
    expect((await store.get('planted'))?.body).toEqual(response(3, 500).body);
  });

  it('keeps, within the bound and counted once, the responses written while indexing', async () => {
    const dir = join(root, 'write-while-indexing');
    const old = Array.from({ length: 16 }, (_, i) => `old-${String(i).padStart(2, '0')}`);
    // Each file (1,019 bytes) counts as one 4 KiB block.
    const size = 13 + 6 + 1000;
    const bound = 16 * 4096;
    const first = await diskResponseStore(dir, bound, () => undefined);
    for (const k of old) first.set(k, response(1));
    await until('16 files are written', async () => (await onDisk(dir)).size === 16);
    await agedInOrder(dir, old);
    // Indexing held at its first stat until released.
    let release = () => undefined as void;
    const held = new Promise<void>((ok) => (release = ok));
    const second = await diskResponseStore(dir, bound, () => undefined, { statFile: (path) => held.then(() => stat(path)) });
    const fresh = ['new-00', 'new-01', 'new-02', 'new-03'];
    for (const k of fresh) second.set(k, response(2));
    second.set('old-15', response(2)); // not yet indexed: written again, over its old file
    await until('the writes are done', async () => {
      const found = await onDisk(dir);
      return [...fresh, 'old-15'].every((k) => found.get(k)?.first === 2);
    });
    release();
    // Room for 11 of the old files beside the 5 written: the 11 newest, old-15 not twice.
    expect(await second.indexed).toBe(11);
    expect((await filesOf(dir)).bytes).toBe(16 * size);
    // One more write drops exactly the least recently used: old-04.
    second.set('new-04', response(2));
    await until('new-04 is written', async () => (await onDisk(dir)).has('new-04'));
    await until('old-04 is removed', async () => !(await onDisk(dir)).has('old-04'));
    expect([...(await onDisk(dir)).keys()].sort()).toEqual([...fresh, 'new-04', ...old.slice(5)].sort());
    expect((await filesOf(dir)).bytes).toBe(16 * size);
  });

  it('keeps at most its file count (the index costs memory per file), removing files of ours past it', async () => {
    const dir = join(root, 'many-files');
    const folder = join(dir, 'iiif-edge-responses');
    await mkdir(folder, { recursive: true });
    await Promise.all(Array.from({ length: 30 }, (_, i) => writeFile(join(folder, i.toString(16).padStart(40, '0')), 'x')));
    const store = await diskResponseStore(dir, 64 << 20, () => undefined, { maxFiles: 10 });
    expect(await store.indexed).toBe(10);
    expect((await readdir(folder)).length).toBe(10);
    store.set('new', response(1, 100));
    await until('the new file is written and an old one removed', async () => {
      const names = await readdir(folder);
      return names.length === 10 && (await store.get('new')) !== undefined;
    });
  });

  it('indexes the rest when a leftover cannot be removed, and makes the folder again when it is removed while running', async () => {
    const dir = join(root, 'stubborn');
    const first = await diskResponseStore(dir, 64 << 20, () => undefined);
    first.set('a', response(2, 100));
    await until('a is written', async () => (await onDisk(dir)).size === 1);
    // A folder named like a partial write: rm without recursion cannot remove it.
    await mkdir(join(dir, 'iiif-edge-responses', 'leftover.part', 'inside'), { recursive: true });
    const warnings: string[] = [];
    const store = await diskResponseStore(dir, 64 << 20, (line) => void warnings.push(line));
    expect(await store.indexed).toBe(1);
    expect((await store.get('a'))?.body).toEqual(response(2, 100).body);
    await rm(join(dir, 'iiif-edge-responses'), { recursive: true, force: true });
    store.set('b', response(3, 100));
    await until('the failed write is reported', async () => warnings.length === 1);
    store.set('c', response(4, 100));
    await until('the next write lands in the folder made again', async () => (await store.get('c')) !== undefined);
  });
});
