import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { createIiif } from '../../src/app.ts';
import { ConfigError, loadConfig, setOnly, type Env } from '../../src/config.ts';
import type { Logger } from '../../src/log/logger.ts';
import { logRequest } from '../../src/log/request-log.ts';
import { noMetrics } from '../../src/metrics.ts';
import { preloadSharp, sharpRendererFromConfig } from '../../src/renderers/sharp-renderer.ts';
import { sourceFromConfig } from '../../src/sources/from-config.ts';
import { nodeLog } from './log.ts';
import { answerClientErrors } from './client-error.ts';
import { withDirectAnswers } from './direct.ts';
import { lazyHonoListener } from './hono-listener.ts';
import { trackConnections } from './drain.ts';
import { checkRoot } from './root-check.ts';
import { mountViewer } from './viewer.ts';

// Spelled from the repository root so that it also holds in the bundle (dist/node/main.mjs).
export const SAMPLES_DIR = fileURLToPath(new URL('../../adapters/node/samples/', import.meta.url));

export interface RunningServer {
  url: string;
  /** IIIF_PREFIX: the services are at `{url}{prefix}/3` and `{url}{prefix}/2`. */
  prefix: string;
  /** The Prometheus scrape URL, when IIIF_METRICS_PORT is set. */
  metricsUrl?: string;
  logger: Logger;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs` (IIIF_SHUTDOWN_GRACE_MS), then drops the rest. */
  close(graceMs?: number): Promise<void>;
}

/**
 * No connection or request in flight or arriving for this long: the server is quiet. Longer than
 * the gap between a viewer's info.json and its first tiles.
 */
const QUIET_MS = 100;

/**
 * Two renders per core keep the CPUs busy while one waits on I/O, but sharp and file reads
 * share libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise): leave one
 * thread free so that info.json and file stats never queue behind pixel work.
 */
function defaultRenderSlots(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(2 * availableParallelism(), pool - 1));
}

/**
 * Builds the app from settings and serves it; port 0 picks a free port (tests). Started from
 * code (tests, embedding) it logs at `warn` unless IIIF_LOG_LEVEL says otherwise; the command
 * line (main.ts) logs every request.
 */
export async function startServer(env: Env): Promise<RunningServer> {
  // V8 grows the young generation under load up to 2 × 16 MB, which a server whose garbage is
  // short-lived request objects does not need: kept at its first size, peak RSS on the tile
  // workloads fell by 10–30 MB (to 93–104 MB), for about 2% more CPU per request, within this
  // machine's noise (bench workloads, 8 alternating runs). V8 reads it whenever it would grow.
  setFlagsFromString('--semi-space-growth-factor=1');
  const config = loadConfig({
    IIIF_ROOT: SAMPLES_DIR,
    IIIF_MAX_CONCURRENT_RENDERS: String(defaultRenderSlots()),
    IIIF_LOG_LEVEL: 'warn',
    IIIF_RESPONSE_CACHE_BYTES: String(64 * 1024 * 1024),
    ...setOnly(env),
  });
  await checkRoot(config);
  const log = await nodeLog(config);
  // prom-client takes over 100 ms to import: only a process asked for metrics loads it.
  const promModule = config.IIIF_METRICS_PORT === undefined ? undefined : await import('./metrics.ts');
  const prom = promModule?.promMetrics();
  const source = sourceFromConfig(config, (line) => log.logger.warn(line), prom?.metrics);
  const dir = config.IIIF_RESPONSE_CACHE_DIR;
  // Waits only for the folder (a bad one stops the start); its files are indexed in the background.
  // Imported only when configured: it loads node:zlib, 5–12 ms of a cold start here.
  const responseStore = dir
    ? await (await import('./response-disk.ts')).diskResponseStore(dir, config.IIIF_RESPONSE_CACHE_DISK_BYTES, (line) => log.logger.warn(line))
    : undefined;
  const renderer = sharpRendererFromConfig(config);
  const { app, direct } = createIiif({ config, source, renderer, logger: log.logger, metrics: prom?.metrics, ...(responseStore && { responseStore }) });
  mountViewer(app, source, config.IIIF_PREFIX, config.IIIF_SLASH_SUBSTITUTE);
  const hono = lazyHonoListener(
    app,
    config,
    (e) => log.logger.error('could not load the HTTP adapter', { err: e }),
    (record, cause) => logRequest(log.logger, prom?.metrics ?? noMetrics, record, cause),
  );
  // Slow headers are cut after IIIF_HEADERS_TIMEOUT_MS, checked every second (Node's default is
  // 60 s, checked every 30 s: a client trickling header bytes held a socket for 80 s).
  const server = createServer(
    { headersTimeout: config.IIIF_HEADERS_TIMEOUT_MS, requestTimeout: config.IIIF_HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1_000 },
    withDirectAnswers(direct, hono.listener),
  );
  if (config.IIIF_MAX_CONNECTIONS > 0) server.maxConnections = config.IIIF_MAX_CONNECTIONS;
  answerClientErrors(server, config, (record) => logRequest(log.logger, prom?.metrics ?? noMetrics, record));
  // Sockets with no progress either way for this long are closed: a client that stops reading
  // would otherwise hold its whole answer in memory for as long as it keeps the connection.
  server.setTimeout(config.IIIF_IDLE_TIMEOUT_MS ?? Math.max(60_000, config.IIIF_REQUEST_TIMEOUT_MS + 10_000));
  const connections = trackConnections(server);
  await new Promise<void>((ok, fail) => {
    server.listen(config.PORT, config.HOST, ok);
    server.once('error', (e) => fail(listenError(e, 'PORT', config.PORT, config.HOST)));
  });
  // sharp (about 70 ms of loading on the main thread) and Hono's listener load once the
  // server is quiet, so that they never stall the first viewer's info.json and stored tiles; a
  // request that needs one before that loads it.
  connections.whenQuiet(QUIET_MS, () => {
    hono.preload();
    void preloadSharp();
  });
  const { port } = server.address() as AddressInfo;
  const metrics =
    prom &&
    promModule &&
    (await promModule.serveMetrics(prom.registry, config.IIIF_METRICS_PORT ?? 0, config.HOST).catch((e: unknown) => {
      server.close();
      throw listenError(e, 'IIIF_METRICS_PORT', config.IIIF_METRICS_PORT ?? 0, config.HOST);
    }));
  return {
    url: `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`,
    prefix: config.IIIF_PREFIX,
    ...(metrics ? { metricsUrl: metrics.url } : {}),
    logger: log.logger,
    close: async (graceMs = config.IIIF_SHUTDOWN_GRACE_MS) => {
      await Promise.all([connections.drain(graceMs), metrics?.close()]);
      log.flush();
    },
  };
}

/** Listening failures that are the operator's to fix, as one line naming the setting. */
export function listenError(e: unknown, key: string, port: number, host: string): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  if (code === 'EADDRINUSE') return new ConfigError(`${key}: ${where} is already in use by another process`);
  if (code === 'EACCES') return new ConfigError(`${key}: this user may not listen on ${where}`);
  if (code === 'EADDRNOTAVAIL') return new ConfigError(`HOST: ${host} is not an address of this machine`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ConfigError(`HOST: ${host} does not resolve to an address`);
  return e;
}
