import { mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsSource } from '../../src/sources/fs-source.ts';
import { SourceChangedError, pinnedTo } from '../../src/sources/source.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-fs-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

describe('fs source stat TTL', () => {
  it('trusts a stat for statTtlMs, then sees the replaced file', async () => {
    await writeFile(join(root, 'a.png'), 'one');
    const source = fsSource({ root, statTtlMs: 200 });
    const first = await source.stat('a.png');
    await writeFile(join(root, 'a.png'), 'longer content');
    expect((await source.stat('a.png')).etag).toBe(first.etag);
    await sleep(250);
    const later = await source.stat('a.png');
    expect(later.size).toBe('longer content'.length);
    expect(later.etag).not.toBe(first.etag);
  });

  it('stats every time without a TTL, and never caches a missing file', async () => {
    await writeFile(join(root, 'b.png'), 'one');
    const source = fsSource({ root });
    const first = await source.stat('b.png');
    await writeFile(join(root, 'b.png'), 'two bytes more');
    expect((await source.stat('b.png')).etag).not.toBe(first.etag);

    const cached = fsSource({ root, statTtlMs: 60_000 });
    await expect(cached.stat('c.png')).rejects.toMatchObject({ status: 404 });
    await writeFile(join(root, 'c.png'), 'now here');
    expect((await cached.stat('c.png')).size).toBe('now here'.length);
  });
});

describe('fs source versions', () => {
  it('a file replaced by one of the same size and modification time has a new ETag, in place or renamed over', async () => {
    const path = join(root, 'same.png');
    const when = new Date('2020-01-01T00:00:00Z');
    await writeFile(path, 'first');
    await utimes(path, when, when);
    const source = fsSource({ root });
    const first = await source.stat('same.png');
    await sleep(5);
    await writeFile(path, 'other');
    await utimes(path, when, when);
    const rewritten = await source.stat('same.png');
    expect(rewritten.etag).not.toBe(first.etag);
    await sleep(5);
    await writeFile(join(root, 'same.new'), 'third');
    await utimes(join(root, 'same.new'), when, when);
    await rename(join(root, 'same.new'), path);
    expect((await source.stat('same.png')).etag).not.toBe(rewritten.etag);
    // And the read of a version since replaced is refused, not served under the old ETag.
    await expect(source.read('same.png', { offset: 0, length: 5 }, undefined, first.etag)).rejects.toThrow();
  });
});

describe('fs source names', () => {
  it('one file has one identifier: empty segments and a trailing slash name nothing, as S3 keys would not', async () => {
    await mkdir(join(root, 'dir'), { recursive: true });
    await writeFile(join(root, 'dir', 'c.png'), 'c');
    const source = fsSource({ root });
    expect((await source.stat('dir/c.png')).size).toBe(1);
    for (const alias of ['dir//c.png', 'dir/c.png/', '/dir/c.png', 'dir/./c.png', './dir/c.png']) {
      await expect(source.stat(alias), alias).rejects.toMatchObject({ status: 404 });
    }
  });
});

describe('fs source listing', () => {
  it('lists only names the server can serve: no backslash, control character or undecodable byte', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iiif-edge-fs-list-'));
    try {
      for (const name of ['ok.png', 'a\\\\b.png', 'new\\nline.png', 'tab\\tname.png']) await writeFile(join(dir, name), 'x');
      // A name that is not UTF-8: Node reads it back with U+FFFD, which names no file.
      await writeFile(Buffer.concat([Buffer.from(`${dir}/bad`), Buffer.from([0xff, 0xfe]), Buffer.from('.png')]), 'x');
      expect(await fsSource({ root: dir }).list?.(100)).toEqual(['ok.png']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists a link as the server serves it: to a file inside the root, or anywhere with followLinks', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'iiif-edge-fs-out-'));
    const dir = await mkdtemp(join(tmpdir(), 'iiif-edge-fs-links-'));
    try {
      await writeFile(join(outside, 'far.png'), 'x');
      await mkdir(join(dir, 'sub'));
      await writeFile(join(dir, 'sub', 'a.png'), 'x');
      await symlink(join(dir, 'sub', 'a.png'), join(dir, 'alias.png'));
      await symlink(join(outside, 'far.png'), join(dir, 'out.png'));
      await symlink(join(dir, 'missing.png'), join(dir, 'dangling.png'));
      await symlink(join(dir, 'sub'), join(dir, 'folder.png'));
      const source = fsSource({ root: dir });
      const listed = await source.list?.(100);
      expect(listed).toEqual(['alias.png', 'sub/a.png']);
      // What is listed is served, and what is served is listed.
      for (const id of listed ?? []) expect((await source.stat(id)).size).toBe(1);
      await expect(source.stat('out.png')).rejects.toMatchObject({ status: 404 });
      expect(await fsSource({ root: dir, followLinks: true }).list?.(100)).toEqual(['alias.png', 'out.png', 'sub/a.png']);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(outside, { recursive: true, force: true });
    }
  });
});

describe('fs source readInto', () => {
  it('reads a range into the front of a buffer, short at the end, and refuses a file replaced since its stat', async () => {
    const path = join(root, 'into.png');
    await writeFile(path, 'abcdefghij');
    const source = fsSource({ root });
    const object = await source.stat('into.png');
    const into = new Uint8Array(8).fill(0x2e);
    expect(await source.readInto?.('into.png', { offset: 2, length: 4 }, into, object.etag)).toBe(4);
    expect(Buffer.from(into).toString()).toBe('cdef....');
    expect(await source.readInto?.('into.png', { offset: 7, length: 6 }, into, object.etag)).toBe(3);
    expect(Buffer.from(into).toString()).toBe('hijf....');

    // Pinned to the version stat saw, as read is.
    const pinned = pinnedTo(source, object);
    await writeFile(path, 'ABCDEFGHIJKL');
    await expect(pinned.readInto?.('into.png', { offset: 0, length: 4 }, into)).rejects.toBeInstanceOf(SourceChangedError);
    expect(await source.readInto?.('into.png', { offset: 0, length: 4 }, into)).toBe(4);
    expect(Buffer.from(into.subarray(0, 4)).toString()).toBe('ABCD');
  });
});
