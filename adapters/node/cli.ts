import { Command, CommanderError, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { ConfigError, setOnly, type Env } from '../../src/config.ts';
import type { RunningServer } from './server.ts';

/** Each flag is the command-line spelling of one setting; the flag wins over the environment. */
const FLAGS: ReadonlyArray<[flags: string, key: string, description: string]> = [
  ['--root <dir>', 'IIIF_ROOT', 'folder of images to serve (default: the bundled samples)'],
  ['--port <port>', 'PORT', 'port to listen on, 0 for any free one (default: 8080)'],
  ['--host <address>', 'HOST', 'address to listen on, 0.0.0.0 for every interface (default: 127.0.0.1)'],
  ['--prefix <path>', 'IIIF_PREFIX', 'path in front of /3 and /2 (default: /iiif)'],
  ['--public-base-url <url>', 'IIIF_PUBLIC_BASE_URL', 'base URL clients see, for ids behind a proxy'],
  ['--log-level <level>', 'IIIF_LOG_LEVEL', 'debug, info, warn, error or silent (default: info)'],
  ['--log-format <format>', 'IIIF_LOG_FORMAT', 'json or pretty (default: pretty on a terminal, else json)'],
  ['--metrics-port <port>', 'IIIF_METRICS_PORT', 'serve Prometheus metrics at /metrics on this port (default: off)'],
];

const attribute = (flags: string) => new Option(flags).attributeName();

/** The server's command line, for `iiif-edge` (adapters/cli) and `npm start`. */
export function serverCommand(): Command {
  const program = new Command('iiif-edge')
    .description('IIIF Image API 3.0 and 2.1 server')
    .version(pkg.version, '-v, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .allowExcessArguments(false)
    .exitOverride()
    // Wide enough that each flag, its default and its variable fit on one line.
    .configureHelp({ helpWidth: 120 })
    .configureOutput({
      // One line, our name first; commander's own words say what was wrong.
      outputError: (text, write) => write(`iiif-edge: ${text.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()}\n`),
    })
    .addHelpText(
      'after',
      '\nEvery other setting is read from its environment variable (docs/configuration.md).\nExit codes: 0 stopped by SIGTERM or SIGINT (after draining; a second signal exits at once with 1), 2 bad flag or setting, 1 anything else.',
    );
  for (const [flags, key, description] of FLAGS) program.addOption(new Option(flags, description).env(key));
  return program;
}

/** The settings the command line names, over `env`; throws CommanderError for help, version and usage errors. */
export function settingsFrom(argv: readonly string[], env: Env): Env {
  const program = serverCommand().parse([...argv], { from: 'user' });
  const values = program.opts<Record<string, string | undefined>>();
  const settings: Env = { ...env };
  for (const [flags, key] of FLAGS) {
    // commander also reads the variable: an empty one is unset, as everywhere.
    const value = values[attribute(flags)];
    if (value !== undefined && value !== '') settings[key] = value;
  }
  return settings;
}

/**
 * Runs the server until SIGTERM or SIGINT. Errors are one line on stderr, never a stack trace:
 * exit code 2 for what the operator can fix (flags, settings, a busy port), 1 for the rest.
 */
export async function runServer(argv: readonly string[], env: Env = process.env): Promise<void> {
  let server: RunningServer;
  try {
    // The command line logs every request; code that calls startServer logs less by default.
    const settings = settingsFrom(argv, { IIIF_LOG_LEVEL: 'info', ...setOnly(env) });
    // Loaded after the flags are read, so that --help and --version answer at once.
    const { startServer } = await import('./server.ts');
    server = await startServer(settings);
  } catch (e) {
    // Help and version end in a CommanderError with exit code 0; usage errors were printed by commander.
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
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
