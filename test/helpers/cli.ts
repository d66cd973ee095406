import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../adapters/cli/bin.mjs', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `iiif-edge` bin as a user would (a child process, stdout and stderr not a terminal), as `user` when given. */
export function runCli(args: string[], env: Record<string, string> = {}, user?: { uid: number; gid: number }): Promise<CliRun> {
  return new Promise((ok) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, maxBuffer: 32 * 1024 * 1024, ...user }, (error, stdout, stderr) => {
      ok({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Runs the bin with its stdout closed by the reader at once (`iiif-edge … | true`): writes to it fail with EPIPE. */
export function runCliClosedStdout(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('close', (code) => ok({ code, stderr }));
  });
}
