import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  now?: () => number;
  /** Whether trying again can help; by default, always. */
  retryable?: (error: unknown) => boolean;
}

/**
 * Runs `work` until it succeeds, waiting longer between attempts, as long as another attempt can
 * start before `deadline` (ms since the epoch); then fails with the last error. For work that must
 * not be left undone once a downlink is queued at OrbiWAN (recording it, telling the application).
 */
export async function retrying<T>(
  work: () => Promise<T>,
  deadline: number,
  { now = Date.now, retryable = () => true }: RetryOptions = {},
): Promise<T> {
  for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 2_000)) {
    try {
      return await work();
    } catch (error) {
      if (!retryable(error) || now() + delayMs >= deadline) throw error;
      await sleep(delayMs * (0.5 + Math.random() / 2));
    }
  }
}
