import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { transmissionState } from '../../functions/downlinks/downlink-status.js';
import { downlinkStatusHandlerFromEnv as createDownlinkStatusHandler } from '../../functions/downlinks/status/downlink-status-function.js';
import { notificationHandlerFromEnv as createNotificationHandler } from '../../functions/notifications/notification-handler.js';
import type { NotificationHandler } from '../../functions/notifications/notification-handler.js';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
  type NotificationType,
} from '../../functions/notifications/notification-types.js';
import { SAMPLE_PUSH_TOKEN, pushEvent } from '../helpers/api-events.js';
import {
  PUSH_TOKEN_SECRET_ARN,
  mockAws,
  publishedMessages,
  resetAws,
} from '../helpers/aws-mocks.js';
import {
  anyJsonText,
  anyString,
  arrayText,
  badDevEui,
  COMPACT,
  decodes,
  devEuiHex,
  devEuiIn,
  devEuiStyle,
  devEuiText,
  finite,
  insertAt,
  isDevEuiForm,
  type Layout,
  layouts,
  loneSurrogate,
  type Member,
  nonInteger,
  notBoolean,
  notNumber,
  notString,
  objectText,
  overflow,
  parses,
  PROTOTYPE_KEYS,
  recordText,
  text,
} from '../helpers/json-text-arbitraries.js';
import { fuzzSettings } from '../helpers/fuzz-settings.js';
import { lambdaContext } from '../helpers/lambda-context.js';
import { captureLogs } from '../helpers/logs.js';

// Property-based bad input for every notification route: generated bodies that are not JSON, not
// objects, too large, deeply nested, full of prototype keys, unicode and broken DevEUIs, or valid
// but for one field. Each must get a 4xx naming the problem and publish nothing; valid generated
// bodies must be published byte for byte, which proves the generators reach the handler.
//
// FUZZ_SEED replays a run and FUZZ_RUNS sets the cases per property (test/helpers/fuzz-settings.ts);
// default 50: 9 routes x 9 properties x 50 = 4,050).

const { parameters: FUZZ, testTimeoutMs: TEST_TIMEOUT_MS } = fuzzSettings('notification-fuzz', 50);

const aws = mockAws();

const PREFIX = 'orbiwan/lorawan';
/** AWS IoT Core's message limit, which docs/integration.md promises to enforce with a 413. */
const LIMIT = 128 * 1024;

// ---------------------------------------------------------------------------------------------
// JSON text beyond ../helpers/json-text-arbitraries.ts: non-scalars and deep nesting.

const notScalar = fc.oneof(fc.constantFrom('true', 'false', 'null'), arrayText, recordText);

const deepArray = (maxDepth: number) =>
  fc
    .integer({ min: 200, max: maxDepth })
    .map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`);
const deepObject = (maxDepth: number) =>
  fc
    .integer({ min: 200, max: maxDepth })
    .map((depth) => `${'{"a":'.repeat(depth)}null${'}'.repeat(depth)}`);
/** Deeply nested JSON text that stays well under the size limit (at most about 90 KB). */
const deepValue = fc.oneof(deepArray(30_000), deepObject(15_000));

// ---------------------------------------------------------------------------------------------
// The documented fields (docs/integration.md "Replies to OrbiWAN", notification-schemas.ts), each kind with a
// generator of values it accepts and one of values it refuses.

interface FieldKind {
  valid: fc.Arbitrary<string>;
  invalid: fc.Arbitrary<string>;
  /** Whether any string is a valid value (then a unicode string cannot break it). */
  takesStrings: boolean;
  /** Whether any object is a valid value (then nested objects cannot break it). */
  takesObjects?: boolean;
}

function integerKind(min?: number, max?: number): FieldKind {
  const outside: fc.Arbitrary<number>[] = [];
  if (min !== undefined) outside.push(fc.integer({ min: -(2 ** 40), max: min - 1 }));
  if (max !== undefined) outside.push(fc.integer({ min: max + 1, max: 2 ** 40 }));
  return {
    valid: fc.integer({ min: min ?? -(2 ** 31), max: max ?? 2 ** 32 }).map(text),
    invalid: fc.oneof(
      ...outside.map((arbitrary) => arbitrary.map(text)),
      nonInteger.map(text),
      overflow,
      notNumber,
    ),
    takesStrings: false,
  };
}

function numberKind(min?: number, max?: number): FieldKind {
  const bounds = { noNaN: true, noDefaultInfinity: true } as const;
  const outside: fc.Arbitrary<number>[] = [];
  if (min !== undefined) outside.push(fc.double({ ...bounds, max: min, maxExcluded: true }));
  if (max !== undefined) outside.push(fc.double({ ...bounds, min: max, minExcluded: true }));
  return {
    valid: fc
      .double({
        ...bounds,
        ...(min === undefined ? {} : { min }),
        ...(max === undefined ? {} : { max }),
      })
      .map(text),
    invalid: fc.oneof(...outside.map((arbitrary) => arbitrary.map(text)), overflow, notNumber),
    takesStrings: false,
  };
}

const stringKind: FieldKind = {
  valid: anyString().map(text),
  invalid: notString,
  takesStrings: true,
};

const booleanKind: FieldKind = {
  valid: fc.boolean().map(text),
  invalid: notBoolean,
  takesStrings: false,
};

/** A field whose type OrbiWise leaves open: a string or a number. */
const scalarKind: FieldKind = {
  valid: fc.oneof(anyString().map(text), finite.map(text)),
  invalid: notScalar,
  takesStrings: true,
};

/** OrbiWAN's 64-bit ids, also beyond 2^53, as JSON numbers or strings. */
const idKind: FieldKind = {
  valid: fc.oneof(scalarKind.valid, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String)),
  invalid: notScalar,
  takesStrings: true,
};

/**
 * The id of a downlink status: the status function follows OrbiWAN's downlinks by id, so it takes
 * only what OrbiWAN's ids are (64-bit integers, digits, as JSON numbers or strings) and refuses any
 * other scalar the notification schema lets through.
 */
const isOrbiwanIdText = (value: string) => /^\d{1,20}$/.test(value.replace(/^"(.*)"$/, '$1'));
const downlinkIdKind: FieldKind = {
  valid: fc
    .tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.boolean())
    .map(([id, quoted]) => (quoted ? text(String(id)) : String(id))),
  invalid: fc.oneof(
    notScalar,
    scalarKind.valid.filter((value) => !isOrbiwanIdText(value)),
  ),
  takesStrings: false,
};

const PAYLOAD_BREAKERS = ['!', '-', '_', ' ', '\n', '.', ':', '\u0000', 'é', '\ud800', '"', '%'];
const payloadString = fc
  .tuple(fc.uint8Array({ maxLength: 64 }), fc.constantFrom<BufferEncoding>('base64', 'hex'))
  .map(([bytes, encoding]) => Buffer.from(bytes).toString(encoding));
/** dataFrame: Base64 or hex. */
const payloadKind: FieldKind = {
  valid: payloadString.map(text),
  invalid: fc.oneof(
    fc
      .tuple(payloadString, fc.nat(), fc.constantFrom(...PAYLOAD_BREAKERS))
      .map(([payload, at, breaker]) => text(insertAt(payload, at, breaker))),
    payloadString.map((payload) => text(`${payload}===`)),
    notString,
  ),
  takesStrings: false,
};

/** `decoded`: an object, or null. */
const recordKind: FieldKind = {
  valid: fc.oneof(fc.constant('null'), recordText),
  invalid: fc.oneof(
    arrayText,
    anyString().map(text),
    finite.map(text),
    fc.constantFrom('true', 'false'),
  ),
  takesStrings: false,
  takesObjects: true,
};

const gatewayText = fc
  .record(
    { gtw_id: scalarKind.valid, rssi: numberKind().valid, snr: numberKind().valid },
    { requiredKeys: [] },
  )
  .map((gateway) => objectText(Object.entries(gateway)));
/** `gtw_info`: a list of gateway objects, or null. */
const gatewaysKind: FieldKind = {
  valid: fc.oneof(
    fc.constant('null'),
    fc.array(gatewayText, { maxLength: 3 }).map((gateways) => `[${gateways.join(',')}]`),
  ),
  invalid: fc.oneof(
    fc.oneof(anyString().map(text), finite.map(text), fc.constantFrom('true', 'false'), recordText),
    fc
      .oneof(finite.map(text), anyString().map(text), fc.constant('null'), arrayText)
      .map((item) => `[${item}]`),
    notNumber.map((rssi) => `[{"rssi":${rssi}}]`),
    notScalar.map((id) => `[{"gtw_id":${id}}]`),
  ),
  takesStrings: false,
};

type DevicePresence = 'required' | 'optional' | 'none';

interface RouteSpec {
  /** What follows `{prefix}/{deveui}/` (or `{prefix}/` without a device) in the topic (docs/integration.md table). */
  topicSuffix: string;
  qos: 0 | 1;
  device: DevicePresence;
  required: Record<string, FieldKind>;
  optional: Record<string, FieldKind>;
}

const UPLINK_REQUIRED = { dataFrame: payloadKind, port: integerKind(0, 255), fcnt: integerKind(0) };
const UPLINK_OPTIONAL = {
  early: booleanKind,
  id: idKind,
  timestamp: stringKind,
  live: booleanKind,
  session_id: stringKind,
  decrypted: booleanKind,
  confirmed: booleanKind,
  devaddr: scalarKind,
  decoded: recordKind,
};
const RADIO_FIELDS = {
  rssi: numberKind(),
  snr: numberKind(),
  sf_used: integerKind(),
  freq: numberKind(),
  dr_used: stringKind,
  cr_used: stringKind,
  gtw_info: gatewaysKind,
  latitude: numberKind(),
  longitude: numberKind(),
  altitude: numberKind(),
};

const ROUTES: Record<NotificationType, RouteSpec> = {
  uplink_early: {
    topicSuffix: 'uplink_early',
    qos: 0,
    device: 'required',
    required: UPLINK_REQUIRED,
    optional: UPLINK_OPTIONAL,
  },
  uplink: {
    topicSuffix: 'uplink',
    qos: 1,
    device: 'required',
    required: UPLINK_REQUIRED,
    optional: { ...UPLINK_OPTIONAL, ...RADIO_FIELDS },
  },
  downlink_status: {
    topicSuffix: 'downlink/status',
    qos: 1,
    device: 'required',
    required: { id: downlinkIdKind, transmissionStatus: integerKind(0, 5) },
    optional: {
      fcnt: integerKind(0),
      port: integerKind(0, 255),
      session_id: stringKind,
      data: stringKind,
    },
  },
  joininfo: {
    topicSuffix: 'joininfo',
    qos: 1,
    device: 'required',
    required: { join_status: stringKind },
    optional: { appeui: stringKind, session_id: stringKind },
  },
  nodeinfo: {
    topicSuffix: 'nodeinfo',
    qos: 1,
    device: 'required',
    required: {},
    optional: {
      device_status: scalarKind,
      last_reception: scalarKind,
      dl_fcnt: integerKind(0),
      device_class: scalarKind,
      registration_status: scalarKind,
      expiry_time_uplink: scalarKind,
      expiry_time_downlink: scalarKind,
    },
  },
  location: {
    topicSuffix: 'location',
    qos: 1,
    device: 'required',
    required: { latitude: numberKind(-90, 90), longitude: numberKind(-180, 180) },
    optional: { loraloc_time: scalarKind, loraloc_fcnt: integerKind(0) },
  },
  status: {
    topicSuffix: 'status',
    qos: 1,
    device: 'required',
    required: { battery_status: integerKind(0, 255) },
    optional: {
      margin_status: integerKind(),
      timestamp_status: scalarKind,
      req_status: integerKind(),
    },
  },
  alarm: {
    topicSuffix: 'alarm',
    qos: 1,
    device: 'optional',
    required: {},
    optional: {
      timestamp: scalarKind,
      severity: scalarKind,
      category: scalarKind,
      alarm_code: scalarKind,
      alarm_text: stringKind,
      gtw_id: scalarKind,
    },
  },
  appchange: { topicSuffix: 'appchange', qos: 1, device: 'none', required: {}, optional: {} },
};

const DEVICE_KEYS = ['DevEUI', 'deveui'] as const;

function fieldsOf(route: RouteSpec): [string, FieldKind][] {
  return [...Object.entries(route.required), ...Object.entries(route.optional)];
}

function documentedKeys(route: RouteSpec): Set<string> {
  const fields = fieldsOf(route).map(([key]) => key);
  return new Set(route.device === 'none' ? fields : [...fields, ...DEVICE_KEYS]);
}

// ---------------------------------------------------------------------------------------------
// DevEUIs: OrbiWAN's forms and strings that are none of them come from json-text-arbitraries.

/** JSON text for a DevEUI member that is not a DevEUI: a broken string or not a string at all. */
const badDevEuiValue = fc.oneof(
  { weight: 4, arbitrary: badDevEui.map(text) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      notString,
      devEuiHex.map((hex) => `${BigInt(`0x${hex}`)}`),
      devEuiText.map((devEui) => `[${text(devEui)}]`),
    ),
  },
);

// ---------------------------------------------------------------------------------------------
// Valid bodies per route, with unknown members (prototype keys, unicode, nested values) mixed in.

/** Values meant to poison whatever copies them into a plain object. */
const pollutingValue = fc.oneof(
  badDevEui.map((devEui) =>
    objectText([
      ['DevEUI', text(devEui)],
      ['polluted', 'true'],
    ]),
  ),
  fc.constant('{"__proto__":{"polluted":true}}'),
  fc.constant('{"constructor":{"prototype":{"polluted":true}}}'),
  fc.constantFrom('null', '"polluted"', '[]', '1'),
);

function extraMembers(route: RouteSpec): fc.Arbitrary<Member[]> {
  const documented = documentedKeys(route);
  const key = fc
    .oneof(
      anyString(12),
      fc.constantFrom(
        ...PROTOTYPE_KEYS,
        'toString',
        'hasOwnProperty',
        'valueOf',
        'devEUI',
        'DEVEUI',
        'dev_eui',
        ...DEVICE_KEYS,
      ),
    )
    .filter((candidate) => !documented.has(candidate));
  const value = fc.oneof(
    { weight: 4, arbitrary: anyJsonText },
    { weight: 2, arbitrary: anyString(40).map(text) },
    { weight: 1, arbitrary: badDevEuiValue },
    { weight: 1, arbitrary: pollutingValue },
    { weight: 1, arbitrary: fc.oneof(deepArray(1000), deepObject(1000)) },
  );
  return fc.uniqueArray(fc.tuple(key, value), { selector: ([name]) => name, maxLength: 4 });
}

interface ValidBody {
  members: Member[];
  layout: Layout;
  /** The device as 16 lowercase hex digits, when the body names one. */
  devEui: string | undefined;
}

const deviceNaming = fc.constantFrom(['DevEUI'], ['deveui'], ['DevEUI', 'deveui']);

function deviceMembers(
  presence: DevicePresence,
): fc.Arbitrary<{ members: Member[]; devEui: string | undefined }> {
  const named = fc
    .tuple(devEuiHex, deviceNaming, devEuiStyle, devEuiStyle)
    .map(([hex, keys, ...styles]) => ({
      members: keys.map((key, index): Member => [
        key,
        text(devEuiIn(hex, styles[index] ?? styles[0])),
      ]),
      devEui: hex,
    }));
  if (presence === 'required') return named;
  const anonymous = fc.constant<{ members: Member[]; devEui: string | undefined }>({
    members: [],
    devEui: undefined,
  });
  return presence === 'optional' ? fc.oneof(named, anonymous) : anonymous;
}

function pick(kinds: Record<string, FieldKind>): Record<string, fc.Arbitrary<string>> {
  return Object.fromEntries(Object.entries(kinds).map(([key, kind]) => [key, kind.valid]));
}

function validBody(route: RouteSpec): fc.Arbitrary<ValidBody> {
  return fc
    .record({
      device: deviceMembers(route.device),
      required: fc.record(pick(route.required)),
      optional: fc.record(pick(route.optional), { requiredKeys: [] }),
      extras: extraMembers(route),
      layout: layouts,
    })
    .chain(({ device, required, optional, extras, layout }) => {
      const members: Member[] = [
        ...device.members,
        ...Object.entries(required),
        ...Object.entries(optional).filter(
          (member): member is [string, string] => member[1] !== undefined,
        ),
        ...extras,
      ];
      return fc
        .shuffledSubarray(members, { minLength: members.length, maxLength: members.length })
        .map((shuffled) => ({ members: shuffled, layout, devEui: device.devEui }));
    });
}

// ---------------------------------------------------------------------------------------------
// Bad bodies: what to send and the refusal docs/integration.md promises for it.

interface Refusal {
  status: 400 | 413;
  code: 'NOT_JSON' | 'INVALID_NOTIFICATION' | 'PAYLOAD_TOO_LARGE';
  /** Text the error message must contain, or match. */
  message: string | RegExp;
  /** The top-level field the issues must name ('' for the body as a whole). */
  path?: string;
}

interface BadBody {
  what: string;
  body: string | Uint8Array;
  /** Sent base64-encoded, as API Gateway passes binary bodies. */
  base64: boolean;
  expected: Refusal;
}

function notJson(bytes: Uint8Array): Refusal {
  const message =
    bytes.length === 0 ? 'the body is empty' : decodes(bytes) ? 'not valid JSON' : 'not UTF-8';
  return { status: 400, code: 'NOT_JSON', message };
}

const invalidAt = (path: string): Refusal => ({
  status: 400,
  code: 'INVALID_NOTIFICATION',
  // The message lists each problem as "path: message", the path dotted below the field.
  message:
    path === '' ? 'expected object' : new RegExp(`(?:: |; )${escapeRegExp(path)}(?:\\.[^:;]*)?: `),
  path,
});

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A bad body; fast-check prints it shortened, as some are over 100 KB. */
function bad(
  what: string,
  body: string | Uint8Array,
  expected: Refusal,
  base64 = typeof body !== 'string',
): BadBody {
  return {
    what,
    body,
    base64,
    expected,
    [fc.toStringMethod]: () => {
      const shown = typeof body === 'string' ? body : Buffer.from(body).toString('hex');
      const preview =
        shown.length > 300 ? `${shown.slice(0, 300)}... (${shown.length} chars)` : shown;
      return `${what}: ${fc.stringify(preview)} -> ${fc.stringify(expected)}`;
    },
  } as BadBody;
}

/** The body as one element of an array: a route that takes any object can only be refused so. */
function inArray(what: string, members: readonly Member[], layout = COMPACT): BadBody {
  return bad(`${what}, inside an array`, `[${objectText(members, layout)}]`, invalidAt(''));
}

interface Breakage {
  members: Member[];
  layout: Layout;
  path: string;
}

/** A valid body with one documented field of the wrong type, out of range or missing. */
function brokenBody(route: RouteSpec): fc.Arbitrary<Breakage> | undefined {
  const breaks: fc.Arbitrary<{ key: string; value: string | undefined }>[] = fieldsOf(route).map(
    ([key, kind]) => kind.invalid.map((value) => ({ key, value })),
  );
  for (const key of Object.keys(route.required)) {
    breaks.push(fc.constant({ key, value: undefined }));
  }
  if (route.device === 'required') breaks.push(fc.constant({ key: 'DevEUI', value: undefined }));
  if (breaks.length === 0) return undefined;
  return fc.tuple(validBody(route), fc.oneof(...breaks)).map(([body, { key, value }]) => {
    const isDevice = key === 'DevEUI' && value === undefined;
    const rest = body.members.filter(([name]) =>
      isDevice ? !(DEVICE_KEYS as readonly string[]).includes(name) : name !== key,
    );
    return {
      members: value === undefined ? rest : [...rest, [key, value] as const],
      layout: body.layout,
      path: key,
    };
  });
}

const withoutDevice = (members: readonly Member[]) =>
  members.filter(([key]) => !(DEVICE_KEYS as readonly string[]).includes(key));

type Category = (route: RouteSpec) => fc.Arbitrary<BadBody>;

const notJsonBodies: Category = (route) => {
  const valid = validBody(route).map(({ members, layout }) => objectText(members, layout));
  return fc.oneof(
    fc
      .constantFrom('', ' ', '\n\t\r ')
      .map((body) => bad('blank', body, notJson(Buffer.from(body)))),
    valid.chain((body) =>
      fc
        .integer({ min: 1, max: body.lastIndexOf('}') })
        .map((length) =>
          bad('truncated', body.slice(0, length), notJson(Buffer.from(body.slice(0, length)))),
        ),
    ),
    fc
      .tuple(valid, fc.constantFrom('}', ',', 'x', '{}', ']', '\u0000', ',"a":1}'))
      .map(([body, tail]) => {
        const sent = `${body.trimEnd()}${tail}`;
        return bad('followed by garbage', sent, notJson(Buffer.from(sent)));
      }),
    fc
      .constantFrom(
        "{'DevEUI':'70B3D57ED0001A2B'}",
        '{DevEUI:"70B3D57ED0001A2B"}',
        '{"DevEUI":"70B3D57ED0001A2B",}',
        '{"port":NaN}',
        '{"port":undefined}',
        '{"port":0x10}',
        '{"port":010}',
        '{"port":.5}',
        '{"port":+1}',
        '{"a":"tab\tin a string"}',
        '// comment\n{}',
        '{"a":1}{"b":2}',
        'DevEUI=70B3D57ED0001A2B&port=1',
        '<xml/>',
      )
      .map((body) => bad('JavaScript, not JSON', body, notJson(Buffer.from(body)))),
    fc
      .uint8Array({ minLength: 1, maxLength: 200 })
      .filter((bytes) => !parses(bytes))
      .map((bytes) => bad('random bytes', bytes, notJson(bytes))),
    anyString(80)
      .filter((body) => !parses(Buffer.from(body)))
      .map((body) => bad('random text', body, notJson(Buffer.from(body)))),
  );
};

const notAnObject: Category = (route) =>
  fc.oneof(
    fc
      .jsonValue({ maxDepth: 3 })
      .filter((value) => value === null || typeof value !== 'object' || Array.isArray(value))
      .map((value) => bad('JSON of another type', text(value), invalidAt(''))),
    fc
      .constantFrom('null', 'true', 'false', '0', '-1.5e10', '""', '[]', '[{}]', ' 42 ')
      .map((body) => bad('JSON of another type', body, invalidAt(''))),
    validBody(route).map(({ members }) => inArray('a valid body', members)),
    validBody(route).map(({ members }) =>
      bad('a valid body as a JSON string', text(objectText(members)), invalidAt('')),
    ),
  );

const PADDING = ['x', 'é', '€', '😀', '\ud800'];

const tooLarge: Category = (route) =>
  fc
    .record({
      body: validBody(route),
      over: fc.integer({ min: 1, max: 16_384 }),
      unit: fc.constantFrom(...PADDING),
      json: fc.boolean(),
      base64: fc.boolean(),
    })
    .map(({ body, over, unit, json, base64 }) => {
      const head = json
        ? objectText([...body.members, ['padding', '""']]).slice(0, -2)
        : '{"padding":"';
      const tail = json ? '"}' : '';
      const missing = LIMIT + over - Buffer.byteLength(head + tail);
      const sent = `${head}${unit.repeat(Math.ceil(missing / Buffer.byteLength(unit)))}${tail}`;
      const bytes = Buffer.byteLength(sent);
      return bad(
        `${bytes} bytes of ${json ? 'otherwise valid JSON' : 'unterminated JSON'} padded with ${fc.stringify(unit)}`,
        sent,
        { status: 413, code: 'PAYLOAD_TOO_LARGE', message: `the body is ${bytes} bytes` },
        base64,
      );
    });

const malformedDevEui: Category = (route) => {
  const variants = fc.constantFrom(
    'DevEUI',
    'deveui',
    'DevEUI beside a valid deveui',
    'deveui beside a valid DevEUI',
    'two different devices',
  );
  return fc
    .tuple(
      validBody(route),
      badDevEuiValue,
      variants,
      devEuiText,
      fc.tuple(devEuiHex, devEuiHex).filter(([a, b]) => a !== b),
    )
    .map(([body, badValue, variant, goodDevEui, [first, second]]) => {
      const rest = withoutDevice(body.members);
      const [members, path]: [Member[], string] =
        variant === 'DevEUI'
          ? [[...rest, ['DevEUI', badValue]], 'DevEUI']
          : variant === 'deveui'
            ? [[...rest, ['deveui', badValue]], 'deveui']
            : variant === 'DevEUI beside a valid deveui'
              ? [[['deveui', text(goodDevEui)], ...rest, ['DevEUI', badValue]], 'DevEUI']
              : variant === 'deveui beside a valid DevEUI'
                ? [[['DevEUI', text(goodDevEui)], ...rest, ['deveui', badValue]], 'deveui']
                : [[['DevEUI', text(first)], ...rest, ['deveui', text(second)]], 'deveui'];
      if (route.device === 'none') return inArray(`a ${variant} that is not a DevEUI`, members);
      return bad(
        `a ${variant} that is not a DevEUI`,
        objectText(members, body.layout),
        invalidAt(path),
      );
    });
};

const oneFieldBroken: Category = (route) => {
  const broken = brokenBody(route);
  if (broken === undefined) {
    return validBody(route).map(({ members }) => inArray('any object', members));
  }
  return broken.map(({ members, layout, path }) =>
    bad(`${path} broken`, objectText(members, layout), invalidAt(path)),
  );
};

const deeplyNested: Category = (route) => {
  const nestedFields: [string, fc.Arbitrary<string>][] = [
    ...fieldsOf(route).map(([key, kind]): [string, fc.Arbitrary<string>] => [
      key,
      kind.takesObjects === true ? deepArray(30_000) : deepValue,
    ]),
    ...(route.device === 'none'
      ? []
      : DEVICE_KEYS.map((key): [string, fc.Arbitrary<string>] => [key, deepValue])),
  ];
  const variants: fc.Arbitrary<BadBody>[] = [
    deepArray(60_000).map((body) => bad('nested arrays', body, invalidAt(''))),
    deepObject(20_000).map((body) => bad('nested objects in an array', `[${body}]`, invalidAt(''))),
  ];
  if (nestedFields.length > 0) {
    variants.push(
      fc.tuple(validBody(route), fc.constantFrom(...nestedFields)).chain(([body, [key, nested]]) =>
        nested.map((value) => {
          const members = [...body.members.filter(([name]) => name !== key), [key, value] as const];
          return bad(`${key} nested deeply`, objectText(members, body.layout), invalidAt(key));
        }),
      ),
    );
  }
  const broken = brokenBody(route);
  if (broken !== undefined) {
    variants.push(
      fc
        .tuple(broken, deepValue)
        .map(([{ members, layout, path }, value]) =>
          bad(
            `${path} broken beside a deeply nested unknown member`,
            objectText([['nested', value], ...members], layout),
            invalidAt(path),
          ),
        ),
    );
  }
  return fc.oneof(...variants).filter(({ body }) => Buffer.byteLength(body) <= LIMIT);
};

const prototypeKeys: Category = (route) => {
  const protoMembers = fc.uniqueArray(
    fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), pollutingValue),
    {
      selector: ([key]) => key,
      minLength: 1,
    },
  );
  const variants: fc.Arbitrary<BadBody>[] = [];
  const broken = brokenBody(route);
  if (broken !== undefined) {
    variants.push(
      fc
        .tuple(broken, protoMembers)
        .map(([{ members, layout, path }, protos]) =>
          bad(
            `${path} broken beside prototype keys`,
            objectText([...protos, ...members], layout),
            invalidAt(path),
          ),
        ),
    );
  } else {
    variants.push(
      fc
        .tuple(validBody(route), protoMembers)
        .map(([{ members }, protos]) => inArray('prototype keys', [...protos, ...members])),
    );
  }
  // The documented members only under __proto__: a parser that copied them onto the prototype
  // would find a complete notification there.
  const firstRequired =
    Object.keys(route.required)[0] ?? (route.device === 'required' ? 'DevEUI' : undefined);
  if (firstRequired !== undefined) {
    variants.push(
      fc
        .tuple(validBody(route), fc.constantFrom(...PROTOTYPE_KEYS))
        .map(([{ members }, key]) =>
          bad(
            `every member under ${key}`,
            objectText([[key, objectText(members)]]),
            invalidAt(firstRequired),
          ),
        ),
    );
  }
  return fc.oneof(...variants);
};

const BAD_UTF8 = [
  [0xff],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
];

const unicode: Category = (route) => {
  const valid = validBody(route);
  const variants: fc.Arbitrary<BadBody>[] = [
    fc
      .tuple(valid, fc.nat(), fc.constantFrom(...BAD_UTF8))
      .map(([body, at, sequence]) => {
        const bytes = Buffer.from(objectText(body.members, body.layout));
        const index = at % (bytes.length + 1);
        const sent = Buffer.concat([
          bytes.subarray(0, index),
          Buffer.from(sequence),
          bytes.subarray(index),
        ]);
        return bad(
          `invalid UTF-8 ${Buffer.from(sequence).toString('hex')} at byte ${index}`,
          sent,
          notJson(sent),
        );
      })
      .filter(({ body }) => !parses(Buffer.from(body))),
    fc
      .tuple(valid, fc.boolean())
      .map(([body, bom]) => {
        const utf16 = Buffer.from(objectText(body.members, body.layout), 'utf16le');
        const sent = bom ? Buffer.concat([Buffer.from([0xff, 0xfe]), utf16]) : utf16;
        return bad(`UTF-16LE${bom ? ' with BOM' : ''}`, sent, notJson(sent));
      })
      .filter(({ body }) => !parses(Buffer.from(body))),
  ];
  if (route.device !== 'none') {
    const unicodeDevEui = fc
      .oneof(
        anyString(24),
        fc
          .tuple(
            devEuiText,
            fc.nat(),
            fc.oneof(
              loneSurrogate,
              fc.constantFrom('\u202e', '\u0301', '\ufeff', '😀', 'Ⅰ', '\u00ad'),
            ),
          )
          .map(([devEui, at, char]) => insertAt(devEui, at, char)),
      )
      .filter((value) => !isDevEuiForm(value));
    variants.push(
      fc
        .tuple(valid, fc.constantFrom(...DEVICE_KEYS), unicodeDevEui, fc.boolean())
        .map(([body, key, devEui, raw]) => {
          const members = [...withoutDevice(body.members), [key, text(devEui)] as const];
          // Raw, a lone surrogate reaches the body as U+FFFD; escaped, JSON.parse restores it.
          const sent = raw
            ? objectText(members).replace(text(devEui), () => `"${devEui}"`)
            : objectText(members);
          return bad(`unicode ${key}${raw ? ', unescaped' : ''}`, sent, invalidAt(key));
        })
        .filter(({ body }) => parses(Buffer.from(body))),
    );
  }
  const numeric = fieldsOf(route)
    .filter(([, kind]) => !kind.takesStrings)
    .map(([key]) => key);
  if (numeric.length > 0) {
    variants.push(
      fc
        .tuple(
          valid,
          fc.constantFrom(...numeric),
          fc.constantFrom('１０', '٣', '²', 'Ⅻ', '𝟏', '1\u200b', '\ud800'),
        )
        .map(([body, key, digits]) => {
          const members = [
            ...body.members.filter(([name]) => name !== key),
            [key, text(digits)] as const,
          ];
          return bad(`${key} in unicode digits`, objectText(members, body.layout), invalidAt(key));
        }),
    );
  }
  if (route.device === 'required') {
    // Keys that look like DevEUI but are not: the body then names no device.
    variants.push(
      fc
        .tuple(
          valid,
          fc.constantFrom('DevEU\u0406', 'D\u0435vEUI', 'DevEUI\u200b', '\ufeffDevEUI', 'ＤevEUI'),
        )
        .map(([body, key]) => {
          const members = [
            ...withoutDevice(body.members),
            [key, text('70B3D57ED0001A2B')] as const,
          ];
          return bad(
            `a look-alike key ${fc.stringify(key)}`,
            objectText(members, body.layout),
            invalidAt('DevEUI'),
          );
        }),
    );
  }
  return fc.oneof(...variants);
};

const CATEGORIES: { name: string; cases: Category }[] = [
  { name: 'bodies that are not JSON', cases: notJsonBodies },
  { name: 'JSON that is not an object', cases: notAnObject },
  { name: 'bodies over 128 KiB', cases: tooLarge },
  { name: 'DevEUIs that are not DevEUIs', cases: malformedDevEui },
  { name: 'valid bodies with one field broken', cases: oneFieldBroken },
  { name: 'deeply nested bodies', cases: deeplyNested },
  { name: '__proto__, constructor and prototype keys', cases: prototypeKeys },
  { name: 'unicode, lone surrogates and bytes that are not UTF-8', cases: unicode },
];

// ---------------------------------------------------------------------------------------------

const ENTRY_POINTS: Record<string, (env: NodeJS.ProcessEnv) => NotificationHandler> = {
  'functions/notifications/handler.ts': createNotificationHandler,
  'functions/downlinks/status/handler.ts': createDownlinkStatusHandler,
};

/** The route's handler, built the way its function's entry point builds it. */
function handlerFor(type: NotificationType): NotificationHandler {
  const { entryPoint } = NOTIFICATION_DEFINITIONS[type];
  const create = ENTRY_POINTS[entryPoint];
  if (create === undefined) throw new Error(`no handler factory for the entry point ${entryPoint}`);
  return create({
    NOTIFICATION_TYPE: type,
    TOPIC_PREFIX: PREFIX,
    PUSH_TOKEN_SECRET_ARN,
    MESSAGE_EXPIRY_SECONDS: '5',
    DOWNLINKS_TABLE_NAME: 'downlinks',
    DOWNLINK_TIMEOUT_SECONDS: '60',
  });
}

interface ErrorReply {
  error: { code: string; message: string; issues?: { path: string; message: string }[] };
}

/** The downlinks table's items, by key: emptied before each generated status. */
const downlinkItems = new Map<string, Record<string, AttributeValue>>();

/**
 * The downlinks table of a connector that never sent these downlinks and posts to no device: the
 * status function records each status, finds no POST for it and none in flight, and republishes it
 * as it came (with its state, without requestId). Only the writes of that path are modelled: SET of
 * plain values, under attribute_not_exists conditions; the device lease is never held.
 */
function downlinksTableWithoutTheseDownlinks(): void {
  const conditionFailed = () =>
    new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: {},
    });
  aws.dynamo.on(UpdateItemCommand).callsFake((input: UpdateItemCommand['input']) => {
    const { Key, UpdateExpression = '', ConditionExpression = '' } = input;
    const values = input.ExpressionAttributeValues ?? {};
    const id = JSON.stringify(Key);
    const item = { ...(downlinkItems.get(id) ?? Key) };
    if (ConditionExpression.includes('leaseUntil')) throw conditionFailed();
    for (const [, name] of ConditionExpression.matchAll(/attribute_not_exists\((\w+)\)/g))
      if (name !== undefined && item[name] !== undefined) throw conditionFailed();
    const sets = UpdateExpression.replace(/^SET /, '').split(', ');
    for (const set of sets) {
      const [, name, value] = /^(\w+) = (:\w+)$/.exec(set) ?? [];
      const attribute = value === undefined ? undefined : values[value];
      if (name === undefined || attribute === undefined)
        throw new Error(`not modelled by this fake table: ${UpdateExpression}`);
      item[name] = attribute;
    }
    downlinkItems.set(id, item);
    return { Attributes: item };
  });
  aws.dynamo.on(GetItemCommand).callsFake((input: GetItemCommand['input']) => ({
    Item: downlinkItems.get(JSON.stringify(input.Key)),
  }));
}

beforeEach(() => {
  resetAws(aws, { pushToken: SAMPLE_PUSH_TOKEN });
  downlinkItems.clear();
  downlinksTableWithoutTheseDownlinks();
  aws.sfn.onAnyCommand().rejects(new Error('no executions in this test'));
  captureLogs();
});

describe('Hardening: generated notification bodies', () => {
  describe.each(NOTIFICATION_TYPES)('%s', (type) => {
    const route = ROUTES[type];
    const { callbackPath } = NOTIFICATION_DEFINITIONS[type];
    const handler = handlerFor(type);
    const push = async (
      body: string | Uint8Array,
      base64: boolean,
    ): Promise<APIGatewayProxyStructuredResultV2> =>
      handler(
        pushEvent({
          path: callbackPath,
          body: typeof body === 'string' ? body : Buffer.from(body),
          base64,
        }),
        lambdaContext,
      );

    it.each(CATEGORIES.map(({ name, cases }) => [name, cases] as const))(
      'refuses %s with a 4xx naming the problem and publishes nothing',
      async (_, cases) => {
        await fc.assert(
          fc.asyncProperty(cases(route), async (badBody) => {
            // Prepare
            aws.iot.resetHistory();
            const logs = captureLogs();

            // Act
            const response = await push(badBody.body, badBody.base64);

            // Assess
            const { expected } = badBody;
            expect(response.statusCode).toBe(expected.status);
            expect(response.headers?.['content-type']).toBe('application/json');
            const { error } = JSON.parse(response.body ?? '') as ErrorReply;
            expect(error.code).toBe(expected.code);
            expect(error.message).toMatch(expected.message);
            if (expected.path !== undefined) {
              expect(error.issues?.map(({ path }) => path.split('.')[0])).toContain(expected.path);
            }
            expect(publishedMessages(aws.iot)).toEqual([]);
            const lines = logs.entries();
            expect(lines).toContainEqual(
              expect.objectContaining({
                level: 'WARN',
                message: 'request refused',
                code: expected.code,
              }),
            );
            expect(lines.filter((line) => line.level === 'ERROR')).toEqual([]);
            expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          }),
          FUZZ,
        );
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'publishes generated valid bodies byte for byte to their topic and replies 200',
      async () => {
        await fc.assert(
          fc.asyncProperty(
            validBody(route),
            fc.boolean(),
            async ({ members, layout, devEui }, base64) => {
              // Prepare
              aws.iot.resetHistory();
              downlinkItems.clear();
              const body = objectText(members, layout);
              const topic =
                devEui === undefined
                  ? `${PREFIX}/${route.topicSuffix}`
                  : `${PREFIX}/${devEui}/${route.topicSuffix}`;

              // Act
              const response = await push(body, base64);

              // Assess
              expect(response.statusCode).toBe(200);
              expect(JSON.parse(response.body ?? '')).toEqual({ published: topic });
              const published = publishedMessages(aws.iot);
              expect(published).toHaveLength(1);
              expect(published[0]).toMatchObject({ topic, qos: route.qos });
              const expected = Buffer.from(expectedPayload(type, body, members));
              expect(published[0]?.text).toBe(expected.toString('utf8'));
              expect(published[0]?.payload.equals(expected)).toBe(true);
            },
          ),
          FUZZ,
        );
      },
      TEST_TIMEOUT_MS,
    );
  });
});

/** What a route publishes for a valid body: the body, and for downlink statuses its state added. */
function expectedPayload(type: NotificationType, body: string, members: readonly Member[]): string {
  if (type !== 'downlink_status') return body;
  const status = Number(members.find(([key]) => key === 'transmissionStatus')?.[1]);
  const end = body.lastIndexOf('}');
  return `${body.slice(0, end)},"state":"${transmissionState(status)}"${body.slice(end)}`;
}
