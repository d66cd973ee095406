import { mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageSource } from '../../src/sources/source.ts';
import { withDiskCache } from '../../src/sources/disk-cache.ts';
import { fsSource } from '../../src/sources/fs-source.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iiif-edge-cache-'));
  await writeFile(join(dir, 'a.bin'), Buffer.alloc(1000, 1));
  await writeFile(join(dir, 'b.bin'), Buffer.alloc(1000, 2));
  await writeFile(join(dir, 'c.bin'), Buffer.alloc(1000, 3));
  await writeFile(join(dir, 'big.bin'), Buffer.alloc(5000, 4));
  await writeFile(join(dir, 'large.bin'), LARGE);
});

// 20 MiB of varied bytes: a download in pieces must put each in its place.
const LARGE = Buffer.from(Array.from({ length: 20 * 1024 * 1024 }, (_, i) => (i * 7 + (i >> 13)) & 255));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A remote store over the folder; `whole` lists each download (a read from byte 0), `largest` the longest read. */
function remote(): { source: ImageSource; whole: string[]; largest: () => number } {
  const { stat, read } = fsSource({ root: dir });
  const whole: string[] = [];
  let largest = 0;
  return {
    whole,
    largest: () => largest,
    source: {
      kind: 'remote',
      stat,
      async read(id, range, signal) {
        if (!range || range.offset === 0) whole.push(id);
        const bytes = await read(id, range, signal);
        largest = Math.max(largest, bytes.length);
        return bytes;
      },
    },
  };
}

describe('disk cache of whole source objects', () => {
  it('downloads an object once, then serves the cached file', async () => {
    const { source, whole } = remote();
    const cached = withDiskCache(source, { dir: join(dir, 'cache1'), maxBytes: 10_000 });
    const object = await cached.stat('a.bin');
    const [p1, p2] = await Promise.all([cached.localFile?.('a.bin', object), cached.localFile?.('a.bin', object)]);
    const p3 = await cached.localFile?.('a.bin', object);
    expect(p1).toBeDefined();
    expect(new Set([p1, p2, p3]).size).toBe(1);
    expect(whole).toEqual(['a.bin']);
  });

  it('evicts the least recently used files beyond its size, and skips objects too big for it', async () => {
    const { source, whole } = remote();
    const cacheDir = join(dir, 'cache2');
    const cached = withDiskCache(source, { dir: cacheDir, maxBytes: 2500 });
    const use = async (id: string) => cached.localFile?.(id, await cached.stat(id));
    await use('a.bin');
    await use('b.bin');
    await use('a.bin'); // now b is the least recently used
    await use('c.bin');
    await new Promise((r) => setTimeout(r, 50));
    expect(await readdir(join(cacheDir, 'iiif-edge-source-cache'))).toHaveLength(2);
    await use('a.bin');
    await use('b.bin');
    expect(await use('big.bin')).toBeUndefined();
    expect(whole).toEqual(['a.bin', 'b.bin', 'c.bin', 'b.bin']);
  });

  it('downloads in pieces of at most 8 MiB, so a download never holds the whole object in memory', async () => {
    const { source, whole, largest } = remote();
    const cached = withDiskCache(source, { dir: join(dir, 'cache3'), maxBytes: 64 * 1024 * 1024 });
    const path = await cached.localFile?.('large.bin', await cached.stat('large.bin'));
    expect(path).toBeDefined();
    expect(Buffer.compare(await readFile(path!), LARGE)).toBe(0);
    expect(whole).toEqual(['large.bin']);
    expect(largest()).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it('downloads again a cached copy cut short on disk, rather than serving it', async () => {
    const { source, whole } = remote();
    const cached = withDiskCache(source, { dir: join(dir, 'cache4'), maxBytes: 10_000 });
    const object = await cached.stat('a.bin');
    const path = await cached.localFile?.('a.bin', object);
    await truncate(path!, 300);
    expect(await cached.localFile?.('a.bin', object)).toBe(path);
    expect((await readFile(path!)).length).toBe(1000);
    expect(whole).toEqual(['a.bin', 'a.bin']);
  });
});
