/** Severities, lowest first; `silent` logs nothing. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

/**
 * What the core needs from a logger. pino (Node), Powertools Logger (Lambda) and
 * plain JSON lines (Workers) all fit; a cause goes in the `err` field.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** The same logger, adding `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** A thrown value as JSON-friendly fields: name, message, stack and its own cause, never the object itself. */
export function describeError(e: unknown, depth = 0): LogFields | string {
  if (!(e instanceof Error)) return String(e);
  const out: LogFields = { type: e.name, message: e.message };
  if (e.stack) out.stack = e.stack;
  // Causes can chain; three levels say enough and stop a cycle.
  if (e.cause !== undefined && depth < 3) out.cause = describeError(e.cause, depth + 1);
  return out;
}

export interface JsonLinesOptions {
  level: LogLevel;
  fields?: LogFields;
  /** Where each line goes: console.log unless told (the Workers runtime collects it). */
  write?: (line: string) => void;
}

/** One JSON object per line, for runtimes with no logging library (Workers) and the core's default. */
export function jsonLinesLogger(options: JsonLinesOptions): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level);
  const write = options.write ?? ((line: string) => console.log(line));
  const base = options.fields ?? {};
  const at =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (LOG_LEVELS.indexOf(level) < threshold) return;
      const line: LogFields = { time: new Date().toISOString(), level, msg: message, ...base, ...fields };
      if (line.err !== undefined) line.err = describeError(line.err);
      write(JSON.stringify(line));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => jsonLinesLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** Drops everything (tests that provoke failures on purpose). */
export const silentLogger: Logger = jsonLinesLogger({ level: 'silent' });
