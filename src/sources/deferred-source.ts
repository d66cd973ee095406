import type { ImageSource } from './source.ts';

/**
 * A source whose module (and the SDK it brings) is imported in the background as the process
 * starts, so that a process configured for another source never loads it and a process
 * configured for this one does not wait for it before serving its first request.
 */
export function deferredSource(kind: string, load: () => Promise<ImageSource>): ImageSource {
  const loaded = load();
  // A failed import surfaces on the first request; until then it must not crash the process.
  loaded.catch(() => undefined);
  return {
    kind,
    stat: async (identifier, signal) => (await loaded).stat(identifier, signal),
    read: async (identifier, range, signal) => (await loaded).read(identifier, range, signal),
  };
}
