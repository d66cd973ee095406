import type { ErrorCode } from './errors.ts';

/**
 * Which path answered a request: a stored tile as is (passthrough), a render from stored tiles
 * (tiles) or from the decoded image (render), info.json, a conditional hit, or an error code.
 */
export type ServedBy = 'passthrough' | 'tiles' | 'render' | 'cache' | 'shared' | 'info' | 'head' | '304' | 'redirect' | 'cancelled' | 'other' | ErrorCode;

/** Low-cardinality route names for counters: never the identifier. */
export type RouteName = 'image' | 'info' | 'base' | 'health' | 'other';

/** Everything known about a finished request; the one log line and the counters are built from it. */
export interface RequestRecord {
  method: string;
  path: string;
  route: RouteName;
  status: number;
  servedBy: ServedBy;
  /** Body bytes, when the route knows them (not for streamed files). */
  bytes?: number;
  durationMs: number;
  /** Stat, probe and read of the source image. */
  sourceMs?: number;
  /** Decode, transform and encode, without the source read. */
  renderMs?: number;
}

/** Caches whose hits and misses are counted. */
export type CacheName = 'geometry' | 'info' | 'response' | 'disk';

/**
 * Counters the core reports to; each adapter turns them into its runtime's metrics
 * (Prometheus on Node, embedded metrics on Lambda) or ignores them.
 */
export interface Metrics {
  request(record: RequestRecord): void;
  cacheLookup(cache: CacheName, hit: boolean): void;
  /** Called whenever a render starts, ends or joins the queue. */
  renderSlots(running: number, queued: number): void;
}

export const noMetrics: Metrics = {
  request: () => undefined,
  cacheLookup: () => undefined,
  renderSlots: () => undefined,
};
