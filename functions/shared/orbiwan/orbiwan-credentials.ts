import { ConfigurationError } from '../config.js';
import * as z from 'zod/mini';
import '../zod.js';

/** What the secret named by OrbiwanCredentialsSecretArn holds, as JSON. */
const credentialsSchema = z.object({
  username: z.string().check(z.minLength(1)),
  password: z.string().check(z.minLength(1)),
  /** OAuth2 only: the client_id OrbiWAN's token endpoint expects, when it expects one. */
  clientId: z.optional(z.string().check(z.minLength(1))),
});

export type OrbiwanCredentials = z.infer<typeof credentialsSchema>;

export function parseOrbiwanCredentials(
  secretString: string,
  secretId: string,
): OrbiwanCredentials {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    json = undefined;
  }
  const result = credentialsSchema.safeParse(json);
  if (!result.success) {
    // Never echo the secret's value: name the fields only.
    const fields = result.error.issues.map((issue) => issue.path.join('.') || '(the value)');
    throw new ConfigurationError(
      `secret ${secretId} must be JSON {"username": "...", "password": "..."[, "clientId": "..."]}; wrong: ${fields.join(', ')}`,
    );
  }
  return result.data;
}
