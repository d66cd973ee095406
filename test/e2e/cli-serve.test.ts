import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../adapters/cli/bin.mjs', import.meta.url));

describe('iiif-edge without a command', () => {
  it('serves (the Node adapter, its flags), and stops cleanly on SIGTERM', { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, [BIN, '--port', '0', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const url = await new Promise<string>((ok, fail) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const found = /listening on (http:\/\/[^\s"]+)/.exec(out)?.[1];
        if (found) ok(found);
      });
      child.once('exit', (code) => fail(new Error(`exited with ${code}: ${out}`)));
    });
    const info = await fetch(`${url}/iiif/3/rings.jpg/info.json`);
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ type: 'ImageService3' });
    const exited = new Promise<number | null>((ok) => child.once('exit', ok));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
