import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { LRUCache } from 'lru-cache';

export interface OpenFile {
  handle: FileHandle;
  size: number;
  /** Inode, size and mtime when opened: a different value from stat means the file was replaced. */
  identity: string;
}

/** A closed handle would fail reads still in flight on it; none takes anywhere near this long. */
const CLOSE_DELAY_MS = 30_000;

export const fileIdentity = (s: { ino: number; size: number; mtimeMs: number }) => `${s.ino}:${s.size}:${s.mtimeMs}`;

/**
 * Open files kept between requests, so a viewer's tile reads cost one pread each
 * instead of open, fstat, read and close.
 */
export function createHandleCache(max = 128) {
  const retire = (file: Promise<OpenFile>) =>
    void file.then(
      (f) => setTimeout(() => void f.handle.close().catch(() => undefined), CLOSE_DELAY_MS).unref(),
      () => undefined,
    );
  const files = new LRUCache<string, Promise<OpenFile>>({ max, dispose: retire });

  return {
    get(path: string): Promise<OpenFile> {
      let file = files.get(path);
      if (!file) {
        file = open(path, 'r').then(async (handle) => {
          const s = await handle.stat().catch(async (e: unknown) => {
            await handle.close();
            throw e;
          });
          return { handle, size: s.size, identity: fileIdentity(s) };
        });
        files.set(path, file);
        file.catch(() => files.delete(path));
      }
      return file;
    },
    /** Called with each fresh stat: drops a handle to a file that has since changed. */
    check(path: string, identity: string): void {
      void files.get(path)?.then((f) => {
        if (f.identity !== identity) files.delete(path);
      }, () => undefined);
    },
  };
}
