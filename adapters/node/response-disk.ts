import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { ConfigError } from '../../src/config.ts';
import { makeDir } from '../../src/sources/fs-make-dir.ts';
import type { CachedResponse, ResponseStore } from '../../src/http/response-cache.ts';

const VIA: ReadonlyArray<CachedResponse['via']> = ['tiles', 'render'];
/**
 * Files kept, whatever their bytes: the index holds about 300 bytes of memory for each (30 MB at
 * this count). Past it the least recently used go, as past the byte bound; at start, files of ours
 * past it are removed, so none is left on disk uncounted.
 */
const MAX_FILES = 100_000;
/**
 * File system calls in flight while indexing: enough to keep libuv's threads busy, few enough
 * that a request's file reads, queued behind them in the same pool, wait for no more than that.
 */
const INDEX_PARALLEL = 16;
/**
 * Files are counted as the disk holds them, in whole blocks (4 KiB on common Linux filesystems and
 * tmpfs): counted by their bytes, 1,500 thumbnails took 6 MB of disk under a 1 MiB bound.
 */
const blocks = (bytes: number): number => Math.max(1, Math.ceil(bytes / 4096)) * 4096;
/** A use is written to the file's mtime at most this often: the order a restart finds is that fine. */
const STAMP_EVERY_MS = 60_000;
const UTF8 = new TextEncoder();

/** One file: its size, and its mtime as last found or set (ms), to throttle setting it. */
interface Entry {
  size: number;
  stamped: number;
}

export interface DiskResponseStore extends ResponseStore {
  /**
   * Settles, never rejecting, with how many files an earlier process left were indexed; until
   * then those are misses. Writes meanwhile are kept and counted.
   */
  indexed: Promise<number>;
}

export interface DiskStoreOptions {
  /** How indexing stats a file (tests hold indexing with it). */
  statFile?: (path: string) => Promise<{ size: number; mtimeMs: number; isFile(): boolean }>;
  /** MAX_FILES (tests lower it). */
  maxFiles?: number;
}

/**
 * Rendered responses as files under `dir`/iiif-edge-responses, below the memory cache: larger,
 * and kept across restarts (the files there are indexed in the background after it returns,
 * most recent kept, up to the bound). One file per response, named by a hash of its key and
 * starting with the key itself, so a collision or a foreign file is a miss. At most `maxBytes` of
 * files, least recently used out first (a hit in memory counts, see `touch`; across restarts by
 * mtime), one response at most an eighth of it; written to a temporary name, then renamed.
 * Rejects only when the folder cannot be made, a configuration error.
 */
export async function diskResponseStore(
  dir: string,
  maxBytes: number,
  warn: (line: string) => void,
  options: DiskStoreOptions = {},
): Promise<DiskResponseStore> {
  const root = join(dir, 'iiif-edge-responses');
  await makeDir(root).catch((e: unknown) => {
    throw new ConfigError(`invalid configuration: IIIF_RESPONSE_CACHE_DIR: cannot create ${root} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  });
  const maxFiles = options.maxFiles ?? MAX_FILES;
  const files = new LRUCache<string, Entry>({
    max: maxFiles,
    maxSize: maxBytes,
    maxEntrySize: Math.max(1, Math.floor(maxBytes / 8)),
    sizeCalculation: (entry) => entry.size,
    // A rewrite of the same name ('set') keeps its file.
    dispose: (_entry, name, reason) => void (reason !== 'set' && rm(join(root, name), { force: true }).catch(() => undefined)),
  });
  const writing = new Set<string>();
  // In this store's temporary file names, so that indexing leaves them alone (an earlier process's go).
  const session = randomBytes(4).toString('hex');
  let warned = false;
  // One line, once: a full or read-only disk would otherwise log every render.
  const warnOnce = (line: string) => {
    if (!warned) warn(line);
    warned = true;
  };
  const nameOf = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 40);
  // Fire and forget: a file removed meanwhile or a refused utimes costs only order after a restart.
  const stamp = (name: string, entry: Entry) => {
    const now = Date.now();
    if (now - entry.stamped < STAMP_EVERY_MS) return;
    entry.stamped = now;
    utimes(join(root, name), now / 1000, now / 1000).catch(() => undefined);
  };
  const indexed = indexExisting(root, files, (name) => writing.has(name), session, options.statFile ?? stat, maxFiles).catch((e: unknown) => {
    // The folder removed under us: the writes will say so.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warnOnce(`response cache: cannot index ${root}: ${e instanceof Error ? e.message : String(e)}`);
    return 0;
  });

  return {
    indexed,
    async get(key) {
      const name = nameOf(key);
      const entry = files.get(name);
      if (entry === undefined) return undefined;
      const bytes = await readFile(join(root, name)).catch(() => undefined);
      const parsed = bytes && parse(bytes, key);
      if (!parsed) files.delete(name);
      else stamp(name, entry);
      return parsed;
    },
    touch(key) {
      // get() makes it the most recent; the hash is about 1 µs, no I/O unless the stamp is due.
      const name = nameOf(key);
      const entry = files.get(name);
      if (entry) stamp(name, entry);
    },
    set(key, response) {
      const name = nameOf(key);
      const header = encodeHeader(key, response.via, response.body);
      const size = blocks(header.length + response.body.byteLength);
      if (files.has(name) || writing.has(name) || size > maxBytes / 8) return;
      writing.add(name);
      // One write per name at a time (`writing`), so the name and session make it unique.
      const part = join(root, `${name}.${session}.part`);
      writeFile(part, [header, response.body])
        .then(() => rename(part, join(root, name)))
        .then(() => void files.set(name, { size, stamped: Date.now() }))
        .catch((e: unknown) => {
          void rm(part, { force: true }).catch(() => undefined);
          warnOnce(`response cache: cannot write to ${root}: ${e instanceof Error ? e.message : String(e)}`);
          // The folder removed while running: made again for the next write.
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') void makeDir(root).catch(() => undefined);
        })
        .finally(() => writing.delete(name));
    },
  };
}

/**
 * Key length (4 bytes), key, how it was made (1 byte), the body's length and CRC-32 (4 bytes
 * each), then the body: a file cut short or changed on disk is a miss, never a damaged answer.
 */
function encodeHeader(key: string, via: CachedResponse['via'], body: Uint8Array): Uint8Array {
  const k = UTF8.encode(key);
  const header = new Uint8Array(13 + k.length);
  const view = new DataView(header.buffer);
  view.setUint32(0, k.length);
  header.set(k, 4);
  header[4 + k.length] = VIA.indexOf(via);
  view.setUint32(5 + k.length, body.byteLength);
  view.setUint32(9 + k.length, crc32(body));
  return header;
}

function parse(bytes: Uint8Array, key: string): CachedResponse | undefined {
  const k = UTF8.encode(key);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 13 + k.length || view.getUint32(0) !== k.length) return undefined;
  for (let i = 0; i < k.length; i++) if (bytes[4 + i] !== k[i]) return undefined;
  const via = VIA[bytes[4 + k.length] ?? -1];
  const body = bytes.subarray(13 + k.length);
  if (!via || body.byteLength !== view.getUint32(5 + k.length) || crc32(body) !== view.getUint32(9 + k.length)) return undefined;
  return { via, body: new Uint8Array(body) };
}

/**
 * Files an earlier process left, in `files` below the ones written since start (those are more
 * recent), newest by mtime kept up to the bound, so nothing written is evicted to make room for
 * them. Stats run INDEX_PARALLEL at a time; those left out, and earlier partial writes, go.
 */
async function indexExisting(
  root: string,
  files: LRUCache<string, Entry>,
  isWriting: (name: string) => boolean,
  session: string,
  statFile: NonNullable<DiskStoreOptions['statFile']>,
  maxFiles: number,
): Promise<number> {
  const found: Array<{ name: string; size: number; mtime: number }> = [];
  const ours = (name: string) => /^[0-9a-f]{40}$/.test(name);
  const names = await readdir(root);
  let counted = 0;
  // Removing is best effort: an entry that cannot go (a folder, a read-only disk) stays, unindexed.
  const remove = (name: string) => rm(join(root, name), { force: true }).catch(() => undefined);
  await inParallel(names, async (name) => {
    if (ours(name)) {
      if (counted++ >= maxFiles) return void (await remove(name));
      const s = await statFile(join(root, name)).catch(() => undefined);
      if (s?.isFile()) found.push({ name, size: blocks(s.size), mtime: s.mtimeMs });
    } else if (name.endsWith('.part') && !name.endsWith(`.${session}.part`)) {
      await remove(name);
    }
  });
  // From here to the last set() nothing awaits, so no write can come between.
  found.sort((a, b) => b.mtime - a.mtime);
  let room = files.maxSize - files.calculatedSize;
  const kept: typeof found = [];
  const left: string[] = [];
  for (const f of found) {
    // Written again since start: counted already, and more recent.
    if (files.has(f.name)) continue;
    // Over the bound for one response (the bound was lowered), or older than what fits.
    if (f.size > files.maxEntrySize || f.size > room || kept.length + files.size >= maxFiles) {
      left.push(f.name);
      if (f.size <= files.maxEntrySize) room = 0;
      continue;
    }
    kept.push(f);
    room -= f.size;
  }
  const fresh = [...files.rkeys()];
  for (const f of kept.reverse()) files.set(f.name, { size: f.size, stamped: f.mtime }); // oldest first
  for (const name of fresh) files.get(name); // back above the older files, in their order
  // Not one being written or written since: that file is the new response.
  await inParallel(left, (name) => (files.has(name) || isWriting(name) ? Promise.resolve() : remove(name)));
  return kept.length;
}

/** `each` over `items`, at most INDEX_PARALLEL at a time. */
async function inParallel<T>(items: readonly T[], each: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await each(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(INDEX_PARALLEL, items.length) }, worker));
}
