import type { GeometryCache } from './geometry-cache.ts';
import { probeGeometry, type SourceGeometry } from './geometry.ts';
import { pinnedTo, retryIfChanged, type ImageSource, type SourceObject } from '../sources/source.ts';

export interface ResolvedImage {
  object: SourceObject;
  geometry: SourceGeometry;
}

/** Probes a source image for its geometry, or plugs in a custom prober (the TIFF reader, store metadata). */
export type GeometryProbe = (
  source: ImageSource,
  identifier: string,
  object: SourceObject,
  signal?: AbortSignal,
) => Promise<SourceGeometry>;

/**
 * Stat the source (so a missing image is a 404 before anything else) and find its geometry.
 * The probe reads only the version stat saw; if the object is replaced meanwhile, both run again.
 */
export function resolveImage(
  source: ImageSource,
  cache: GeometryCache,
  identifier: string,
  signal?: AbortSignal,
  probe: GeometryProbe = probeGeometry,
): Promise<ResolvedImage> {
  return retryIfChanged(async () => {
    const object = await source.stat(identifier, signal);
    let geometry = cache.get(identifier, object.etag);
    if (!geometry) {
      geometry = await probe(pinnedTo(source, object), identifier, object, signal);
      cache.set(identifier, object.etag, geometry);
    }
    return { object, geometry };
  });
}
