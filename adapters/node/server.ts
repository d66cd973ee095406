import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Env } from '../../src/config.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { mountViewer } from './viewer.ts';

export const SAMPLES_DIR = new URL('./samples/', import.meta.url).pathname;

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** Builds the app from settings and serves it; port 0 picks a free port (tests). */
export async function startServer(env: Env): Promise<RunningServer> {
  const config = loadConfig({ IIIF_ROOT: SAMPLES_DIR, ...env });
  if (config.IIIF_SOURCE !== 'fs') throw new Error(`the Node adapter serves IIIF_SOURCE=fs here, not ${config.IIIF_SOURCE}`);
  const source = fsSource({ root: config.IIIF_ROOT ?? SAMPLES_DIR });
  const app = createApp({
    config,
    source,
    renderer: sharpRenderer({
      jpegQuality: config.IIIF_JPEG_QUALITY,
      maxInputPixels: config.IIIF_MAX_INPUT_PIXELS,
      density: config.IIIF_DENSITY,
    }),
  });
  mountViewer(app, source, config.IIIF_PREFIX);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST });
  await new Promise<void>((ok, fail) => {
    server.once('listening', ok);
    server.once('error', fail);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
