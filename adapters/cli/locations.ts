import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { constants } from 'node:fs';
import { access, readdir, realpath, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../../src/config.ts';
import { createS3Client } from '../../src/sources/s3-client.ts';
import { makeDir } from '../../src/sources/fs-make-dir.ts';
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
  /** Why this name was not listed in full (a bound reached, a folder unreadable): a failed input in the summary. */
  refused?: string;
  /** A link to nothing (a missing file, or a folder as an unmounted share): a failed input. */
  dangling?: true;
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
  /** Stores a staged file under `name`, replacing any older one in a single step; a file gets `modified` as its time. */
  put(name: string, staged: string, modified: Date, metadata: Record<string, string>): Promise<void>;
  /** Why `name` cannot be stored here (a folder has no file `a//b`), or undefined when it can. */
  nameProblem?(name: string): string | undefined;
  /** Refuses, as a usage error, a destination that cannot be written at all (before any work). */
  writable?(): Promise<void>;
  close(): void;
}

/** `s3://bucket/prefix` or a folder path; S3 settings come from the server's IIIF_S3_* variables. */
export function openLocation(spec: string): Location {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(spec);
  if (!s3 && spec.startsWith('s3://')) throw new UsageError(`the S3 location ${spec} needs a bucket: s3://bucket/prefix`);
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

const unreadable = (name: string, e: NodeJS.ErrnoException): StoredFile => ({ name, size: 0, modified: new Date(0), refused: `cannot read it (${e.code ?? e.message})` });

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
   * `chain` holds the real folders of the walk down to `dir` (SOURCE and each linked folder walked):
   * a link back to one of them, or to a folder enclosing the link, loops and is not followed. Every
   * other link is, so two links to one folder give both names, as the server does.
   */
  async function* walk(dir: string, prefix: string, inside: string, chain: Set<string>, budget: { links: number }): AsyncGenerator<StoredFile> {
    // Folder by folder, not readdir's recursive mode, which fails whole on one unreadable subfolder.
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
    if (!entries) {
      if (prefix === '') throw new UsageError(`cannot read the folder ${root}`);
      yield { name: prefix, size: 0, modified: new Date(0), refused: 'cannot read this folder' };
      return;
    }
    const within = (outer: string, inner: string) => inner === outer || inner.startsWith(`${outer}${sep}`);
    for (const entry of entries) {
      const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) {
        yield* walk(join(dir, entry.name), name, inside, chain, budget);
        continue;
      }
      if (!entry.isFile() && !entry.isSymbolicLink()) continue;
      if (entry.isSymbolicLink()) {
        const target = await realpath(path(name)).catch((e: NodeJS.ErrnoException) => e);
        if (target instanceof Error) {
          // A link into a folder that cannot be entered is no link to nothing.
          yield target.code === 'ENOENT' ? { name, size: 0, modified: new Date(0), dangling: true } : unreadable(name, target);
          continue;
        }
        if (!within(inside, target)) {
          yield { name, size: 0, modified: new Date(0), outside: true };
          continue;
        }
        if ((await stat(target).catch(() => undefined))?.isDirectory()) {
          const enclosing = await realpath(dir).catch(() => target);
          if (chain.has(target) || within(target, enclosing)) continue;
          // Links to links can still multiply the names: a bound on the folders walked, reported past it.
          if (budget.links >= MAX_LINKED_FOLDERS) {
            yield { name, size: 0, modified: new Date(0), refused: `not walked: over ${MAX_LINKED_FOLDERS} folders reached through links` };
            continue;
          }
          budget.links++;
          yield* walk(path(name), name, inside, new Set([...chain, target]), budget);
          continue;
        }
      }
      // A folder that can be listed but not entered (mode 644) gives names it cannot stat.
      const found = await stat(path(name)).then(
        (st) => (st.isFile() ? { name, size: st.size, modified: st.mtime } : undefined),
        (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : unreadable(name, e)),
      );
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
      yield* walk(base, '', inside, new Set([inside]), { links: 0 });
    },
    stat: statOf,
    localCopy: async (name) => path(name),
    async staging(name) {
      await makeDir(dirname(path(name)));
      // One hidden folder per run: removed whole, even a file libvips opens after the removal
      // began cannot appear (its folder is gone). Never listed as an image: names starting with '.'.
      await makeDir(partials);
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
    async put(name, staged, modified) {
      // The input's time, not the clock's: one dated in the future is up to date on the next run.
      await utimes(staged, modified, modified);
      await rename(staged, path(name));
    },
    // join() would make `a//b` into `a/b`, another input's name: an S3 key a folder cannot hold.
    nameProblem: (name) => (name.split('/').includes('') ? `not a file name in a folder: ${name} has an empty part (a "//" or a leading "/")` : undefined),
    async writable() {
      try {
        await makeDir(base);
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

/**
 * A failed S3 call as one line naming the object: the SDK's own message for a bodiless answer
 * (HeadObject's 403) is only "UnknownError".
 */
function s3Failure(e: unknown, call: string, where: string): Error {
  const fault = e as { name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = fault.$metadata?.httpStatusCode;
  if (status === 403 || fault.name === 'AccessDenied') {
    // Without s3:ListBucket, S3 answers a read of a missing object with 403 too.
    const missing = call === 'HeadObject' || call === 'GetObject' ? ' (a missing object is also 403 without s3:ListBucket)' : '';
    return new Error(`access denied (403) to ${where}: the credentials may not ${call} there${missing}`);
  }
  const said = typeof fault.message === 'string' && fault.message !== 'UnknownError' ? fault.message.split('\n')[0] : undefined;
  return new Error(`${call} ${where} failed: ${said ?? (status !== undefined ? `status ${status}` : String(fault.name ?? e))}`);
}

function s3Prefix(client: S3Client, bucket: string, prefix: string): Location {
  const key = (name: string) => prefix + name;
  const send = <T>(call: string, where: string, request: () => Promise<T>) =>
    request().catch((e: unknown) => {
      throw s3Failure(e, call, where);
    });
  return {
    label: `s3://${bucket}/${prefix}`,
    async identity() {
      // Missing configuration, found before any work rather than as every file's failure.
      await client.config.region().catch(() => {
        throw new UsageError('no S3 region: set IIIF_S3_REGION (or AWS_REGION)');
      });
      return `s3://${bucket}/${prefix}`;
    },
    async *list() {
      let token: string | undefined;
      do {
        const page = await send('ListObjectsV2', `s3://${bucket}/${prefix}`, () =>
          client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })),
        );
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
        throw s3Failure(e, 'HeadObject', `s3://${bucket}/${key(name)}`);
      }
    },
    async localCopy(name, scratch) {
      const object = await send('GetObject', `s3://${bucket}/${key(name)}`, () => client.send(new GetObjectCommand({ Bucket: bucket, Key: key(name) })));
      if (!(object.Body instanceof Readable)) throw new Error('the S3 client returned no stream');
      const file = join(scratch, `in-${randomName()}`);
      await pipeline(object.Body, createWriteStream(file));
      return file;
    },
    staging: async (_name, scratch) => join(scratch, `out-${randomName()}.tif`),
    async put(name, file, _modified, metadata) {
      const { size } = await stat(file);
      await send('PutObject', `s3://${bucket}/${key(name)}`, () =>
        client.send(
          new PutObjectCommand({
          Bucket: bucket,
          Key: key(name),
          Body: createReadStream(file),
          ContentLength: size,
          ContentType: 'image/tiff',
            Metadata: metadata,
          }),
        ),
      );
      await rm(file, { force: true });
    },
    close: () => client.destroy(),
  };
}
