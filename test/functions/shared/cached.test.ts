import { describe, expect, it, vi } from 'vitest';
import { cached } from '../../../functions/shared/cached.js';

describe('cached', () => {
  it('loads once while the value is younger than its maximum age', async () => {
    let now = 0;
    const load = vi.fn(() => Promise.resolve('token-1'));
    const get = cached(load, 1_000, () => now);

    const values = [await get(), await get()];
    now = 999;
    values.push(await get());

    expect(values).toEqual(['token-1', 'token-1', 'token-1']);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('loads again once the value reaches its maximum age', async () => {
    let now = 0;
    const load = vi.fn().mockResolvedValueOnce('old').mockResolvedValueOnce('rotated');
    const get = cached(load, 1_000, () => now);

    const first = await get();
    now = 1_000;
    const second = await get();

    expect([first, second]).toEqual(['old', 'rotated']);
  });

  it('shares one load between concurrent callers', async () => {
    const load = vi.fn(() => Promise.resolve('token'));
    const get = cached(load, 1_000);

    await Promise.all([get(), get(), get()]);

    expect(load).toHaveBeenCalledTimes(1);
  });

  it('does not keep a failed load', async () => {
    const load = vi.fn().mockRejectedValueOnce(new Error('denied')).mockResolvedValueOnce('token');
    const get = cached(load, 1_000);

    await expect(get()).rejects.toThrow('denied');
    await expect(get()).resolves.toBe('token');
    expect(load).toHaveBeenCalledTimes(2);
  });
});
