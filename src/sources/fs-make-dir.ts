import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Bounds the walk up: a path has fewer parts than PATH_MAX (4096) has bytes. */
const MAX_DEPTH = 4096;

/**
 * `mkdir -p`, one level at a time. Node's own recursive mkdir never settles where the kernel
 * answers ENOENT for a parent that exists (under /proc), which hung the server at start.
 * Rejects with the system's error code (EEXIST for a file in the way, ENOTDIR, ENOENT, EACCES).
 */
export async function makeDir(path: string, depth = 0): Promise<void> {
  try {
    await mkdir(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await stat(path)).isDirectory()) return;
      throw e;
    }
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path || depth >= MAX_DEPTH) throw e;
    await makeDir(parent, depth + 1);
    await mkdir(path).catch(async (again: unknown) => {
      // Made meanwhile by another process or request: a folder, not a file.
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST' || !(await stat(path)).isDirectory()) throw again;
    });
  }
}
