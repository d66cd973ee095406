import { fstatSync } from 'node:fs';
import { opendir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LRUCache } from 'lru-cache';
import { httpError, isHttpError } from '../errors.ts';
import { SourceChangedError, type ByteRange, type ImageSource, type SourceObject, storedEtag } from './source.ts';
import { createHandleCache, fileIdentity, type OpenFile } from './fs-handles.ts';
import { inlineReads } from './fs-inline-read.ts';

export interface FsSourceOptions {
  root: string;
  /**
   * How long a file's stat is trusted (0: stat every request). A stat through libuv's thread
   * pool costs more CPU than the rest of an info.json, so viewers' bursts share one; a file
   * replaced in place is seen within this time.
   */
  statTtlMs?: number;
  /** Most file descriptors held open for reads (IIIF_FS_MAX_OPEN_FILES). */
  maxOpenFiles?: number;
  /** Serve files that symbolic links lead to outside the root (IIIF_FS_FOLLOW_LINKS); off by default. */
  followLinks?: boolean;
  /** Small reads on the event loop while they are as fast as memory (IIIF_FS_INLINE_READS); on by default. */
  inlineReads?: boolean;
}

const LIST_MAX_ENTRIES = 200_000;
const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|avif|hei[cf]|jp2|j2[kc]|jp[cxf])$/i;

// The change time too: a file replaced with one of the same size and modification time (`cp -p`,
// `rsync -t`, `touch -d`) is a new version; users cannot set it back. Copies on two hosts differ.
const etagOf = (s: { size: number; mtimeMs: number; ctimeMs: number }) =>
  `${s.size.toString(36)}-${Math.floor(s.mtimeMs).toString(36)}-${Math.floor(s.ctimeMs).toString(36)}`;

/** Names no identifier can reach (the parser refuses backslashes and control characters; U+FFFD stands for bytes that were not UTF-8). */
const UNSERVABLE_NAME = /[\\\p{Cc}\uFFFD]/u;

const notFound = () => httpError(404, 'not_found', 'no image with that identifier');

/** Images in one folder; the identifier is the path below it (`a/b.tif` arrives as `a%2Fb.tif`). */
export function fsSource(options: FsSourceOptions): ImageSource {
  const root = resolve(options.root);
  const handles = createHandleCache(options.maxOpenFiles);
  const inline = inlineReads({ enabled: options.inlineReads ?? true });
  const ttl = options.statTtlMs ?? 0;
  const stats = ttl > 0 ? new LRUCache<string, SourceObject>({ max: 10_000, ttl }) : undefined;
  // Real paths by identifier, trusted as long as stats: a hit skips the path arithmetic too.
  const located = ttl > 0 ? new LRUCache<string, string>({ max: 10_000, ttl }) : undefined;
  let realRoot: Promise<string> | undefined;

  const inside = (base: string, path: string): boolean => {
    const rel = relative(base, path);
    // `..png` is a file name, `../x` is not.
    return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  };

  const pathOf = (identifier: string): string => {
    const path = resolve(root, identifier);
    // The parser already rejects `..`, NUL and absolute ids; this is the last line of defence.
    if (identifier.includes('\0') || !inside(root, path)) throw notFound();
    // One file, one identifier: `a//b`, `a/./b`, `a/b/` would name it too, where an S3 key would not.
    if (identifier.split('/').some((part) => part === '' || part === '.')) throw notFound();
    return path;
  };

  const fail = (e: unknown): never => {
    if (isHttpError(e)) throw e;
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENAMETOOLONG' || code === 'ELOOP') {
      throw notFound();
    }
    if (code === 'EACCES' || code === 'EPERM') throw httpError(403, 'forbidden', 'the image cannot be read');
    if (code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN') {
      throw httpError(503, 'upstream_unavailable', 'storage is busy, try again', { 'Retry-After': '1' });
    }
    throw httpError(502, 'upstream_error', 'storage failed to read the image');
  };

  /** The file an identifier names, with every link resolved: refused unless it lies under the real root. */
  async function locate(identifier: string): Promise<string> {
    const known = located?.get(identifier);
    if (known) return known;
    const path = pathOf(identifier);
    if (options.followLinks) return path;
    realRoot ??= realpath(root).catch((e: unknown) => {
      realRoot = undefined;
      throw e;
    });
    const [real, base] = await Promise.all([realpath(path), realRoot]).catch(fail);
    if (!inside(base, real)) throw notFound();
    located?.set(identifier, real);
    return real;
  }

  /** A link (to a folder, dangling, or out of the root) the server would answer 404 for is not listed. */
  const servedLink = (identifier: string): Promise<boolean> =>
    locate(identifier)
      .then((path) => stat(path))
      .then(
        (s) => s.isFile(),
        () => false,
      );

  /** Bytes read into `buffer` from `offset`; undefined when the file is no longer the version `etag` describes. */
  async function readChecked(file: OpenFile, buffer: Uint8Array, offset: number, etag: string | undefined): Promise<number | undefined> {
    const bytesRead = inline.read(file.handle.fd, buffer, offset) ?? (await file.handle.read(buffer, 0, buffer.length, offset)).bytesRead;
    // Checked after reading: a change before or during the read shows in the handle's size or mtime.
    // fstat of an open descriptor is one syscall on an in-memory inode: done inline, since a trip
    // through libuv's thread pool cost a fifth of a tile's CPU.
    const changedSince = etag !== undefined && etagOf(fstatSync(file.handle.fd)) !== etag;
    return changedSince ? undefined : bytesRead;
  }

  /** The file is not the version `etag` describes: forget what we knew, the caller retries. */
  function changed(identifier: string, path: string): never {
    stats?.delete(path);
    located?.delete(identifier);
    handles.forget(path);
    throw new SourceChangedError();
  }

  return {
    kind: 'fs',
    local: true,
    async stat(identifier): Promise<SourceObject> {
      const path = await locate(identifier);
      const known = stats?.get(path);
      if (known) return known;
      const s = await stat(path).catch(fail);
      if (!s.isFile()) throw notFound();
      handles.check(path, fileIdentity(s));
      // The later of the two, as the ETag holds both: a file replaced with its mtime kept (cp -p, rsync -t)
      // must not look unmodified to a client that revalidates with If-Modified-Since alone.
      const object = { etag: etagOf(s), size: s.size, lastModified: s.ctimeMs > s.mtimeMs ? s.ctime : s.mtime };
      stats?.set(path, object);
      return object;
    },
    async read(identifier, range?: ByteRange, _signal?: AbortSignal, etag?: string): Promise<Uint8Array> {
      const path = await locate(identifier);
      const bytes = await handles
        .use(path, async (file) => {
          // Never allocate more than the file holds, whatever range was asked for.
          const size = range ? Math.max(0, Math.min(range.length, file.size - range.offset)) : file.size;
          const buffer = new Uint8Array(size);
          const bytesRead = await readChecked(file, buffer, range?.offset ?? 0, etag);
          return bytesRead === undefined ? undefined : bytesRead === size ? buffer : buffer.subarray(0, bytesRead);
        })
        .catch(fail);
      return bytes ?? changed(identifier, path);
    },
    async readInto(identifier, range, into, etag) {
      const path = await locate(identifier);
      const target = into.subarray(0, range.length);
      const bytesRead = await handles.use(path, (file) => readChecked(file, target, range.offset, etag)).catch(fail);
      return bytesRead ?? changed(identifier, path);
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
          // Hidden folders (prepare's staging folder, version control) hold no images to show.
          if (d.isDirectory()) {
            if (!d.name.startsWith('.')) dirs.push(path);
          } else if ((d.isFile() || d.isSymbolicLink()) && IMAGE_FILE.test(d.name) && !UNSERVABLE_NAME.test(d.name)) {
            const id = relative(root, path).split(sep).join('/');
            // A link is listed when it is served: to a file, inside the root unless links are followed.
            if (d.isFile() || (await servedLink(id))) found.push(id);
          }
          if (found.length >= limit || ++seen >= LIST_MAX_ENTRIES) break;
        }
        if (seen >= LIST_MAX_ENTRIES) break;
      }
      return found.sort();
    },
    async localFile(identifier, object) {
      const path = await locate(identifier);
      // The renderer opens the file by name: it must still be the version the response is labelled with.
      const s = await stat(path).catch(fail);
      return etagOf(s) === storedEtag(object) ? path : changed(identifier, path);
    },
  };
}
