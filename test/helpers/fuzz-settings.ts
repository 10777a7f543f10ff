import { randomInt } from 'node:crypto';
import * as fc from 'fast-check';

// How the property-based tests run: FUZZ_SEED=<int> replays a run (fast-check also prints the seed
// and path of a failing case); FUZZ_RUNS=<int> sets the cases per property.

export interface FuzzSettings {
  /** What fc.assert takes: the seed, the cases, and a time limit that reports before vitest's. */
  parameters: fc.Parameters<unknown> & { plugins: NonNullable<fc.Parameters<unknown>['plugins']> };
  /** For it(): long enough for the property and its report. */
  testTimeoutMs: number;
}

/** The settings for one test file, printed once so that a failing run can be replayed. */
export function fuzzSettings(file: string, defaultRuns: number): FuzzSettings {
  const seed = fuzzSetting('FUZZ_SEED', randomInt(2 ** 31));
  const runs = fuzzSetting('FUZZ_RUNS', defaultRuns);
  // A property takes about a millisecond a case; shrinking a failure can take far longer. Stop it
  // in time for fast-check, rather than vitest's timeout, to report the case it found.
  const timeLimitMs = 20_000 + runs * 20;
  console.info(`${file}: FUZZ_SEED=${String(seed)} FUZZ_RUNS=${String(runs)}`);
  return {
    parameters: {
      seed,
      numRuns: runs,
      plugins: [fc.interruptAfterTimeLimit(timeLimitMs, { failOnInterrupt: true })],
    },
    testTimeoutMs: timeLimitMs + 10_000,
  };
}

function fuzzSetting(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  if (!/^-?\d+$/.test(value)) throw new Error(`${name} must be an integer, got "${value}"`);
  return Number(value);
}
