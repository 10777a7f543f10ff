import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEVICE_PROFILE_MAX_AGE_MS,
  deviceProfiles,
} from '../../../../../functions/device-state/device-profiles.js';
import { OrbiwanUnavailableError } from '../../../../../functions/shared/orbiwan/orbiwan-errors.js';

// deviceProfiles: each device's profile name asked of OrbiWAN once an hour per container, with
// the `now` given, and each device on its own.

const DEVICE_A = '70b3d57ed0001a2b';
const DEVICE_B = '0011223344556677';

let time: number;
let names: Map<string, string | undefined>;
let deviceProfileName: ReturnType<typeof vi.fn<(devEui: string) => Promise<string | undefined>>>;
let profileOf: (devEui: string) => Promise<string | undefined>;

beforeEach(() => {
  time = 5_000_000;
  names = new Map([
    [DEVICE_A, 'Thermostats'],
    [DEVICE_B, 'Meters'],
  ]);
  deviceProfileName = vi.fn((devEui: string) => Promise.resolve(names.get(devEui)));
  profileOf = deviceProfiles({ deviceProfileName }, () => time);
});

describe('deviceProfiles', () => {
  it('asks OrbiWAN for a device once within the hour', async () => {
    await expect(profileOf(DEVICE_A)).resolves.toBe('Thermostats');
    names.set(DEVICE_A, 'Moved');
    time += DEVICE_PROFILE_MAX_AGE_MS - 1;
    await expect(profileOf(DEVICE_A)).resolves.toBe('Thermostats');

    expect(deviceProfileName).toHaveBeenCalledTimes(1);
  });

  it('asks again once the hour is over, and answers the new profile', async () => {
    await profileOf(DEVICE_A);
    names.set(DEVICE_A, 'Moved');
    time += DEVICE_PROFILE_MAX_AGE_MS;

    await expect(profileOf(DEVICE_A)).resolves.toBe('Moved');
    expect(deviceProfileName).toHaveBeenCalledTimes(2);
  });

  it('asks for each device separately, and keeps each its own hour', async () => {
    await expect(profileOf(DEVICE_A)).resolves.toBe('Thermostats');
    time += DEVICE_PROFILE_MAX_AGE_MS / 2;
    await expect(profileOf(DEVICE_B)).resolves.toBe('Meters');
    time += DEVICE_PROFILE_MAX_AGE_MS / 2;
    await profileOf(DEVICE_A);
    await profileOf(DEVICE_B);

    expect(deviceProfileName.mock.calls).toEqual([[DEVICE_A], [DEVICE_B], [DEVICE_A]]);
  });

  it('keeps a device without a profile (undefined) for the hour too', async () => {
    names.set(DEVICE_A, undefined);

    await expect(profileOf(DEVICE_A)).resolves.toBeUndefined();
    await expect(profileOf(DEVICE_A)).resolves.toBeUndefined();
    expect(deviceProfileName).toHaveBeenCalledTimes(1);
  });

  it('shares one question among concurrent asks for a device', async () => {
    const answers = await Promise.all([
      profileOf(DEVICE_A),
      profileOf(DEVICE_A),
      profileOf(DEVICE_A),
    ]);

    expect(answers).toEqual(['Thermostats', 'Thermostats', 'Thermostats']);
    expect(deviceProfileName).toHaveBeenCalledTimes(1);
  });

  it('does not keep a failure: the next ask goes to OrbiWAN again', async () => {
    const failure = new OrbiwanUnavailableError('OrbiWAN failed to show device (503)');
    deviceProfileName.mockRejectedValueOnce(failure);

    // A dependency failing, retried by its caller; never an OrbiWAN error that would say a
    // downlink may have been queued.
    await expect(profileOf(DEVICE_A)).rejects.toMatchObject({
      name: 'DependencyError',
      code: 'PROFILE_LOOKUP_FAILED',
      message: `could not ask OrbiWAN for the device profile of ${DEVICE_A}`,
      cause: failure,
    });
    await expect(profileOf(DEVICE_A)).resolves.toBe('Thermostats');
    expect(deviceProfileName).toHaveBeenCalledTimes(2);
  });

  it('keeps at most 10,000 devices, forgetting the one asked for longest ago', async () => {
    const devices = Array.from({ length: 10_001 }, (_, index) =>
      index.toString(16).padStart(16, '0'),
    );
    for (const device of devices) await profileOf(device);
    await profileOf(devices[10_000] ?? '');
    expect(deviceProfileName).toHaveBeenCalledTimes(10_001);

    await profileOf(devices[0] ?? '');
    expect(deviceProfileName).toHaveBeenCalledTimes(10_002);
  });

  it('keeps nothing between two caches', async () => {
    const other = deviceProfiles({ deviceProfileName }, () => time);

    await profileOf(DEVICE_A);
    await other(DEVICE_A);

    expect(deviceProfileName).toHaveBeenCalledTimes(2);
  });
});
