import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { LoadResult } from './load.ts';

export interface Child {
  name: string;
  url: string;
  pid: number;
  /** Every process that serves (IIPImage: its FastCGI processes and lighttpd); `[pid]` if absent. */
  pids?: number[];
  /** The whole JSON line the child printed (url plus anything it reports about itself). */
  hello: Record<string, unknown>;
  /** Resolves once the process has exited. */
  stop(): Promise<void>;
}

/** Spawns `node args…`, waits for its first stdout line {"url": …}; stderr is passed through. */
export async function startChild(name: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${name}] ${chunk.toString()}`));
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const lines = createInterface({ input: child.stdout! });
  const hello = await new Promise<Record<string, unknown>>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not report its URL within 30 s`)), 30_000);
    child.once('exit', (code) => fail(new Error(`${name} exited with code ${code} before listening`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (typeof parsed.url !== 'string') throw new Error('no url');
        ok(parsed);
      } catch {
        fail(new Error(`${name} printed ${JSON.stringify(line)} instead of {"url": …}`));
      }
    });
  });
  lines.on('line', (line) => process.stderr.write(`[${name}] ${line}\n`));
  return {
    name,
    url: String(hello.url),
    pid: child.pid!,
    hello,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * CPU time (user + system, all threads) that processes have used so far, in ms, from /proc; undefined
 * where there is no /proc. Linux reports it in ticks of 1/100 s (USER_HZ, 100 on every architecture
 * Node runs on), so a reading is good to 10 ms: measure over seconds.
 */
export async function cpuMs(pids: number[]): Promise<number | undefined> {
  let total = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [utime, stime] = [Number(fields?.[11]), Number(fields?.[12])];
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    total += (utime + stime) * 10;
  }
  return total;
}

/**
 * A load run and the CPU its server processes spent per request (µs, all threads): the server's
 * own cost, whatever share of the 2 cores the load generator leaves it in that run (req/s of the
 * same code moved by ±15% between runs here; two servers of the same code, alternating, measured
 * 238 and 247 µs per tile). The load's warm-up (two requests per connection, bench/load.ts) is
 * counted with the requests.
 */
export async function withCpu(pids: number[], connections: number, run: () => Promise<LoadResult>): Promise<{ result: LoadResult; cpuUs?: number }> {
  const before = await cpuMs(pids);
  const result = await run();
  const after = await cpuMs(pids);
  const requests = result.ok + result.failed + 2 * connections;
  return { result, ...(before !== undefined && after !== undefined ? { cpuUs: ((after - before) * 1000) / requests } : {}) };
}

async function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : 0;
}

/**
 * Peak resident memory of a process over a stretch of time: the kernel's
 * high-water mark, reset at the start (clear_refs 5), cross-checked by sampling
 * VmRSS every 50 ms in case the reset is not permitted.
 */
export async function watchPeakRss(pid: number): Promise<() => Promise<number>> {
  const reset = await writeFile(`/proc/${pid}/clear_refs`, '5').then(
    () => true,
    () => false,
  );
  let sampled = await statusKb(pid, 'VmRSS');
  const timer = setInterval(() => {
    void statusKb(pid, 'VmRSS').then((kb) => (sampled = Math.max(sampled, kb)));
  }, 50);
  return async () => {
    clearInterval(timer);
    const hwm = reset ? await statusKb(pid, 'VmHWM') : 0;
    return Math.max(hwm, sampled, await statusKb(pid, 'VmRSS')) * 1024;
  };
}

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after "(comm)": state is 3rd, utime 14th, stime 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

/**
 * Waits until a process has used no CPU for `quietMs` (at most `maxMs`), so
 * requests a load generator abandoned at its deadline do not spill into the
 * next measurement.
 */
export async function waitIdle(pid: number, quietMs = 300, maxMs = 60_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = await cpuTicks(pid);
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await new Promise((ok) => setTimeout(ok, 100));
    const now = await cpuTicks(pid);
    if (now !== last) {
      last = now;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) {
      return;
    }
  }
}
