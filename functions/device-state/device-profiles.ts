import { cached } from '../shared/cached.js';
import { orbiwanClientFromEnv } from '../shared/orbiwan/orbiwan-from-env.js';
import type { OrbiwanClient } from '../shared/orbiwan/orbiwan-client.js';

// OrbiWAN's notifications do not say which device profile a device has: for profile attachments
// the connector asks OrbiWAN (two GETs), once per device per container and hour. A device moved to
// another profile gets its new codec within the hour, or at once with a DevEUI attachment.

export const DEVICE_PROFILE_MAX_AGE_MS = 60 * 60_000;

export function deviceProfiles(
  client: Pick<OrbiwanClient, 'deviceProfileName'>,
  now: () => number = Date.now,
): (devEui: string) => Promise<string | undefined> {
  const byDevice = new Map<string, () => Promise<string | undefined>>();
  return (devEui) => {
    let profile = byDevice.get(devEui);
    if (profile === undefined) {
      profile = cached(() => client.deviceProfileName(devEui), DEVICE_PROFILE_MAX_AGE_MS, now);
      byDevice.set(devEui, profile);
    }
    return profile();
  };
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
