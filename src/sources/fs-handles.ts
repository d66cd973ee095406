import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

export interface OpenFile {
  handle: FileHandle;
  size: number;
  /** Inode, size and mtime when opened: a different value from stat means the file was replaced. */
  identity: string;
}

interface Entry {
  path: string;
  file: Promise<OpenFile>;
  /** Reads running on the handle right now: it is closed only when this is 0. */
  refs: number;
  /** Still findable by path; an entry dropped from the cache closes when its last read ends. */
  cached: boolean;
  closed: boolean;
  idleSince: number;
}

/** Unused handles are closed after this long, so a quiet server holds no descriptors (and none is left to GC). */
const IDLE_MS = 10_000;

export const fileIdentity = (s: { ino: number; size: number; mtimeMs: number }) => `${s.ino}:${s.size}:${s.mtimeMs}`;

/**
 * Open files kept between requests, so a viewer's tile reads cost one pread each instead of
 * open, fstat, read and close. At most `maxOpen` descriptors are open whatever the request
 * pattern: a handle is closed as soon as it is neither cached nor in use, the least recently
 * used idle one makes room for a new one, and when every handle is in use new reads wait.
 */
export function createHandleCache(maxOpen = 128) {
  /** Cached entries, least recently used first. */
  const entries = new Map<string, Entry>();
  let open = 0;
  const waiting: Array<() => void> = [];
  let sweep: ReturnType<typeof setInterval> | undefined;

  const wakeOne = () => waiting.shift()?.();

  function close(entry: Entry): void {
    if (entry.closed) return;
    entry.closed = true;
    void entry.file
      .then((f) => f.handle.close())
      .catch(() => undefined)
      .finally(() => {
        open--;
        wakeOne();
      });
  }

  function drop(entry: Entry): void {
    if (entries.get(entry.path) === entry) entries.delete(entry.path);
    entry.cached = false;
    if (entry.refs === 0) close(entry);
    if (entries.size === 0 && sweep) {
      clearInterval(sweep);
      sweep = undefined;
    }
  }

  function dropOldestIdle(): boolean {
    for (const entry of entries.values()) {
      if (entry.refs === 0) {
        drop(entry);
        return true;
      }
    }
    return false;
  }

  function startSweep(): void {
    sweep ??= setInterval(() => {
      const cutoff = performance.now() - IDLE_MS;
      for (const entry of [...entries.values()]) if (entry.refs === 0 && entry.idleSince < cutoff) drop(entry);
    }, IDLE_MS);
    sweep.unref();
  }

  async function acquire(path: string): Promise<Entry> {
    let woken = false;
    for (;;) {
      const hit = entries.get(path);
      if (hit) {
        hit.refs++;
        entries.delete(path);
        entries.set(path, hit);
        // This waiter needed no new descriptor: pass the freed one on.
        if (woken) wakeOne();
        return hit;
      }
      if (open < maxOpen) break;
      // Make room by closing an idle handle (the close wakes a waiter); else wait for a read to end.
      dropOldestIdle();
      await new Promise<void>((ok) => waiting.push(ok));
      woken = true;
    }
    open++;
    const entry: Entry = { path, file: openFile(path), refs: 1, cached: true, closed: false, idleSince: 0 };
    entries.set(path, entry);
    startSweep();
    entry.file.catch(() => drop(entry));
    return entry;
  }

  function release(entry: Entry): void {
    entry.refs--;
    if (entry.refs > 0) return;
    entry.idleSince = performance.now();
    // Readers are waiting for a descriptor: an idle one goes rather than stay cached.
    if (!entry.cached || waiting.length > 0) drop(entry);
  }

  return {
    /** Runs `read` on the open file, which stays open until it settles. */
    async use<T>(path: string, read: (file: OpenFile) => Promise<T>): Promise<T> {
      const entry = await acquire(path);
      try {
        return await read(await entry.file);
      } finally {
        release(entry);
      }
    },
    /** Called with each fresh stat: drops a handle to a file that has since changed. */
    check(path: string, identity: string): void {
      const entry = entries.get(path);
      void entry?.file.then((f) => {
        if (f.identity !== identity) drop(entry);
      }, () => undefined);
    },
    /** Drops the cached handle of a file found changed; reads in flight keep theirs. */
    forget(path: string): void {
      const entry = entries.get(path);
      if (entry) drop(entry);
    },
  };
}

async function openFile(path: string): Promise<OpenFile> {
  const handle = await open(path, 'r');
  const s = await handle.stat().catch(async (e: unknown) => {
    await handle.close();
    throw e;
  });
  return { handle, size: s.size, identity: fileIdentity(s) };
}
