import type { Context } from 'hono';
import { isHttpError } from '../errors.ts';
import { splitIiifPath, splitRawSlashPath } from '../iiif/path.ts';
import type { IiifPath, IiifVersion } from '../iiif/types.ts';
import type { AppContext } from '../app-context.ts';

/**
 * The route a path after `{prefix}/{version}/` is aimed at, by its shape alone: the label of a
 * request refused before it is understood (a bad identifier, another method).
 */
export function routeAimedAt(rest: string): 'info' | 'image' | 'base' {
  if (rest === 'info.json' || rest.endsWith('/info.json')) return 'info';
  return rest.split('/').length >= 5 ? 'image' : 'base';
}

/**
 * What a path after `{prefix}/{version}/` asks for. With IIIF_RAW_SLASH_IDS a raw `/` belongs to the
 * identifier; a path that is no valid request costs one stat, to tell a deep base URI from a bad tail.
 */
export async function iiifTarget(c: Context, ctx: AppContext, rest: string, version: IiifVersion): Promise<IiifPath> {
  const opts = { slashSubstitute: ctx.config.IIIF_SLASH_SUBSTITUTE, version };
  if (!ctx.config.IIIF_RAW_SLASH_IDS) return splitIiifPath(rest, opts);
  const target = splitRawSlashPath(rest, opts);
  if (target.kind !== 'base-if-exists') return target;
  try {
    await ctx.source.stat(target.identifier, ctx.sourceSignal(c));
  } catch (e) {
    throw isHttpError(e) && e.status === 404 ? target.otherwise : e;
  }
  return { kind: 'base', identifier: target.identifier };
}
