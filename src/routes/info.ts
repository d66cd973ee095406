import type { Context } from 'hono';
import { accepts } from 'hono/accepts';
import { CONTEXT, INFO_MEDIA_TYPES, JSONLD_CONTEXT_LINK_2 } from '../iiif/constants.ts';
import { buildInfo2, buildInfo3 } from '../iiif/info.ts';
import { deriveSizes, deriveTiles } from '../iiif/tiles.ts';
import type { IiifVersion, ImageGeometry } from '../iiif/types.ts';
import { makeEtag } from '../http/etag.ts';
import { conditionalResponse } from './conditional.ts';
import type { AppContext } from '../app-context.ts';
import { served } from '../log/request-log.ts';

const UTF8 = new TextEncoder();

/** info.json: JSON-LD or plain JSON by the client's Accept, so it varies on Accept. */
export async function infoResponse(c: Context, app: AppContext, version: IiifVersion, identifier: string) {
  const { config } = app;
  const { object, geometry } = await app.resolve(c, identifier, true);
  const id = `${app.serviceBase(c, version)}/${app.emitIdentifier(identifier)}`;
  const types = INFO_MEDIA_TYPES[version];
  const wanted = accepts(c, {
    header: 'Accept',
    supports: [types.jsonld.split(';')[0] ?? types.jsonld, 'application/json'],
    default: types.default.split(';')[0] ?? types.default,
  });
  const mediaType = wanted === 'application/json' ? types.json : wanted === 'application/ld+json' ? types.jsonld : types.default;

  c.header('Content-Type', mediaType);
  c.header('Vary', 'Accept', { append: true });
  c.header('Cache-Control', config.IIIF_CACHE_CONTROL_INFO);
  if (version === 2 && mediaType === types.json) c.header('Link', JSONLD_CONTEXT_LINK_2);
  const etag = makeEtag(['info', object.etag, id, mediaType, CONTEXT[version]]);
  const bodiless = conditionalResponse(c, etag, object.lastModified);
  if (bodiless) return bodiless;
  // The id holds the public base, version and identifier; the source ETag covers the geometry.
  const key = `${object.etag}\u0000${id}`;
  let body = app.infoBodies.get(key);
  if (body === undefined) {
    body = UTF8.encode(buildBody(app, version, id, geometry));
    app.infoBodies.set(key, body);
  }
  served(c, 'info', body.byteLength);
  return c.body(body as Uint8Array<ArrayBuffer>, 200);
}

function buildBody(app: AppContext, version: IiifVersion, id: string, geometry: ImageGeometry): string {
  const { config, limits } = app;
  const info = {
    id,
    geometry,
    limits,
    tiles: deriveTiles(geometry, config.IIIF_TILE_SIZE),
    sizes: deriveSizes(geometry, limits, config.IIIF_TILE_SIZE),
    rights: config.IIIF_RIGHTS,
    preferredFormats: app.preferredFormats,
  };
  return JSON.stringify(version === 3 ? buildInfo3(info) : buildInfo2(info));
}
