import type { ImageSource } from '../../src/sources/source.ts';

/** Images per gallery page: thumbnails load lazily, but a page stays a few screens long. */
export const PAGE_SIZE = 100;
/** The landing page lists at most this many files: the walk of a huge root stops there. */
export const LISTING_CAP = 10_000;
/** A listing is reused this long: a gallery reloaded by many visitors walks the root once. */
export const LISTING_TTL_MS = 10_000;

export interface Listing {
  ids: string[];
  /** The root holds more image files than LISTING_CAP. */
  truncated: boolean;
}

/**
 * One walk of the root at a time, reused for LISTING_TTL_MS; a failed walk is not kept. Names
 * holding `slashSubstitute` are left out: no identifier reaches them, the substitute reads as `/`.
 */
export function cachedListing(source: ImageSource, now: () => number = Date.now, slashSubstitute?: string): () => Promise<Listing> {
  let kept: { at: number; listing: Promise<Listing> } | undefined;
  return () => {
    if (kept && now() - kept.at < LISTING_TTL_MS) return kept.listing;
    const listing = (source.list?.(LISTING_CAP + 1) ?? Promise.resolve([])).then((all) => {
      const ids = slashSubstitute ? all.filter((id) => !id.includes(slashSubstitute)) : all;
      return { ids: ids.slice(0, LISTING_CAP), truncated: ids.length > LISTING_CAP };
    });
    const entry = { at: now(), listing };
    kept = entry;
    listing.catch(() => {
      if (kept === entry) kept = undefined;
    });
    return listing;
  };
}

export interface GalleryPage {
  items: string[];
  query: string;
  total: number;
  page: number;
  pages: number;
}

/**
 * Filters by a case-insensitive substring, whatever the Unicode form of the name and the query
 * (macOS writes names decomposed), and cuts one page; out-of-range pages clamp to the nearest.
 */
export function galleryPage(ids: readonly string[], query: string, page: number): GalleryPage {
  const q = query.trim().slice(0, 200);
  const needle = q.normalize('NFC').toLowerCase();
  const matching = needle ? ids.filter((id) => id.normalize('NFC').toLowerCase().includes(needle)) : ids;
  const pages = Math.max(1, Math.ceil(matching.length / PAGE_SIZE));
  const p = Number.isFinite(page) ? Math.min(pages, Math.max(1, Math.trunc(page))) : 1;
  return { items: matching.slice((p - 1) * PAGE_SIZE, p * PAGE_SIZE), query: q, total: matching.length, page: p, pages };
}
