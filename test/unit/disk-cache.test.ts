import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function remote(): { source: ImageSource; whole: string[] } {
  const { stat, read } = fsSource({ root: dir });
  const whole: string[] = [];
  return {
    whole,
    source: {
      kind: 'remote',
      stat,
      read(id, range, signal) {
        if (!range) whole.push(id);
        return read(id, range, signal);
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
});
