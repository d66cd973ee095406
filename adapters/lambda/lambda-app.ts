import type { Hono } from 'hono';
import { handle, type LambdaContext, type LambdaEvent } from 'hono/aws-lambda';
import { createIiif } from '../../src/app.ts';
import { loadConfig, type Config, type Env } from '../../src/config.ts';
import { preloadSharp, sharpRendererFromConfig } from '../../src/renderers/sharp-renderer.ts';
import { sourceFromConfig } from '../../src/sources/from-config.ts';
import type { Logger } from '../../src/log/logger.ts';
import type { DirectAnswers } from '../../src/routes/direct.ts';
import { bufferedResult, directAnswer } from './direct-event.ts';
import { type APIGatewayProxyEventV2, refusals, refuseEvent, unreadable } from './event-guard.ts';
import { lambdaLogger, lambdaMetrics } from './log.ts';
import { guardBufferedPayload } from './payload-guard.ts';
import { streamHandler } from './stream-handler.ts';

export interface LambdaApp {
  app: Hono;
  /** Undefined for a remote source (src/routes/direct.ts). */
  direct: DirectAnswers | undefined;
  config: Config;
  logger: Logger;
}

export function createLambdaApp(env: Env): LambdaApp {
  const config = loadConfig(env);
  const logger = lambdaLogger(config);
  const { app, direct } = createIiif({
    config,
    source: sourceFromConfig(config, (line) => logger.warn(line)),
    renderer: sharpRendererFromConfig(config),
    logger,
    metrics: lambdaMetrics(),
  });
  return { app, direct, config, logger };
}

/**
 * Both invoke modes of a Function URL: `handler` (BUFFERED, 6 MB responses)
 * and `streamHandler` (RESPONSE_STREAM). streamHandler needs the runtime's
 * `awslambda` global, present on Lambda and polyfilled by lambda-local.
 */
export function createHandlers(env: Env) {
  const { app, direct, config, logger } = createLambdaApp(env);
  const log = (line: string) => logger.warn(line);
  const refuse = refusals(config);
  const buffered = handle(app);
  return {
    handler: async (event: LambdaEvent, context?: LambdaContext) => {
      const refused = refuseEvent(event, log, refuse);
      if (refused) return refused;
      const v2 = event as APIGatewayProxyEventV2;
      // What the streaming mode refuses as unreadable, so is this: hono's adapter would answer plain text.
      if (unreadable(v2)) return refuse(event, 400, 'bad_request', 'the request could not be read');
      const answer = await directAnswer(direct, v2);
      if (answer) {
        // The result holds a copy of the body: its buffer serves the next answer.
        const result = bufferedResult(answer);
        answer.release?.();
        return guardBufferedPayload(result, config, log);
      }
      // hono's adapter takes the host from domainName alone: without it, from the Host header, as the streaming mode.
      const host = v2.requestContext.domainName ?? v2.headers?.host;
      const named = v2.requestContext.domainName || !host ? v2 : { ...v2, requestContext: { ...v2.requestContext, domainName: host } };
      return guardBufferedPayload(await buffered(named, context), config, log);
    },
    // Once the response has ended, the invocation loads sharp ahead of the first render: the client
    // has its answer, so neither the first info.json nor a stored tile waits for it. Loading it at
    // init instead would delay every cold start's first response; the buffered handler cannot
    // answer before it returns, so there sharp loads on the first render.
    streamHandler: streamHandler(app, direct, log, refuse, preloadSharp),
  };
}
