import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ensureFixtures, scaleFromEnv } from './fixtures.ts';
import { load } from './load.ts';
import { type Child, startChild, withCpu } from './processes.ts';
import { workloads } from './workloads.ts';

/**
 * Two revisions of our server, A then B, on the same workloads in alternating rounds: the order
 * swaps every round, so a drift of this VM's speed (±30% between minutes here) falls on both.
 * Prints the median req/s and server CPU per request of each, and in how many rounds B spent less
 * CPU than A. Each revision is built from a git worktree sharing this checkout's node_modules;
 * `.` is the working tree as it is.
 *
 *   npx tsx bench/ab.ts 14a051f HEAD --workloads edge-first,aligned --rounds 10
 */
const ROOT = new URL('..', import.meta.url).pathname;

const count = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

const program = new Command('ab')
  .argument('<a>', 'the first revision (a commit, tag or branch; . for the working tree)')
  .argument('<b>', 'the second revision')
  .option('--workloads <ids>', 'workload ids of npm run bench, comma-separated', 'aligned')
  .option('--rounds <n>', 'rounds per workload, each measuring A and B once', count('--rounds'), 8)
  .option('--seconds <n>', 'seconds per measurement', count('--seconds'), 3)
  .option('--connections <n>', 'concurrent connections', count('--connections'), 8)
  .showHelpAfterError();

interface Built {
  label: string;
  bundle: string;
  cleanup: () => Promise<void>;
}

/** The bench bundle of `rev`, built in its own worktree (or from this checkout for `.`). */
async function build(rev: string, out: string): Promise<Built> {
  if (rev === '.') return { label: 'working tree', bundle: await bundleIn(ROOT, out), cleanup: async () => {} };
  let commit: string;
  try {
    commit = execFileSync('git', ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${rev} is not a revision of this repository`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'iiif-edge-ab-'));
  const cleanup = async () => {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' });
    await rm(dir, { recursive: true, force: true });
  };
  try {
    execFileSync('git', ['worktree', 'add', '--detach', dir, commit], { cwd: ROOT, stdio: 'ignore' });
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    return { label: `${rev} (${commit.slice(0, 7)})`, bundle: await bundleIn(dir, out), cleanup };
  } catch (e) {
    await cleanup().catch(() => {});
    throw e;
  }
}

/** Runs the checkout's own bundler on bench/our-server.ts, as `npm run bench` does. */
function bundleIn(dir: string, out: string): Promise<string> {
  const script = `const { buildNodeBundle } = await import('./adapters/node/build.ts'); await buildNodeBundle('bench/our-server.ts', ${JSON.stringify(out)});`;
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`building ${dir} failed: ${err.trim().split('\n').at(-1) ?? `exit ${code}`}`))));
  });
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1] ?? Number.NaN;

async function main(): Promise<void> {
  program.parse();
  const [revA, revB] = program.args as [string, string];
  const opts = program.opts<{ workloads: string; rounds: number; seconds: number; connections: number }>();
  const fx = await ensureFixtures(scaleFromEnv(process.env.BENCH_SCALE), (line) => console.log(line));
  const all = workloads(fx);
  const ids = opts.workloads.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = ids.filter((id) => !all.some((w) => w.id === id));
  if (unknown.length > 0) throw new Error(`unknown workload ${unknown.join(', ')}; one of ${all.map((w) => w.id).join(', ')}`);
  // Under this checkout, where the bundles' external packages (sharp) resolve.
  const out = join(ROOT, 'dist/ab');
  const built: Built[] = [];
  const stopping: Child[] = [];
  const cleanup = async () => {
    await Promise.all(stopping.map((s) => s.stop()));
    for (const b of built.splice(0)) await b.cleanup().catch(() => {});
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    for (const [rev, name] of [[revA, 'a'], [revB, 'b']] as const) built.push(await build(rev, join(out, name, 'our-server.mjs')));
    for (const id of ids) {
      const w = all.find((x) => x.id === id)!;
      const paths = w.paths.map((p) => `/iiif/3/${p}`);
      const servers = await Promise.all(built.map((b, i) => startChild(`ab-${'ab'[i]}`, [b.bundle, fx.dir], { cwd: ROOT, env: { ...process.env, ...w.oursEnv } })));
      stopping.push(...servers);
      for (const s of servers) await load({ base: s.url, paths, connections: opts.connections, seconds: 2 });
      const rps: number[][] = [[], []];
      const cpu: number[][] = [[], []];
      for (let r = 0; r < opts.rounds; r++) {
        for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
          const s = servers[i]!;
          const { result, cpuUs } = await withCpu([s.pid], opts.connections, () => load({ base: s.url, paths, connections: opts.connections, seconds: opts.seconds }));
          if (result.failed > 0) throw new Error(`${built[i]!.label}: ${result.failed} of ${result.ok + result.failed} requests of ${id} failed`);
          rps[i]!.push(result.rps);
          if (cpuUs !== undefined) cpu[i]!.push(cpuUs);
        }
      }
      console.log(`\n${w.title}: ${opts.rounds} rounds of ${opts.seconds} s, order swapped each round`);
      built.forEach((b, i) => {
        const perRound = cpu[i]!.length > 0 ? `, CPU ${median(cpu[i]!).toFixed(0)} µs per request (rounds: ${cpu[i]!.map((x) => x.toFixed(0)).join(' ')})` : '';
        console.log(`  ${'AB'[i]} ${b.label}: ${median(rps[i]!).toFixed(0)} req/s (rounds: ${rps[i]!.map((x) => x.toFixed(0)).join(' ')})${perRound}`);
      });
      if (cpu[0]!.length > 0) console.log(`  B spent less CPU than A in ${cpu[1]!.filter((x, r) => x < cpu[0]![r]!).length} of ${opts.rounds} rounds`);
      await Promise.all(servers.map((s) => s.stop()));
      stopping.length = 0;
    }
  } finally {
    await cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(`ab: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
