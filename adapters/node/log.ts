import pino, { type Logger as Pino } from 'pino';
import type { Config } from '../../src/config.ts';
import { ConfigError } from '../../src/config.ts';
import type { LogFields, Logger } from '../../src/log/logger.ts';

export interface NodeLog {
  logger: Logger;
  /** Writes out what is buffered; call before the process exits. */
  flush(): void;
}

/**
 * pino: JSON lines written asynchronously, so a request never waits on the terminal or a pipe;
 * pino-pretty (a development dependency) for people at a terminal.
 */
export async function nodeLog(config: Config, isTTY = process.stdout.isTTY === true): Promise<NodeLog> {
  const format = config.IIIF_LOG_FORMAT ?? (isTTY ? 'pretty' : 'json');
  const options: pino.LoggerOptions = {
    level: config.IIIF_LOG_LEVEL,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (format === 'pretty') {
    const pretty = await loadPretty(config.IIIF_LOG_FORMAT === 'pretty');
    if (pretty) {
      const stream = pretty({ sync: true, colorize: isTTY, singleLine: true, ignore: 'pid', translateTime: 'SYS:HH:MM:ss.l' });
      return { logger: wrap(pino(options, stream)), flush: () => undefined };
    }
  }
  const destination = pino.destination({ dest: 1, sync: false });
  return { logger: wrap(pino(options, destination)), flush: () => destination.flushSync() };
}

type Pretty = (typeof import('pino-pretty'))['build'];

/** Absent from a production install (`npm ci --omit=dev`): JSON then, unless pretty was asked for by name. */
async function loadPretty(required: boolean): Promise<Pretty | undefined> {
  try {
    return (await import('pino-pretty')).build;
  } catch {
    if (required) throw new ConfigError('invalid configuration: IIIF_LOG_FORMAT: pretty needs the pino-pretty package, which is not installed');
    return undefined;
  }
}

function wrap(log: Pino): Logger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) =>
    fields ? log[level](fields, message) : log[level](message);
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => wrap(log.child(fields)),
  };
}
