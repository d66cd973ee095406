import * as v from 'valibot';
import { DEFAULT_MAX_DECODE_BYTES, DEFAULT_MAX_JPEG_SCANS } from './iiif/limits.ts';
import { FORMATS } from './iiif/constants.ts';
import { LOG_LEVELS } from './log/logger.ts';

/** Environment-style settings: process.env on Node/Lambda, vars on Workers. */
export type Env = Record<string, string | undefined>;

/** serverless-iiif's names, accepted so that a migrating deployment keeps its settings. */
export const ENV_ALIASES: Record<string, string> = {
  sourceBucket: 'IIIF_S3_BUCKET',
  tiffBucket: 'IIIF_S3_BUCKET',
  resolverTemplate: 'IIIF_S3_KEY_TEMPLATE',
  forceHost: 'IIIF_FORCE_HOST',
  corsAllowOrigin: 'IIIF_CORS_ALLOW_ORIGIN',
  corsAllowHeaders: 'IIIF_CORS_ALLOW_HEADERS',
  corsAllowCredentials: 'IIIF_CORS_ALLOW_CREDENTIALS',
  corsExposeHeaders: 'IIIF_CORS_EXPOSE_HEADERS',
  corsMaxAge: 'IIIF_CORS_MAX_AGE',
  density: 'IIIF_DENSITY',
  preflight: 'IIIF_PREFLIGHT',
};

const int = (fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.regex(/^\d{1,15}$/, 'expected a whole number'),
    v.transform(Number),
    v.minValue(min, `expected a whole number of at least ${min}`),
    v.maxValue(max, `expected a whole number of at most ${max}`),
  );

/** setTimeout fires at once for anything longer than 2^31 - 1 ms (about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;
const ms = (fallback: number, min = 1) => int(fallback, min, MAX_TIMER_MS);
const port = (fallback: number) => int(fallback, 0, 65_535);

/** A header value: printable ASCII only, so that no setting can start a new header line. */
const headerValue = (fallback: string) =>
  v.optional(v.pipe(v.string(), v.trim(), v.regex(/^[\x20-\x7e]*$/, 'expected printable ASCII on one line')), fallback);

/** `*` or a comma list of header names (RFC 9110 tokens). */
const headerNames = (fallback: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check(
        (s) => s === '*' || s.split(',').every((name) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name.trim())),
        'expected * or a comma list of header names',
      ),
    ),
    fallback,
  );

/** `:port` with a port of 0–65535, optional. */
const PORT = '(?::(?:6553[0-5]|655[0-2]\\d|65[0-4]\\d{2}|6[0-4]\\d{3}|[1-5]\\d{4}|\\d{1,4}))?';

/** `*`, `REFLECT_ORIGIN` or a comma list of origins: scheme, host and port only, as browsers send them. */
const origins = (fallback: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check(
        (s) =>
          s === '*' ||
          s === 'REFLECT_ORIGIN' ||
          s.split(',').every((o) => new RegExp(`^https?://(?:[A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])${PORT}$`).test(o.trim())),
        'expected *, REFLECT_ORIGIN or a comma list of origins such as https://viewer.example.org',
      ),
    ),
    fallback,
  );

/** Dots per inch: JPEG (JFIF) stores them in 16 bits. */
const density = v.optional(
  v.pipe(v.string(), v.regex(/^\d{1,5}$/, 'expected a whole number of dots per inch from 1 to 65535'), v.transform(Number), v.minValue(1, 'expected a whole number of dots per inch from 1 to 65535'), v.maxValue(65535, 'expected a whole number of dots per inch from 1 to 65535')),
);

const bool = (fallback: boolean) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.picklist(['true', 'false', '1', '0', 'yes', 'no'], 'expected true or false'),
    v.transform((s) => s === 'true' || s === '1' || s === 'yes'),
  );

const optionalText = v.optional(v.pipe(v.string(), v.trim(), v.minLength(1)));

/** An http(s) URL as written, with no escape that decodes to nothing (`%zz`). */
const httpUrl = v.pipe(
  v.string(),
  v.url('expected an absolute URL such as https://images.example.org'),
  v.regex(/^https?:\/\//, 'expected an http or https URL'),
  v.check((s) => !/%(?![0-9A-Fa-f]{2})/.test(s), 'expected a URL whose % escapes are two hex digits'),
);
/**
 * In its serialised form (punycode host, percent-encoded path), which headers can carry and
 * clients read alike, without trailing slashes: what ids, Link and Location are built on.
 */
const absoluteUrl = v.pipe(
  httpUrl,
  v.transform((s) => trimTrailingSlashes(new URL(s).href)),
);
const url = v.optional(absoluteUrl);

/** A base that ids, Link and Location are built on: a query, fragment or credentials would end up inside every one. */
const baseUrl = v.optional(
  v.pipe(
    absoluteUrl,
    v.check((s) => {
      // Not a URL at all is v.url's to say.
      if (!URL.canParse(s)) return true;
      const u = new URL(s);
      return !s.includes('?') && !s.includes('#') && !u.username && !u.password;
    }, 'expected a base URL without query, fragment or credentials, such as https://images.example.org/prefix'),
  ),
);

/** A loop, not `/\/+$/`: that regex backtracks quadratically on a long run of slashes. */
function trimTrailingSlashes(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x2f) end--;
  return s.slice(0, end);
}

/** `host` or `host:port`: a DNS name, IPv4 or bracketed IPv6 address, as a Host header may carry it. */
export const HOST_PORT = new RegExp(`^(?:[A-Za-z0-9.-]{1,253}|\\[[0-9A-Fa-f:.]{2,45}\\])${PORT}$`);

const hostList = v.optional(
  v.pipe(
    v.string(),
    v.transform((s) => s.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '')),
    v.check((hosts) => hosts.every((h) => HOST_PORT.test(h)), 'expected a comma list of host or host:port'),
  ),
);

const EnvSchema = v.object({
  IIIF_SOURCE: v.optional(v.picklist(['fs', 's3', 'r2'], 'expected fs, s3 or r2'), 'fs'),
  IIIF_ROOT: optionalText,
  IIIF_PREFIX: v.optional(
    // An empty value is unset (the default /iiif); `/` alone means no prefix.
    v.pipe(
      v.string(),
      v.regex(/^(\/[A-Za-z0-9._~-]+)*\/?$/, 'expected a path such as /iiif, or / for none'),
      v.transform((s) => (s === '/' ? '' : s.replace(/\/$/, ''))),
    ),
    '/iiif',
  ),
  IIIF_PUBLIC_BASE_URL: baseUrl,
  IIIF_FORCE_HOST: v.optional(v.pipe(v.string(), v.regex(new RegExp(`^[A-Za-z0-9.-]+${PORT}$`), 'expected host or host:port (port 0–65535)'))),
  IIIF_TRUST_FORWARDED: bool(false),
  IIIF_PUBLIC_HOSTS: hostList,
  IIIF_SLASH_SUBSTITUTE: optionalText,
  // serverless-iiif compatibility (docs/peers.md): raw `/` in identifiers, trusted preflight headers, its ping body.
  IIIF_RAW_SLASH_IDS: bool(false),
  IIIF_RAW_SLASH_CANONICAL: v.optional(v.picklist(['encoded', 'as-received'], 'expected encoded or as-received'), 'encoded'),
  IIIF_PREFLIGHT: bool(false),
  IIIF_PING_BODY: v.optional(v.picklist(['json', 'text'], 'expected json or text'), 'json'),
  IIIF_MAX_WIDTH: int(10_000),
  IIIF_MAX_HEIGHT: int(10_000),
  IIIF_MAX_AREA: int(25_000_000),
  IIIF_MAX_INPUT_PIXELS: int(268_402_689),
  // OpenJPEG needs about 9 bytes of wasm memory per decoded byte: the 32 MiB default fits a 512 MB Lambda.
  IIIF_JP2_MAX_DECODE_BYTES: int(32 * 1024 * 1024, 1024 * 1024, 256 * 1024 * 1024),
  // jp2 is encoded by our OpenJPEG build on the request's thread: 1024² is under a second of encoding.
  IIIF_JP2_MAX_OUTPUT_PIXELS: int(1024 * 1024, 1, 25_000_000),
  // libvips quantises a GIF and libheif encodes an AVIF after the pipeline, where the render deadline
  // does not reach: measured here at up to 4.9 and 3.1 s per megapixel, so 1024² by default too.
  IIIF_GIF_MAX_OUTPUT_PIXELS: int(1024 * 1024, 1, 25_000_000),
  IIIF_AVIF_MAX_OUTPUT_PIXELS: int(1024 * 1024, 1, 25_000_000),
  IIIF_MAX_DECODE_BYTES: int(DEFAULT_MAX_DECODE_BYTES),
  IIIF_MAX_JPEG_SCANS: int(DEFAULT_MAX_JPEG_SCANS, 1, 10_000),
  IIIF_GEOMETRY_CACHE_BYTES: int(32 * 1024 * 1024),
  IIIF_TILE_SIZE: int(512, 16, 65_535),
  // Emitted as configured: rights URIs (Creative Commons, RightsStatements.org) end in a slash.
  IIIF_RIGHTS: v.optional(httpUrl),
  IIIF_PREFERRED_FORMATS: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check((s) => s.split(',').every((f) => (FORMATS as string[]).includes(f.trim())), `expected a comma list of ${FORMATS.join(', ')}`),
    ),
  ),
  IIIF_JPEG_QUALITY: int(85, 1, 100),
  IIIF_JPEG_OPTIMIZE_CODING: bool(false),
  IIIF_DENSITY: density,
  IIIF_CACHE_CONTROL_IMAGE: headerValue('public, max-age=2592000'),
  IIIF_CACHE_CONTROL_INFO: headerValue('public, max-age=86400'),
  IIIF_CACHE_CONTROL_ERROR: headerValue('public, max-age=60'),
  IIIF_CORS_ALLOW_ORIGIN: origins('*'),
  IIIF_CORS_ALLOW_HEADERS: headerNames('*'),
  IIIF_CORS_ALLOW_CREDENTIALS: bool(false),
  IIIF_CORS_EXPOSE_HEADERS: headerNames('Link, ETag, Server-Timing, Content-Length, Content-Type'),
  IIIF_CORS_MAX_AGE: int(3600, 0),
  IIIF_SOURCE_TIMEOUT_MS: ms(10_000),
  IIIF_FS_STAT_TTL_MS: ms(1_000, 0),
  IIIF_FS_MAX_OPEN_FILES: int(128, 1, 65_536),
  IIIF_FS_FOLLOW_LINKS: bool(false),
  IIIF_FS_INLINE_READS: bool(true),
  IIIF_CACHE_DIR: optionalText,
  IIIF_CACHE_MAX_BYTES: int(512 * 1024 * 1024),
  // Cropped edge tiles kept in memory (0 turns it off); a 12000×9000 pyramid's edges are about 7 MB.
  IIIF_EDGE_TILE_CACHE_BYTES: int(16 * 1024 * 1024, 0, 1024 * 1024 * 1024),
  // Rendered responses kept in memory: off unless set (the Node adapter sets 64 MiB; CDNs cache on Lambda).
  IIIF_RESPONSE_CACHE_BYTES: int(0, 0, 16 * 1024 * 1024 * 1024),
  // Node only: rendered responses also kept as files in this folder, up to IIIF_RESPONSE_CACHE_DISK_BYTES.
  IIIF_RESPONSE_CACHE_DIR: optionalText,
  IIIF_RESPONSE_CACHE_DISK_BYTES: int(1024 * 1024 * 1024, 1024 * 1024, 2 ** 50),
  // Adapters with more cores pass their own default for the render slots.
  IIIF_MAX_CONCURRENT_RENDERS: int(4),
  IIIF_MAX_QUEUED_RENDERS: int(200, 0),
  IIIF_QUEUE_TIMEOUT_MS: ms(5_000, 0),
  IIIF_REQUEST_TIMEOUT_MS: ms(30_000),
  IIIF_SHUTDOWN_GRACE_MS: ms(10_000, 0),
  // Node: a connection with no progress either way for this long is closed (a client that stops
  // reading frees its answer); absent, the larger of 60 s and IIIF_REQUEST_TIMEOUT_MS + 10 s.
  IIIF_IDLE_TIMEOUT_MS: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,10}$/, 'expected a whole number of milliseconds'),
      v.transform(Number),
      v.minValue(1000, 'expected at least 1000 milliseconds'),
      v.maxValue(MAX_TIMER_MS, `expected at most ${MAX_TIMER_MS} milliseconds`),
    ),
  ),
  // Node: a client must send its request headers within this long (slow-header clients hold sockets).
  IIIF_HEADERS_TIMEOUT_MS: ms(10_000, 100),
  // Node: connections held at once, beyond which new ones are closed at once; 0 for no cap.
  IIIF_MAX_CONNECTIONS: int(0, 0),
  IIIF_SECURITY_HEADERS: bool(false),
  IIIF_S3_BUCKET: optionalText,
  IIIF_S3_PREFIX: v.optional(v.string(), ''),
  IIIF_S3_KEY_TEMPLATE: v.optional(
    v.pipe(v.string(), v.trim(), v.includes('%s', 'expected a key template containing %s, such as %s.tif')),
    '%s',
  ),
  IIIF_S3_REGION: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^[a-z0-9-]+$/, 'expected a region name such as eu-west-1'))),
  IIIF_S3_ENDPOINT: url,
  IIIF_S3_FORCE_PATH_STYLE: bool(false),
  IIIF_R2_BINDING: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a binding name such as IMAGES')), 'IMAGES'),
  IIIF_RENDER_ORIGIN: url,
  IIIF_RENDER_TIMEOUT_MS: ms(30_000),
  IIIF_FORWARD_MAX_BYTES: int(16 * 1024 * 1024, 64 * 1024, 64 * 1024 * 1024),
  IIIF_LOG_LEVEL: v.optional(v.picklist(LOG_LEVELS, `expected one of ${LOG_LEVELS.join(', ')}`), 'info'),
  // Unset: pretty on a terminal, JSON otherwise.
  IIIF_LOG_FORMAT: v.optional(v.picklist(['json', 'pretty'], 'expected json or pretty')),
  // Unset: no metrics endpoint. 0 picks a free port (tests).
  IIIF_METRICS_PORT: v.optional(v.pipe(v.string(), v.regex(/^\d{1,5}$/, 'expected a port number'), v.transform(Number), v.maxValue(65_535, 'expected a port number of at most 65535'))),
  // 0 picks a free port (tests).
  PORT: port(8080),
  HOST: v.optional(
    v.pipe(v.string(), v.trim(), v.regex(/^(?:[A-Za-z0-9.-]{1,253}|[0-9A-Fa-f:.]{2,45})$/, 'expected a host name or IP address such as 0.0.0.0')),
    '127.0.0.1',
  ),
});

export type Config = v.InferOutput<typeof EnvSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Applies aliases (ours win) and drops empty values, which mean "unset". */
/** The settings that are set: an empty value means unset, so an adapter's own default stays under it. */
export function setOnly(env: Env): Env {
  const out: Env = {};
  for (const [k, value] of Object.entries(env)) if (value !== undefined && value !== '') out[k] = value;
  return out;
}

function normalise(env: Env): Env {
  const out = setOnly(env);
  // A deployment configured by serverless-iiif's names keeps its default template, `%s.tif`.
  if (out.IIIF_S3_BUCKET === undefined && (out.sourceBucket ?? out.tiffBucket) !== undefined) out.resolverTemplate ??= '%s.tif';
  for (const [alias, key] of Object.entries(ENV_ALIASES)) {
    if (out[key] === undefined && out[alias] !== undefined) out[key] = out[alias];
  }
  // A bucket means the S3 source unless another is chosen.
  if (out.IIIF_S3_BUCKET !== undefined) out.IIIF_SOURCE ??= 's3';
  // Monitors of a serverless-iiif deployment expect its ping answer, `OK` in text/plain.
  if (out.sourceBucket !== undefined || out.tiffBucket !== undefined) out.IIIF_PING_BODY ??= 'text';
  return out;
}

/** Each setting on its own (its form and range), not how settings go together: what `loadConfig` checks first. */
export function checkSettingValues(env: Env): Config {
  const result = v.safeParse(EnvSchema, normalise(env));
  if (!result.success) {
    const problems = result.issues.map((issue) => {
      const key = issue.path?.map((p) => String(p.key)).join('.') ?? '(settings)';
      return `${key}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return result.output;
}

/** Validates settings at start-up; the error names the bad key and what was expected. */
export function loadConfig(env: Env): Config {
  const config = checkSettingValues(env);
  if (config.IIIF_SOURCE === 's3' && !config.IIIF_S3_BUCKET) {
    throw new ConfigError('invalid configuration: IIIF_S3_BUCKET (or sourceBucket) is required when IIIF_SOURCE is s3');
  }
  // info.json advertises tiles of this size; larger than the output limits, none could be served.
  if (config.IIIF_TILE_SIZE > Math.min(config.IIIF_MAX_WIDTH, config.IIIF_MAX_HEIGHT)) {
    throw new ConfigError(`invalid configuration: IIIF_TILE_SIZE: ${config.IIIF_TILE_SIZE} (its default is 512) must be at most IIIF_MAX_WIDTH and IIIF_MAX_HEIGHT; set a smaller IIIF_TILE_SIZE too`);
  }
  if (config.IIIF_MAX_AREA !== undefined && config.IIIF_TILE_SIZE ** 2 > config.IIIF_MAX_AREA) {
    throw new ConfigError(`invalid configuration: IIIF_TILE_SIZE: ${config.IIIF_TILE_SIZE} (its default is 512) squared must be at most IIIF_MAX_AREA (${config.IIIF_MAX_AREA}); set IIIF_TILE_SIZE to at most ${Math.floor(Math.sqrt(config.IIIF_MAX_AREA))}`);
  }
  if (config.IIIF_IDLE_TIMEOUT_MS !== undefined && config.IIIF_IDLE_TIMEOUT_MS <= config.IIIF_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      `invalid configuration: IIIF_IDLE_TIMEOUT_MS: ${config.IIIF_IDLE_TIMEOUT_MS} must be more than IIIF_REQUEST_TIMEOUT_MS (${config.IIIF_REQUEST_TIMEOUT_MS}): a render may keep a connection quiet that long`,
    );
  }
  if (config.IIIF_CORS_ALLOW_CREDENTIALS && config.IIIF_CORS_ALLOW_ORIGIN === '*') {
    throw new ConfigError(
      'invalid configuration: IIIF_CORS_ALLOW_CREDENTIALS needs IIIF_CORS_ALLOW_ORIGIN set to REFLECT_ORIGIN or a list of origins',
    );
  }
  return config;
}
