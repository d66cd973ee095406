import { HttpError } from '../errors.ts';
import type { ImageGeometry } from '../iiif/types.ts';

/** Half-open byte range [offset, offset + length). */
export interface ByteRange {
  offset: number;
  length: number;
}

/** What a source knows about one stored image without reading its pixels. */
export interface SourceObject {
  /** Changes whenever the bytes change (mtime/size for files, the store's ETag otherwise). */
  etag: string;
  size: number;
  lastModified?: Date;
  /** Geometry recorded by the store (e.g. S3 object metadata), trusted when complete. */
  hints?: Partial<ImageGeometry>;
  /**
   * The store's own ETag where `etag` names something more (a preflight header's geometry): what
   * reads and local copies must match. Read it through `storedEtag`.
   */
  stored?: string;
}

/** The ETag of the stored bytes themselves, which pins reads to the version stat saw. */
export const storedEtag = (object: SourceObject): string => object.stored ?? object.etag;

/**
 * A place images are read from. Implementations throw HttpError for every
 * failure (404 unknown identifier, 403, 502/503/504 upstream) and never put
 * paths, bucket names or keys into the message.
 */
export interface ImageSource {
  readonly kind: string;
  /** Reads are local file reads, so random access into the whole file is cheap (the fs source). */
  readonly local?: boolean;
  stat(identifier: string, signal?: AbortSignal): Promise<SourceObject>;
  /**
   * The whole object, or the given range (which may come back short at the end). With `etag`
   * (from stat), bytes of any other version are refused with SourceChangedError. The bytes are the
   * caller's, never a view of a cache: the stored-PNG answer rewrites them in place.
   */
  read(identifier: string, range?: ByteRange, signal?: AbortSignal, etag?: string): Promise<Uint8Array>;
  /**
   * Reads `range` into the front of `into`, for a caller that reuses its buffers: the count of
   * bytes read (short at the end of the object). With `etag`, as `read`. Local sources only.
   */
  readInto?(identifier: string, range: ByteRange, into: Uint8Array, etag?: string): Promise<number>;
  /** Identifiers to show on a landing page; optional because buckets can be huge. */
  list?(limit: number): Promise<string[]>;
  /**
   * A local file holding the object's bytes (the file itself, or a cached copy),
   * for native renderers that read with random access; undefined when there is none.
   */
  localFile?(identifier: string, object: SourceObject, signal?: AbortSignal): Promise<string | undefined>;
}

/**
 * The stored object is no longer the version stat described (replaced during the request).
 * Callers stat again and retry once; if it keeps changing the client is asked to retry.
 */
export class SourceChangedError extends HttpError {
  constructor() {
    super(503, 'upstream_unavailable', 'the image changed while it was read, try again', { 'Retry-After': '1' });
  }
}

export const isSourceChanged = (e: unknown): e is SourceChangedError => e instanceof SourceChangedError;

/** The source as one request sees it: every read is of the version `object` describes. */
export function pinnedTo(source: ImageSource, object: SourceObject): ImageSource {
  const { readInto } = source;
  return {
    ...source,
    read: (identifier, range, signal, etag = storedEtag(object)) => source.read(identifier, range, signal, etag),
    ...(readInto && { readInto: (identifier, range, into, etag = storedEtag(object)) => readInto.call(source, identifier, range, into, etag) }),
  };
}

/** Runs `work` again, once, when the object changed under it (it stats afresh, so it sees the new version). */
export async function retryIfChanged<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (!isSourceChanged(e)) throw e;
    return work();
  }
}
