import { HttpError } from '../errors.ts';

/**
 * A JPEG 2000 source that cannot be read safely: damaged, hostile, or using what we
 * do not decode. 422: the request is fine, the stored image is not. The message names
 * no path or key.
 */
export class Jp2Error extends HttpError {
  constructor(message: string) {
    super(422, 'unsupported_source', message);
    this.name = 'Jp2Error';
  }
}
