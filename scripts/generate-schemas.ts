import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as z from 'zod/mini';
import { formatAs } from './generated-text.js';
import type { DownlinkErrorCode } from '../functions/downlinks/downlink-errors.js';
import { downlinkRequestSchema } from '../functions/downlinks/downlink-request.js';
import {
  transmissionState,
  type ConnectorFailure,
} from '../functions/downlinks/downlink-status.js';
import {
  downlinkStatusSchema,
  uplinkSchema,
} from '../functions/notifications/notification-schemas.js';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
  type NotificationType,
} from '../functions/notifications/notification-types.js';

// JSON Schema files for every message the connector publishes and for the downlink request, made
// from the zod schemas the functions validate with (`npm run generate` writes schemas/; a test
// fails when the files and the zod schemas differ). What zod cannot say in JSON Schema (checks
// written as code: the DevEUI forms, "DevEUI or deveui", no control characters in a requestId) is
// added here as patterns, and test/schemas holds each one to the code it stands for.

export const SCHEMAS_DIR = fileURLToPath(new URL('../schemas/', import.meta.url));
const SCHEMA_ID_BASE = 'urn:orbiwan-iot-connector:schema:';

/** OrbiWAN's DevEUI forms, as normaliseDevEui accepts them (functions/shared/dev-eui.ts). */
export const DEV_EUI_PATTERN =
  '^(?:(?:0[xX])?[0-9A-Fa-f]{16}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7})$';
/** No character of Unicode category Cc, which the request's `\p{Cc}` refinement refuses. */
export const NO_CONTROL_CHARACTERS_PATTERN = '^[^\\u0000-\\u001F\\u007F-\\u009F]*$';

// Records, so that the compiler names a code or failure state added to the functions but not here.
const ERROR_CODES = Object.keys({
  INVALID_DOWNLINK: true,
  NO_CODEC: true,
  ENCODING_FAILED: true,
  UNKNOWN_DEVICE: true,
  DEVICE_BUSY: true,
  ORBIWAN_REJECTED: true,
  ORBIWAN_UNAVAILABLE: true,
  TIMED_OUT: true,
  INTERNAL_ERROR: true,
} satisfies Record<DownlinkErrorCode, true>);
const FAILURE_STATES = Object.keys({
  error: true,
  timed_out: true,
} satisfies Record<ConnectorFailure['state'], true>);

const TRANSMISSION_STATUSES = [0, 1, 2, 3, 4, 5] as const;

// The parts of the functions' schemas that the status messages share.
const orbiwanStatusShape = inputObject(downlinkStatusSchema).shape;
const devEuiField = innerType(field(inputObject(uplinkSchema).shape, 'DevEUI'));
const requestIdField = innerType(field(downlinkRequestSchema.shape, 'requestId'));
const orbiwanIdField = field(orbiwanStatusShape, 'id');
const transmissionStatusField = field(orbiwanStatusShape, 'transmissionStatus');

const descriptions = z.registry<{ title?: string; description?: string }>();

function describe<T extends z.core.$ZodType>(schema: T, description: string, title?: string): T {
  descriptions.add(schema, title === undefined ? { description } : { title, description });
  return schema;
}

const optionalRequestId = () =>
  describe(
    z.optional(requestIdField),
    "The downlink request's requestId, when it had one and the connector knows the downlink.",
  );

const optionalCorrelationId = () =>
  describe(
    z.optional(z.string()),
    "The downlink's correlation id: its execution's name in the Step Functions console, and correlation_id in the connector's logs. Present when the connector knows the downlink.",
  );

// The status messages are made as JSON text (functions/downlinks/downlink-status.ts, to keep
// OrbiWAN's bytes and 64-bit ids); these schemas say what that text is. They are loose like
// OrbiWAN's own: fields may be added, never renamed.

const stateOfTransmissionStatus = z.union(
  TRANSMISSION_STATUSES.map((status) =>
    z.looseObject({
      transmissionStatus: z.literal(status),
      state: z.literal(transmissionState(status)),
    }),
  ),
);

const republishedStatus = describe(
  z.intersection(
    downlinkStatusSchema,
    z.intersection(
      stateOfTransmissionStatus,
      z.looseObject({
        requestId: optionalRequestId(),
        stale: z.optional(
          describe(
            z.literal(true),
            'Present when OrbiWAN repeated the status, or sent it after a later one: it does not move the lifecycle.',
          ),
        ),
        correlationId: optionalCorrelationId(),
      }),
    ),
  ),
  'A status OrbiWAN pushed (or, asked before a timeout, answered), as it sent it, with `state` (transmissionStatus in words), `requestId`, `stale` and `correlationId` added at the end.',
  "OrbiWAN's status, republished",
);

const acceptedStatus = describe(
  z.looseObject({
    id: orbiwanIdField,
    fcnt: field(orbiwanStatusShape, 'fcnt'),
    port: field(orbiwanStatusShape, 'port'),
    transmissionStatus: z.optional(transmissionStatusField),
    session_id: field(orbiwanStatusShape, 'session_id'),
    DevEUI: describe(
      z.string().check(z.regex(/^[0-9a-f]{16}$/)),
      'The DevEUI from the request topic, as 16 lowercase hex digits.',
    ),
    requestId: optionalRequestId(),
    state: z.literal('accepted'),
    correlationId: optionalCorrelationId(),
  }),
  "OrbiWAN's reply to the downlink POST, as it sent it, with `DevEUI`, `requestId`, `state` and `correlationId` added.",
  'accepted',
);

const failureStatus = describe(
  z.looseObject({
    DevEUI: describe(
      z.string(),
      'The DevEUI from the request topic: 16 lowercase hex digits, or the topic level as it was when it is not a DevEUI.',
    ),
    id: z.optional(orbiwanIdField),
    requestId: optionalRequestId(),
    transmissionStatus: describe(
      z.optional(transmissionStatusField),
      "OrbiWAN's last known status, if any.",
    ),
    state: z.enum(FAILURE_STATES),
    error: z.looseObject({
      code: z.enum(ERROR_CODES),
      message: describe(z.string(), 'What happened, for people; match on `code`.'),
    }),
    correlationId: optionalCorrelationId(),
  }),
  'Made by the connector when a downlink fails (`error`) or gets no final status in time (`timed_out`).',
  'error or timed_out',
);

const downlinkStatusMessage = z.union([republishedStatus, acceptedStatus, failureStatus]);

// The request's fields, as docs/downlinks.md's table describes them.
const requestShape = downlinkRequestSchema.shape;
describe(
  requestShape.data,
  'The payload in hex, two digits per byte, 0 to 242 bytes. Give data and port, or object.',
);
describe(
  requestShape.object,
  "Instead of data, with PayloadCodecs: any JSON, which the device's payload codec encodes (TS013 encodeDownlink); its fPort, else port, is the port.",
);
describe(requestShape.port, 'LoRaWAN FPort, 1..223; required with data.');
describe(
  requestShape.confirmed,
  'Ask the device to acknowledge; default: the stack parameter DownlinkConfirmedDefault (true).',
);
describe(
  requestShape.mode,
  'What OrbiWAN does when downlinks are pending for the device: queue behind them (at most 10), fail, or replace them; default: DownlinkModeDefault.',
);
describe(
  requestShape.fcnt,
  "The downlink frame counter, when OrbiWAN does not hold the device's keys.",
);
describe(
  requestShape.requestId,
  'Your reference, 1..128 characters without control characters, echoed on every status of this downlink.',
);

interface MessageSchema {
  /** The file is schemas/{name}.schema.json. */
  name: string;
  title: string;
  description: string;
  schema: z.core.$ZodType;
}

function notificationMessage(type: Exclude<NotificationType, 'downlink_status'>): MessageSchema {
  const { topicSuffix, pushSubscription, schema, device, label } = NOTIFICATION_DEFINITIONS[type];
  const topic = {
    required: `{prefix}/{deveui}/${topicSuffix}`,
    optional: `{prefix}/{deveui}/${topicSuffix}, or {prefix}/${topicSuffix} when it names no device`,
    none: `{prefix}/${topicSuffix}`,
  }[device];
  const naming = {
    required:
      " It names its device by `DevEUI` or the older `deveui`, in any of OrbiWAN's forms; both, if present, name the same device.",
    optional:
      " A device, if it names one, is named by `DevEUI` or the older `deveui`, in any of OrbiWAN's forms; both, if present, name the same device.",
    none: '',
  }[device];
  const from =
    pushSubscription === undefined
      ? 'OrbiWAN pushes it (undocumented by OrbiWise)'
      : `OrbiWAN pushes it (push_subscription ${pushSubscription})`;
  return {
    name: type.replaceAll('_', '-'),
    title: `${label.charAt(0).toUpperCase()}${label.slice(1)}`,
    description: `${from}; the connector publishes it byte for byte on ${topic}. Fields not listed here are allowed.${naming}`,
    schema,
  };
}

export const MESSAGE_SCHEMAS: readonly MessageSchema[] = [
  ...NOTIFICATION_TYPES.flatMap((type) =>
    type === 'downlink_status' ? [] : [notificationMessage(type)],
  ),
  {
    name: 'downlink-status',
    title: 'Downlink status',
    description:
      "Published on {prefix}/{deveui}/downlink/status for every change of a downlink: OrbiWAN's statuses, republished with fields added, and the connector's own (accepted, error, timed_out). `state` tells them apart. OrbiWAN's `id` is a 64-bit integer that can exceed what a JavaScript number holds exactly: match by `requestId`, or parse `id` with a big-integer-safe parser.",
    schema: downlinkStatusMessage,
  },
  {
    name: 'downlink-request',
    title: 'Downlink request',
    description:
      'What an application publishes on {prefix}/{deveui}/downlink (the DevEUI comes from the topic, never from the body). Any other field is refused.',
    schema: downlinkRequestSchema,
  },
];

export function schemaId(name: string): string {
  return `${SCHEMA_ID_BASE}${name}`;
}

const requiresDevice = new Set<z.core.$ZodType>(
  NOTIFICATION_TYPES.filter((type) => NOTIFICATION_DEFINITIONS[type].device === 'required').map(
    (type) => NOTIFICATION_DEFINITIONS[type].schema,
  ),
);

/** The JSON Schema (draft 2020-12) of one message. */
export function jsonSchemaOf({ name, title, description, schema }: MessageSchema): object {
  const { $schema, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    // The bodies are published as received, before any transform: their input side is the message.
    io: 'input',
    metadata: descriptions,
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema === devEuiField) {
        jsonSchema.pattern = DEV_EUI_PATTERN;
        jsonSchema.description =
          'The DevEUI: 16 hex digits, optionally 0x-prefixed or dash-separated in pairs, in any case.';
      }
      if (zodSchema === requestIdField) jsonSchema.pattern = NO_CONTROL_CHARACTERS_PATTERN;
      if (zodSchema === requestShape.object) jsonSchema.not = { type: 'null' };
      // The request's check (downlink-request.ts), which JSON Schema says this way.
      if (zodSchema === downlinkRequestSchema)
        jsonSchema.oneOf = [
          { required: ['data', 'port'], not: { required: ['object'] } },
          { required: ['object'], not: { required: ['data'] } },
        ];
      if (requiresDevice.has(zodSchema))
        jsonSchema.anyOf = [{ required: ['DevEUI'] }, { required: ['deveui'] }];
    },
  });
  return { $schema, $id: schemaId(name), title, description, ...rest };
}

/** Every schema file as `npm run generate` writes it: file name to prettier-formatted text. */
export async function generatedSchemaFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const message of MESSAGE_SCHEMAS) {
    const file = `${message.name}.schema.json`;
    files.set(file, await formatAs(join(SCHEMAS_DIR, file), JSON.stringify(jsonSchemaOf(message))));
  }
  return files;
}

/** The zod object a notification schema validates before its transform. */
function inputObject(schema: z.core.$ZodType): z.ZodMiniObject {
  const input =
    schema._zod.def.type === 'pipe' ? (schema._zod.def as z.core.$ZodPipeDef).in : schema;
  if (!(input instanceof z.ZodMiniObject))
    throw new Error('expected an object schema (or a pipe from one)');
  return input;
}

function field(shape: z.core.$ZodShape, key: string): z.core.$ZodType {
  const schema = shape[key];
  if (schema === undefined) throw new Error(`the functions' schemas no longer have ${key}`);
  return schema;
}

function innerType(schema: z.core.$ZodType): z.core.$ZodType {
  return schema instanceof z.ZodMiniOptional ? schema._zod.def.innerType : schema;
}

async function main(): Promise<void> {
  const files = await generatedSchemaFiles();
  mkdirSync(SCHEMAS_DIR, { recursive: true });
  for (const stale of readdirSync(SCHEMAS_DIR).filter((file) => file.endsWith('.schema.json'))) {
    if (!files.has(stale)) rmSync(join(SCHEMAS_DIR, stale));
  }
  for (const [file, text] of files) writeFileSync(join(SCHEMAS_DIR, file), text);
  console.log(`wrote ${files.size} schemas to schemas/: ${[...files.keys()].join(', ')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
