import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const module = (path: string) => JSON.stringify(fileURLToPath(new URL(path, import.meta.url)));

/**
 * A fresh process records every module it resolves (synchronous module hooks), starts the Node
 * adapter on the bundled samples (fs source) and answers one info.json.
 */
const child = `
import { registerHooks } from 'node:module';
const seen = [];
registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r; } });
const loaded = () => ({
  sdk: seen.some((u) => u.includes('/node_modules/@aws-sdk/')),
  sharp: seen.some((u) => u.includes('/node_modules/sharp/')),
  pdf: seen.some((u) => u.includes('/node_modules/pdf-lib/')),
  prom: seen.some((u) => u.includes('/node_modules/prom-client/')),
});
const { startServer } = await import(${module('../../adapters/node/server.ts')});
const server = await startServer({ PORT: '0', HOST: '127.0.0.1' });
const atListen = loaded();
const info = await fetch(server.url + '/iiif/3/pyramid.tif/info.json');
await info.text();
// A viewer's burst right after its info.json, 8 at a time: sharp must not load in the middle of it.
let duringBurst = loaded().sharp;
let next = 0;
await Promise.all(Array.from({ length: 8 }, async () => {
  while (next++ < 48) {
    await (await fetch(server.url + '/iiif/3/pyramid.tif/info.json')).text();
    duringBurst ||= loaded().sharp;
  }
}));
for (let i = 0; i < 200 && !loaded().sharp; i++) await new Promise((r) => setTimeout(r, 50));
const onceQuiet = loaded();
await server.close(0);

const { loadConfig } = await import(${module('../../src/config.ts')});
const { sourceFromConfig } = await import(${module('../../src/sources/from-config.ts')});
sourceFromConfig(loadConfig({ IIIF_SOURCE: 's3', IIIF_S3_BUCKET: 'b', IIIF_S3_REGION: 'eu-west-1' }), () => undefined);
for (let i = 0; i < 400 && !loaded().sdk; i++) await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ status: info.status, atListen, duringBurst, onceQuiet, s3Configured: loaded() }));
process.exit(0);
`;

describe('cold start of the Node adapter (fs source)', () => {
  it('is listening before it loads the AWS SDK, sharp, pdf-lib or prom-client, and loads sharp once quiet, never during a burst of requests', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      env: { ...process.env, IIIF_LOG_LEVEL: 'warn' },
      timeout: 60_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    expect(result).toEqual({
      status: 200,
      atListen: { sdk: false, sharp: false, pdf: false, prom: false },
      duringBurst: false,
      onceQuiet: { sdk: false, sharp: true, pdf: false, prom: false },
      // An S3 deployment imports the SDK in the background as it starts; pdf-lib waits for a PDF,
      // prom-client for IIIF_METRICS_PORT.
      s3Configured: { sdk: true, sharp: true, pdf: false, prom: false },
    });
  }, 90_000);
});

/**
 * The command line's entry (`npm start`, `node dist/node/main.mjs --port …`) in a fresh process:
 * which argument parser it loads for plain flags, and for --help.
 */
const cliChild = (args: string[]) => `
import { registerHooks } from 'node:module';
const seen = [];
registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r; } });
const commander = () => seen.some((u) => u.includes('/node_modules/commander/'));
const exit = process.exit;
// --help ends the process from inside runServer: report first.
process.exit = (code) => { console.log(JSON.stringify({ commander: commander(), code })); exit(0); };
const { runServer } = await import(${module('../../adapters/node/cli.ts')});
await runServer(${JSON.stringify(args)});
process.exit('listening');
`;

describe('cold start of the command line', () => {
  const start = async (args: string[]) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', cliChild(args)], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      env: { ...process.env, IIIF_LOG_LEVEL: 'warn' },
      timeout: 60_000,
    });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  };

  it('starts on plain flags (both spellings) without loading commander (7–9 ms of a cold start here)', async () => {
    expect(await start(['--port', '0', '--host=127.0.0.1', '--log-level', 'warn'])).toEqual({ commander: false, code: 'listening' });
  }, 90_000);

  it('still answers --help and a mistyped flag through commander', async () => {
    expect(await start(['--help'])).toEqual({ commander: true, code: 0 });
    expect(await start(['--prot', '0'])).toEqual({ commander: true, code: 2 });
  }, 90_000);
});

/** A fresh process imports the Lambda entry (fs source) and answers one info.json by response streaming. */
const lambdaChild = `
import { registerHooks } from 'node:module';
import { Writable } from 'node:stream';
const seen = [];
registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r; } });
const sharp = () => seen.some((u) => u.includes('/node_modules/sharp/'));
globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };
const { streamHandler } = await import(${module('../../adapters/lambda/handler.ts')});
await new Promise((r) => setTimeout(r, 300));
const afterInit = sharp();
let atResponseEnd;
let body = '';
const stream = new Writable({ write(chunk, _e, done) { body += chunk; done(); } });
let undici;
// Answered without a Request or Response: fetch (undici) is 35–50 ms of a cold start.
stream.on('finish', () => { atResponseEnd = sharp(); undici = process.moduleLoadList.some((m) => m.includes('undici')); });
const path = '/iiif/3/pyramid.tif/info.json';
await streamHandler({
  version: '2.0', routeKey: '$default', rawPath: path, rawQueryString: '', isBase64Encoded: false,
  headers: { host: 'example.lambda-url.eu-west-1.on.aws', 'x-forwarded-proto': 'https' },
  requestContext: { domainName: 'example.lambda-url.eu-west-1.on.aws', http: { method: 'GET', path }, requestId: 'cold' },
}, stream, {});
console.log(JSON.stringify({ width: JSON.parse(body).width, afterInit, atResponseEnd, undici, afterInvocation: sharp() }));
process.exit(0);
`;

describe('cold start of the Lambda adapter (fs source, response streaming)', () => {
  it('does not load sharp during init or before its response has ended, nor fetch to answer, and has sharp loaded when the invocation ends', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', lambdaChild], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      env: { ...process.env, IIIF_LOG_LEVEL: 'warn', IIIF_SOURCE: 'fs', IIIF_ROOT: fileURLToPath(new URL('../../adapters/node/samples/', import.meta.url)) },
      timeout: 60_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    expect(result).toEqual({ width: expect.any(Number), afterInit: false, atResponseEnd: false, undici: false, afterInvocation: true });
  }, 90_000);
});
