import { opendir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LRUCache } from 'lru-cache';
import { httpError } from '../errors.ts';
import type { ByteRange, ImageSource, SourceObject } from './source.ts';
import { createHandleCache, fileIdentity } from './fs-handles.ts';

export interface FsSourceOptions {
  root: string;
  /**
   * How long a file's stat is trusted (0: stat every request). A stat through libuv's thread
   * pool costs more CPU than the rest of an info.json, so viewers' bursts share one; a file
   * replaced in place is seen within this time.
   */
  statTtlMs?: number;
}

const LIST_MAX_ENTRIES = 200_000;
const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|avif|heic)$/i;

/** Images in one folder; the identifier is the path below it (`a/b.tif` arrives as `a%2Fb.tif`). */
export function fsSource(options: FsSourceOptions): ImageSource {
  const root = resolve(options.root);
  const handles = createHandleCache();
  const ttl = options.statTtlMs ?? 0;
  const stats = ttl > 0 ? new LRUCache<string, SourceObject>({ max: 10_000, ttl }) : undefined;

  const pathOf = (identifier: string): string => {
    const path = resolve(root, identifier);
    const rel = relative(root, path);
    // The parser already rejects `..`, NUL and absolute ids; this is the last line of defence.
    if (identifier.includes('\0') || rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw httpError(404, 'not_found', 'no image with that identifier');
    }
    return path;
  };

  const fail = (e: unknown): never => {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENAMETOOLONG' || code === 'ELOOP') {
      throw httpError(404, 'not_found', 'no image with that identifier');
    }
    if (code === 'EACCES' || code === 'EPERM') throw httpError(403, 'forbidden', 'the image cannot be read');
    if (code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN') {
      throw httpError(503, 'upstream_unavailable', 'storage is busy, try again', { 'Retry-After': '1' });
    }
    throw httpError(502, 'upstream_error', 'storage failed to read the image');
  };

  return {
    kind: 'fs',
    local: true,
    async stat(identifier): Promise<SourceObject> {
      const path = pathOf(identifier);
      const known = stats?.get(path);
      if (known) return known;
      const s = await stat(path).catch(fail);
      if (!s.isFile()) throw httpError(404, 'not_found', 'no image with that identifier');
      handles.check(path, fileIdentity(s));
      const object = { etag: `${s.size.toString(36)}-${Math.floor(s.mtimeMs).toString(36)}`, size: s.size, lastModified: s.mtime };
      stats?.set(path, object);
      return object;
    },
    async read(identifier, range?: ByteRange): Promise<Uint8Array> {
      const file = await handles.get(pathOf(identifier)).catch(fail);
      // Never allocate more than the file holds, whatever range was asked for.
      const size = range ? Math.max(0, Math.min(range.length, file.size - range.offset)) : file.size;
      const buffer = new Uint8Array(size);
      const { bytesRead } = await file.handle.read(buffer, 0, size, range?.offset ?? 0).catch(fail);
      return bytesRead === size ? buffer : buffer.subarray(0, bytesRead);
    },
    // Breadth-first, stopping at `limit` images or LIST_MAX_ENTRIES directory entries: a huge
    // root costs a bounded walk, not one proportional to its size.
    async list(limit) {
      const found: string[] = [];
      const dirs = [root];
      let seen = 0;
      for (let dir = dirs.shift(); dir !== undefined && found.length < limit; dir = dirs.shift()) {
        const entries = await opendir(dir).catch((e: unknown) => (dir === root ? fail(e) : undefined));
        if (!entries) continue;
        for await (const d of entries) {
          const path = join(dir, d.name);
          if (d.isDirectory()) dirs.push(path);
          else if (d.isFile() && IMAGE_FILE.test(d.name)) found.push(relative(root, path).split(sep).join('/'));
          if (found.length >= limit || ++seen >= LIST_MAX_ENTRIES) break;
        }
        if (seen >= LIST_MAX_ENTRIES) break;
      }
      return found.sort();
    },
    localFile: async (identifier) => pathOf(identifier),
  };
}
