/**
 * Local cold-start estimate for the built bundle: a fresh `node` process imports
 * dist/lambda/<arch>/index.mjs, then answers a first info.json, a first JPEG tile
 * and a first PNG (which loads sharp) through `index.handler` with a Function URL event.
 *
 *   npm run build:lambda && npx tsx adapters/lambda/cold-start.ts [x86_64|arm64]
 *
 * Serves adapters/node/samples (IIIF_SOURCE=fs) unless the environment configures
 * another source, e.g. IIIF_S3_BUCKET with IIIF_S3_ENDPOINT for a local store.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const arch = process.argv[2] ?? 'x86_64';
const bundle = fileURLToPath(new URL(`../../dist/lambda/${arch}/index.mjs`, import.meta.url));
const samples = fileURLToPath(new URL('../node/samples/', import.meta.url));
const identifier = process.env.COLD_START_IDENTIFIER ?? 'pyramid.tif';

// Runs inside the fresh process. The stub stands in for the runtime's `awslambda`
// global, which streamHandle needs at import; only the buffered handler is called.
const child = `
globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };
const event = (path) => ({
  version: '2.0', routeKey: '$default', rawPath: path, rawQueryString: '', isBase64Encoded: false,
  headers: { host: 'example.lambda-url.eu-west-1.on.aws', 'x-forwarded-proto': 'https' },
  requestContext: { domainName: 'example.lambda-url.eu-west-1.on.aws', http: { method: 'GET', path }, requestId: 'cold' },
});
const t0 = performance.now();
const { handler } = await import(${JSON.stringify(bundle)});
const t1 = performance.now();
const info = await handler(event('/iiif/3/${identifier}/info.json'));
const t2 = performance.now();
const tile = await handler(event('/iiif/3/${identifier}/0,0,256,256/256,/0/default.jpg'));
const t3 = performance.now();
const png = await handler(event('/iiif/3/${identifier}/full/200,/0/default.png'));
const t4 = performance.now();
console.log(JSON.stringify({
  nodeBootMs: Math.round(t0), importMs: Math.round(t1 - t0), firstInfoMs: Math.round(t2 - t1),
  firstTileMs: Math.round(t3 - t2), firstPngMs: Math.round(t4 - t3),
  status: [info.statusCode, tile.statusCode, png.statusCode],
  rssMiB: Math.round(process.memoryUsage().rss / 1048576),
}));
`;

const configured = process.env.IIIF_SOURCE ?? process.env.IIIF_S3_BUCKET ?? process.env.sourceBucket;
const env = configured ? process.env : { ...process.env, IIIF_SOURCE: 'fs', IIIF_ROOT: samples };
const started = performance.now();
const out = execFileSync(process.execPath, ['--input-type=module', '-e', child], { env, encoding: 'utf8' });
console.log(out.trim());
console.log(`wall time, process spawn to the PNG: ${Math.round(performance.now() - started)} ms`);
