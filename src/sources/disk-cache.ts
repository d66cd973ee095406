import { createHash } from 'node:crypto';
import { type FileHandle, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { makeDir } from './fs-make-dir.ts';
import { type ImageSource, SourceChangedError, type SourceObject, storedEtag } from './source.ts';

/**
 * A download holds one chunk in memory, not the object: read whole, a 108 MB PNG had raised RSS
 * by 250 MB (the SDK's copies included), beyond IIIF_MAX_DECODE_BYTES, and downloads add up.
 */
const CHUNK_BYTES = 8 * 1024 * 1024;

/** A failure of the cache's own disk, which renders survive by reading into memory. */
class DiskFailure {
  readonly cause: unknown;
  constructor(cause: unknown) {
    this.cause = cause;
  }
}

const onDisk = <T>(work: Promise<T>): Promise<T> =>
  work.catch((e: unknown) => {
    throw new DiskFailure(e);
  });

/** Writes all of `bytes` at `position` (a write may take less than it is given). */
async function writeAll(file: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

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
    join(dir, createHash('sha256').update(`${identifier}\u0000${storedEtag(object)}`).digest('hex').slice(0, 40));

  /**
   * Shared by every request that waits for the same object, so no one client's hang-up may
   * cancel it: it runs under the source's own deadline only, and reads only that version.
   */
  async function download(identifier: string, object: SourceObject, path: string): Promise<string | undefined> {
    const part = `${path}.part`;
    let file: FileHandle | undefined;
    try {
      // Made again if removed while running.
      await onDisk(makeDir(dir));
      file = await onDisk(open(part, 'w'));
      for (let offset = 0; offset < object.size; ) {
        const length = Math.min(CHUNK_BYTES, object.size - offset);
        const bytes = await source.read(identifier, { offset, length }, undefined, storedEtag(object));
        // Shorter than its size said: not the version stat described.
        if (bytes.length === 0) throw new SourceChangedError();
        await onDisk(writeAll(file, bytes, offset));
        offset += bytes.length;
      }
      await onDisk(file.close());
      file = undefined;
      await onDisk(rename(part, path));
    } catch (e) {
      await file?.close().catch(() => undefined);
      await rm(part, { force: true }).catch(() => undefined);
      if (!(e instanceof DiskFailure)) throw e;
      // A full disk or a folder gone is no reason to fail the render: it reads into memory.
      const code = (e.cause as NodeJS.ErrnoException | undefined)?.code ?? String(e.cause);
      warnOnce(`source cache: cannot write to ${dir} (${code}); whole objects are read into memory meanwhile`);
      return undefined;
    }
    files.set(path, object.size);
    return path;
  }

  return {
    ...source,
    async localFile(identifier, object) {
      // Objects that would crowd out everything else are read into memory instead.
      if (object.size > options.maxBytes / 2) return undefined;
      if (!(await ready)) return undefined;
      const path = fileFor(identifier, object);
      // A file removed under us (the folder cleaned) or cut short is a miss, not a damaged source.
      const hit = files.get(path) !== undefined && (await stat(path).then((s) => s.isFile() && s.size === object.size, () => false));
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
