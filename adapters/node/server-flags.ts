import type { Env } from '../../src/config.ts';

/** Each flag is the command-line spelling of one setting; the flag wins over the environment. */
export const FLAGS: ReadonlyArray<[flags: string, key: string, description: string]> = [
  ['--root <dir>', 'IIIF_ROOT', 'folder of images to serve (default: the bundled samples)'],
  ['--port <port>', 'PORT', 'port to listen on, 0 for any free one (default: 8080)'],
  ['--host <address>', 'HOST', 'address to listen on, 0.0.0.0 for every interface (default: 127.0.0.1)'],
  ['--prefix <path>', 'IIIF_PREFIX', 'path in front of /3 and /2 (default: /iiif)'],
  ['--public-base-url <url>', 'IIIF_PUBLIC_BASE_URL', 'base URL clients see, for ids behind a proxy'],
  ['--log-level <level>', 'IIIF_LOG_LEVEL', 'debug, info, warn, error or silent (default: info)'],
  ['--log-format <format>', 'IIIF_LOG_FORMAT', 'json or pretty (default: pretty on a terminal, else json)'],
  ['--metrics-port <port>', 'IIIF_METRICS_PORT', 'serve Prometheus metrics at /metrics on this port (default: off)'],
];

/** `env` with each flag's value over it; an empty value is unset, as everywhere. */
export function withFlagValues(env: Env, valueOf: (flags: string) => unknown): Env {
  const settings: Env = { ...env };
  for (const [flags, key] of FLAGS) {
    const value = valueOf(flags);
    if (typeof value === 'string' && value !== '') settings[key] = value;
  }
  return settings;
}
