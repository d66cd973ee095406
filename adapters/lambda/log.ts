import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import type { Config } from '../../src/config.ts';
import type { LogFields, Logger } from '../../src/log/logger.ts';
import { noMetrics, type Metrics } from '../../src/metrics.ts';

const SERVICE = 'iiif-edge';

/** Powertools Logger: JSON lines CloudWatch Logs Insights can query, with the invocation's fields. */
export function lambdaLogger(config: Config): Logger {
  const level = config.IIIF_LOG_LEVEL === 'silent' ? 'SILENT' : config.IIIF_LOG_LEVEL.toUpperCase();
  return wrap(new PowertoolsLogger({ serviceName: SERVICE, logLevel: level as 'INFO' }));
}

function wrap(log: PowertoolsLogger): Logger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) =>
    fields ? log[level](message, fields) : log[level](message);
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => {
      const child = log.createChild();
      child.appendPersistentKeys(fields);
      return wrap(child);
    },
  };
}

/**
 * CloudWatch embedded-metric counts per request: requests, renders, pass-throughs, 4xx, 5xx
 * and latency. A Function URL invocation is one request, so each is published as it ends.
 */
export function lambdaMetrics(namespace = process.env.POWERTOOLS_METRICS_NAMESPACE ?? SERVICE): Metrics {
  const emf = new PowertoolsMetrics({ namespace, serviceName: SERVICE });
  return {
    ...noMetrics,
    request(r) {
      emf.addMetric('requests', MetricUnit.Count, 1);
      if (r.servedBy === 'render' || r.servedBy === 'tiles') emf.addMetric('renders', MetricUnit.Count, 1);
      if (r.servedBy === 'passthrough') emf.addMetric('passthroughs', MetricUnit.Count, 1);
      if (r.status >= 400 && r.status < 500) emf.addMetric('4xx', MetricUnit.Count, 1);
      if (r.status >= 500) emf.addMetric('5xx', MetricUnit.Count, 1);
      emf.addMetric('latency', MetricUnit.Milliseconds, r.durationMs);
      emf.publishStoredMetrics();
    },
  };
}
