import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Child } from './processes.ts';

/**
 * IIPImage 1.1, the C++ server the issues measure us against, as Debian ships it
 * (`apt-get install iipimage-server lighttpd`): `processes` FastCGI processes of iipsrv, each
 * bound to its own loopback port, behind one lighttpd that balances between them and maps
 * /iiif/3/{id}/… to iipsrv's IIIF handler. Files come from `root`, as ours do.
 */
export const IIPSRV = '/usr/lib/iipimage-server/iipsrv.fcgi';
export const LIGHTTPD = '/usr/sbin/lighttpd';

export interface IipImageOptions {
  /** MAX_IMAGE_CACHE_SIZE in MB per process: 0 for none, 10 is IIPImage's default. */
  cacheMb: number;
  processes: number;
}

export async function iipImageInstalled(): Promise<boolean> {
  return Promise.all([access(IIPSRV), access(LIGHTTPD)]).then(
    () => true,
    () => false,
  );
}

/** A port free now; another process could take it before ours binds, which is rare on a bench machine. */
function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

function lighttpdConfig(dir: string, port: number, backends: number[]): string {
  const hosts = backends.map((p) => `("host" => "127.0.0.1", "port" => ${p}, "check-local" => "disable")`).join(',\n  ');
  return [
    `server.document-root = "${dir}"`,
    'server.bind = "127.0.0.1"',
    `server.port = ${port}`,
    `server.errorlog = "${join(dir, 'lighttpd.log')}"`,
    'server.modules = ( "mod_rewrite", "mod_fastcgi" )',
    'url.rewrite-once = ( "^/iiif/3/(.*)$" => "/iipsrv.fcgi?IIIF=$1" )',
    `fastcgi.server = ( "/iipsrv.fcgi" => (\n  ${hosts}\n))`,
    '',
  ].join('\n');
}

/** Until lighttpd answers from an iipsrv process: a 5xx is lighttpd's own (no backend yet). */
async function untilAnswering(url: string, processes: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const dead = processes.find((p) => p.exitCode !== null || p.signalCode !== null);
    if (dead) throw new Error(`IIPImage: ${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode}) while starting`);
    const status = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status !== 0 && status < 500) return;
    if (Date.now() > deadline) throw new Error(`IIPImage did not answer ${url} within 10 s`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/** A free port can be taken before iipsrv binds it (it exits): a start is tried three times. */
export async function startIipImage(name: string, root: string, options: IipImageOptions): Promise<Child> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(name, root, options);
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

async function startOnce(name: string, root: string, options: IipImageOptions): Promise<Child> {
  const dir = await mkdtemp(join(tmpdir(), 'iiif-edge-bench-iipimage-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((ok) => c.once('exit', ok));
        c.kill('SIGTERM');
        const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const backends = await Promise.all(Array.from({ length: options.processes }, freePort));
    const env = {
      // The caller's environment (MALLOC_* settings apply to both servers), then IIPImage's own.
      ...process.env,
      FILESYSTEM_PREFIX: root.endsWith('/') ? root : `${root}/`,
      MAX_IMAGE_CACHE_SIZE: String(options.cacheMb),
      // Debian's build asks memcached on localhost for whole answers before any work: a closed port keeps "no cache" true.
      MEMCACHED_SERVERS: '127.0.0.1:1',
      CORS: '*',
      VERBOSITY: '0',
    };
    const spawnQuiet = (file: string, args: string[]) => {
      const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${name}] ${chunk.toString()}`));
      children.push(child);
      return child;
    };
    for (const port of backends) spawnQuiet(IIPSRV, ['--bind', `127.0.0.1:${port}`]);
    const port = await freePort();
    const config = join(dir, 'lighttpd.conf');
    await writeFile(config, lighttpdConfig(dir, port, backends));
    spawnQuiet(LIGHTTPD, ['-D', '-f', config]);
    const url = `http://127.0.0.1:${port}`;
    // An empty IIIF request: answered by one iipsrv process without opening an image.
    await untilAnswering(`${url}/iiif/3/`, children);
    const pids = children.map((c) => c.pid!);
    return { name, url, pid: pids[0]!, pids, hello: { url }, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
