import { parseArgs } from 'node:util';
import { ConfigError, setOnly, type Env } from '../../src/config.ts';
import type { RunningServer } from './server.ts';
import { FLAGS, withFlagValues } from './server-flags.ts';

const OPTIONS = Object.fromEntries(FLAGS.map(([flags]) => [flags.slice(2, flags.indexOf(' ')), { type: 'string' as const }]));

/**
 * The settings of a command line made only of the server's flags with their values (what a
 * service manager or `npm start` passes), over `env`; undefined for anything else (help,
 * version, a mistake), which commander answers: leaving commander unloaded took 7–9 ms off a
 * 190 ms cold start here (docs/performance.md).
 */
export function plainFlagSettings(argv: readonly string[], env: Env): Env | undefined {
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch {
    return undefined;
  }
  return withFlagValues(env, (flags) => values[flags.slice(2, flags.indexOf(' '))]);
}

/**
 * Runs the server until SIGTERM or SIGINT. Errors are one line on stderr, never a stack trace:
 * exit code 2 for what the operator can fix (flags, settings, a busy port), 1 for the rest.
 */
export async function runServer(argv: readonly string[], env: Env = process.env): Promise<void> {
  let server: RunningServer;
  try {
    // The command line logs every request; code that calls startServer logs less by default.
    const base = { IIIF_LOG_LEVEL: 'info', ...setOnly(env) };
    const settings = plainFlagSettings(argv, base) ?? (await import('./command.ts')).commandSettings(argv, base);
    // Loaded after the flags are read, so that --help and --version answer at once.
    const { startServer } = await import('./server.ts');
    server = await startServer(settings);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`iiif-edge: ${e.message}`);
      process.exit(2);
    }
    console.error(`iiif-edge: could not start: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  const { logger, url, prefix, metricsUrl } = server;
  logger.info(`iiif-edge listening on ${url} (IIIF 3.0 at ${prefix}/3, 2.1 at ${prefix}/2)`, { url, metricsUrl });
  // First signal: finish in-flight requests (up to IIIF_SHUTDOWN_GRACE_MS) and exit 0; a second one exits at once.
  const stop = (signal: string) => {
    logger.info(`${signal}: draining in-flight requests`);
    process.once(signal, () => process.exit(1));
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
