import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedListing, galleryPage, LISTING_CAP, LISTING_TTL_MS, PAGE_SIZE } from '../../adapters/node/gallery.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import type { ImageSource } from '../../src/sources/source.ts';

function countingSource(ids: string[], fail = false): ImageSource & { walks: number } {
  const s = {
    walks: 0,
    async list(limit: number) {
      s.walks++;
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error('walk failed');
      return ids.slice(0, limit);
    },
  };
  return s as unknown as ImageSource & { walks: number };
}

describe('11.11 landing page: the root is walked once per TTL, not per request', () => {
  it('shares one walk between concurrent and repeated requests within the TTL', async () => {
    let t = 0;
    const source = countingSource(['a.png', 'b.png']);
    const listing = cachedListing(source, () => t);
    await Promise.all(Array.from({ length: 50 }, () => listing()));
    t += LISTING_TTL_MS - 1;
    expect((await listing()).ids).toEqual(['a.png', 'b.png']);
    expect(source.walks).toBe(1);
    t += 1;
    await listing();
    expect(source.walks).toBe(2);
  });

  it('does not keep a failed walk', async () => {
    const source = countingSource([], true);
    const listing = cachedListing(source, () => 0);
    await expect(listing()).rejects.toThrow('walk failed');
    await expect(listing()).rejects.toThrow('walk failed');
    expect(source.walks).toBe(2);
  });

  it('leaves out names holding the slash substitute, which always read back as a slash', async () => {
    const result = await cachedListing(countingSource(['t~ilde.png', 'plain.png']), () => 0, '~')();
    expect(result.ids).toEqual(['plain.png']);
  });

  it('caps the listing and says so', async () => {
    const ids = Array.from({ length: LISTING_CAP + 5 }, (_, i) => `${i}.png`);
    const result = await cachedListing(countingSource(ids))();
    expect(result.ids).toHaveLength(LISTING_CAP);
    expect(result.truncated).toBe(true);
  });
});

describe('fs source listing is a bounded walk', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'iiif-edge-list-'));
    await mkdir(join(root, 'sub/deeper'), { recursive: true });
    // A hidden folder (prepare's staging folder, version control) is not walked.
    await mkdir(join(root, '.iiif-edge-partial-1'), { recursive: true });
    for (const name of ['b.png', 'a.jpg', 'notes.txt', 'sub/c.tif', 'sub/deeper/d.webp', 'sub/e.jp2', '.iiif-edge-partial-1/x.tif']) await writeFile(join(root, name), '');
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('lists image files below the root, sorted, with / separators, hidden folders left out', async () => {
    expect(await fsSource({ root }).list?.(100)).toEqual(['a.jpg', 'b.png', 'sub/c.tif', 'sub/deeper/d.webp', 'sub/e.jp2']);
  });

  it('stops at the limit', async () => {
    expect(await fsSource({ root }).list?.(2)).toHaveLength(2);
  });
});

describe('gallery paging and search', () => {
  const ids = Array.from({ length: 250 }, (_, i) => `img-${String(i).padStart(3, '0')}.png`);
  it('cuts pages of PAGE_SIZE and clamps out-of-range pages', () => {
    expect(galleryPage(ids, '', 1).items).toEqual(ids.slice(0, PAGE_SIZE));
    expect(galleryPage(ids, '', 3)).toMatchObject({ page: 3, pages: 3, total: 250, items: ids.slice(200) });
    expect(galleryPage(ids, '', 99).page).toBe(3);
    expect(galleryPage(ids, '', Number.NaN).page).toBe(1);
    expect(galleryPage(ids, '', -4).page).toBe(1);
  });
  it('filters by a case-insensitive substring', () => {
    expect(galleryPage(ids, ' IMG-24 ', 1)).toMatchObject({ total: 10, query: 'IMG-24', pages: 1 });
    expect(galleryPage(ids, 'nothing', 1)).toMatchObject({ total: 0, items: [], pages: 1 });
  });

  it('finds a name whatever its Unicode form and the query\'s (macOS writes names decomposed)', () => {
    const names = ['cafe\u0301.jpg', 'caf\u00e9-2.jpg'];
    expect(galleryPage(names, 'caf\u00e9', 1).items).toEqual(names);
    expect(galleryPage(names, 'CAFE\u0301', 1).items).toEqual(names);
  });
});
