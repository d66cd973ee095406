import { startServer } from '../adapters/node/server.ts';

/**
 * iiif-edge for `npm run bench`: the Node adapter on 127.0.0.1, a free port,
 * images from argv[2]; prints {"url": ...} as one JSON line once listening.
 */
const root = process.argv[2];
if (!root) throw new Error('usage: our-server.ts <image root>');

// Rendered responses are not cached unless asked: workloads repeat URLs, and render rates should be render rates.
const server = await startServer({
  IIIF_RESPONSE_CACHE_BYTES: '0',
  ...process.env,
  IIIF_SOURCE: 'fs',
  IIIF_ROOT: root,
  PORT: '0',
  HOST: '127.0.0.1',
});
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
