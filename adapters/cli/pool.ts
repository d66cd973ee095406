/** Waits until the next start is allowed; one pacer shared by several pools keeps one rate across them. */
export type Pacer = () => Promise<void>;

/** Starts at most one caller every `gapMs` (none when 0), whichever pool it comes from. */
export function startPacer(gapMs: number): Pacer {
  let lastStart = 0;
  return async () => {
    if (gapMs <= 0) return;
    const wait = lastStart + gapMs - Date.now();
    lastStart = Math.max(Date.now(), lastStart + gapMs);
    if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
  };
}

/** Runs `work` over `items`, at most `limit` at a time, never starting two within `gap` (ms, or a shared pacer) of each other. */
export async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>, gap: number | Pacer = 0): Promise<void> {
  const pace = typeof gap === 'number' ? startPacer(gap) : gap;
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await pace();
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
