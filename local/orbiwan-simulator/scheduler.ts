// Every timer the simulator starts goes through here, so close() can clear them all and the
// process can exit.

export interface Scheduler {
  after: (delayMs: number, action: () => void) => void;
  every: (periodMs: number, action: () => void) => void;
  clear: () => void;
}

export function createScheduler(): Scheduler {
  const timers = new Set<NodeJS.Timeout>();
  let cleared = false;
  return {
    after: (delayMs, action) => {
      if (cleared) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        action();
      }, delayMs);
      timers.add(timer);
    },
    every: (periodMs, action) => {
      if (!cleared) timers.add(setInterval(action, periodMs));
    },
    clear: () => {
      cleared = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
