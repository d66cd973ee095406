import { createHandlers } from './lambda-app.ts';

/**
 * The Lambda entry (`index.handler`, `index.streamHandler` in the bundle).
 * Settings are read once per container, so the S3 client, geometry cache and
 * sharp are shared by every invocation it serves.
 */
export const { handler, streamHandler } = createHandlers(process.env);
