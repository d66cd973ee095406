import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bundleLambda } from '../adapters/lambda/build.ts';
import { buildNodeBundle } from '../adapters/node/build.ts';

/**
 * Cold start, spawn → first info.json answered, for both production bundles on the bundled
 * samples (fs source): the Node server (`node dist/bench/node/main.mjs`, first HTTP request as
 * soon as it says it listens) and the Lambda handler (a fresh `node` importing the bundle, then
 * one Function URL event, as the runtime does). Median of `runs` each.
 *
 *   npx tsx bench/cold-start.ts [runs]
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLES = join(ROOT, 'adapters/node/samples');
const IDENTIFIER = 'pyramid.tif';

export interface ColdStart {
  nodeMs: number;
  lambdaMs: number;
  /** The same measure for a bare node:http server answering `{}`: what Node itself costs on this machine. */
  floorMs: number;
  runs: number;
}

/**
 * The floor: node:http and nothing else, started and asked the same way as our server. It loads
 * node:http through require(), as our bundles do: an ESM import of it also loads fetch (undici),
 * about 40 ms here, which would flatter every figure measured against the floor.
 */
const FLOOR_SERVER = `const { createServer } = require('node:http');
const s = createServer((q, r) => r.end('{}')).listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + s.address().port));`;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

function exited(child: ChildProcess): Promise<void> {
  return new Promise((ok) => (child.exitCode !== null || child.signalCode !== null ? ok() : child.once('exit', () => ok())));
}

async function nodeOnce(bundle: string | undefined): Promise<number> {
  const started = performance.now();
  const args = bundle ? [bundle, '--port', '0', '--host', '127.0.0.1', '--root', SAMPLES] : ['-e', FLOOR_SERVER];
  const child = spawn(process.execPath, args, {
    // At the default level it logs the line that says where it listens.
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, IIIF_LOG_LEVEL: 'info' },
  });
  try {
    const url = await new Promise<string>((ok, fail) => {
      child.once('exit', (code) => fail(new Error(`node bundle exited with ${code} before listening`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const found = /listening on (http:\/\/[^\s"]+)/.exec(line)?.[1];
        if (found) ok(found);
      });
    });
    const res = await fetch(`${url}/iiif/3/${IDENTIFIER}/info.json`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`node bundle: info.json answered ${res.status}`);
    return performance.now() - started;
  } finally {
    child.kill('SIGKILL');
    await exited(child);
  }
}

// Runs in the fresh process: the stub stands in for the runtime's `awslambda` global, which streamHandle needs at import.
const lambdaChild = (bundle: string) => `
globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };
const { handler } = await import(${JSON.stringify(bundle)});
const path = '/iiif/3/${IDENTIFIER}/info.json';
const res = await handler({
  version: '2.0', routeKey: '$default', rawPath: path, rawQueryString: '', isBase64Encoded: false,
  headers: { host: 'example.lambda-url.eu-west-1.on.aws', 'x-forwarded-proto': 'https' },
  requestContext: { domainName: 'example.lambda-url.eu-west-1.on.aws', http: { method: 'GET', path }, requestId: 'cold' },
});
process.stdout.write('cold-start status ' + res.statusCode + '\\n');
`;

async function lambdaOnce(bundle: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', lambdaChild(bundle)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, IIIF_SOURCE: 'fs', IIIF_ROOT: SAMPLES },
  });
  try {
    const status = await new Promise<string>((ok, fail) => {
      child.once('exit', (code) => fail(new Error(`lambda bundle exited with ${code} before answering`)));
      // Other lines (embedded metrics) may come first.
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const status = /^cold-start status (\d+)$/.exec(line)?.[1];
        if (status) ok(status);
      });
    });
    if (status !== '200') throw new Error(`lambda bundle: info.json answered ${status}`);
    return performance.now() - started;
  } finally {
    child.kill('SIGKILL');
    await exited(child);
  }
}

/** Builds both bundles into dist/bench/ and measures them alternately, so machine noise hits both alike. */
export async function coldStart(runs = 10): Promise<ColdStart> {
  const nodeBundle = join(ROOT, 'dist/bench/node/main.mjs');
  const lambdaBundle = join(ROOT, 'dist/bench/lambda/index.mjs');
  await buildNodeBundle(join(ROOT, 'adapters/node/main.ts'), nodeBundle);
  await bundleLambda(lambdaBundle);
  const node: number[] = [];
  const lambda: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < runs; i++) {
    node.push(await nodeOnce(nodeBundle));
    lambda.push(await lambdaOnce(lambdaBundle));
    floor.push(await nodeOnce(undefined));
  }
  return { nodeMs: median(node), lambdaMs: median(lambda), floorMs: median(floor), runs };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? 10);
  const result = await coldStart(Number.isInteger(runs) && runs > 0 ? runs : 10);
  console.log(JSON.stringify(result));
}
