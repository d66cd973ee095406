export interface LoopResult {
  rps: number;
  p50: number;
  p99: number;
  done: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs job(0), job(1), … with `concurrency` in flight until `seconds` have passed. */
export async function loop(job: (i: number) => Promise<unknown>, concurrency: number, seconds: number): Promise<LoopResult> {
  // Warm-up: one round, not counted.
  await Promise.all(Array.from({ length: concurrency }, (_, i) => job(i)));
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      await job(next++);
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), done: latencies.length };
}
