import type { Hono } from 'hono';
import { handle, streamHandle, type LambdaContext, type LambdaEvent } from 'hono/aws-lambda';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Config, type Env } from '../../src/config.ts';
import { sharpRendererFromConfig } from '../../src/renderers/sharp-renderer.ts';
import { sourceFromConfig } from '../../src/sources/from-config.ts';
import { refuseEvent } from './event-guard.ts';
import { guardBufferedPayload } from './payload-guard.ts';

const log = (line: string) => console.warn(line);

export interface LambdaApp {
  app: Hono;
  config: Config;
}

export function createLambdaApp(env: Env): LambdaApp {
  const config = loadConfig(env);
  const app = createApp({
    config,
    source: sourceFromConfig(config, log),
    renderer: sharpRendererFromConfig(config),
  });
  return { app, config };
}

/**
 * Both invoke modes of a Function URL: `handler` (BUFFERED, 6 MB responses)
 * and `streamHandler` (RESPONSE_STREAM). streamHandle needs the runtime's
 * `awslambda` global, present on Lambda and polyfilled by lambda-local.
 */
export function createHandlers(env: Env) {
  const { app, config } = createLambdaApp(env);
  const buffered = handle(app);
  return {
    handler: async (event: LambdaEvent, context?: LambdaContext) =>
      refuseEvent(event, log) ?? guardBufferedPayload(await buffered(event, context), config),
    streamHandler: streamHandle(app),
  };
}
