import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../../functions/shared/config.js';
import { parseOrbiwanCredentials } from '../../../../functions/shared/orbiwan/orbiwan-credentials.js';
import { orbiwanBaseUrlFromEnv } from '../../../../functions/shared/orbiwan/orbiwan-from-env.js';
import { readSecretString } from '../../../../functions/shared/secrets.js';

// What the functions that call OrbiWAN are configured with: its base URL and the account in the
// secret you create. A wrong value is refused naming what is wrong, never echoing the secret.

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orbiwan-AbCdEf';
const secretsManager = mockClient(SecretsManagerClient);

beforeEach(() => {
  secretsManager.reset();
});

describe('OrbiWAN configuration', () => {
  it('reads the account, and the client id an OAuth2 endpoint may want', () => {
    expect(
      parseOrbiwanCredentials('{"username":"u","password":"p","clientId":"c"}', SECRET),
    ).toEqual({ username: 'u', password: 'p', clientId: 'c' });
  });

  it.each([
    ['text that is not JSON', 'hunter2', '(the value)'],
    ['an empty password', '{"username":"u","password":""}', 'password'],
    ['no username', '{"password":"p"}', 'username'],
  ])('refuses %s, naming what is wrong and not the value', (_, secret, wrong) => {
    const refusal = () => parseOrbiwanCredentials(secret, SECRET);
    expect(refusal).toThrow(ConfigurationError);
    expect(refusal).toThrow(`wrong: ${wrong}`);
    expect(refusal).not.toThrow(/hunter2/);
  });

  it('takes an http(s) base URL without its trailing slashes', () => {
    expect(orbiwanBaseUrlFromEnv({ ORBIWAN_BASE_URL: 'https://orbiwan.example.com:8443//' })).toBe(
      'https://orbiwan.example.com:8443',
    );
  });

  it.each([
    ['not a URL', 'orbiwan.example.com', 'is not a URL'],
    ['another protocol', 'ftp://orbiwan.example.com', 'must be http(s)'],
  ])('refuses a base URL that is %s', (_, value, message) => {
    expect(() => orbiwanBaseUrlFromEnv({ ORBIWAN_BASE_URL: value })).toThrow(message);
  });

  it('refuses a secret without a string value (empty, or binary only)', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1]) });
    await expect(readSecretString(new SecretsManagerClient({}), SECRET)).rejects.toThrow(
      `secret ${SECRET} has no SecretString`,
    );
  });
});
