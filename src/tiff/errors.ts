import { HttpError } from '../errors.ts';

/**
 * A source TIFF (or a JPEG tile inside it) that cannot be read safely: damaged,
 * hostile, or outside what the tile fast path handles. 422: the request is fine, the stored
 * image is not, and retrying will not help (short-cacheable, unlike a 5xx). It is an HttpError
 * so the app's error handler answers it like any other; the message names no path.
 */
export class TiffError extends HttpError {
  constructor(message: string) {
    super(422, 'unsupported_source', message);
    this.name = 'TiffError';
  }
}

export const isTiffError = (e: unknown): e is TiffError => e instanceof TiffError;
