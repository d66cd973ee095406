import { parseArgs } from 'node:util';
import { ConfigError } from '../../src/config.ts';
import { startServer } from './server.ts';

/** `npm start -- --root ./images --port 9000`: flags override the matching environment variables. */
const { values } = parseArgs({
  options: { root: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
});
const env = { ...process.env };
if (values.root !== undefined) env.IIIF_ROOT = values.root;
if (values.port !== undefined) env.PORT = values.port;
if (values.host !== undefined) env.HOST = values.host;

try {
  const server = await startServer(env);
  console.log(`iiif-edge listening on ${server.url} (IIIF 3.0 at /iiif/3, 2.1 at /iiif/2)`);
  // First signal: finish in-flight requests (up to IIIF_SHUTDOWN_GRACE_MS) and exit 0; a second one exits at once.
  const stop = (signal: string) => {
    console.log(`${signal}: draining in-flight requests`);
    process.once(signal, () => process.exit(1));
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(2);
  }
  throw e;
}
