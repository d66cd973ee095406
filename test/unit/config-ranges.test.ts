import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

/** Settings whose every value is acceptable (names, paths, prefixes); the root is checked on Node at start. */
const FREE_TEXT = ['IIIF_ROOT', 'IIIF_SLASH_SUBSTITUTE', 'IIIF_S3_BUCKET', 'IIIF_S3_PREFIX', 'IIIF_CACHE_DIR', 'IIIF_RESPONSE_CACHE_DIR'];

/** Each setting with values outside its real range; every one must be refused at start-up, naming its key. */
const INVALID: Array<[key: string, value: string]> = [
  ['IIIF_JPEG_QUALITY', '0'],
  ['IIIF_JPEG_QUALITY', '101'],
  ['IIIF_JPEG_QUALITY', '150'],
  ['IIIF_JPEG_QUALITY', 'high'],
  ['IIIF_JPEG_QUALITY', '85.5'],
  ['PORT', '65536'],
  ['PORT', '70000'],
  ['PORT', '-1'],
  ['PORT', 'http'],
  ['IIIF_METRICS_PORT', '70000'],
  ['IIIF_METRICS_PORT', 'nine'],
  ['HOST', 'bad host'],
  ['HOST', 'http://127.0.0.1'],
  ['IIIF_MAX_WIDTH', '0'],
  ['IIIF_MAX_HEIGHT', '0'],
  ['IIIF_MAX_AREA', '0'],
  ['IIIF_MAX_INPUT_PIXELS', '0'],
  ['IIIF_CACHE_MAX_BYTES', '0'],
  ['IIIF_TILE_SIZE', '8'],
  ['IIIF_TILE_SIZE', '20000'],
  ['IIIF_DENSITY', '0'],
  ['IIIF_DENSITY', '70000'],
  ['IIIF_MAX_CONCURRENT_RENDERS', '0'],
  // setTimeout fires at once for anything above 2^31 - 1 ms.
  ['IIIF_REQUEST_TIMEOUT_MS', '0'],
  ['IIIF_REQUEST_TIMEOUT_MS', '3000000000'],
  ['IIIF_SOURCE_TIMEOUT_MS', '3000000000'],
  ['IIIF_QUEUE_TIMEOUT_MS', '3000000000'],
  ['IIIF_SHUTDOWN_GRACE_MS', '3000000000'],
  ['IIIF_HEADERS_TIMEOUT_MS', '50'],
  ['IIIF_MAX_CONNECTIONS', '-1'],
  ['IIIF_RENDER_TIMEOUT_MS', '0'],
  ['IIIF_FORWARD_MAX_BYTES', '65535'],
  ['IIIF_CORS_ALLOW_ORIGIN', 'example.org'],
  ['IIIF_CORS_ALLOW_ORIGIN', 'https://example.org/path'],
  ['IIIF_CORS_ALLOW_ORIGIN', 'https://a.example.org, ftp://b.example.org'],
  ['IIIF_CORS_ALLOW_HEADERS', 'X-Bad Header'],
  ['IIIF_CORS_EXPOSE_HEADERS', 'Link;ETag'],
  ['IIIF_CACHE_CONTROL_IMAGE', 'public\r\nX-Injected: 1'],
  ['IIIF_CACHE_CONTROL_INFO', 'max-age=60\nX-Injected: 1'],
  ['IIIF_PUBLIC_BASE_URL', 'ftp://images.example.org'],
  ['IIIF_PUBLIC_BASE_URL', 'images.example.org'],
  ['IIIF_PUBLIC_BASE_URL', 'https://x.org/a?b=c'],
  ['IIIF_PUBLIC_BASE_URL', 'https://x.org/a#f'],
  ['IIIF_PUBLIC_BASE_URL', 'https://user:pw@x.org'],
  ['IIIF_LOG_LEVEL', 'verbose'],
  ['IIIF_LOG_FORMAT', 'xml'],
  ['IIIF_S3_REGION', 'eu west 1'],
  ['IIIF_R2_BINDING', 'my-bucket'],
  ['IIIF_SOURCE', 'gcs'],
  ['IIIF_PREFIX', 'iiif'],
  ['IIIF_FORCE_HOST', 'images example org'],
  ['IIIF_TRUST_FORWARDED', 'maybe'],
  ['IIIF_PUBLIC_HOSTS', 'images.example.org/iiif'],
  ['IIIF_RAW_SLASH_IDS', 'maybe'],
  ['IIIF_RAW_SLASH_CANONICAL', 'raw'],
  ['IIIF_PREFLIGHT', 'maybe'],
  ['IIIF_JPEG_OPTIMIZE_CODING', 'maybe'],
  ['IIIF_PING_BODY', 'xml'],
  ['IIIF_JP2_MAX_DECODE_BYTES', '1'],
  ['IIIF_JP2_MAX_OUTPUT_PIXELS', '0'],
  ['IIIF_GIF_MAX_OUTPUT_PIXELS', '0'],
  ['IIIF_AVIF_MAX_OUTPUT_PIXELS', '25000001'],
  ['IIIF_IDLE_TIMEOUT_MS', '500'],
  ['IIIF_IDLE_TIMEOUT_MS', '3000000000'],
  ['IIIF_FORCE_HOST', 'images.example.org:99999'],
  ['IIIF_CORS_ALLOW_ORIGIN', 'https://a.example.org:65536'],
  ['IIIF_IDLE_TIMEOUT_MS', 'soon'],
  ['IIIF_MAX_DECODE_BYTES', '0'],
  ['IIIF_MAX_JPEG_SCANS', '0'],
  ['IIIF_GEOMETRY_CACHE_BYTES', '0'],
  ['IIIF_RIGHTS', 'CC-BY'],
  ['IIIF_PREFERRED_FORMATS', 'webp,bmp'],
  ['IIIF_CORS_ALLOW_CREDENTIALS', 'maybe'],
  ['IIIF_CORS_MAX_AGE', 'an hour'],
  ['IIIF_FS_STAT_TTL_MS', '3000000000'],
  ['IIIF_FS_MAX_OPEN_FILES', '0'],
  ['IIIF_FS_FOLLOW_LINKS', 'maybe'],
  ['IIIF_FS_INLINE_READS', 'maybe'],
  ['IIIF_EDGE_TILE_CACHE_BYTES', '-1'],
  ['IIIF_RESPONSE_CACHE_BYTES', '-1'],
  ['IIIF_RESPONSE_CACHE_DISK_BYTES', '1000'],
  ['IIIF_MAX_QUEUED_RENDERS', 'many'],
  ['IIIF_SECURITY_HEADERS', 'maybe'],
  ['IIIF_S3_KEY_TEMPLATE', 'images/tif'],
  ['IIIF_S3_ENDPOINT', 'localhost:9000'],
  ['IIIF_S3_FORCE_PATH_STYLE', 'maybe'],
  ['IIIF_RENDER_ORIGIN', 'render.internal'],
  ['IIIF_CACHE_CONTROL_ERROR', 'no-store\rX: 1'],
];

const VALID: Array<[key: string, value: string]> = [
  ['IIIF_JPEG_QUALITY', '1'],
  ['IIIF_JPEG_QUALITY', '100'],
  ['PORT', '0'],
  ['PORT', '65535'],
  ['IIIF_METRICS_PORT', '9464'],
  ['HOST', '0.0.0.0'],
  ['HOST', '::'],
  ['HOST', 'localhost'],
  ['IIIF_TILE_SIZE', '1024'],
  ['IIIF_FORCE_HOST', 'images.example.org:65535'],
  ['IIIF_CORS_ALLOW_ORIGIN', 'https://a.example.org:8443, http://[::1]:3000'],
  ['IIIF_REQUEST_TIMEOUT_MS', '2147483647'],
  ['IIIF_CORS_ALLOW_ORIGIN', 'https://a.example.org, http://localhost:3000'],
  ['IIIF_CORS_ALLOW_ORIGIN', 'REFLECT_ORIGIN'],
  ['IIIF_CORS_ALLOW_HEADERS', 'Authorization, X-Requested-With'],
  ['IIIF_LOG_LEVEL', 'debug'],
  ['IIIF_LOG_FORMAT', 'pretty'],
  ['IIIF_S3_REGION', 'eu-west-1'],
  ['IIIF_R2_BINDING', 'IMAGES_2'],
  ['IIIF_PREFERRED_FORMATS', 'webp, png'],
];

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('settings are checked for their real range at start-up', () => {
  it('has a value out of range for every setting of the schema', async () => {
    const schema = await readFile(new URL('../../src/config.ts', import.meta.url), 'utf8');
    const keys = [...schema.matchAll(/^\s{2}((?:IIIF_[A-Z0-9_]+)|PORT|HOST):/gm)].map((m) => m[1]);
    expect(keys.length).toBeGreaterThan(30);
    const tested = new Set([...INVALID.map(([key]) => key), ...FREE_TEXT]);
    expect(keys.filter((key) => !tested.has(key!))).toEqual([]);
  });

  it.each(INVALID)('refuses %s=%j with a one-line reason naming the key', (key, value) => {
    const error = refusal({ [key]: value });
    expect(error.message).toMatch(new RegExp(`^invalid configuration: ${key}: `));
    expect(error.message).not.toContain('\n');
    // Our words, saying what is expected, not valibot's default ("Invalid value: Expected >=1 …").
    expect(error.message).not.toMatch(/Invalid (value|type|length|key)/);
  });

  it.each(VALID)('accepts %s=%j', (key, value) => {
    expect(() => loadConfig({ [key]: value })).not.toThrow();
  });

  it('parses numbers and levels as their types', () => {
    const config = loadConfig({ IIIF_JPEG_QUALITY: '100', IIIF_METRICS_PORT: '9464', IIIF_LOG_LEVEL: 'warn' });
    expect([config.IIIF_JPEG_QUALITY, config.IIIF_METRICS_PORT, config.IIIF_LOG_LEVEL]).toEqual([100, 9464, 'warn']);
    expect(loadConfig({}).IIIF_METRICS_PORT).toBeUndefined();
  });
});

describe('settings that must agree', () => {
  it('refuses a default tile that the output limits would refuse (info.json advertises it)', () => {
    expect(refusal({ IIIF_MAX_WIDTH: '400' }).message).toMatch(/IIIF_TILE_SIZE.*IIIF_MAX_WIDTH/);
    // 512² is 262144 pixels, over an area limit of 100000.
    expect(refusal({ IIIF_MAX_AREA: '100000' }).message).toMatch(/IIIF_TILE_SIZE.*IIIF_MAX_AREA/);
    expect(loadConfig({ IIIF_MAX_AREA: '100000', IIIF_TILE_SIZE: '316' }).IIIF_TILE_SIZE).toBe(316);
  });
});

describe('URLs are kept in their serialised form', () => {
  it('a public base with a unicode host or path is used as its ASCII form (punycode, percent-encoding); a bad escape is refused', () => {
    expect(loadConfig({ IIIF_PUBLIC_BASE_URL: 'https://bilder.例え.jp/iiif-base/' }).IIIF_PUBLIC_BASE_URL).toBe('https://bilder.xn--r8jz45g.jp/iiif-base');
    expect(loadConfig({ IIIF_PUBLIC_BASE_URL: 'https://x.org/a b/ü' }).IIIF_PUBLIC_BASE_URL).toBe('https://x.org/a%20b/%C3%BC');
    expect(refusal({ IIIF_PUBLIC_BASE_URL: 'https://x.org/%zz' }).message).toMatch(/IIIF_PUBLIC_BASE_URL/);
  });

  it('a rights URI is emitted as configured, its trailing slash kept (3.0 §5.5 names them with one)', () => {
    expect(loadConfig({ IIIF_RIGHTS: 'https://creativecommons.org/licenses/by/4.0/' }).IIIF_RIGHTS).toBe('https://creativecommons.org/licenses/by/4.0/');
    expect(loadConfig({ IIIF_RIGHTS: 'http://rightsstatements.org/vocab/InC/1.0/' }).IIIF_RIGHTS).toBe('http://rightsstatements.org/vocab/InC/1.0/');
  });
});

describe('IIIF_PREFIX', () => {
  it('/ means no prefix (an empty value is unset: /iiif); a trailing slash is dropped', async () => {
    expect(loadConfig({ IIIF_PREFIX: '/' }).IIIF_PREFIX).toBe('');
    expect(loadConfig({ IIIF_PREFIX: '' }).IIIF_PREFIX).toBe('/iiif');
    expect(loadConfig({ IIIF_PREFIX: '/img/' }).IIIF_PREFIX).toBe('/img');
    const { createApp } = await import('../../src/app.ts');
    const app = createApp({ config: loadConfig({ IIIF_PREFIX: '/', IIIF_ROOT: '/nonexistent' }), source: { kind: 'fs', stat: async () => { throw new Error('unused'); }, read: async () => new Uint8Array() } });
    expect((await app.request('/3')).status).toBe(200);
    expect((await app.request('/3/a.png')).headers.get('location')).toBe('http://localhost/3/a.png/info.json');
  });
});
