import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../adapters/cli/bin.mjs', import.meta.url));

/** The bin on a free port, once it says where it listens; `out` is its stdout up to then. */
async function serve(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [BIN, '--port', '0', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  const url = await new Promise<string>((ok, fail) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const found = /listening on (http:\/\/[^\s"]+)/.exec(out)?.[1];
      if (found) ok(found);
    });
    child.once('exit', (code) => fail(new Error(`exited with ${code}: ${out}`)));
  });
  return { child, url, out };
}

describe('iiif-edge without a command', () => {
  it('serves (the Node adapter, its flags), and stops cleanly on SIGTERM', { timeout: 120_000 }, async () => {
    const { child, url } = await serve(process.env);
    const info = await fetch(`${url}/iiif/3/rings.jpg/info.json`);
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ type: 'ImageService3' });
    const exited = new Promise<number | null>((ok) => child.once('exit', ok));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('takes an empty variable as unset, keeping the Node defaults (samples, response cache) and naming a custom prefix', { timeout: 120_000 }, async () => {
    const env = { ...process.env, IIIF_ROOT: '', IIIF_RESPONSE_CACHE_BYTES: '', IIIF_MAX_CONCURRENT_RENDERS: '', IIIF_PREFIX: '/img/v1' };
    const { child, url, out } = await serve(env);
    try {
      // The start line says where the service is.
      expect(out).toContain('IIIF 3.0 at /img/v1/3, 2.1 at /img/v1/2');
      const path = `${url}/img/v1/3/rings.jpg/full/90,/0/default.jpg`;
      expect((await fetch(path)).status).toBe(200);
      // The Node adapter's 64 MiB response cache is on: the second render is a hit.
      expect((await fetch(path)).headers.get('server-timing')).toMatch(/cache;desc="hit"/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('listening failures the operator fixes', () => {
  it('name the setting in one line (a HOST that does not resolve included)', async () => {
    const { listenError } = await import('../../adapters/node/server.ts');
    const { ConfigError } = await import('../../src/config.ts');
    const fault = (code: string) => Object.assign(new Error(`getaddrinfo ${code} nowhere.invalid`), { code });
    for (const code of ['ENOTFOUND', 'EAI_AGAIN']) {
      const e = listenError(fault(code), 'PORT', 8080, 'nowhere.invalid');
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toBe('HOST: nowhere.invalid does not resolve to an address');
    }
    expect(listenError(fault('EADDRINUSE'), 'PORT', 8080, '127.0.0.1')).toBeInstanceOf(ConfigError);
  });
});
