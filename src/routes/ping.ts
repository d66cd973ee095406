import type { Context } from 'hono';
import type { Config } from '../config.ts';
import type { IiifVersion } from '../iiif/types.ts';

/** `{prefix}/{version}`: JSON, or serverless-iiif's text/plain `OK` for monitors written against it. */
export function pingResponse(c: Context, config: Config, version: IiifVersion): Response {
  return config.IIIF_PING_BODY === 'text' ? c.text('OK') : c.json({ status: 'ok', version });
}
