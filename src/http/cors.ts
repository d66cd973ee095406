import { cors } from 'hono/cors';
import type { Config } from '../config.ts';

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** CORS from configuration; `REFLECT_ORIGIN` echoes the caller (serverless-iiif's setting). */
export function corsMiddleware(config: Config) {
  const setting = config.IIIF_CORS_ALLOW_ORIGIN;
  const origin =
    setting === '*'
      ? '*'
      : setting === 'REFLECT_ORIGIN'
        ? (requestOrigin: string) => requestOrigin || null
        : list(setting);
  return cors({
    origin,
    allowMethods: ['GET', 'HEAD', 'OPTIONS'],
    allowHeaders: list(config.IIIF_CORS_ALLOW_HEADERS),
    exposeHeaders: list(config.IIIF_CORS_EXPOSE_HEADERS),
    credentials: config.IIIF_CORS_ALLOW_CREDENTIALS,
    maxAge: config.IIIF_CORS_MAX_AGE,
  });
}
