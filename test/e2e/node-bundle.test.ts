import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNodeBundle } from '../../adapters/node/build.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const OUT = `${ROOT}dist/test-bundle/main.mjs`;
let child: ChildProcess | undefined;

afterAll(async () => {
  child?.kill('SIGTERM');
  if (child && child.exitCode === null) await once(child, 'exit');
  await rm(`${ROOT}dist/test-bundle`, { recursive: true, force: true });
});

describe('the Node bundle (npm run build:node)', () => {
  it('runs under plain node and serves the bundled samples', async () => {
    await buildNodeBundle(`${ROOT}adapters/node/main.ts`, OUT);
    child = spawn(process.execPath, [OUT, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const url = /listening on (http:\/\/\S+)/.exec(line)?.[1];
    expect(url).toBeDefined();
    const info = await fetch(`${url}/iiif/3/pyramid.tif/info.json`);
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ width: 6000, height: 4000 });
    const tile = await fetch(`${url}/iiif/3/pyramid.tif/0,0,256,256/256,/0/default.jpg`);
    expect(tile.status).toBe(200);
    expect((await fetch(`${url}/openseadragon/openseadragon.min.js`)).status).toBe(200);
  });

  // Node loads all of fetch (undici, about 25 ms) when anything reads its globals, or when a
  // built-in such as node:http is imported as ESM. A stored tile and info.json need neither.
  it('answers info.json and a stored tile without loading fetch or zlib, and loads fetch once quiet', async () => {
    const probe = `${ROOT}dist/test-bundle/probe.mjs`;
    await mkdir(`${ROOT}dist/test-bundle`, { recursive: true });
    await writeFile(
      probe,
      "process.on('SIGUSR2', () => console.log('loaded ' + JSON.stringify(['undici', 'NativeModule zlib'].filter((n) => process.moduleLoadList.some((m) => m.includes(n))))));",
    );
    const server = spawn(process.execPath, ['--import', probe, OUT, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
      const next = async () => String((await lines.next()).value);
      const url = /listening on (http:\/\/\S+)/.exec(await next())?.[1];
      const loaded = async (): Promise<string[]> => {
        server.kill('SIGUSR2');
        for (;;) {
          const line = await next();
          if (line.startsWith('loaded ')) return JSON.parse(line.slice('loaded '.length)) as string[];
        }
      };
      // node:zlib (5–12 ms) is for the response cache's disk tier only, which is off here.
      expect(await loaded()).toEqual([]);
      const paths = ['/iiif/3/pyramid.tif/info.json', '/iiif/3/pyramid.tif/0,0,256,256/256,/0/default.jpg'];
      for (const path of paths) expect((await fetch(`${url}${path}`)).status).toBe(200);
      expect(await loaded()).toEqual([]);
      // Quiet for 100 ms: Hono's listener (and with it fetch) loads ahead of a request that needs it.
      await new Promise((ok) => setTimeout(ok, 1500));
      expect(await loaded()).toContain('undici');
    } finally {
      server.kill('SIGTERM');
      if (server.exitCode === null) await once(server, 'exit');
    }
  });
});
