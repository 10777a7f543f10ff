import { describe, expect, it } from 'vitest';
import { retrying } from '../../../functions/downlinks/retrying.js';

/** Work that fails `times` times, then answers 'done'; it counts its attempts. */
function failing(times: number, error: () => Error = () => new Error('not yet')) {
  const work = () => {
    work.attempts += 1;
    return work.attempts <= times ? Promise.reject(error()) : Promise.resolve('done');
  };
  work.attempts = 0;
  return work;
}

describe('retrying', () => {
  it('runs the work again until it succeeds, while the deadline allows', async () => {
    const work = failing(2);

    await expect(retrying(work, Date.now() + 10_000)).resolves.toBe('done');

    expect(work.attempts).toBe(3);
  });

  it('fails with the last error once another attempt could not start before the deadline', async () => {
    let attempt = 0;
    const work = failing(Number.POSITIVE_INFINITY, () => new Error(`attempt ${String(++attempt)}`));
    // The clock says 50 ms are left: less than the first wait (100 ms).
    const now = () => 1_000;

    await expect(retrying(work, 1_050, { now })).rejects.toThrow('attempt 1');

    expect(work.attempts).toBe(1);
  });

  it('fails at once with an error that trying again cannot help', async () => {
    const work = failing(1, () => new TypeError('refused'));

    await expect(
      retrying(work, Date.now() + 10_000, { retryable: (error) => !(error instanceof TypeError) }),
    ).rejects.toThrow('refused');

    expect(work.attempts).toBe(1);
  });
});
