import type { ExecutionContext, Hono } from 'hono';
import { jsonLinesLogger } from '../../src/log/logger.ts';
import { buildWorkerApp, type WorkerEnv } from './app.ts';

/** Built on the first request of each isolate: vars and bindings only arrive with a request. */
let app: Hono | undefined;

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Response | Promise<Response> {
    try {
      app ??= buildWorkerApp(env);
    } catch (e) {
      // The reason goes to the Worker logs for operators; clients learn only that the deployment is broken.
      jsonLinesLogger({ level: 'error' }).error('the Worker could not start', { err: e });
      return Response.json(
        { status: 500, error: 'internal', message: 'the server is misconfigured' },
        { status: 500, headers: { 'Cache-Control': 'no-store', 'Access-Control-Allow-Origin': '*' } },
      );
    }
    return app.fetch(request, env, ctx);
  },
};
