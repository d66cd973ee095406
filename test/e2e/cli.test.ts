import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
/** Each flag of the server and the environment variable it stands for. */
const FLAGS: Array<[flag: string, key: string]> = [
  ['--root', 'IIIF_ROOT'],
  ['--port', 'PORT'],
  ['--host', 'HOST'],
  ['--prefix', 'IIIF_PREFIX'],
  ['--public-base-url', 'IIIF_PUBLIC_BASE_URL'],
  ['--log-level', 'IIIF_LOG_LEVEL'],
  ['--log-format', 'IIIF_LOG_FORMAT'],
  ['--metrics-port', 'IIIF_METRICS_PORT'],
];

let root: string;
beforeAll(async () => {
  // A unique folder name: any process still holding it in its command line is an orphan of ours.
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-cli-'));
  await writeFile(join(root, 'x.txt'), 'not an image');
});
afterAll(() => rm(root, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the server's entry point to its end (every case here stops it before it serves). */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, ['adapters/node/main.ts', ...args], {
    cwd: REPO,
    env: { ...process.env, IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((ok) => child.once('close', (code) => ok({ code, stdout, stderr })));
}

function expectOneLineError(result: Run, ...words: string[]): void {
  expect(result.code).toBe(2);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/^iiif-edge: /);
  expect(result.stderr).not.toMatch(/\n\s+at |Error:|ERR_/);
  for (const word of words) expect(result.stderr).toContain(word);
}

describe('server command line', () => {
  it('--help lists every flag with its environment variable and exits 0', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    const help = result.stdout.replace(/\s+/g, ' ');
    for (const [flag, key] of FLAGS) {
      // The flag's own entry: from its name to the next flag.
      const entry = help.slice(help.indexOf(`${flag} <`)).split(/ (?=-{1,2}[a-z])/)[0];
      expect(entry).toContain(`(env: ${key})`);
    }
    expect(result.stdout).toContain('--version');
  });

  it('--version prints the package version and exits 0', async () => {
    const result = await run(['--version']);
    expect([result.code, result.stdout.trim()]).toEqual([0, pkg.version]);
  });

  it.each([
    [['--bogus'], ["unknown option '--bogus'"]],
    [['--port'], ['--port', 'argument missing']],
    [['--port', '70000'], ['PORT', 'at most 65535']],
    [['--log-level', 'loud'], ['IIIF_LOG_LEVEL']],
    [['--root', '/does/not/exist'], ['IIIF_ROOT', '/does/not/exist', 'does not exist']],
    [['serve-everything'], ['too many arguments']],
  ])('%j is refused with one line and exit code 2', async (args, words) => {
    expectOneLineError(await run(args), ...words);
  });

  it('refuses IIIF_JPEG_QUALITY=150 at start-up, naming the key (it used to start and answer 500)', async () => {
    expectOneLineError(await run([], { IIIF_JPEG_QUALITY: '150' }), 'IIIF_JPEG_QUALITY', 'at most 100');
  });

  it('refuses a root that is a file, naming the key', async () => {
    expectOneLineError(await run(['--root', join(root, 'x.txt')]), 'IIIF_ROOT', 'not a folder');
  });

  it('reports a port in use as one line naming the setting, exit code 2', async () => {
    const busy: Server = createServer();
    await new Promise<void>((ok) => busy.listen(0, '127.0.0.1', ok));
    const { port } = busy.address() as AddressInfo;
    try {
      expectOneLineError(await run(['--port', String(port)]), 'PORT', `127.0.0.1:${port}`, 'already in use');
      expectOneLineError(await run(['--metrics-port', String(port)]), 'IIIF_METRICS_PORT', 'already in use');
    } finally {
      busy.close();
    }
  });
});

describe('log format', () => {
  it('writes pretty lines when asked, JSON otherwise', async () => {
    const firstLine = async (format: string) => {
      const child = spawn(process.execPath, ['adapters/node/main.ts', '--root', root, '--port', '0', '--log-format', format], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const line = await new Promise<string>((ok, fail) => {
        child.once('exit', (code) => fail(new Error(`exited with ${code} before logging`)));
        createInterface({ input: child.stdout! }).once('line', ok);
      });
      child.kill('SIGTERM');
      await new Promise((ok) => child.once('exit', ok));
      return line;
    };
    const pretty = await firstLine('pretty');
    expect(pretty).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: iiif-edge listening on http:\/\/127\.0\.0\.1:\d+ /);
    expect(JSON.parse(await firstLine('json'))).toMatchObject({ level: 'info' });
  }, 30_000);
});

/** Processes whose command line names `marker`, other than this test's own. */
async function processesNaming(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker)) found.push(Number(entry));
  }
  return found;
}

describe('stopping', () => {
  it.each([
    ['npm start', 'SIGTERM'],
    ['npm start', 'SIGINT'],
    ['node', 'SIGTERM'],
  ] as const)('%s stops on %s and leaves no process behind', async (how, signal) => {
    const args = ['--root', root, '--port', '0', '--log-format', 'json'];
    const child =
      how === 'npm start'
        ? spawn('npm', ['start', '--silent', '--', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] })
        : spawn(process.execPath, ['adapters/node/main.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    const url = await new Promise<string>((ok, fail) => {
      child.once('exit', (code) => fail(new Error(`exited with ${code} before listening`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const match = /listening on (http:\/\/\S+)/.exec(line);
        if (match?.[1]) ok(match[1]);
      });
    });
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(await processesNaming(root)).not.toEqual([]);

    child.kill(signal);
    expect(await exited).toBe(0);
    // The server is gone with its parent: nothing listens, nothing runs.
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    for (let i = 0; i < 20 && (await processesNaming(root)).length > 0; i++) await new Promise((ok) => setTimeout(ok, 100));
    expect(await processesNaming(root)).toEqual([]);
  }, 30_000);
});
