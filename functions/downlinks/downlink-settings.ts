import { requireIntegerEnv, requireOneOfEnv } from '../shared/config.js';
import { DOWNLINK_MODES, type DownlinkMode } from '../shared/orbiwan/orbiwan-client.js';
import { downlinkTimeoutSecondsFromEnv } from './downlink-table.js';

// The configuration the downlink functions share, read from their environment (template.yaml).

export function downlinkDefaultsFromEnv(env: NodeJS.ProcessEnv): {
  confirmed: boolean;
  mode: DownlinkMode;
} {
  return {
    confirmed: requireOneOfEnv('DOWNLINK_CONFIRMED_DEFAULT', ['true', 'false'], env) === 'true',
    mode: requireOneOfEnv('DOWNLINK_MODE_DEFAULT', DOWNLINK_MODES, env),
  };
}

/** RequestIdWindowSeconds' range in template.yaml (a test holds them equal): a minute to 30 days. */
export const REQUEST_ID_WINDOW_SECONDS_RANGE = { min: 60, max: 2_592_000 };

/**
 * How long after the wait an execution may still read its claim: the send task's retries, the
 * timeout's check and its retries (minutes, statemachines/downlink.asl.json), and the reports.
 */
const AFTER_THE_WAIT_SECONDS = 3_600;

/**
 * How long, in ms, a requestId stays one downlink for its device: the window the template sets,
 * and never less than the downlink's own wait and what may follow it, so a claim outlives the
 * execution that holds it.
 */
export function requestIdWindowMsFromEnv(env: NodeJS.ProcessEnv): number {
  const window = requireIntegerEnv(
    'REQUEST_ID_WINDOW_SECONDS',
    REQUEST_ID_WINDOW_SECONDS_RANGE,
    env,
  );
  return Math.max(window, downlinkTimeoutSecondsFromEnv(env) + AFTER_THE_WAIT_SECONDS) * 1000;
}
