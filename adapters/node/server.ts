import { serve } from '@hono/node-server';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Env } from '../../src/config.ts';
import { preloadSharp, sharpRendererFromConfig } from '../../src/renderers/sharp-renderer.ts';
import { sourceFromConfig } from '../../src/sources/from-config.ts';
import { mountViewer } from './viewer.ts';

// Spelled from the repository root so that it also holds in the bundle (dist/node/main.mjs).
export const SAMPLES_DIR = fileURLToPath(new URL('../../adapters/node/samples/', import.meta.url));

export interface RunningServer {
  url: string;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs` (IIIF_SHUTDOWN_GRACE_MS), then drops the rest. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Two renders per core keep the CPUs busy while one waits on I/O, but sharp and file reads
 * share libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise): leave one
 * thread free so that info.json and file stats never queue behind pixel work.
 */
function defaultRenderSlots(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(2 * availableParallelism(), pool - 1));
}

/** Builds the app from settings and serves it; port 0 picks a free port (tests). */
export async function startServer(env: Env): Promise<RunningServer> {
  const config = loadConfig({
    IIIF_ROOT: SAMPLES_DIR,
    IIIF_MAX_CONCURRENT_RENDERS: String(defaultRenderSlots()),
    ...env,
  });
  const source = sourceFromConfig(config, (line) => console.warn(line));
  const app = createApp({ config, source, renderer: sharpRendererFromConfig(config) });
  mountViewer(app, source, config.IIIF_PREFIX);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }) as Server;
  await new Promise<void>((ok, fail) => {
    server.once('listening', ok);
    server.once('error', fail);
  });
  // sharp is loaded before it is needed, but after the first response (info.json never needs it)
  // or a quiet second, so its native loading never holds up that response.
  const preload = setTimeout(preloadSharp, 1000).unref();
  server.once('request', (_req, res: ServerResponse) =>
    res.once('close', () => {
      clearTimeout(preload);
      preloadSharp();
    }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`,
    close: (graceMs = config.IIIF_SHUTDOWN_GRACE_MS) => drain(server, graceMs),
  };
}

/** Graceful close: keep-alive connections are dropped as soon as they go idle, the rest at the deadline. */
function drain(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((ok) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(deadline);
      ok();
    });
  });
}
