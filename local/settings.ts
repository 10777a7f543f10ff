import { parameterViolation, type CfnTemplate } from './template/sam-template.js';

// How `npm start` is configured: environment variables only, each checked, each error naming the
// variable. Every template parameter can be set by its name in upper snake case
// (DownlinkTimeoutSeconds -> DOWNLINK_TIMEOUT_SECONDS).

export interface LocalSettings {
  httpPort: number;
  mqttPort: number;
  awsPort: number;
  iotHttpsPort: number;
  simulatorPort: number;
  /** Template parameters given in the environment. */
  parameters: Record<string, string>;
  pushToken: string;
  /** A real OrbiWAN, or undefined to run the simulator. */
  orbiwan: { url: string; username: string; password: string } | undefined;
  simulator: {
    devices: number;
    uplinkIntervalSeconds: number;
    classCDelayMs: number;
    outcomes: { nackRate: number; errorRate: number; cancelRate: number };
    seed: number | undefined;
  };
  certsDirectory: string;
}

export const DEFAULT_PUSH_TOKEN = 'local-dev-push-token';

export class LocalSettingsError extends Error {
  override name = 'LocalSettingsError';
}

export function upperSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function localSettingsFromEnv(env: NodeJS.ProcessEnv, template: CfnTemplate): LocalSettings {
  const parameters: Record<string, string> = {};
  for (const [name, parameter] of Object.entries(template.Parameters ?? {})) {
    const variable = upperSnake(name);
    const value = env[variable];
    if (value === undefined || value === '') continue;
    const violation = parameterViolation(parameter, value);
    if (violation !== undefined)
      throw new LocalSettingsError(`${variable}="${value}": ${violation}`);
    parameters[name] = value;
  }
  // ORBIWAN_URL is the documented name; ORBIWAN_BASE_URL (the parameter's) means the same.
  const orbiwanUrl = nonEmpty(env, 'ORBIWAN_URL') ?? parameters.OrbiwanBaseUrl;
  delete parameters.OrbiwanBaseUrl;
  if (orbiwanUrl !== undefined && orbiwanUrl !== '') {
    const violation =
      template.Parameters?.OrbiwanBaseUrl &&
      parameterViolation(template.Parameters.OrbiwanBaseUrl, orbiwanUrl);
    if (violation) throw new LocalSettingsError(`ORBIWAN_URL="${orbiwanUrl}": ${violation}`);
  }
  return {
    httpPort: port(env, 'PORT', 3000),
    mqttPort: port(env, 'MQTT_PORT', 1883),
    awsPort: port(env, 'AWS_PORT', 4566),
    iotHttpsPort: port(env, 'IOT_HTTPS_PORT', 8443),
    simulatorPort: port(env, 'ORBIWAN_SIMULATOR_PORT', 8090),
    parameters,
    pushToken: nonEmpty(env, 'PUSH_TOKEN') ?? DEFAULT_PUSH_TOKEN,
    orbiwan:
      orbiwanUrl === undefined || orbiwanUrl === ''
        ? undefined
        : {
            url: orbiwanUrl.replace(/\/+$/, ''),
            username: required(env, 'ORBIWAN_USERNAME', 'ORBIWAN_URL is set'),
            password: required(env, 'ORBIWAN_PASSWORD', 'ORBIWAN_URL is set'),
          },
    simulator: {
      devices: integer(env, 'SIMULATOR_DEVICES', 3, { min: 1, max: 1000 }),
      uplinkIntervalSeconds: integer(env, 'SIMULATOR_UPLINK_INTERVAL_SECONDS', 15, {
        min: 0,
        max: 86_400,
      }),
      classCDelayMs: integer(env, 'SIMULATOR_CLASS_C_DELAY_MS', 500, { min: 0, max: 60_000 }),
      outcomes: {
        nackRate: rate(env, 'SIMULATOR_NACK_RATE', 0.1),
        errorRate: rate(env, 'SIMULATOR_ERROR_RATE', 0.05),
        cancelRate: rate(env, 'SIMULATOR_CANCEL_RATE', 0.05),
      },
      seed:
        nonEmpty(env, 'SIMULATOR_SEED') === undefined
          ? undefined
          : integer(env, 'SIMULATOR_SEED', 0, { min: 0, max: 2 ** 32 - 1 }),
    },
    certsDirectory: nonEmpty(env, 'CERTS_DIR') ?? '.local/certs',
  };
}

function nonEmpty(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function required(env: NodeJS.ProcessEnv, name: string, because: string): string {
  const value = nonEmpty(env, name);
  if (value === undefined) throw new LocalSettingsError(`${name} must be set when ${because}`);
  return value;
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  { min, max }: { min: number; max: number },
): number {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new LocalSettingsError(`${name}="${raw}": must be an integer from ${min} to ${max}`);
  }
  return value;
}

function rate(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1)
    throw new LocalSettingsError(`${name}="${raw}": must be a number from 0 to 1`);
  return value;
}

/** A TCP port; 0 lets the system choose one (what the tests do). */
function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return integer(env, name, fallback, { min: 0, max: 65_535 });
}
