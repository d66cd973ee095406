import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { ConfigError } from '../../src/config.ts';
import { makeDir } from '../../src/sources/fs-make-dir.ts';
import type { CachedResponse, ResponseStore } from '../../src/http/response-cache.ts';

const VIA: ReadonlyArray<CachedResponse['via']> = ['tiles', 'render'];
/** Files indexed at start: a folder with more (not ours, or a bound since lowered) is not walked further. */
const MAX_INDEXED = 200_000;
const UTF8 = new TextEncoder();

/**
 * Rendered responses as files under `dir`/iiif-edge-responses, below the memory cache: larger,
 * and kept across restarts (at start the files there are indexed, most recent kept, up to the
 * bound). One file per response, named by a hash of its key and starting with the key itself, so
 * a collision or a foreign file is a miss. At most `maxBytes` of files, least recently used out
 * first, one response at most an eighth of it; written to a temporary name, then renamed.
 */
export async function diskResponseStore(dir: string, maxBytes: number, warn: (line: string) => void): Promise<ResponseStore> {
  const root = join(dir, 'iiif-edge-responses');
  await makeDir(root).catch((e: unknown) => {
    throw new ConfigError(`invalid configuration: IIIF_RESPONSE_CACHE_DIR: cannot create ${root} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  });
  const files = new LRUCache<string, number>({
    maxSize: maxBytes,
    maxEntrySize: Math.max(1, Math.floor(maxBytes / 8)),
    sizeCalculation: (size) => Math.max(1, size),
    // A rewrite of the same name ('set') keeps its file.
    dispose: (_size, name, reason) => void (reason !== 'set' && rm(join(root, name), { force: true })),
  });
  await indexExisting(root, files);
  const writing = new Set<string>();
  let warned = false;
  const nameOf = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 40);

  return {
    async get(key) {
      const name = nameOf(key);
      if (files.get(name) === undefined) return undefined;
      const bytes = await readFile(join(root, name)).catch(() => undefined);
      const parsed = bytes && parse(bytes, key);
      if (!parsed) files.delete(name);
      return parsed;
    },
    set(key, response) {
      const name = nameOf(key);
      const header = encodeHeader(key, response.via, response.body);
      const size = header.length + response.body.byteLength;
      if (files.has(name) || writing.has(name) || size > maxBytes / 8) return;
      writing.add(name);
      const part = join(root, `${name}.${randomBytes(4).toString('hex')}.part`);
      writeFile(part, [header, response.body])
        .then(() => rename(part, join(root, name)))
        .then(() => void files.set(name, size))
        .catch((e: unknown) => {
          void rm(part, { force: true });
          // One line, once: a full or read-only disk would otherwise log every render.
          if (!warned) warn(`response cache: cannot write to ${root}: ${e instanceof Error ? e.message : String(e)}`);
          warned = true;
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

/** Files an earlier process left, oldest first, so the LRU drops those first; partial writes go. */
async function indexExisting(root: string, files: LRUCache<string, number>): Promise<void> {
  const found: Array<{ name: string; size: number; mtime: number }> = [];
  for (const name of (await readdir(root)).slice(0, MAX_INDEXED)) {
    const path = join(root, name);
    if (!/^[0-9a-f]{40}$/.test(name)) {
      if (name.endsWith('.part')) await rm(path, { force: true });
      continue;
    }
    const s = await stat(path).catch(() => undefined);
    if (s?.isFile()) found.push({ name, size: s.size, mtime: s.mtimeMs });
  }
  found.sort((a, b) => a.mtime - b.mtime);
  for (const f of found) {
    // Over the bound for one response (the bound was lowered): not indexed, so removed.
    if (f.size > (files.maxEntrySize ?? Infinity)) await rm(join(root, f.name), { force: true });
    else files.set(f.name, f.size);
  }
}
