import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDir } from '../../src/sources/fs-make-dir.ts';
import { withDiskCache } from '../../src/sources/disk-cache.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { diskResponseStore } from '../../adapters/node/response-disk.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iiif-edge-mkdir-'));
  await writeFile(join(dir, 'a-file'), 'x');
  await writeFile(join(dir, 'a.bin'), Buffer.alloc(1000, 1));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Fails the test instead of hanging it: Node's recursive mkdir never settles under /proc. */
const settles = <T>(p: Promise<T>): Promise<T> =>
  Promise.race([p, new Promise<never>((_, fail) => setTimeout(() => fail(new Error('did not settle within 3 s')), 3000))]);

const remote = (): ImageSource => {
  const { stat: statOf, read } = fsSource({ root: dir });
  return { kind: 'remote', stat: statOf, read };
};

describe('creating cache and output folders', () => {
  it('creates missing parents, accepts an existing folder, and refuses a file or /proc within a bounded time', async () => {
    await makeDir(join(dir, 'x/y/z'));
    expect((await stat(join(dir, 'x/y/z'))).isDirectory()).toBe(true);
    await makeDir(join(dir, 'x/y/z'));
    await expect(settles(makeDir(join(dir, 'a-file')))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(settles(makeDir(join(dir, 'a-file/sub')))).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(settles(makeDir('/proc/iiif-edge-none/cache'))).rejects.toMatchObject({ code: 'ENOENT' });
    // As deep as mkdir -p goes (a review's 300 levels were refused).
    const deep = join(dir, ...Array.from({ length: 300 }, () => 'd'));
    await makeDir(deep);
    expect((await stat(deep)).isDirectory()).toBe(true);
  });

  it('IIIF_RESPONSE_CACHE_DIR under /proc is a configuration error at start, not a hang', async () => {
    await expect(settles(diskResponseStore('/proc/iiif-edge-none', 1 << 20, () => undefined))).rejects.toThrow(
      /IIIF_RESPONSE_CACHE_DIR: cannot create \/proc\/iiif-edge-none\/iiif-edge-responses \(ENOENT\)/,
    );
  });

  it.each([
    ['under /proc', '/proc/iiif-edge-none'],
    ['under a file', 'a-file'],
  ])('IIIF_CACHE_DIR that cannot be created (%s): renders read into memory, one warning, no hang', async (_, where) => {
    const warnings: string[] = [];
    const cached = withDiskCache(remote(), { dir: where.startsWith('/') ? where : join(dir, where), maxBytes: 1 << 20, warn: (line) => warnings.push(line) });
    const object = await cached.stat('a.bin');
    expect(await settles(cached.localFile!('a.bin', object))).toBeUndefined();
    expect(await settles(cached.localFile!('a.bin', object))).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^source cache: cannot use .*iiif-edge-source-cache \((ENOENT|ENOTDIR)\); whole objects are read into memory$/);
  });

  it('IIIF_CACHE_DIR removed or filled while running: renders read into memory or download again, never fail', async () => {
    const warnings: string[] = [];
    const base = join(dir, 'running');
    const cached = withDiskCache(remote(), { dir: base, maxBytes: 1 << 20, warn: (line) => warnings.push(line) });
    const object = await cached.stat('a.bin');
    const first = await cached.localFile!('a.bin', object);
    expect(first).toBeDefined();
    // The folder cleaned away: the cached file is gone, so it is downloaded again.
    await rm(join(base, 'iiif-edge-source-cache'), { recursive: true, force: true });
    const again = await settles(cached.localFile!('a.bin', object));
    expect(again).toBe(first);
    expect((await stat(again!)).size).toBe(1000);
    // A file where the folder was (as a full disk, nothing can be written): into memory, one warning.
    await rm(join(base, 'iiif-edge-source-cache'), { recursive: true, force: true });
    await writeFile(join(base, 'iiif-edge-source-cache'), 'x');
    expect(await settles(cached.localFile!('a.bin', object))).toBeUndefined();
    expect(await settles(cached.localFile!('a.bin', object))).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^source cache: cannot write to .*iiif-edge-source-cache \(EEXIST\); whole objects are read into memory meanwhile$/);
  });
});
