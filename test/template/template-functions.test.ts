import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REQUEST_ID_WINDOW_SECONDS_RANGE } from '../../functions/downlinks/downlink-settings.js';
import { DOWNLINK_TIMEOUT_SECONDS_RANGE, keyOf } from '../../functions/downlinks/downlink-table.js';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
} from '../../functions/notifications/notification-types.js';
import { functionEnvironment } from '../../local/lambda/function-environment.js';
import { handlerFactoryOf } from '../../local/lambda/local-functions.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import {
  functionProperties,
  handlerLocation,
  httpApiRoutes,
  isRecord,
  loadTemplate,
  parameterViolation,
  resourcesOfType,
} from '../../local/template/sam-template.js';
import { sampleStack } from '../helpers/sample-stack.js';

const template = loadTemplate();
const functionIds = resourcesOfType(template, 'AWS::Serverless::Function').map(([id]) => id);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// OrbiWAN's callback paths (docs/orbiwan-api.md, Push mode), each served for POST and PUT.
const ORBIWAN_CALLBACK_PATHS = [
  '/rest/callback/payloads/ul_early',
  '/rest/callback/payloads/ul',
  '/rest/callback/payloads/dl',
  '/rest/callback/joininfo',
  '/rest/callback/nodeinfo',
  '/rest/callback/location',
  '/rest/callback/status',
  '/rest/callback/alarm',
  '/rest/callback/appchange',
];

function environmentOf(functionId: string): Record<string, unknown> {
  const environment = functionProperties(template, functionId).Environment;
  return isRecord(environment) && isRecord(environment.Variables) ? environment.Variables : {};
}

/** The variables a function's own resource sets (Globals aside). */
function ownVariablesOf(functionId: string): string[] {
  const environment = template.Resources[functionId]?.Properties?.Environment;
  return isRecord(environment) && isRecord(environment.Variables)
    ? Object.keys(environment.Variables).sort()
    : [];
}

/**
 * The variables a function's handler factory (the one its entry point calls, as Lambda and the
 * local stack build it) reads from the environment the template gives it.
 */
function variablesReadBy(functionId: string): string[] {
  const createHandler = handlerFactoryOf(template, functionId);
  const read = new Set<string>();
  // Every optional feature on: a function that exists only with one reads what it gives.
  const stack = sampleStack({ PayloadCodecs: 'Enabled', DeviceShadows: 'Enabled' });
  const env = new Proxy(functionEnvironment(template, stack, functionId), {
    get: (variables, name) => {
      if (typeof name === 'string') read.add(name);
      return variables[name as string];
    },
    has: (variables, name) => {
      if (typeof name === 'string') read.add(name);
      return name in variables;
    },
  });
  createHandler(env);
  return [...read].sort();
}

// Functions that read some of their configuration at their first request, not when they load.
const READ_AT_FIRST_REQUEST: Record<string, string> = {
  PushModeFunction: 'builds its OrbiWAN client at the first request (functions/pushmode/)',
  DeviceStateFunction:
    'builds its OrbiWAN client when a profile attachment first asks for a device profile (functions/device-state/device-profiles.ts)',
};

describe('Template: functions', () => {
  it.each(functionIds)(
    '%s runs on nodejs24.x (Lambda supports nodejs22.x only until 2027-04-30), arm64',
    (id) => {
      const properties = functionProperties(template, id);
      expect(properties.Runtime).toBe('nodejs24.x');
      expect(properties.Architectures).toEqual(['arm64']);
    },
  );

  it.each(functionIds)(
    "%s's entry point builds its handler with the factory the local stack uses",
    (id) => {
      const { codeDirectory, module } = handlerLocation(template, id);
      const source = readFileSync(join(codeDirectory, `${module}.ts`), 'utf8');
      expect(source).toContain(
        `export const handler = ${handlerFactoryOf(template, id).name}(process.env);`,
      );
    },
  );

  it.each(functionIds)(
    '%s is built by esbuild from an entry point that exists and matches its Handler',
    (id) => {
      const { Metadata } = template.Resources[id] ?? {};
      const properties = functionProperties(template, id);
      expect(Metadata?.BuildMethod).toBe('esbuild');
      const build = Metadata?.BuildProperties as Record<string, unknown>;
      expect(build).toMatchObject({
        Format: 'esm',
        OutExtension: ['.js=.mjs'],
        Minify: true,
        Sourcemap: false,
        MainFields: 'module,main',
        Banner: [expect.stringContaining('createRequire(import.meta.url)')],
      });
      // Only providers the SDK's default chain imports lazily, after the environment's credentials.
      for (const external of build.External as string[]) {
        expect(external).toMatch(
          /^@(aws-sdk|smithy)\/credential-provider-(ini|sso|web-identity|process|http|imds)$/,
        );
      }
      const [entry, ...others] = build.EntryPoints as string[];
      expect(others).toEqual([]);
      expect(existsSync(`${ROOT}${properties.CodeUri as string}/${entry ?? ''}`)).toBe(true);
      // SAM flattens the bundle to {entry basename}.mjs: the Handler's module must be that entry.
      const handler = String(properties.Handler);
      const module = handler.slice(0, handler.lastIndexOf('.'));
      expect(`${module}.ts`).toBe(entry);
    },
  );

  it.each(functionIds)(
    '%s logs to its own log group, kept as long as LogRetentionInDays says',
    (id) => {
      const logging = functionProperties(template, id).LoggingConfig as {
        LogGroup: { Ref: string };
      };
      const group = template.Resources[logging.LogGroup.Ref];
      expect(group?.Type).toBe('AWS::Logs::LogGroup');
      expect(group?.Properties?.RetentionInDays).toEqual({ Ref: 'LogRetentionInDays' });
    },
  );

  it('gives every function a log group of its own, with retention, written as JSON', () => {
    const configs = functionIds.map(
      (id) =>
        functionProperties(template, id).LoggingConfig as {
          LogFormat: string;
          LogGroup: { Ref: string };
        },
    );
    const groups = configs.map((config) => config.LogGroup.Ref);
    expect(new Set(groups).size).toBe(functionIds.length);
    for (const config of configs) expect(config.LogFormat).toBe('JSON');
    // Lambda filters JSON logs itself, at INFO unless told: LogLevel=DEBUG must reach it too.
    for (const config of configs)
      expect(config).toMatchObject({ ApplicationLogLevel: { Ref: 'LogLevel' } });
    for (const group of groups) {
      expect(template.Resources[group]?.Type, group).toBe('AWS::Logs::LogGroup');
      expect(template.Resources[group]?.Properties?.RetentionInDays, group).toEqual({
        Ref: 'LogRetentionInDays',
      });
    }
  });

  it.each([
    ['DownlinkTimeoutSeconds', DOWNLINK_TIMEOUT_SECONDS_RANGE],
    ['RequestIdWindowSeconds', REQUEST_ID_WINDOW_SECONDS_RANGE],
  ] as const)(
    'accepts in the functions exactly the whole numbers of %s the template allows',
    (name, range) => {
      const parameter = template.Parameters?.[name];
      if (parameter === undefined) throw new Error(`no parameter ${name}`);
      const allowed = (value: string) => parameterViolation(parameter, value) === undefined;
      for (const edge of [range.min - 1, range.min, range.max, range.max + 1]) {
        expect(allowed(String(edge)), String(edge)).toBe(edge >= range.min && edge <= range.max);
      }
      fc.assert(
        fc.property(fc.integer({ min: 0, max: range.max * 10 }), (seconds) => {
          expect(allowed(String(seconds))).toBe(seconds >= range.min && seconds <= range.max);
          expect(allowed(`${seconds}.5`)).toBe(false);
          expect(allowed(`0${seconds}`)).toBe(false);
        }),
      );
    },
  );

  it.each(functionIds)(
    '%s is given every variable its code reads, and reads every variable it is given',
    (id) => {
      const read = variablesReadBy(id);
      const given = Object.keys(environmentOf(id));
      expect(read.filter((name) => !given.includes(name))).toEqual([]);
      if (id in READ_AT_FIRST_REQUEST) return;
      // Globals give every function the same; a function's own variables are there for its code.
      expect(ownVariablesOf(id).filter((name) => !read.includes(name))).toEqual([]);
    },
  );

  it('lets a slow dependency fail within the function timeout', () => {
    // functions/shared/clients/request-handler.ts: 2 s to connect + 5 s per request, then an error reply.
    for (const id of functionIds)
      expect(Number(functionProperties(template, id).Timeout)).toBeGreaterThan(7);
  });
});

describe('Template: downlink functions', () => {
  const table = { Ref: 'DownlinksTable' };
  const timeout = { Ref: 'DownlinkTimeoutSeconds' };
  const orbiwan = {
    ORBIWAN_BASE_URL: { Ref: 'OrbiwanBaseUrl' },
    ORBIWAN_AUTH_MODE: { Ref: 'OrbiwanAuthMode' },
    ORBIWAN_CREDENTIALS_SECRET_ARN: { Ref: 'OrbiwanCredentialsSecretArn' },
  };
  const defaults = {
    DOWNLINK_CONFIRMED_DEFAULT: { Ref: 'DownlinkConfirmedDefault' },
    DOWNLINK_MODE_DEFAULT: { Ref: 'DownlinkModeDefault' },
  };

  it.each([
    [
      'SendDownlinkFunction',
      {
        ...orbiwan,
        DOWNLINKS_TABLE_NAME: table,
        DOWNLINK_TIMEOUT_SECONDS: timeout,
        ...defaults,
        REQUEST_ID_WINDOW_SECONDS: { Ref: 'RequestIdWindowSeconds' },
        PAYLOAD_CODECS: { Ref: 'PayloadCodecs' },
      },
    ],
    [
      'CheckDownlinkStatusFunction',
      { ...orbiwan, DOWNLINKS_TABLE_NAME: table, DOWNLINK_TIMEOUT_SECONDS: timeout, ...defaults },
    ],
    [
      'ReportDownlinkFailureFunction',
      { DOWNLINKS_TABLE_NAME: table, DOWNLINK_TIMEOUT_SECONDS: timeout },
    ],
    [
      'DownlinkStatusFunction',
      {
        NOTIFICATION_TYPE: 'downlink_status',
        DOWNLINKS_TABLE_NAME: table,
        DOWNLINK_TIMEOUT_SECONDS: timeout,
      },
    ],
  ])('gives %s its settings from the parameters and the downlinks table', (id, variables) => {
    const { Environment } = template.Resources[id]?.Properties ?? {};
    expect(Environment).toEqual({ Variables: variables });
  });

  it('is the downlink path: the three tasks of the state machine and the status function', () => {
    const downlinkFunctions = functionIds.filter((id) =>
      String(functionProperties(template, id).Handler).startsWith('functions/downlinks/'),
    );
    expect(downlinkFunctions.sort()).toEqual([
      'CheckDownlinkStatusFunction',
      'DownlinkStatusFunction',
      'ReportDownlinkFailureFunction',
      'SendDownlinkFunction',
    ]);
  });

  it('keys the downlinks table as the functions key its items, and expires them by the attribute they set', () => {
    const properties = template.Resources.DownlinksTable?.Properties ?? {};
    const [hash, range] = Object.keys(keyOf('70b3d57ed0001a2b', 'lease'));
    expect(properties.KeySchema).toEqual([
      { AttributeName: hash, KeyType: 'HASH' },
      { AttributeName: range, KeyType: 'RANGE' },
    ]);
    expect(properties.AttributeDefinitions).toEqual([
      { AttributeName: hash, AttributeType: 'S' },
      { AttributeName: range, AttributeType: 'S' },
    ]);
    expect(properties.TimeToLiveSpecification).toEqual({
      AttributeName: 'expiresAt',
      Enabled: true,
    });
  });
});

describe('Template: notification functions', () => {
  it('has one function per notification type, and it serves that type', () => {
    for (const type of NOTIFICATION_TYPES) {
      const { functionId } = NOTIFICATION_DEFINITIONS[type];
      expect(functionIds).toContain(functionId);
      expect(environmentOf(functionId).NOTIFICATION_TYPE).toBe(type);
    }
  });

  it.each(NOTIFICATION_TYPES)(
    'routes POST and PUT of the %s callback path to its function',
    (type) => {
      const { functionId, callbackPath } = NOTIFICATION_DEFINITIONS[type];
      const routes = httpApiRoutes(template).filter((route) => route.path === callbackPath);
      expect(
        routes
          .map(({ method, functionId: target, apiId }) => ({ method, target, apiId }))
          .sort((a, b) => a.method.localeCompare(b.method)),
      ).toEqual([
        { method: 'POST', target: functionId, apiId: 'PushApi' },
        { method: 'PUT', target: functionId, apiId: 'PushApi' },
      ]);
    },
  );

  it("serves exactly OrbiWAN's callback paths, every one for POST and PUT, and nothing else", () => {
    const served = httpApiRoutes(template)
      .map((route) => `${route.method} ${route.path}`)
      .sort();
    const expected = ORBIWAN_CALLBACK_PATHS.flatMap((path) => [
      `POST ${path}`,
      `PUT ${path}`,
    ]).sort();
    expect(served).toEqual(expected);
  });

  it('sends every route to a function that exists, on the push API', () => {
    for (const route of httpApiRoutes(template)) {
      expect(template.Resources[route.functionId]?.Type).toBe('AWS::Serverless::Function');
      expect(template.Resources[route.apiId ?? '']?.Type).toBe('AWS::Serverless::HttpApi');
    }
  });

  it.each(NOTIFICATION_TYPES)(
    'gives the %s function the configuration its handler requires',
    (type) => {
      const { functionId, expires } = NOTIFICATION_DEFINITIONS[type];
      const environment = environmentOf(functionId);
      expect(environment).toMatchObject({
        TOPIC_PREFIX: { Ref: 'TopicPrefix' },
        PUSH_TOKEN_SECRET_ARN: { Ref: 'PushTokenSecret' },
        POWERTOOLS_LOG_LEVEL: { Ref: 'LogLevel' },
      });
      expect(environment.MESSAGE_EXPIRY_SECONDS).toEqual(
        expires ? { Ref: 'UplinkEarlyExpirySeconds' } : undefined,
      );
    },
  );
});

describe('Template: outputs', () => {
  const stack = sampleStack({ OrbiwanBaseUrl: 'https://orbiwan.example.com:8443' });
  const outputs = Object.fromEntries(
    Object.entries(template.Outputs ?? {}).map(([name, output]) => [
      name,
      resolveIntrinsics(output.Value, stack),
    ]),
  );

  it('gives the push endpoint, the secret and where to start push mode', () => {
    expect(outputs.PushEndpointUrl).toBe(
      `https://${stack.refs.PushApi ?? ''}.execute-api.eu-west-1.amazonaws.com`,
    );
    expect(outputs.PushTokenSecretArn).toBe(stack.refs.PushTokenSecret);
    expect(outputs.PushModeStartUrl).toBe('https://orbiwan.example.com:8443/rest/pushmode/start');
  });

  it('gives a push mode start body that points OrbiWAN at the API, for every documented push topic, without the token', () => {
    const body = JSON.parse(String(outputs.PushModeStartBody)) as Record<string, unknown>;
    const topics = NOTIFICATION_TYPES.flatMap(
      (type) => NOTIFICATION_DEFINITIONS[type].pushSubscription ?? [],
    );
    expect(body).toEqual({
      host: outputs.PushEndpointUrl,
      port: 443,
      path_prefix: '',
      push_auth_access_token: '<PUSH_TOKEN>',
      data_format: 'base64',
      push_subscription: topics.join(','),
      retry_policy: 0,
    });
  });
});
