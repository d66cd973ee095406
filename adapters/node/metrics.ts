import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import type { CacheName, Metrics } from '../../src/metrics.ts';

export interface PromMetrics {
  metrics: Metrics;
  registry: client.Registry;
}

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The core's counters as Prometheus metrics, with Node's own (resident memory, open file
 * descriptors, event loop lag, heap) from prom-client's defaults.
 */
export function promMetrics(): PromMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const requests = new client.Counter({
    name: 'iiif_requests_total',
    help: 'Requests answered, by route, status and the path that served them',
    labelNames: ['route', 'status', 'served_by'],
    registers,
  });
  const duration = new client.Histogram({
    name: 'iiif_request_duration_seconds',
    help: 'Time from request to response headers, by route and the path that served them',
    labelNames: ['route', 'served_by'],
    buckets: SECONDS,
    registers,
  });
  const bytes = new client.Counter({
    name: 'iiif_response_bytes_total',
    help: 'Response body bytes, by route',
    labelNames: ['route'],
    registers,
  });
  const renderTime = new client.Histogram({
    name: 'iiif_render_duration_seconds',
    help: 'Decode, transform and encode time of renders, without the source read',
    buckets: SECONDS,
    registers,
  });
  const running = new client.Gauge({ name: 'iiif_render_slots_busy', help: 'Renders running now', registers });
  const queued = new client.Gauge({ name: 'iiif_render_queue_depth', help: 'Renders waiting for a slot', registers });
  const lookups = new client.Counter({
    name: 'iiif_cache_lookups_total',
    help: 'Cache lookups, by cache and result (hit or miss)',
    labelNames: ['cache', 'result'],
    registers,
  });
  const counts: Record<CacheName, { hits: number; misses: number }> = {
    geometry: { hits: 0, misses: 0 },
    info: { hits: 0, misses: 0 },
    response: { hits: 0, misses: 0 },
    disk: { hits: 0, misses: 0 },
  };
  new client.Gauge({
    name: 'iiif_cache_hit_ratio',
    help: 'Hits over lookups since start, by cache',
    labelNames: ['cache'],
    registers,
    collect() {
      for (const [cache, { hits, misses }] of Object.entries(counts)) {
        if (hits + misses > 0) this.set({ cache }, hits / (hits + misses));
      }
    },
  });

  const metrics: Metrics = {
    request(r) {
      requests.inc({ route: r.route, status: String(r.status), served_by: r.servedBy });
      duration.observe({ route: r.route, served_by: r.servedBy }, r.durationMs / 1000);
      if (r.bytes) bytes.inc({ route: r.route }, r.bytes);
      if (r.renderMs !== undefined) renderTime.observe(r.renderMs / 1000);
    },
    cacheLookup(cache, hit) {
      lookups.inc({ cache, result: hit ? 'hit' : 'miss' });
      if (hit) counts[cache].hits++;
      else counts[cache].misses++;
    },
    renderSlots(busy, waiting) {
      running.set(busy);
      queued.set(waiting);
    },
  };
  return { metrics, registry };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** `GET /metrics` on its own port, so that the scrape is never exposed with the images. */
export async function serveMetrics(registry: client.Registry, port: number, host: string): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    // A scrape config's `params:` add a query string, which changes nothing here.
    if ((req.url ?? '').split('?')[0] !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      () => res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/metrics`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
