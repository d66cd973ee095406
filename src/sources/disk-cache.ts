import { createHash } from 'node:crypto';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { makeDir } from './fs-make-dir.ts';
import type { ImageSource, SourceObject } from './source.ts';

export interface DiskCacheOptions {
  /** Parent folder; the cache owns a subfolder of it and empties that at start. */
  dir: string;
  maxBytes: number;
  /** Told whether each lookup found the object on disk (the cache hit ratio metric). */
  onLookup?: (hit: boolean) => void;
  /** One line when the folder cannot be used; renders then read whole objects into memory. */
  warn?: (line: string) => void;
}

/**
 * Keeps whole source objects on local disk (Lambda's /tmp, a folder on Node)
 * for renders that need the whole file, so a second request for the same image
 * does not download it again. Files are named by identifier and ETag, so a
 * changed object is a new file; the least recently used go first when full.
 */
export function withDiskCache(source: ImageSource, options: DiskCacheOptions): ImageSource {
  const dir = join(options.dir, 'iiif-edge-source-cache');
  // Files left by an earlier process are not in the index, so start empty.
  // A folder that cannot be made is no reason to fail renders: they read into memory instead.
  const ready = rm(dir, { recursive: true, force: true })
    .then(() => makeDir(dir))
    .then(
      () => true,
      (e: unknown) => {
        options.warn?.(`source cache: cannot use ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)}); whole objects are read into memory`);
        return false;
      },
    );
  const files = new LRUCache<string, number>({
    maxSize: options.maxBytes,
    sizeCalculation: (size) => Math.max(1, size),
    // Best effort: a folder gone or turned into a file must not become an unhandled rejection.
    dispose: (_size, path) => void rm(path, { force: true }).catch(() => undefined),
  });
  const pending = new Map<string, Promise<string | undefined>>();
  let warned = false;
  // One line, once: a full disk would otherwise log every render.
  const warnOnce = (line: string) => {
    if (!warned) options.warn?.(line);
    warned = true;
  };

  const fileFor = (identifier: string, object: SourceObject) =>
    join(dir, createHash('sha256').update(`${identifier}\u0000${object.etag}`).digest('hex').slice(0, 40));

  /**
   * Shared by every request that waits for the same object, so no one client's hang-up may
   * cancel it: it runs under the source's own deadline only, and reads only that version.
   */
  async function download(identifier: string, object: SourceObject, path: string): Promise<string | undefined> {
    const bytes = await source.read(identifier, undefined, undefined, object.etag);
    const part = `${path}.part`;
    try {
      // Made again if removed while running.
      await makeDir(dir);
      await writeFile(part, bytes);
      await rename(part, path);
    } catch (e) {
      // A full disk or a folder gone is no reason to fail the render: it reads into memory.
      await rm(part, { force: true }).catch(() => undefined);
      warnOnce(`source cache: cannot write to ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)}); whole objects are read into memory meanwhile`);
      return undefined;
    }
    files.set(path, bytes.length);
    return path;
  }

  return {
    ...source,
    async localFile(identifier, object) {
      // Objects that would crowd out everything else are read into memory instead.
      if (object.size > options.maxBytes / 2) return undefined;
      if (!(await ready)) return undefined;
      const path = fileFor(identifier, object);
      // A file removed under us (the folder cleaned) is a miss, not a damaged source.
      const hit = files.get(path) !== undefined && (await stat(path).then((s) => s.isFile(), () => false));
      options.onLookup?.(hit);
      if (hit) return path;
      files.delete(path);
      let job = pending.get(path);
      if (!job) {
        job = download(identifier, object, path).finally(() => pending.delete(path));
        pending.set(path, job);
      }
      return job;
    },
  };
}
