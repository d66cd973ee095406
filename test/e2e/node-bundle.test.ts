import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
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
});
