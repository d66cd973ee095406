import { type HttpError, httpError } from '../errors.ts';

/** Why sharp failed: the stored image, our settings, or anything else (a bug of ours or libvips). */
export type SharpFailure = 'bad source' | 'bad setting' | 'internal';

/** sharp checks its options in JavaScript and words each refusal "Expected …" (e.g. quality 150). */
const BAD_SETTING = /^Expected\b/;
/**
 * libvips loaders' words for input they cannot read. A pixel limit hit here is one too: the
 * request was checked against the size the file declared, so the file holds more than it said.
 */
const BAD_SOURCE =
  /exceeds pixel limit|Input (?:buffer|file) (?:contains unsupported|is missing|has corrupt)|unsupported image format|^Vips(?:Jpeg|Png|Tiff)|^vips(?:png|jpeg|tiff)|^(?:jpeg|png|tiff|webp|gif|heif|jp2k?)load|libpng|libspng|TIFF|premature end|corrupt|truncated|not a known|bad (?:header|marker|seek)|exceeds channel limit|no known route from|vector must have \d+ or \d+ elements/i;

export function classifySharpError(e: unknown): SharpFailure {
  const message = e instanceof Error ? e.message : String(e);
  if (BAD_SETTING.test(message)) return 'bad setting';
  if (BAD_SOURCE.test(message)) return 'bad source';
  return 'internal';
}

/**
 * The HTTP error for a sharp failure. The client learns only whether the stored image is
 * at fault; the class and sharp's own words go to the log as the cause.
 */
export function sharpHttpError(e: unknown): HttpError {
  const kind = classifySharpError(e);
  const cause = new Error(`sharp failed (${kind})`, { cause: e });
  return kind === 'bad source'
    ? httpError(422, 'unsupported_source', 'the source image could not be decoded', {}, cause)
    : httpError(500, 'internal', 'internal server error', {}, cause);
}
