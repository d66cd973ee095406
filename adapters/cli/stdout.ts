/**
 * A reader that stops early (`| head`, `| true`) closes stdout: the summary is then unwanted, not an
 * error, so the run goes on to its cleanup and exits by its work. Any other stdout failure is one line.
 */
export function ignoreClosedStdout(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') return;
    process.stderr.write(`iiif-edge: cannot write to stdout (${e.code ?? e.message})\n`);
    process.exitCode = 1;
  });
}
