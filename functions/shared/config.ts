// Functions read their configuration once, at cold start. A missing or malformed variable is a
// deployment error: failing the init with a message naming the variable beats failing later.

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(`environment variable ${name} is not set`);
  }
  return value;
}

export function requireIntegerEnv(
  name: string,
  { min, max }: { min: number; max: number },
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = requireEnv(name, env);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(
      `environment variable ${name} must be an integer from ${min} to ${max}, got "${raw}"`,
    );
  }
  return value;
}

export function requireOneOfEnv<const Value extends string>(
  name: string,
  values: readonly Value[],
  env: NodeJS.ProcessEnv = process.env,
): Value {
  const value = requireEnv(name, env);
  if (!(values as readonly string[]).includes(value)) {
    throw new ConfigurationError(
      `environment variable ${name} must be one of ${values.join(', ')}, got "${value}"`,
    );
  }
  return value as Value;
}
