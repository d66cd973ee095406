import { MultiBar, Presets, type SingleBar } from 'cli-progress';

export interface Progress {
  /** One more item done, `bytes` of it processed. */
  tick(bytes: number): void;
  /** A line for the person watching (a per-item error), printed above the bar. */
  log(line: string): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 5_000;

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

/**
 * Count, bytes, rate and ETA on stderr: cli-progress's bar on a terminal, a plain line every
 * few seconds (and at the end) otherwise, so that CI logs stay readable.
 */
export function startProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  let done = 0;
  let bytes = 0;
  const rate = () => done / Math.max(0.001, (Date.now() - started) / 1000);
  if (stream.isTTY) {
    const bars = new MultiBar(
      {
        stream,
        format: `${label} [{bar}] {value}/{total} | {mb} MB | {rate}/s | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
    const bar: SingleBar = bars.create(total, 0, { mb: '0.0', rate: '0.0' });
    // The bar hides the cursor and buffers log lines until its next redraw: both are put right at
    // the end, and on an exit mid-run (Ctrl-C), else the shell is left without a cursor.
    const stop = () => {
      process.off('exit', stop);
      bars.update();
      bars.stop();
    };
    process.once('exit', stop);
    return {
      tick(n) {
        done++;
        bytes += n;
        bar.increment(1, { mb: mb(bytes), rate: rate().toFixed(1) });
      },
      log: (line) => bars.log(`${line}\n`),
      stop,
    };
  }
  const line = () => {
    const eta = done > 0 ? `, ETA ${Math.ceil((total - done) / rate())} s` : '';
    stream.write(`${label}: ${done}/${total}, ${mb(bytes)} MB, ${rate().toFixed(1)}/s${eta}\n`);
  };
  const timer = setInterval(line, PLAIN_EVERY_MS);
  timer.unref();
  return {
    tick(n) {
      done++;
      bytes += n;
    },
    log: (text) => stream.write(`${text}\n`),
    stop() {
      clearInterval(timer);
      line();
    },
  };
}
