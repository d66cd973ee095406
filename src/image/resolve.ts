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
  infoOnly = false,
): Promise<ResolvedImage> {
  return retryIfChanged(async () => {
    const object = await source.stat(identifier, signal);
    let geometry = cache.get(identifier, object.etag);
    // info.json of a pyramid whose level sizes the store recorded needs no read of the object; it is
    // not cached, so the first render still probes the file for its tile tables.
    const levels = object.hints?.levels;
    if (!geometry && infoOnly && levels && levels.length > 1 && object.hints?.width && object.hints.height) {
      return { object, geometry: { width: object.hints.width, height: object.hints.height, levels, ...(object.hints.tile ? { tile: object.hints.tile } : {}), format: 'tiff' } };
    }
    if (!geometry) {
      geometry = await probe(pinnedTo(source, object), identifier, object, signal);
      cache.set(identifier, object.etag, geometry);
    }
    return { object, geometry };
  });
}
