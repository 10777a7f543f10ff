import * as fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InvalidDownlinkError } from '../../functions/downlinks/downlink-errors.js';
import {
  parseDownlink,
  type Downlink,
  type ObjectDownlink,
  type RuleInput,
} from '../../functions/downlinks/downlink-request.js';
import {
  createSendDownlinkHandler,
  type SendDeps,
} from '../../functions/downlinks/send/send-downlink.js';
import { startDownlinkHarness, type DownlinkHarness } from '../helpers/downlink-harness.js';
import {
  anyChar,
  anyJsonText,
  anyString,
  badDevEui,
  COMPACT,
  devEuiWritten,
  insertAt,
  isDevEuiForm,
  type Layout,
  type Member,
  nonInteger,
  notBoolean,
  notNumber,
  notString,
  objectText,
  overflow,
  parses,
  PRETTY,
  PROTOTYPE_KEYS,
  text,
  utf8,
} from '../helpers/json-text-arbitraries.js';
import { fuzzSettings } from '../helpers/fuzz-settings.js';
import { lambdaContext } from '../helpers/lambda-context.js';
import { captureLogs } from '../helpers/logs.js';

// Property-based bad input for the downlink path: generated requests (docs/downlinks.md "Request") and
// topics. Thousands are parsed as the send task parses them, which must accept every valid one;
// thousands of invalid ones go through the send task's handler, which must refuse each with
// InvalidDownlinkError naming each problem, before it touches anything; a few hundred invalid ones
// go through the real state machine, which must end each in a failed execution and an error
// status, without a POST to OrbiWAN.
//
// FUZZ_SEED replays a run and FUZZ_RUNS sets the cases per property (test/helpers/fuzz-settings.ts);
// default 300: 10 properties of the request's parsing,
// 3,000 cases, and one state machine property, 300 executions).

const { parameters: FUZZ, testTimeoutMs: TEST_TIMEOUT_MS } = fuzzSettings('downlink-fuzz', 300);

const PREFIX = 'orbiwan/lorawan';
const MODES = ['enqueue_on_busy', 'fail_on_busy', 'replace_on_busy'] as const;
const KNOWN_FIELDS = new Set(['data', 'port', 'confirmed', 'mode', 'fcnt', 'requestId']);

// ---------------------------------------------------------------------------------------------
// Topics: `{prefix}/{deveui}/downlink`, the DevEUI in any of OrbiWAN's forms (docs/integration.md "Topics").

/** Whether a topic is `{prefix}/{deveui}/downlink` with a DevEUI in one of OrbiWAN's forms. */
function isValidTopic(topic: string): boolean {
  const level = /^orbiwan\/lorawan\/([^/]*)\/downlink$/.exec(topic)?.[1];
  return level !== undefined && isDevEuiForm(level);
}

const validTopic = devEuiWritten.map(({ hex, written }) => ({
  topic: `${PREFIX}/${written}/downlink`,
  devEui: hex,
}));

/** A topic level that is not a DevEUI in any of OrbiWAN's forms. */
const badDevEuiLevel = badDevEui.filter((level) => !level.includes('/'));

/** A topic that is not `{prefix}/{deveui}/downlink` with a DevEUI. */
const badTopic = fc
  .oneof(
    { weight: 3, arbitrary: badDevEuiLevel.map((level) => `${PREFIX}/${level}/downlink`) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          devEuiWritten,
          fc.constantFrom(
            (d: string) => `${PREFIX}/${d}/x/downlink`,
            (d: string) => `${PREFIX}/x/${d}/downlink`,
            (d: string) => `${PREFIX}/${d}/${d}/downlink`,
            (d: string) => `${PREFIX}/${d}/downlink/status`,
            (d: string) => `${PREFIX}/${d}/downlink/`,
            (d: string) => `${PREFIX}/${d}//downlink`,
            (d: string) => `${PREFIX}/${d}`,
            (d: string) => `/${PREFIX}/${d}/downlink`,
            (d: string) => `${PREFIX}/${d}/Downlink`,
            (d: string) => `${PREFIX}/${d}/downlink\u0000`,
            (d: string) => `orbiwan/${d}/downlink`,
            (d: string) => `ORBIWAN/lorawan/${d}/downlink`,
            (d: string) => `orbiwan/lorawan2/${d}/downlink`,
            (d: string) => `other/${d}/downlink`,
            (d: string) => `${d}/downlink`,
          ),
        )
        .map(([{ written }, topicOf]) => topicOf(written)),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        '#',
        '+',
        `${PREFIX}/+/downlink`,
        `${PREFIX}/#`,
        `${PREFIX}/downlink`,
        `${PREFIX}//downlink`,
      ),
    },
    { weight: 1, arbitrary: anyString(60) },
  )
  .filter((topic) => !isValidTopic(topic));

/**
 * Topics the IoT rule `{prefix}/+/downlink` matches and MQTT can carry: one level, without
 * wildcards, NUL or lone surrogates (not UTF-8).
 */
const ruleTopic = fc.oneof(
  validTopic.map(({ topic }) => topic),
  badDevEuiLevel
    .filter((level) => !/[+#]/.test(level) && !level.includes('\u0000') && isUtf8(level))
    .map((level) => `${PREFIX}/${level}/downlink`),
);

function isUtf8(value: string): boolean {
  return Buffer.from(value, 'utf8').toString('utf8') === value;
}

// ---------------------------------------------------------------------------------------------
// Requests: `{"data": "<hex>", "port": <1..223>}` plus confirmed, mode, fcnt, requestId.

interface ValidRequest {
  members: Member[];
  /** Compact or pretty (one member a line). */
  layout: Layout;
  data: string;
  port: number;
  confirmed?: boolean;
  mode?: string;
  fcnt?: number;
  requestId?: string;
}

const hexData = fc
  .oneof(fc.uint8Array({ maxLength: 242 }), fc.uint8Array({ minLength: 242, maxLength: 242 }))
  .chain((bytes) => fc.mixedCase(fc.constant(Buffer.from(bytes).toString('hex'))));

const validRequestId = fc
  .string({ unit: anyChar, minLength: 1, maxLength: 128 })
  .filter((value) => value.length <= 128 && !/\p{Cc}/u.test(value));

const validRequest: fc.Arbitrary<ValidRequest> = fc
  .record(
    {
      data: hexData,
      port: fc.integer({ min: 1, max: 223 }),
      confirmed: fc.boolean(),
      mode: fc.constantFrom(...MODES),
      fcnt: fc.integer({ min: 0, max: 0xffff_ffff }),
      requestId: validRequestId,
    },
    { requiredKeys: ['data', 'port'] },
  )
  .chain((fields) => {
    const members = Object.entries(fields).map(([key, value]): Member => [key, text(value)]);
    return fc
      .tuple(
        fc.shuffledSubarray(members, { minLength: members.length, maxLength: members.length }),
        fc.boolean(),
      )
      .map(([shuffled, pretty]) => ({
        ...fields,
        members: shuffled,
        layout: pretty ? PRETTY : COMPACT,
      }));
  });

const requestText = ({ members, layout }: ValidRequest) => objectText(members, layout);

/** What a bad payload must be refused for: the issue paths, and text each issue's message has. */
interface Problems {
  /** Issue path ('' for the payload as a whole) -> text the error message must contain. */
  paths: Map<string, string>;
}

interface BadPayload {
  what: string;
  payload: string | Uint8Array;
  problems: Problems;
}

const problemsAt = (...entries: [path: string, message?: string][]): Problems => ({
  paths: new Map(entries.map(([path, message]) => [path, message ?? `${path}: `])),
});

const NOT_JSON = 'the payload is not JSON';

function badPayload(what: string, payload: string | Uint8Array, problems: Problems): BadPayload {
  return {
    what,
    payload,
    problems,
    [fc.toStringMethod]: () =>
      `${what}: ${fc.stringify(typeof payload === 'string' ? payload : Buffer.from(payload).toString('hex'))} -> ${fc.stringify([...problems.paths.keys()])}`,
  } as BadPayload;
}

/** A valid request with one member replaced (or left out, for `undefined`). */
function withMember(request: ValidRequest, key: string, value: string | undefined): string {
  const rest = request.members.filter(([name]) => name !== key);
  return objectText(value === undefined ? rest : [...rest, [key, value]], request.layout);
}

const BAD_UTF8 = [
  [0xff],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0x80],
  [0xf4, 0x90, 0x80, 0x80],
];

const notJson = fc
  .oneof(
    fc.constantFrom(
      '',
      ' ',
      '\n\t',
      'port=20&data=aa',
      "{'data':'aa','port':1}",
      '{data:"aa",port:1}',
      '{"data":"aa","port":1,}',
      '{"data":"aa","port":NaN}',
      '{"data":"aa","port":0x14}',
      '{"data":"aa","port":020}',
      'aabbcc',
      '<downlink/>',
      '{"data":"aa"}{"port":1}',
    ),
    validRequest.chain((request) => {
      const full = requestText(request);
      return fc
        .integer({ min: 1, max: full.lastIndexOf('}') })
        .map((length) => full.slice(0, length));
    }),
    fc
      .tuple(validRequest, fc.constantFrom('}', ',', 'x', '\u0000', '[]'))
      .map(([request, tail]) => `${requestText(request).trimEnd()}${tail}`),
    fc
      .tuple(validRequest, fc.nat(), fc.constantFrom(...BAD_UTF8))
      .map(([request, at, sequence]) => {
        const bytes = Buffer.from(requestText(request));
        const index = at % (bytes.length + 1);
        return Buffer.concat([
          bytes.subarray(0, index),
          Buffer.from(sequence),
          bytes.subarray(index),
        ]);
      }),
    validRequest.map((request) => Buffer.from(requestText(request), 'utf16le')),
    fc.uint8Array({ maxLength: 100 }),
    anyString(60),
  )
  .filter((payload) => !parses(typeof payload === 'string' ? Buffer.from(payload) : payload))
  .map((payload) => badPayload('not JSON', payload, problemsAt(['', NOT_JSON])));

const notAnObject = fc
  .oneof(
    fc
      .jsonValue({ maxDepth: 3 })
      .filter((value) => value === null || typeof value !== 'object' || Array.isArray(value))
      .map(text),
    fc.constantFrom('null', 'true', '0', '"aabbcc"', '[]', '[{"data":"aa","port":1}]', ' 20 '),
    validRequest.map((request) => `[${requestText(request)}]`),
    validRequest.map((request) => text(requestText(request))),
  )
  .map((payload) =>
    badPayload('JSON that is not an object', payload, problemsAt(['', 'expected object'])),
  );

const HEX_BREAKERS = [
  'g',
  'G',
  'x',
  'X',
  ' ',
  '-',
  ':',
  '\u0000',
  '/',
  'é',
  '\ud800',
  '\uff10',
  '=',
];

const brokenData = fc
  .tuple(
    validRequest,
    fc.oneof(
      hexData.filter((hex) => hex.length > 0).map((hex) => text(hex.slice(1))),
      fc
        .tuple(hexData, fc.nat(), fc.constantFrom(...HEX_BREAKERS))
        .map(([hex, at, breaker]) => text(insertAt(hex, at, breaker))),
      fc
        .tuple(hexData, fc.nat(), fc.constantFrom(...HEX_BREAKERS))
        .map(([hex, at, breaker]) => text(insertAt(hex, at, `${breaker}${breaker}`))),
      hexData.map((hex) => text(`0x${hex}`)),
      fc
        .integer({ min: 243, max: 400 })
        .chain((bytes) => fc.uint8Array({ minLength: bytes, maxLength: bytes }))
        .map((bytes) => text(Buffer.from(bytes).toString('hex'))),
      fc
        .uint8Array({ maxLength: 64 })
        .map((bytes) => text(Buffer.from(bytes).toString('base64')))
        .filter((value) => !/^"(?:[0-9a-fA-F]{2})*"$/.test(value)),
      fc.uint8Array({ maxLength: 8 }).map((bytes) => text(Array.from(bytes))),
      notString,
      fc.constant(undefined),
    ),
  )
  .map(([request, value]) =>
    badPayload(
      value === undefined ? 'data missing' : 'data broken',
      withMember(request, 'data', value),
      problemsAt(['data']),
    ),
  );

const brokenPort = fc
  .tuple(
    validRequest,
    fc.oneof(
      fc.constantFrom(0, 224, 255, 256, -1, 65_536).map(text),
      fc.integer({ min: 224, max: 2 ** 40 }).map(text),
      fc.integer({ min: -(2 ** 40), max: 0 }).map(text),
      nonInteger.map(text),
      overflow,
      fc.integer({ min: 1, max: 223 }).map((port) => text(String(port))),
      notNumber,
      fc.constant(undefined),
    ),
  )
  .map(([request, value]) =>
    badPayload(
      value === undefined ? 'port missing' : 'port broken',
      withMember(request, 'port', value),
      problemsAt(['port']),
    ),
  );

const brokenOption = fc
  .tuple(
    validRequest,
    fc.oneof(
      notBoolean.map((value) => ['confirmed', value] as const),
      fc
        .oneof(
          fc.constantFrom(
            '',
            'ENQUEUE_ON_BUSY',
            'Fail_On_Busy',
            'enqueue',
            'replace-on-busy',
            ' fail_on_busy',
            'now',
          ),
          anyString(20),
        )
        .filter((mode) => !(MODES as readonly string[]).includes(mode))
        .map((mode) => ['mode', text(mode)] as const),
      notString.map((mode) => ['mode', mode] as const),
      fc
        .oneof(
          fc.integer({ min: -(2 ** 40), max: -1 }).map(text),
          fc.integer({ min: 2 ** 32, max: 2 ** 50 }).map(text),
          nonInteger.map(text),
          overflow,
          notNumber,
        )
        .map((fcnt) => ['fcnt', fcnt] as const),
      fc
        .oneof(
          fc.constant(''),
          fc.string({ minLength: 129, maxLength: 300 }),
          fc
            .tuple(
              validRequestId,
              fc.nat(),
              fc.integer({ min: 0, max: 0x9f }).filter((code) => code < 0x20 || code >= 0x7f),
            )
            .map(([id, at, code]) => insertAt(id, at, String.fromCharCode(code))),
        )
        .map((id) => ['requestId', text(id)] as const),
      notString.map((id) => ['requestId', id] as const),
    ),
  )
  .map(([request, [key, value]]) =>
    badPayload(`${key} broken`, withMember(request, key, value), problemsAt([key])),
  );

const UNKNOWN_KEYS = [
  'DevEUI',
  'deveui',
  'confirm',
  'fport',
  'FPort',
  'Data',
  'PORT',
  'payload',
  'priority',
  '',
  ' data',
  'data\u0000',
  'port\u200b',
];

const unknownFields = fc
  .tuple(
    validRequest,
    fc.uniqueArray(
      fc.tuple(
        fc
          .oneof(fc.constantFrom(...UNKNOWN_KEYS), anyString(12))
          .filter((key) => !KNOWN_FIELDS.has(key)),
        anyJsonText,
      ),
      { selector: ([key]) => key, minLength: 1, maxLength: 3 },
    ),
  )
  .map(([request, extras]) =>
    badPayload(
      'unknown fields',
      objectText([...request.members, ...extras], request.layout),
      problemsAt(['', 'Unrecognized key']),
    ),
  );

const pollutingValue = fc.constantFrom(
  '{"port":0}',
  '{"data":"zz","polluted":true}',
  '{"__proto__":{"polluted":true}}',
  '{"prototype":{"polluted":true}}',
  'null',
  '[]',
  '"polluted"',
);

const prototypeKeys = fc.oneof(
  fc
    .tuple(
      validRequest,
      fc.uniqueArray(fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), pollutingValue), {
        selector: ([key]) => key,
        minLength: 1,
      }),
    )
    .map(([request, protos]) =>
      badPayload(
        'prototype keys',
        objectText([...protos, ...request.members], request.layout),
        problemsAt(['', 'Unrecognized key']),
      ),
    ),
  // The whole request under a prototype key: found there, it would be a complete downlink.
  fc
    .tuple(validRequest, fc.constantFrom(...PROTOTYPE_KEYS))
    .map(([request, key]) =>
      badPayload(
        `the request under ${key}`,
        objectText([[key, requestText(request)]]),
        problemsAt(['', 'Unrecognized key'], ['data'], ['port']),
      ),
    ),
);

interface PayloadCategory {
  name: string;
  payloads: fc.Arbitrary<BadPayload>;
}

const PAYLOAD_CATEGORIES: PayloadCategory[] = [
  { name: 'payloads that are not JSON', payloads: notJson },
  { name: 'JSON that is not an object', payloads: notAnObject },
  { name: 'data odd-length, not hex, over 242 bytes or not a string', payloads: brokenData },
  { name: 'ports 0, 224 and above, not integers or not numbers', payloads: brokenPort },
  { name: 'confirmed, mode, fcnt or requestId broken', payloads: brokenOption },
  { name: 'unknown fields', payloads: unknownFields },
  { name: '__proto__, constructor and prototype keys', payloads: prototypeKeys },
];

const anyBadPayload = fc.oneof(...PAYLOAD_CATEGORIES.map(({ payloads }) => payloads));

// ---------------------------------------------------------------------------------------------

const ENV = {
  TOPIC_PREFIX: PREFIX,
  DOWNLINK_CONFIRMED_DEFAULT: 'true',
  DOWNLINK_MODE_DEFAULT: 'enqueue_on_busy',
};
const DEFAULTS = [
  { env: ENV, confirmed: true, mode: 'enqueue_on_busy' },
  {
    env: { ...ENV, DOWNLINK_CONFIRMED_DEFAULT: 'false', DOWNLINK_MODE_DEFAULT: 'fail_on_busy' },
    confirmed: false,
    mode: 'fail_on_busy',
  },
].map((defaults) => ({
  ...defaults,
  validate: (input: RuleInput): Downlink | ObjectDownlink =>
    parseDownlink(input, {
      topicPrefix: PREFIX,
      confirmed: defaults.confirmed,
      mode: defaults.mode as Downlink['mode'],
    }),
}));

const ruleInput = (payload: string | Uint8Array, topic: string): RuleInput => ({
  payload: Buffer.from(payload).toString('base64'),
  topic,
  receivedAt: 1_795_694_400_123,
  clientId: 'fuzz-app',
});

/** Everything the send task could touch, none of which an invalid request may reach. */
const untouchable = new Proxy({} as SendDeps, {
  get: (_, name) =>
    name === 'defaults'
      ? { topicPrefix: PREFIX, confirmed: true, mode: 'enqueue_on_busy' }
      : new Proxy(() => undefined, {
          get: () => () => {
            throw new Error(`an invalid request reached ${String(name)}`);
          },
        }),
});
const sendTask = createSendDownlinkHandler(untouchable);

/** The send task's answer to a request it refuses: its error, or what it returned. */
async function validate(input: RuleInput): Promise<unknown> {
  return sendTask({ taskToken: 'token', request: input, correlationId: 'fuzz' }, lambdaContext);
}

/** The error must name every problem expected, and nothing else. */
function expectNamed(message: string, paths: readonly string[], problems: Problems): void {
  expect(new Set(paths)).toEqual(new Set(problems.paths.keys()));
  for (const expected of problems.paths.values()) expect(message).toContain(expected);
}

describe('Hardening: generated downlink requests', () => {
  describe('the send task', () => {
    beforeEach(() => {
      captureLogs();
    });

    it(
      'accepts generated valid requests on valid topics, the DevEUI normalised',
      () => {
        fc.assert(
          fc.property(
            validRequest,
            validTopic,
            fc.constantFrom(...DEFAULTS),
            (request, { topic, devEui }, defaults) => {
              // Act
              const downlink = defaults.validate(ruleInput(requestText(request), topic));

              // Assess
              expect(downlink).toEqual({
                devEui,
                statusTopic: `${PREFIX}/${devEui}/downlink/status`,
                data: request.data.toLowerCase(),
                port: request.port,
                confirmed: request.confirmed ?? defaults.confirmed,
                mode: request.mode ?? defaults.mode,
                ...(request.fcnt === undefined ? {} : { fcnt: request.fcnt }),
                ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
                receivedAt: 1_795_694_400_123,
              });
            },
          ),
          FUZZ,
        );
      },
      TEST_TIMEOUT_MS,
    );

    it.each(PAYLOAD_CATEGORIES.map(({ name, payloads }) => [name, payloads] as const))(
      'refuses %s with InvalidDownlinkError naming the problem',
      async (_, payloads) => {
        await fc.assert(
          fc.asyncProperty(payloads, validTopic, async (bad, { topic }) => {
            // Prepare
            const logs = captureLogs();

            // Act
            const error = await validate(ruleInput(bad.payload, topic)).catch(
              (caught: unknown) => caught,
            );

            // Assess
            expect(error).toBeInstanceOf(InvalidDownlinkError);
            const { name, message, issues } = error as InvalidDownlinkError;
            expect(name).toBe('InvalidDownlinkError');
            expect(message).toMatch(/^not a valid downlink: /);
            expectNamed(
              message,
              issues.map(({ path }) => path),
              bad.problems,
            );
            expect(logs.entries()).toContainEqual(
              expect.objectContaining({
                level: 'WARN',
                message: 'downlink request invalid',
                topic,
              }),
            );
            expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          }),
          FUZZ,
        );
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'refuses valid requests on topics whose DevEUI level is malformed, or with levels missing or extra',
      async () => {
        await fc.assert(
          fc.asyncProperty(validRequest, badTopic, async (request, topic) => {
            const error = await validate(ruleInput(requestText(request), topic)).catch(
              (caught: unknown) => caught,
            );

            expect(error).toBeInstanceOf(InvalidDownlinkError);
            const { message, issues } = error as InvalidDownlinkError;
            expectNamed(
              message,
              issues.map(({ path }) => path),
              problemsAt(['topic']),
            );
          }),
          FUZZ,
        );
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'names both problems when the topic and the payload are bad',
      async () => {
        await fc.assert(
          fc.asyncProperty(anyBadPayload, badTopic, async (bad, topic) => {
            const error = await validate(ruleInput(bad.payload, topic)).catch(
              (caught: unknown) => caught,
            );

            expect(error).toBeInstanceOf(InvalidDownlinkError);
            const { message, issues } = error as InvalidDownlinkError;
            const problems = problemsAt(['topic'], ...bad.problems.paths.entries());
            expectNamed(
              message,
              issues.map(({ path }) => path),
              problems,
            );
          }),
          FUZZ,
        );
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('the downlink state machine', () => {
    let harness: DownlinkHarness;

    beforeAll(async () => {
      harness = await startDownlinkHarness();
    });

    afterAll(async () => {
      await harness.close();
    });

    it(
      'ends generated invalid requests in a failed execution and an INVALID_DOWNLINK status, never a POST to OrbiWAN',
      async () => {
        await fc.assert(
          fc.asyncProperty(anyBadPayload, ruleTopic, async (bad, topic) => {
            // Prepare
            const published = harness.published.length;
            const problems = isValidTopic(topic)
              ? bad.problems
              : problemsAt(['topic'], ...bad.problems.paths.entries());

            // Act
            const execution =
              typeof bad.payload === 'string'
                ? harness.publishDownlink(bad.payload, topic)
                : startedBy(
                    harness.cloud.applyTopicRules({
                      topic,
                      payload: Buffer.from(bad.payload),
                      clientId: 'fuzz-app',
                    }),
                  );
            const done = await harness.finished(execution.executionArn);

            // Assess
            expect(done).toMatchObject({ status: 'FAILED', error: 'InvalidDownlinkError' });
            const answers = harness.published.slice(published);
            expect(answers.map((message) => message.topic)).toEqual([`${topic}/status`]);
            const status = JSON.parse(answers[0]?.payload.toString('utf8') ?? '') as Record<
              string,
              unknown
            >;
            expect(status).toMatchObject({ state: 'error', error: { code: 'INVALID_DOWNLINK' } });
            const { message } = status.error as { message: string };
            for (const expected of problems.paths.values()) expect(message).toContain(expected);
            expect(status.requestId).toBe(requestIdIn(bad.payload));
            expect(harness.posts()).toEqual([]);
          }),
          // An execution that never ends is a failure too.
          { ...FUZZ, plugins: [...FUZZ.plugins, fc.timeout(5_000)] },
        );
      },
      TEST_TIMEOUT_MS,
    );
  });
});

function startedBy<T>(executions: T[]): T {
  const [execution] = executions;
  if (execution === undefined) throw new Error('the IoT rule started no execution');
  return execution;
}

/** The requestId an error status should echo: the request's, when it is a valid one. */
function requestIdIn(payload: string | Uint8Array): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(typeof payload === 'string' ? Buffer.from(payload) : payload));
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || !Object.hasOwn(json, 'requestId'))
    return undefined;
  const { requestId } = json as { requestId: unknown };
  return typeof requestId === 'string' &&
    requestId.length >= 1 &&
    requestId.length <= 128 &&
    !/\p{Cc}/u.test(requestId)
    ? requestId
    : undefined;
}
