import type { Config } from '../../src/config.ts';
import { jsonLinesLogger, type Logger } from '../../src/log/logger.ts';

/** Workers Logs collect console output; a JSON object per line keeps its fields queryable. */
export const workersLogger = (config: Config): Logger => jsonLinesLogger({ level: config.IIIF_LOG_LEVEL });
