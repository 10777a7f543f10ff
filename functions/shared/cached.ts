// Caches what a loader returns for maxAgeMs, so a container reads a secret once, yet picks up a
// rotated value within minutes. Concurrent callers share one load; a failed load is not cached.
export function cached<T>(
  load: () => Promise<T>,
  maxAgeMs: number,
  now: () => number = Date.now,
): () => Promise<T> {
  let current: { value: Promise<T>; loadedAt: number } | undefined;
  return () => {
    if (current === undefined || now() - current.loadedAt >= maxAgeMs) {
      const value = load();
      const entry = { value, loadedAt: now() };
      current = entry;
      value.catch(() => {
        if (current === entry) current = undefined;
      });
    }
    return current.value;
  };
}
