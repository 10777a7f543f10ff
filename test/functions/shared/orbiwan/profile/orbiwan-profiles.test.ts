import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { orbiwanProfiles } from '../../../../../functions/device-state/device-profiles.js';
import { ConfigurationError } from '../../../../../functions/shared/config.js';
import {
  ORBIWAN_CREDENTIALS_SECRET_ARN,
  orbiwanFunctionEnv,
} from '../../../../helpers/aws-mocks.js';
import { startFakeHttpServer, type FakeHttpServer } from '../../../../helpers/fake-http-server.js';

// orbiwanProfiles: the functions' device profiles, from their environment's OrbiWAN (a fake HTTP
// server here; Secrets Manager mocked), its client made only when a profile is first asked for.

const DEV_EUI = '70b3d57ed0001a2b';
const UUID = '5b7e2f3c-1a2b-4c5d-8e9f-0a1b2c3d4e5f';
const secrets = mockClient(SecretsManagerClient);
let orbiwan: FakeHttpServer;

beforeAll(async () => {
  orbiwan = await startFakeHttpServer((request) =>
    request.path.startsWith('/rest/nodes/')
      ? { status: 200, body: JSON.stringify({ device_profile_uuid: UUID }) }
      : { status: 200, body: JSON.stringify({ profile_name: 'Thermostats' }) },
  );
});

beforeEach(() => {
  orbiwan.requests.length = 0;
  secrets.reset();
  secrets
    .on(GetSecretValueCommand, { SecretId: ORBIWAN_CREDENTIALS_SECRET_ARN })
    .resolves({ SecretString: JSON.stringify({ username: 'u', password: 'p' }) });
  // The OrbiWAN client's metrics: silenced.
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  secrets.restore();
  await orbiwan.close();
});

describe('orbiwanProfiles', () => {
  it("asks the environment's OrbiWAN for a device's profile, once", async () => {
    const profileOf = orbiwanProfiles(orbiwanFunctionEnv(orbiwan.url));

    await expect(profileOf(DEV_EUI)).resolves.toBe('Thermostats');
    await expect(profileOf(DEV_EUI)).resolves.toBe('Thermostats');

    expect(orbiwan.requests.map((request) => request.path)).toEqual([
      `/rest/nodes/${DEV_EUI}`,
      `/rest/device-profiles/${UUID}`,
    ]);
    expect(orbiwan.requests[0]?.query.get('all')).toBe('true');
    expect(orbiwan.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('u:p').toString('base64')}`,
    );
  });

  it('reads no configuration until a profile is asked for', async () => {
    const profileOf = orbiwanProfiles({});

    expect(secrets.calls()).toHaveLength(0);
    await expect(Promise.resolve().then(() => profileOf(DEV_EUI))).rejects.toBeInstanceOf(
      ConfigurationError,
    );
    expect(orbiwan.requests).toHaveLength(0);
  });
});
