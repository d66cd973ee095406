/** Runs `work` over `items`, at most `limit` at a time, never starting two within `gapMs` of each other. */
export async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>, gapMs = 0): Promise<void> {
  let next = 0;
  let lastStart = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      if (gapMs > 0) {
        const wait = lastStart + gapMs - Date.now();
        lastStart = Math.max(Date.now(), lastStart + gapMs);
        if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
      }
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
