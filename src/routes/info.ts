import type { Context } from 'hono';
import { accepts } from 'hono/accepts';
import { CONTEXT, INFO_MEDIA_TYPES, JSONLD_CONTEXT_LINK_2 } from '../iiif/constants.ts';
import { buildInfo2, buildInfo3 } from '../iiif/info.ts';
import { deriveSizes, deriveTiles } from '../iiif/tiles.ts';
import type { IiifVersion } from '../iiif/types.ts';
import type { SourceGeometry } from '../image/geometry.ts';
import { storedSizes, storedTiles } from '../image/stored-only.ts';
import { makeEtag } from '../http/etag.ts';
import { conditionalResponse } from './conditional.ts';
import type { AppContext } from '../app-context.ts';
import { served } from '../log/request-log.ts';
import type { SourceObject } from '../sources/source.ts';

const UTF8 = new TextEncoder();

/** info.json: JSON-LD or plain JSON by the client's Accept, so it varies on Accept. */
export async function infoResponse(c: Context, app: AppContext, version: IiifVersion, identifier: string) {
  const { object, geometry } = await app.resolve(c, identifier, true);
  const info = infoAnswer(app, version, `${app.serviceBase(c, version)}/${app.emitIdentifier(identifier)}`, object, c.req.header('Accept'));
  for (const [name, value] of info.headers) c.header(name, value, { append: name === 'Vary' });
  const bodiless = conditionalResponse(c, info.etag, object.lastModified);
  if (bodiless) return bodiless;
  const body = info.body(geometry);
  served(c, 'info', body.byteLength);
  return c.body(body as Uint8Array<ArrayBuffer>, 200);
}

/**
 * Everything about an info.json answer but the validators' check: its headers, ETag and (cached)
 * body. `id` is `{service base}/{identifier as emitted}`. Shared with the direct answers (./direct.ts).
 */
export function infoAnswer(app: AppContext, version: IiifVersion, id: string, object: SourceObject, accept: string | undefined) {
  const types = INFO_MEDIA_TYPES[version];
  const wanted = accept ? negotiate(accept, version) : undefined;
  const mediaType = wanted === 'application/json' ? types.json : wanted === 'application/ld+json' ? types.jsonld : types.default;
  const headers: Array<[string, string]> = [
    ['Content-Type', mediaType],
    ['Vary', 'Accept'],
    ['Cache-Control', app.config.IIIF_CACHE_CONTROL_INFO],
  ];
  if (version === 2 && mediaType === types.json) headers.push(['Link', JSONLD_CONTEXT_LINK_2]);
  return {
    headers,
    etag: makeEtag(['info', object.etag, id, mediaType, CONTEXT[version], app.infoSettings]),
    body(geometry: SourceGeometry): Uint8Array {
      // The id holds the public base, version and identifier; the source ETag covers the geometry.
      const key = `${object.etag}\u0000${id}`;
      let body = app.infoBodies.get(key);
      if (body === undefined) {
        body = UTF8.encode(buildBody(app, version, id, geometry));
        app.infoBodies.set(key, body);
      }
      return body;
    },
  };
}

/** Hono's Accept matching; it reads nothing of the context but the one header. */
function negotiate(accept: string, version: IiifVersion): string {
  const types = INFO_MEDIA_TYPES[version];
  const context = { req: { header: () => accept } } as unknown as Context;
  return accepts(context, {
    header: 'Accept',
    supports: [types.jsonld.split(';')[0] ?? types.jsonld, 'application/json'],
    default: types.default.split(';')[0] ?? types.default,
  });
}

function buildBody(app: AppContext, version: IiifVersion, id: string, geometry: SourceGeometry): string {
  const { config, limits, complianceLevel: level } = app;
  const tiles = deriveTiles(geometry, config.IIIF_TILE_SIZE, limits);
  const sizes = deriveSizes(geometry, limits, config.IIIF_TILE_SIZE);
  const info = {
    id,
    geometry,
    limits,
    tiles: level === 0 ? storedTiles(geometry, tiles, limits) : tiles,
    sizes: level === 0 ? storedSizes(geometry, sizes, limits) : sizes,
    rights: config.IIIF_RIGHTS,
    preferredFormats: app.preferredFormats,
    level,
  };
  return JSON.stringify(version === 3 ? buildInfo3(info) : buildInfo2(info));
}
