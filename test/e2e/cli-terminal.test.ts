import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../adapters/cli/bin.mjs', import.meta.url));
const SHOW_CURSOR = '\x1b[?25h';
const HIDE_CURSOR = '\x1b[?25l';

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'iiif-edge-terminal-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/**
 * Runs the bin on a pseudo-terminal, through util-linux `script` (Debian's essential bsdutils),
 * `exec`ed so that the shell's pid is the bin's; `interrupt` sends SIGINT once the bar is drawn.
 */
async function onTerminal(args: string[], interrupt = false): Promise<{ code: number | null; typescript: string }> {
  const typescript = join(work, `typescript-${Math.random().toString(36).slice(2)}`);
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qefc', `exec ${quoted} >/dev/null`, typescript], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  if (interrupt) {
    for (let i = 0; i < 600 && !(await readFile(typescript, 'latin1').catch(() => '')).includes(HIDE_CURSOR); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const pid = Number((await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')).trim().split(' ')[0]);
    process.kill(pid, 'SIGINT');
  }
  const code = await exited;
  return { code, typescript: await readFile(typescript, 'latin1') };
}

describe('the CLI on a terminal', () => {
  it('prints the errors logged just before the end, and gives the cursor back', async () => {
    const src = join(work, 'few');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'good.png'), await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).png().toBuffer());
    await writeFile(join(src, 'zero.jpg'), '');
    await writeFile(join(src, 'text.png'), 'not an image');
    const { code, typescript } = await onTerminal(['prepare', src, join(work, 'few-out')]);
    expect(code).toBe(1);
    expect(typescript).toMatch(/zero\.jpg: /);
    expect(typescript).toMatch(/text\.png: /);
    expect(typescript.lastIndexOf(SHOW_CURSOR)).toBeGreaterThan(typescript.lastIndexOf(HIDE_CURSOR));
  });

  it('on Ctrl-C exits 130 with the cursor shown again', async () => {
    const src = join(work, 'many');
    await mkdir(src, { recursive: true });
    const noise = Buffer.alloc(1200 * 900 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
    const png = await sharp(noise, { raw: { width: 1200, height: 900, channels: 3 } }).png().toBuffer();
    for (let i = 0; i < 60; i++) await writeFile(join(src, `p${i}.png`), png);
    const { code, typescript } = await onTerminal(['prepare', src, join(work, 'many-out'), '--concurrency', '1'], true);
    expect(code).toBe(130);
    expect(typescript).toContain(HIDE_CURSOR);
    expect(typescript.lastIndexOf(SHOW_CURSOR)).toBeGreaterThan(typescript.lastIndexOf(HIDE_CURSOR));
  });

  it('compare, on Ctrl-C, exits 130 with the cursor shown again', async () => {
    // A server that never answers: compare is still at work when interrupted.
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/iiif/3`;
    const urls = join(work, 'urls.txt');
    await writeFile(urls, ['a.jpg/info.json', 'b.jpg/info.json'].join('\n'));
    const ids = join(work, 'ids.txt');
    await writeFile(ids, 'a.jpg\nb.jpg\n');
    try {
      // Replaying a URL list, and reading the info.json of a list of identifiers.
      for (const list of [['--urls', urls], ['--ids', ids]]) {
        const { code, typescript } = await onTerminal(['compare', '--old', base, '--new', base, ...list], true);
        expect(code, list[0]).toBe(130);
        expect(typescript.lastIndexOf(SHOW_CURSOR), list[0]).toBeGreaterThan(typescript.lastIndexOf(HIDE_CURSOR));
      }
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
