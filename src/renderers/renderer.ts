import { busy } from '../http/concurrency.ts';
import type { IiifVersion, RenderPlan } from '../iiif/types.ts';
import type { SourceGeometry } from '../image/geometry.ts';
import type { ImageSource, SourceObject } from '../sources/source.ts';

export interface RenderInput {
  identifier: string;
  object: SourceObject;
  source: ImageSource;
  geometry: SourceGeometry;
  version: IiifVersion;
  /** `{prefix}/{version}/{encoded identifier}/{canonical params}`: a cache key shared by equivalent requests. */
  canonicalPath: string;
  /** The answer's ETag: source version, canonical request and every setting that shapes the bytes. */
  etag: string;
  signal?: AbortSignal;
  /** Date.now() at which the request times out: sharp pipelines still running then are killed. */
  deadline?: number;
}

export interface RenderOutput {
  body: Uint8Array<ArrayBuffer>;
  /** Milliseconds spent reading the source, reported in Server-Timing. */
  readMs: number;
  /**
   * 'tiles' when the pixels came from stored tiles decoded on their own, 'passthrough' when the
   * source's own encoded pixels answer (Server-Timing `path`).
   */
  via?: 'tiles' | 'passthrough';
  /** Milliseconds spent waiting for a render slot, which are not render time. */
  queueMs?: number;
  /**
   * The pixels may be of another version of the source than the request's ETag names (a render
   * origin behind on a replaced image): sent with no-store and without validators, never kept.
   */
  otherVersion?: true;
}

/** What a header check found besides a refusal (which it throws). */
export type CheckResult = { otherVersion?: true } | undefined | void;

/** Turns a planned request into encoded image bytes (sharp on Node and Lambda). */
export interface Renderer {
  render(input: RenderInput, plan: RenderPlan): Promise<RenderOutput>;
  /**
   * The refusals a render would make from the source's header, without decoding or reading the
   * whole object: HEAD and conditional requests then answer the status a GET would get.
   */
  check?(input: RenderInput, plan: RenderPlan): Promise<CheckResult>;
  /**
   * A finished render this renderer keeps itself (the Workers Cache API), or undefined: asked
   * before a render slot is taken, so a kept answer never waits behind renders in progress.
   * `render` does not ask it again.
   */
  cached?(input: RenderInput, plan: RenderPlan): Promise<RenderOutput | undefined>;
}

/**
 * A client that has left gets no pixels: a render stops between its stages (after the source read,
 * between JPEG 2000 bands, before the encode) and its slot goes to the next request. One libvips
 * pipeline, once started, runs to its end or the request deadline.
 */
export function stopIfGone(input: Pick<RenderInput, 'signal'>): void {
  if (input.signal?.aborted) throw busy('the request was cancelled');
}
