import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** The secret's SecretString; an empty or binary-only secret is a configuration error. */
export async function readSecretString(
  client: SecretsManagerClient,
  secretId: string,
): Promise<string> {
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (SecretString === undefined || SecretString === '') {
    throw new Error(`secret ${secretId} has no SecretString`);
  }
  return SecretString;
}
