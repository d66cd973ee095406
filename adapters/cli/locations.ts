import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { constants } from 'node:fs';
import { access, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../../src/config.ts';
import { createS3Client } from '../../src/sources/s3-client.ts';
import { UsageError } from './args.ts';

export interface StoredFile {
  /** Path below the location, `/`-separated: the identifier-bearing part that prepare keeps. */
  name: string;
  size: number;
  modified: Date;
  /** S3 user metadata (lower-case keys); absent for files. */
  metadata?: Record<string, string>;
  /** A link leading out of the folder: the server does not serve it, so it is only counted. */
  outside?: true;
}

/** A folder or an S3 prefix, seen the way prepare needs it. */
export interface Location {
  readonly label: string;
  /** The label with every link resolved (a folder's real path), so two names for one place compare equal. */
  identity(): Promise<string>;
  /** Every stored file, in no particular order. */
  list(): AsyncIterable<StoredFile>;
  stat(name: string): Promise<StoredFile | undefined>;
  /** A local path holding the file's bytes: the file itself, or a download into `scratch`. */
  localCopy(name: string, scratch: string): Promise<string>;
  /** Where to write the output for `name` before put(): in the folder itself for a folder, so put() is a rename. */
  staging(name: string, scratch: string): Promise<string>;
  /** Removes, at once, everything staged and not yet put (Ctrl-C, and the end of a run). */
  abandon?(): void;
  /** Stores a staged file under `name`, replacing any older one in a single step. */
  put(name: string, staged: string, metadata: Record<string, string>): Promise<void>;
  /** Refuses, as a usage error, a destination that cannot be written at all (before any work). */
  writable?(): Promise<void>;
  close(): void;
}

/** `s3://bucket/prefix` or a folder path; S3 settings come from the server's IIIF_S3_* variables. */
export function openLocation(spec: string): Location {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(spec);
  if (!s3) return folder(spec);
  const [, bucket = '', rawPrefix = ''] = s3;
  const prefix = rawPrefix === '' || rawPrefix.endsWith('/') ? rawPrefix : `${rawPrefix}/`;
  return s3Prefix(createS3Client(loadConfig(process.env)), bucket, prefix);
}

const randomName = () => Math.random().toString(36).slice(2);

/** A run's staging folder inside DEST: `.iiif-edge-partial-<host>-<pid>`. */
const PARTIALS = '.iiif-edge-partial-';
const PARTIAL_NAME = /^\.iiif-edge-partial-(?:(.+)-)?(\d+)$/;
/** Folders reached through links inside SOURCE, at most: a bound on the walk whatever the links. */
const MAX_LINKED_FOLDERS = 10_000;

function folder(root: string): Location {
  const base = resolve(root);
  const partials = join(base, `${PARTIALS}${hostname()}-${process.pid}`);
  const path = (name: string) => join(base, ...name.split('/'));
  const statOf = async (name: string): Promise<StoredFile | undefined> => {
    try {
      const s = await stat(path(name));
      return s.isFile() ? { name, size: s.size, modified: s.mtime } : undefined;
    } catch {
      return undefined;
    }
  };
  /**
   * Files under `dir` (named below the folder from `prefix`), and under the folders that links
   * inside it lead to: the server serves those names too. A link leading out is reported as such.
   */
  async function* walk(dir: string, prefix: string, inside: string, seen: Set<string>): AsyncGenerator<StoredFile> {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => {
      if (prefix === '') throw new UsageError(`cannot read the folder ${root}`);
      return [];
    });
    for (const entry of entries) {
      if (!entry.isFile() && !entry.isSymbolicLink()) continue;
      const below = relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/');
      const name = prefix === '' ? below : `${prefix}/${below}`;
      if (entry.isSymbolicLink()) {
        const target = await realpath(path(name)).catch(() => undefined);
        if (target === undefined) continue;
        if (target !== inside && !target.startsWith(`${inside}${sep}`)) {
          yield { name, size: 0, modified: new Date(0), outside: true };
          continue;
        }
        if ((await stat(target).catch(() => undefined))?.isDirectory()) {
          // Each linked folder once: a link to an enclosing folder would loop.
          if (!seen.has(target) && seen.size < MAX_LINKED_FOLDERS) {
            seen.add(target);
            yield* walk(path(name), name, inside, seen);
          }
          continue;
        }
      }
      const found = await statOf(name);
      if (found) yield found;
    }
  }

  return {
    label: base,
    identity: () => realPathOf(base),
    async *list() {
      const inside = await realpath(base).catch(() => {
        throw new UsageError(`cannot read the folder ${root}`);
      });
      yield* walk(base, '', inside, new Set([inside]));
    },
    stat: statOf,
    localCopy: async (name) => path(name),
    async staging(name) {
      await mkdir(dirname(path(name)), { recursive: true });
      // One hidden folder per run: removed whole, even a file libvips opens after the removal
      // began cannot appear (its folder is gone). Never listed as an image: names starting with '.'.
      await mkdir(partials, { recursive: true });
      // A .tif name: libvips picks the writer by the file's ending (`a.jp2` would ask for JPEG 2000).
      return join(partials, `${randomName()}.tif`);
    },
    abandon() {
      try {
        rmSync(partials, { recursive: true, force: true });
      } catch {
        // Nothing was staged where DEST is no folder.
      }
    },
    put: (name, staged) => rename(staged, path(name)),
    async writable() {
      try {
        await mkdir(base, { recursive: true });
        await access(base, constants.W_OK);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new UsageError(code === 'EEXIST' || code === 'ENOTDIR' ? `${root} is not a folder` : `cannot write to the folder ${root} (${code ?? 'error'})`);
      }
      await removeDeadPartials(base);
    },
    close() {},
  };
}

/** A path with every link resolved, as far as it exists (DEST may not exist yet). */
async function realPathOf(path: string): Promise<string> {
  const real = await realpath(path).catch(() => undefined);
  if (real !== undefined) return real;
  const parent = dirname(path);
  return parent === path ? path : join(await realPathOf(parent), basename(path));
}

/**
 * Staging folders left by a run of this host that was killed (SIGKILL, out of memory), which
 * could not remove its own: their process is gone. Another host's (a shared DEST) are left alone.
 */
async function removeDeadPartials(base: string): Promise<void> {
  for (const name of await readdir(base).catch(() => [] as string[])) {
    const match = PARTIAL_NAME.exec(name);
    if (!match || (match[1] !== undefined && match[1] !== hostname())) continue;
    const pid = Number(match[2]);
    if (pid !== process.pid && !alive(pid)) await rm(join(base, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function s3Prefix(client: S3Client, bucket: string, prefix: string): Location {
  const key = (name: string) => prefix + name;
  return {
    label: `s3://${bucket}/${prefix}`,
    identity: async () => `s3://${bucket}/${prefix}`,
    async *list() {
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          if (o.Key === undefined || o.Key.endsWith('/')) continue;
          yield { name: o.Key.slice(prefix.length), size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },
    async stat(name) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key(name) }));
        return { name, size: head.ContentLength ?? 0, modified: head.LastModified ?? new Date(0), metadata: head.Metadata ?? {} };
      } catch (e) {
        if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw e;
      }
    },
    async localCopy(name, scratch) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key(name) }));
      if (!(object.Body instanceof Readable)) throw new Error('the S3 client returned no stream');
      const file = join(scratch, `in-${randomName()}`);
      await pipeline(object.Body, createWriteStream(file));
      return file;
    },
    staging: async (_name, scratch) => join(scratch, `out-${randomName()}.tif`),
    async put(name, file, metadata) {
      const { size } = await stat(file);
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key(name),
          Body: createReadStream(file),
          ContentLength: size,
          ContentType: 'image/tiff',
          Metadata: metadata,
        }),
      );
      await rm(file, { force: true });
    },
    close: () => client.destroy(),
  };
}
