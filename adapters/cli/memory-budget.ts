/**
 * Bytes of decoded pixels allowed in flight across concurrent conversions. A job waits until
 * its estimate fits; one larger than the whole budget waits until it can run alone, so that it
 * is slow rather than refused.
 */
export function createMemoryBudget(totalBytes: number) {
  let inUse = 0;
  let running = 0;
  const waiting: Array<{ bytes: number; start: () => void }> = [];

  const fits = (bytes: number) => running === 0 || inUse + bytes <= totalBytes;

  function pump(): void {
    // First come, first served: a large job at the head is not overtaken for ever by small ones.
    while (waiting.length > 0 && fits(waiting[0]?.bytes ?? 0)) waiting.shift()?.start();
  }

  return {
    /** Resolves with a release function once `bytes` fit. */
    reserve(bytes: number): Promise<() => void> {
      return new Promise((resolve) => {
        const start = () => {
          inUse += bytes;
          running++;
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            inUse -= bytes;
            running--;
            pump();
          });
        };
        waiting.push({ bytes, start });
        pump();
      });
    },
    get inUse() {
      return inUse;
    },
  };
}

export type MemoryBudget = ReturnType<typeof createMemoryBudget>;
