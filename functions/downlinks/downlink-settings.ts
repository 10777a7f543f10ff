import { ConfigurationError, requireEnv, requireIntegerEnv } from '../shared/config.js';
import type { DownlinkMode } from '../shared/orbiwan/orbiwan-client.js';

// The configuration the downlink functions share, read from their environment (template.yaml).

export interface DownlinksTableSettings {
  tableName: string;
  /** Items outlive two full waits and a day, whatever happens to their execution. */
  retentionSeconds: number;
}

export function downlinksTableFromEnv(env: NodeJS.ProcessEnv): DownlinksTableSettings {
  const timeoutSeconds = requireIntegerEnv(
    'DOWNLINK_TIMEOUT_SECONDS',
    { min: 1, max: 31_536_000 },
    env,
  );
  return {
    tableName: requireEnv('DOWNLINKS_TABLE_NAME', env),
    retentionSeconds: 2 * timeoutSeconds + 86_400,
  };
}

const MODES: readonly DownlinkMode[] = ['enqueue_on_busy', 'fail_on_busy', 'replace_on_busy'];

export function downlinkDefaultsFromEnv(env: NodeJS.ProcessEnv): {
  confirmed: boolean;
  mode: DownlinkMode;
} {
  const confirmed = requireEnv('DOWNLINK_CONFIRMED_DEFAULT', env);
  const mode = requireEnv('DOWNLINK_MODE_DEFAULT', env);
  if (confirmed !== 'true' && confirmed !== 'false') {
    throw new ConfigurationError(
      `DOWNLINK_CONFIRMED_DEFAULT must be true or false, got "${confirmed}"`,
    );
  }
  if (!(MODES as readonly string[]).includes(mode)) {
    throw new ConfigurationError(
      `DOWNLINK_MODE_DEFAULT must be one of ${MODES.join(', ')}, got "${mode}"`,
    );
  }
  return { confirmed: confirmed === 'true', mode: mode as DownlinkMode };
}
