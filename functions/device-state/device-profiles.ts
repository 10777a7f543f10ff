import { cached } from '../shared/cached.js';
import { DependencyError } from '../shared/errors.js';
import { orbiwanClientFromEnv } from '../shared/orbiwan/orbiwan-from-env.js';
import type { OrbiwanClient } from '../shared/orbiwan/orbiwan-client.js';

// OrbiWAN's notifications do not say which device profile a device has: for profile attachments
// the connector asks OrbiWAN (two GETs), once per device per container and hour. A device moved to
// another profile gets its new codec within the hour, or at once with a DevEUI attachment.

export const DEVICE_PROFILE_MAX_AGE_MS = 60 * 60_000;
/** Devices whose profile a container keeps; the longest unasked goes first beyond it. */
const MAX_DEVICES = 10_000;

export function deviceProfiles(
  client: Pick<OrbiwanClient, 'deviceProfileName'>,
  now: () => number = Date.now,
): (devEui: string) => Promise<string | undefined> {
  const byDevice = new Map<string, () => Promise<string | undefined>>();
  return (devEui) => {
    let profile = byDevice.get(devEui);
    byDevice.delete(devEui);
    profile ??= cached(() => profileOf(client, devEui), DEVICE_PROFILE_MAX_AGE_MS, now);
    byDevice.set(devEui, profile);
    if (byDevice.size > MAX_DEVICES) byDevice.delete(byDevice.keys().next().value ?? '');
    return profile();
  };
}

/**
 * OrbiWAN failing to name a device's profile is a dependency failing, whatever it answered:
 * nothing was sent yet, and the caller may retry (the send task's OrbiWAN errors would say a
 * downlink may have been queued, or was refused).
 */
async function profileOf(
  client: Pick<OrbiwanClient, 'deviceProfileName'>,
  devEui: string,
): Promise<string | undefined> {
  try {
    return await client.deviceProfileName(devEui);
  } catch (error) {
    throw new DependencyError(
      'PROFILE_LOOKUP_FAILED',
      `could not ask OrbiWAN for the device profile of ${devEui}`,
      false,
      { cause: error },
    );
  }
}

/** The function's OrbiWAN, asked lazily: only profile attachments make it ask at all. */
export function orbiwanProfiles(
  env: NodeJS.ProcessEnv,
): (devEui: string) => Promise<string | undefined> {
  let profiles: ((devEui: string) => Promise<string | undefined>) | undefined;
  return (devEui) => {
    profiles ??= deviceProfiles(orbiwanClientFromEnv(env));
    return profiles(devEui);
  };
}
