import { requireEnv, requireIntegerEnv, requireOneOfEnv } from '../shared/config.js';
import { DOWNLINK_MODES, type DownlinkMode } from '../shared/orbiwan/orbiwan-client.js';

// The configuration the downlink functions share, read from their environment (template.yaml).

export interface DownlinksTableSettings {
  tableName: string;
  /** Items outlive two full waits and a day, whatever happens to their execution. */
  retentionSeconds: number;
}

/**
 * DownlinkTimeoutSeconds' range in template.yaml (a test holds them equal): at most 120 days, as a
 * downlink waits up to three times and an execution lives at most a year.
 */
export const DOWNLINK_TIMEOUT_SECONDS_RANGE = { min: 1, max: 10_368_000 };

export function downlinksTableFromEnv(env: NodeJS.ProcessEnv): DownlinksTableSettings {
  const timeoutSeconds = requireIntegerEnv(
    'DOWNLINK_TIMEOUT_SECONDS',
    DOWNLINK_TIMEOUT_SECONDS_RANGE,
    env,
  );
  return {
    tableName: requireEnv('DOWNLINKS_TABLE_NAME', env),
    retentionSeconds: 2 * timeoutSeconds + 86_400,
  };
}

export function downlinkDefaultsFromEnv(env: NodeJS.ProcessEnv): {
  confirmed: boolean;
  mode: DownlinkMode;
} {
  return {
    confirmed: requireOneOfEnv('DOWNLINK_CONFIRMED_DEFAULT', ['true', 'false'], env) === 'true',
    mode: requireOneOfEnv('DOWNLINK_MODE_DEFAULT', DOWNLINK_MODES, env),
  };
}
