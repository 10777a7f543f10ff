import { secretsManagerClient } from '../clients/secrets-manager-client.js';
import { cached } from '../cached.js';
import { ConfigurationError, requireEnv, requireOneOfEnv } from '../config.js';
import { readSecretString } from '../secrets.js';
import { ORBIWAN_AUTH_MODES, orbiwanAuth } from './orbiwan-auth.js';
import { createOrbiwanClient, type OrbiwanClient } from './orbiwan-client.js';
import { parseOrbiwanCredentials } from './orbiwan-credentials.js';
import { withOrbiwanMetrics } from './orbiwan-metrics.js';

// A token request and a POST each take at most TIMEOUT_MS: the send task keeps what a POST needs
// before it starts one (functions/downlinks/send/send-downlink.ts), within its function's timeout
// (template.yaml: SendDownlinkFunction).
export const ORBIWAN_CONNECT_TIMEOUT_MS = 2_000;
export const ORBIWAN_TIMEOUT_MS = 6_000;

// Rotated credentials take effect within this time without a redeploy.
const CREDENTIALS_MAX_AGE_MS = 5 * 60_000;

/** The OrbiWAN client of a function, configured by ORBIWAN_BASE_URL, _AUTH_MODE, _CREDENTIALS_SECRET_ARN. */
export function orbiwanClientFromEnv(env: NodeJS.ProcessEnv): OrbiwanClient {
  const baseUrl = orbiwanBaseUrlFromEnv(env);
  const mode = requireOneOfEnv('ORBIWAN_AUTH_MODE', ORBIWAN_AUTH_MODES, env);
  const secretId = requireEnv('ORBIWAN_CREDENTIALS_SECRET_ARN', env);
  const credentials = cached(
    async () =>
      parseOrbiwanCredentials(await readSecretString(secretsManagerClient, secretId), secretId),
    CREDENTIALS_MAX_AGE_MS,
  );
  const timeouts = { connectTimeoutMs: ORBIWAN_CONNECT_TIMEOUT_MS, timeoutMs: ORBIWAN_TIMEOUT_MS };
  const auth = orbiwanAuth({ mode, baseUrl, credentials, ...timeouts });
  return withOrbiwanMetrics(createOrbiwanClient({ baseUrl, auth, ...timeouts }));
}

/** ORBIWAN_BASE_URL, checked to be an http(s) URL, without trailing slashes. */
export function orbiwanBaseUrlFromEnv(env: NodeJS.ProcessEnv): string {
  const value = requireEnv('ORBIWAN_BASE_URL', env);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`ORBIWAN_BASE_URL "${value}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigurationError(`ORBIWAN_BASE_URL must be http(s), got "${value}"`);
  }
  return value.replace(/\/+$/, '');
}
