import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DeviceLockedError,
  DownlinkNotRecordedError,
  InvalidDownlinkError,
} from '../../functions/downlinks/downlink-errors.js';
import { downlinkRequestSchema } from '../../functions/downlinks/downlink-request.js';
import {
  acceptedStatus,
  failureStatus,
  republishedStatus,
  transmissionState,
} from '../../functions/downlinks/downlink-status.js';
import {
  reportFailure,
  type ReportInput,
} from '../../functions/downlinks/report/report-failure.js';
import type { RequestClaims } from '../../functions/downlinks/request-claims.js';
import { normaliseDevEui } from '../../functions/shared/dev-eui.js';
import {
  OrbiwanUnavailableError,
  UnknownDeviceError,
} from '../../functions/shared/orbiwan/orbiwan-errors.js';
import { withMembers } from '../../functions/shared/raw-json.js';
import type { MqttMessage } from '../../functions/shared/publish.js';
import { joinInfoSchema } from '../../functions/notifications/notification-schemas.js';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
  type NotificationType,
} from '../../functions/notifications/notification-types.js';
import { SCHEMAS_DIR, generatedSchemaFiles, schemaId } from '../../scripts/generate-schemas.js';
import { EVENTS_DIR, bodyBytes, sampleEvents } from '../helpers/api-events.js';
import { fuzzSettings } from '../helpers/fuzz-settings.js';
import { captureLogs } from '../helpers/logs.js';

// The JSON Schema files in schemas/ are what applications validate the connector's messages with.
// They must be what the zod schemas say now (npm run generate), accept every message the connector
// publishes (sample events, the documentation's examples, statuses made by the real code), and refuse what the
// functions refuse.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// The documentation: README.md, the front page, and the pages of docs/.
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .map((file) => `docs/${file}`),
]
  .map((file) => readFileSync(join(ROOT, file), 'utf8'))
  .join('\n');
const PREFIX = 'orbiwan/lorawan';
const { parameters: FUZZ, testTimeoutMs: FUZZ_TIMEOUT_MS } = fuzzSettings('json-schemas', 300);

const generated = await generatedSchemaFiles();
const committedFiles = readdirSync(SCHEMAS_DIR)
  .filter((file) => file.endsWith('.schema.json'))
  .sort();
const committed = (file: string): unknown =>
  JSON.parse(readFileSync(join(SCHEMAS_DIR, file), 'utf8'));

// The files as shipped, compiled by a real JSON Schema 2020-12 validator; strict, so a keyword it
// does not know fails the suite rather than being ignored. strictRequired would refuse "DevEUI or
// deveui" (anyOf of required), which names properties defined a level up.
const ajv = new Ajv2020({
  allErrors: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
});
for (const file of committedFiles) ajv.addSchema(committed(file) as object);

/** What the schema finds wrong with the value, one line per problem: [] when it is valid. */
function problems(schemaName: string, value: unknown): string[] {
  const validate = ajv.getSchema(schemaId(schemaName));
  if (validate === undefined) throw new Error(`no schema ${schemaId(schemaName)}`);
  if (validate(value)) return [];
  return (validate.errors ?? []).map(
    ({ instancePath, keyword, message }) =>
      `${instancePath || '/'} ${keyword}: ${message ?? 'invalid'}`,
  );
}

const isValid = (schemaName: string, value: unknown) => problems(schemaName, value).length === 0;

/** The name of a notification type's schema and of its events/ folder. */
const nameOf = (type: NotificationType) => type.replaceAll('_', '-');

function parseJson(bytes: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

const isBad = (name: string) => name.startsWith('bad-');

interface SampleBody {
  sample: string;
  type: NotificationType;
  body: Buffer;
}

const NOTIFICATION_SAMPLES: SampleBody[] = NOTIFICATION_TYPES.flatMap((type) =>
  sampleEvents(nameOf(type))
    // The unauthorized-* events are about the token; their bodies repeat valid ones.
    .filter(({ name }) => !name.startsWith('unauthorized-'))
    .map(({ name, event }) => ({
      sample: `${nameOf(type)}/${name}`,
      type,
      body: bodyBytes(event),
    })),
);
const validSamples = NOTIFICATION_SAMPLES.filter(
  ({ sample }) => !isBad(sample.split('/')[1] ?? ''),
);
const badSamples = NOTIFICATION_SAMPLES.filter(({ sample }) => isBad(sample.split('/')[1] ?? ''));
const badJsonSamples = badSamples.filter(({ body }) => parseJson(body).ok);
const badNotJsonSamples = badSamples.filter(({ body }) => !parseJson(body).ok);

const STATUS_VALUES = [0, 1, 2, 3, 4, 5];

// The send task's sample events (SendDownlinkFunction): what the state machine hands it.
const SEND_SAMPLES = existsSync(join(EVENTS_DIR, 'send-downlink'))
  ? sampleEvents('send-downlink')
  : [];

// The report task's sample events (ReportDownlinkFailureFunction).
const REPORT_SAMPLES = existsSync(join(EVENTS_DIR, 'report-downlink-failure'))
  ? sampleEvents('report-downlink-failure')
  : [];

/** statemachines/downlink.asl.json: the Report states build the report function's input. */
const downlinkStates = (
  JSON.parse(readFileSync(join(ROOT, 'statemachines/downlink.asl.json'), 'utf8')) as {
    States: Record<string, { Parameters?: { Payload?: Record<string, unknown> } }>;
  }
).States;

/** What the downlink status function publishes for a body OrbiWAN pushed. */
function republished(body: Buffer, requestId: string | undefined, stale: boolean): unknown {
  const { transmissionStatus } = JSON.parse(body.toString('utf8')) as {
    transmissionStatus: number;
  };
  return JSON.parse(
    republishedStatus(body, {
      transmissionStatus,
      requestId,
      stale,
      correlationId: requestId === undefined ? undefined : 'downlink_6f0c2a8e',
    }).toString('utf8'),
  );
}

/** The text of a documentation section, from its heading to the next heading. */
function docsSection(heading: string): string {
  const start = DOCS.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`the documentation has no "${heading}"`);
  const end = DOCS.slice(start + heading.length + 2).search(/\n#{1,3} /);
  return DOCS.slice(start, end === -1 ? undefined : start + heading.length + 2 + end);
}

const jsonBlocks = (section: string) =>
  [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');

describe('JSON Schemas: the files in schemas/', () => {
  it.each(committedFiles)('is linked from the documentation (docs/): %s', (file) => {
    expect(DOCS).toContain(`](../schemas/${file})`);
  });

  it.each([...generated.keys()])(
    '%s is what `npm run generate` makes from the zod schemas now',
    (file) => {
      const text = committedFiles.includes(file)
        ? readFileSync(join(SCHEMAS_DIR, file), 'utf8')
        : '(missing)';
      expect(
        text,
        `schemas/${file} differs from the zod schemas: run \`npm run generate\` and commit schemas/`,
      ).toBe(generated.get(file));
    },
  );

  it('holds no schema the generator no longer makes', () => {
    expect(committedFiles, 'stale files in schemas/: run `npm run generate`').toEqual(
      [...generated.keys()].sort(),
    );
  });

  it('covers every notification type, the downlink status and the downlink request', () => {
    expect(committedFiles).toEqual(
      [
        ...NOTIFICATION_TYPES.map((type) => `${nameOf(type)}.schema.json`),
        'downlink-request.schema.json',
      ].sort(),
    );
  });

  it.each(committedFiles)(
    '%s is draft 2020-12 with its own $id, a title and a description',
    (file) => {
      const schema = committed(file) as Record<string, unknown>;
      expect(schema).toMatchObject({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        $id: schemaId(file.replace('.schema.json', '')),
        title: expect.stringMatching(/\S/),
        description: expect.stringMatching(/\S/),
      });
      // Compiling in strict mode throws on an unknown keyword or a malformed schema.
      expect(ajv.getSchema(schemaId(file.replace('.schema.json', '')))).toBeTypeOf('function');
    },
  );

  it('names each published topic in the schema of what is published there', () => {
    for (const type of NOTIFICATION_TYPES) {
      const { description } = committed(`${nameOf(type)}.schema.json`) as { description: string };
      expect(description).toContain(`/${NOTIFICATION_DEFINITIONS[type].topicSuffix}`);
    }
  });
});

describe('JSON Schemas: sample notifications (events/)', () => {
  it.each(
    validSamples
      .filter(({ type }) => type !== 'downlink_status')
      .map((sample) => [sample.sample, sample] as const),
  )('accepts %s, published byte for byte', (_, { type, body }) => {
    const parsed = parseJson(body);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(problems(nameOf(type), parsed.value)).toEqual([]);
  });

  it.each(
    validSamples
      .filter(({ type }) => type === 'downlink_status')
      .map((sample) => [sample.sample, sample] as const),
  )(
    'accepts %s as the status function publishes it (requestId, state, stale added)',
    (_, { body }) => {
      for (const [requestId, stale] of [
        ['order-42', false],
        [undefined, false],
        ['order-42', true],
      ] as const) {
        expect(problems('downlink-status', republished(body, requestId, stale))).toEqual([]);
      }
    },
  );

  it.each(
    badJsonSamples
      .filter(({ type }) => type !== 'downlink_status')
      .map((sample) => [sample.sample, sample] as const),
  )('rejects %s, as the function does', (_, { type, body }) => {
    const json = JSON.parse(body.toString('utf8')) as unknown;
    expect(NOTIFICATION_DEFINITIONS[type].schema.safeParse(json).success).toBe(false);
    expect(problems(nameOf(type), json)).not.toEqual([]);
  });

  it.each(
    badJsonSamples
      .filter(({ type }) => type === 'downlink_status')
      .map((sample) => [sample.sample, sample] as const),
  )('rejects %s whatever state word is added to it', (_, { body }) => {
    expect(
      NOTIFICATION_DEFINITIONS.downlink_status.schema.safeParse(JSON.parse(body.toString('utf8')))
        .success,
    ).toBe(false);
    for (const status of STATUS_VALUES) {
      const message = JSON.parse(
        withMembers(body, { requestId: 'order-42', state: transmissionState(status) }).toString(
          'utf8',
        ),
      ) as unknown;
      expect(problems('downlink-status', message)).not.toEqual([]);
    }
  });

  it('leaves out only the bad-not-json samples: not being JSON is not for a schema to judge', () => {
    expect(badNotJsonSamples.map(({ sample }) => sample)).toEqual(
      badSamples.map(({ sample }) => sample).filter((sample) => sample.endsWith('/bad-not-json')),
    );
    expect(badNotJsonSamples.length).toBeGreaterThan(0);
  });
});

describe('JSON Schemas: a JSON Schema verdict is the function verdict', () => {
  // Every sample body with one member removed or replaced by a value of another type or range.
  const REPLACEMENTS: unknown[] = ['x', '', -1, 0, 1.5, 256, 1e20, null, true, {}, [], [{}]];

  function mutations(json: Record<string, unknown>): Record<string, unknown>[] {
    return Object.keys(json).flatMap((key) => {
      const { [key]: _removed, ...without } = json;
      return [without, ...REPLACEMENTS.map((value) => ({ ...json, [key]: value }))];
    });
  }

  it.each(
    validSamples
      .filter(({ type }) => type !== 'downlink_status')
      .map((sample) => [sample.sample, sample] as const),
  )('for %s, changed one member at a time', (_, { type, body }) => {
    const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const disagreements = mutations(json).filter(
      (mutated) =>
        NOTIFICATION_DEFINITIONS[type].schema.safeParse(mutated).success !==
        isValid(nameOf(type), mutated),
    );
    expect(disagreements).toEqual([]);
  });

  it.each(
    validSamples
      .filter(({ type }) => type === 'downlink_status')
      .map((sample) => [sample.sample, sample] as const),
  )('for %s, changed one member at a time, then republished', (_, { body }) => {
    const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const disagreements = mutations(json).filter((mutated) => {
      const text = Buffer.from(JSON.stringify(mutated));
      if (NOTIFICATION_DEFINITIONS.downlink_status.schema.safeParse(mutated).success)
        return !isValid('downlink-status', republished(text, 'order-42', false));
      // Refused by the function: no state word the connector could add makes it valid.
      return STATUS_VALUES.some((status) =>
        isValid(
          'downlink-status',
          JSON.parse(withMembers(text, { state: transmissionState(status) }).toString('utf8')),
        ),
      );
    });
    expect(disagreements).toEqual([]);
  });

  it(
    'on DevEUIs: the pattern accepts exactly the forms normaliseDevEui accepts',
    () => {
      const hex = fc.constantFrom(...'0123456789abcdefABCDEFgx-: '.split(''));
      const devEuiLike = fc.oneof(
        fc.string({ unit: hex, minLength: 14, maxLength: 24 }),
        fc
          .tuple(
            fc.constantFrom('0x', '0X', '0', 'x'),
            fc.string({ unit: hex, minLength: 16, maxLength: 16 }),
          )
          .map(([prefix, digits]) => `${prefix}${digits}`),
        fc
          .array(fc.string({ unit: hex, minLength: 1, maxLength: 3 }), {
            minLength: 7,
            maxLength: 9,
          })
          .map((pairs) => pairs.join('-')),
        fc.string(),
      );
      fc.assert(
        fc.property(devEuiLike, (devEui) => {
          const body = { DevEUI: devEui, join_status: 'JOIN_ACCEPTED' };
          const accepted = normaliseDevEui(devEui) !== undefined;
          expect(isValid('joininfo', body)).toBe(accepted);
          expect(joinInfoSchema.safeParse(body).success).toBe(accepted);
        }),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'on requestIds: length and control characters',
    () => {
      const unit = fc
        .oneof(fc.integer({ min: 0, max: 0xa0 }), fc.integer({ min: 0xa1, max: 0xd7ff }))
        .map((code) => String.fromCharCode(code));
      fc.assert(
        fc.property(fc.string({ unit, maxLength: 140 }), (requestId) => {
          const request = { data: 'aabbcc', port: 20, requestId };
          expect(isValid('downlink-request', request)).toBe(
            downlinkRequestSchema.safeParse(request).success,
          );
        }),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it.each(NOTIFICATION_TYPES.filter((type) => type !== 'appchange'))(
    'on %s without DevEUI or deveui',
    (type) => {
      const sample = validSamples.find((candidate) => candidate.type === type);
      const {
        DevEUI: _upper,
        deveui: _lower,
        ...body
      } = JSON.parse(sample?.body.toString('utf8') ?? '{}') as Record<string, unknown>;
      const functionAccepts = NOTIFICATION_DEFINITIONS[type].schema.safeParse(body).success;
      expect(functionAccepts).toBe(type === 'alarm');
      const message = type === 'downlink_status' ? { ...body, state: transmissionState(2) } : body;
      expect(isValid(nameOf(type), message)).toBe(functionAccepts);
    },
  );
});

describe('JSON Schemas: downlink request', () => {
  it("accepts the documentation's request examples", () => {
    const examples = [
      ...jsonBlocks(docsSection('## Request')),
      // Payloads of the shell examples: mosquitto_pub -m, curl -d, aws iot-data --payload.
      ...[...DOCS.matchAll(/'(\{"data"[^']*\})'/g)].map((match) => match[1] ?? ''),
    ];
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const example of examples) {
      expect(problems('downlink-request', JSON.parse(example)), example).toEqual([]);
    }
  });

  it.each([
    ['0 bytes', { data: '', port: 20 }],
    ['242 bytes', { data: 'ab'.repeat(242), port: 20 }],
    ['upper-case hex', { data: 'AABBCC', port: 20 }],
    ['port 1', { data: 'aa', port: 1 }],
    ['port 223', { data: 'aa', port: 223 }],
    ['an object for the codec, without port', { object: { interval: 300 } }],
    ['an object and a port', { object: [1, 2], port: 10, requestId: 'cfg-1' }],
    [
      'every field',
      {
        data: 'aa',
        port: 2,
        confirmed: false,
        mode: 'fail_on_busy',
        fcnt: 4294967295,
        requestId: 'r'.repeat(128),
      },
    ],
  ])('accepts %s, as the function does', (_, request) => {
    expect(downlinkRequestSchema.safeParse(request).success).toBe(true);
    expect(problems('downlink-request', request)).toEqual([]);
  });

  it.each([
    ['odd-length data', { data: 'abc', port: 20 }, '/data pattern'],
    ['data that is not hex', { data: 'zz', port: 20 }, '/data pattern'],
    ['243 bytes', { data: 'ab'.repeat(243), port: 20 }, '/data maxLength'],
    ['port 0', { data: 'aa', port: 0 }, '/port minimum'],
    ['port 224', { data: 'aa', port: 224 }, '/port maximum'],
    ['a fractional port', { data: 'aa', port: 1.5 }, '/port type'],
    ['a port as text', { data: 'aa', port: '20' }, '/port type'],
    [
      'an unknown field (a typo)',
      { data: 'aa', port: 20, confirm: true },
      '/ additionalProperties',
    ],
    ['no data', { port: 20 }, '/ required'],
    ['no port', { data: 'aa' }, '/ required'],
    ['an unknown mode', { data: 'aa', port: 20, mode: 'later' }, '/mode enum'],
    ['a negative fcnt', { data: 'aa', port: 20, fcnt: -1 }, '/fcnt minimum'],
    ['an fcnt over 32 bits', { data: 'aa', port: 20, fcnt: 2 ** 32 }, '/fcnt maximum'],
    ['an empty requestId', { data: 'aa', port: 20, requestId: '' }, '/requestId minLength'],
    [
      'a requestId of 129 characters',
      { data: 'aa', port: 20, requestId: 'r'.repeat(129) },
      '/requestId maxLength',
    ],
    [
      'a requestId with a newline',
      { data: 'aa', port: 20, requestId: 'a\nb' },
      '/requestId pattern',
    ],
    [
      'a requestId with a C1 control',
      { data: 'aa', port: 20, requestId: 'a\u0085b' },
      '/requestId pattern',
    ],
    ['an array', [{ data: 'aa', port: 20 }], '/ type'],
    ['both data and object', { data: 'aa', port: 20, object: {} }, '/ oneOf'],
    ['an object null', { object: null }, '/object not'],
    ['neither data nor object', { confirmed: true }, '/ oneOf'],
  ])('refuses %s, as the function does', (_, request, problem) => {
    expect(downlinkRequestSchema.safeParse(request).success).toBe(false);
    expect(problems('downlink-request', request)).toContainEqual(
      expect.stringMatching(new RegExp(`^${problem.replace(/[/.*+?^${}()|[\]\\]/g, '\\$&')}:`)),
    );
  });

  it('has sample events for the send and report tasks, which it judges below', () => {
    expect(SEND_SAMPLES.length).toBeGreaterThan(0);
    expect(REPORT_SAMPLES.length).toBeGreaterThan(0);
  });

  it.each(SEND_SAMPLES.map(({ name, event }) => [name, event] as const))(
    'judges the request of events/send-downlink/%s as the function does',
    (name, event) => {
      const { payload } = (event as unknown as { request: { payload: string } }).request;
      const parsed = parseJson(Buffer.from(payload, 'base64'));
      if (!parsed.ok) {
        expect(name).toMatch(/^bad-/);
        return;
      }
      const functionAccepts = downlinkRequestSchema.safeParse(parsed.value).success;
      // bad-deveui-in-topic is bad for its topic: its body is a valid request.
      expect(functionAccepts).toBe(!isBad(name) || name === 'bad-deveui-in-topic');
      expect(isValid('downlink-request', parsed.value)).toBe(functionAccepts);
    },
  );
});

describe('JSON Schemas: downlink statuses the connector makes', () => {
  const DEV_EUI = '70b3d57ed0001a2b';
  const ORBIWAN_REPLY = Buffer.from(
    '{"id":18014398509481985,"fcnt":57,"port":20,"transmissionStatus":0,"session_id":"3f1c9a52-7c1e-4a8e-9d7f-2b6f0e4d8c11"}',
  );
  const parse = (payload: Buffer) => JSON.parse(payload.toString('utf8')) as unknown;

  beforeEach(() => {
    captureLogs();
  });

  it.each([['order-42'], [undefined]])('accepts accepted with requestId %s', (requestId) => {
    const correlationId = 'downlink_6f0c2a8e-1b7d-4a57-9c3e-2d5f8e9a0b1c';
    const status = parse(
      acceptedStatus(ORBIWAN_REPLY, { devEui: DEV_EUI, requestId, correlationId }),
    );
    expect(status).toMatchObject({ state: 'accepted', DevEUI: DEV_EUI, correlationId });
    expect(problems('downlink-status', status)).toEqual([]);
  });

  it.each(STATUS_VALUES)(
    "accepts OrbiWAN's status %i republished, stale or not, with or without requestId and correlationId",
    (transmissionStatus) => {
      const body = Buffer.from(
        `{"DevEUI":"70B3D57ED0001A2B","id":18014398509481985,"fcnt":57,"port":20,"transmissionStatus":${transmissionStatus}}`,
      );
      // A downlink the connector knows has a correlation id, and a requestId if it was given one.
      for (const requestId of ['order-42', undefined]) {
        for (const correlationId of ['downlink_6f0c2a8e', undefined]) {
          for (const stale of [false, true]) {
            const status = parse(
              republishedStatus(body, { transmissionStatus, requestId, stale, correlationId }),
            );
            expect(status).toMatchObject({ state: transmissionState(transmissionStatus) });
            expect(problems('downlink-status', status)).toEqual([]);
          }
        }
      }
    },
  );

  const ERROR_CODES = [
    'INVALID_DOWNLINK',
    'UNKNOWN_DEVICE',
    'DEVICE_BUSY',
    'ORBIWAN_REJECTED',
    'ORBIWAN_UNAVAILABLE',
    'TIMED_OUT',
    'INTERNAL_ERROR',
  ] as const;

  it.each(ERROR_CODES)('accepts error and timed_out statuses with code %s', (code) => {
    for (const state of ['error', 'timed_out'] as const) {
      for (const known of [
        {
          id: '18014398509481985',
          requestId: 'order-42',
          transmissionStatus: 1,
          correlationId: 'downlink_6f0c2a8e',
        },
        {
          id: undefined,
          requestId: undefined,
          transmissionStatus: undefined,
          correlationId: undefined,
        },
      ]) {
        const status = parse(
          failureStatus({ devEui: DEV_EUI, ...known, state, error: { code, message: 'why' } }),
        );
        expect(problems('downlink-status', status)).toEqual([]);
      }
    }
  });

  // The input of a Report state as the state machine builds it: the IoT rule's message, with the
  // error SendDownlink failed with (Catch, ResultPath $.failure), as Lambda reports it.
  const VALID = '{"data":"aabbcc","port":20,"requestId":"order-45"}';
  const QUEUED_ID = '18014398509481985';
  const lambdaError = (error: Error) => ({
    Error: error.name,
    Cause: JSON.stringify({ errorType: error.name, errorMessage: error.message, trace: [] }),
  });

  it.each([
    ['ReportInvalidDownlink', 'not json', lambdaError(new InvalidDownlinkError('not JSON'))],
    [
      'ReportInvalidDownlink',
      '{"data":"abc","port":0}',
      lambdaError(new InvalidDownlinkError('data: odd hex; port: too small')),
    ],
    ['ReportRejection', VALID, lambdaError(new UnknownDeviceError('OrbiWAN: Node not found'))],
    ['ReportRejection', VALID, lambdaError(new DeviceLockedError('busy with other downlinks'))],
    ['ReportError', VALID, lambdaError(new OrbiwanUnavailableError('OrbiWAN answered 502'))],
    ['ReportError', VALID, lambdaError(new DownlinkNotRecordedError(QUEUED_ID))],
    ['ReportError', VALID, { Error: 'Lambda.Unknown', Cause: 'The cause could not be determined' }],
  ])('accepts what %s publishes for a request %s that failed %j', async (state, body, failure) => {
    const published: MqttMessage[] = [];
    const queued = failure.Error === 'DownlinkNotRecordedError';
    const claims: RequestClaims = {
      claim: () => Promise.reject(new Error('a report never claims')),
      notePosted: () => Promise.reject(new Error('a report never posts')),
      posted: () =>
        Promise.resolve({ downlinkId: queued ? QUEUED_ID : undefined, reply: undefined }),
    };
    const outcome = downlinkStates[state]?.Parameters?.Payload?.outcome as ReportInput['outcome'];
    const input: ReportInput = {
      outcome,
      request: {
        payload: Buffer.from(body).toString('base64'),
        topic: `${PREFIX}/${DEV_EUI}/downlink`,
        receivedAt: 1795694400123,
        failure,
      },
      correlationId: 'downlink_6f0c2a8e-1b7d-4a57-9c3e-2d5f8e9a0b1c',
    };

    await reportFailure(input, {
      publish: (message) => {
        published.push(message);
        return Promise.resolve();
      },
      topicPrefix: PREFIX,
      claims,
    });

    expect(published).toHaveLength(1);
    const payload = Buffer.from(published[0]?.payload ?? new Uint8Array());
    const status = parse(payload);
    expect(status).toMatchObject({ state: 'error', DevEUI: DEV_EUI });
    // OrbiWAN's id as it gave it: digits beyond 2^53, which JSON.parse would round.
    if (queued) expect(payload.toString('utf8')).toContain(`"id":${QUEUED_ID}`);
    expect(problems('downlink-status', status)).toEqual([]);
  });

  it.each(REPORT_SAMPLES.map(({ name, event }) => [name, event] as const))(
    'accepts what ReportDownlinkFailure publishes for events/report-downlink-failure/%s',
    async (_, event) => {
      const published: MqttMessage[] = [];
      await reportFailure(event as unknown as ReportInput, {
        publish: (message) => {
          published.push(message);
          return Promise.resolve();
        },
        topicPrefix: PREFIX,
        claims: {
          claim: () => Promise.reject(new Error('a report never claims')),
          notePosted: () => Promise.reject(new Error('a report never posts')),
          posted: () => Promise.resolve({ downlinkId: undefined, reply: undefined }),
        },
      });
      expect(published).toHaveLength(1);
      const status = parse(Buffer.from(published[0]?.payload ?? new Uint8Array()));
      expect(status).toMatchObject({ state: 'error' });
      expect(problems('downlink-status', status)).toEqual([]);
    },
  );

  it("accepts the documentation's status examples", () => {
    const lines = jsonBlocks(docsSection('## Status messages'))
      .flatMap((block) => block.split('\n'))
      .filter((line) => line.trim() !== '');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines)
      expect(problems('downlink-status', JSON.parse(line)), line).toEqual([]);
  });

  it.each([
    [
      'a state that is not its transmissionStatus in words',
      { DevEUI: DEV_EUI, id: 1, transmissionStatus: 2, state: 'sent' },
    ],
    ["OrbiWAN's status without a state", { DevEUI: DEV_EUI, id: 1, transmissionStatus: 2 }],
    ['a status without its device', { id: 1, transmissionStatus: 2, state: 'acknowledged' }],
    ['an unknown state', { DevEUI: DEV_EUI, id: 1, transmissionStatus: 2, state: 'delivered' }],
    ['accepted without an id', { DevEUI: DEV_EUI, state: 'accepted' }],
    ['an error without a code', { DevEUI: DEV_EUI, state: 'error', error: { message: 'why' } }],
    [
      'an error with an unknown code',
      { DevEUI: DEV_EUI, state: 'error', error: { code: 'OOPS', message: 'why' } },
    ],
    [
      'stale: false (it is present only when true)',
      { DevEUI: DEV_EUI, id: 1, transmissionStatus: 2, state: 'acknowledged', stale: false },
    ],
  ])('refuses %s', (_, status) => {
    expect(problems('downlink-status', status)).not.toEqual([]);
  });
});
