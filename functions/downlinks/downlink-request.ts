import { DEV_EUI_FORMS, normaliseDevEui } from '../shared/dev-eui.js';
import type { InputIssue } from '../shared/errors.js';
import { DOWNLINK_MODES, type DownlinkMode } from '../shared/orbiwan/orbiwan-client.js';
import { DOWNLINK_STATUS_SUFFIX, DOWNLINK_SUFFIX, deviceTopic } from '../shared/topics.js';
import * as z from 'zod/mini';
import { issuesOf } from '../shared/zod.js';
import { InvalidDownlinkError } from './downlink-errors.js';

/** What the IoT rule hands the state machine for every message on {prefix}/+/downlink. */
export interface RuleInput {
  /** The MQTT payload, Base64-encoded by the rule, so that even non-JSON payloads arrive. */
  payload: string;
  topic: string;
  /** When the rule received it, in ms since the epoch. */
  receivedAt: number;
  clientId?: string;
}

/** A validated downlink: what every later state works with. */
export interface Downlink {
  /** 16 lowercase hex digits, from the topic. */
  devEui: string;
  statusTopic: string;
  /** Lowercase hex, 0 to 242 bytes. */
  data: string;
  port: number;
  confirmed: boolean;
  mode: DownlinkMode;
  fcnt?: number;
  requestId?: string;
  receivedAt: number;
}

/**
 * A valid request that carries `object` for the device's payload codec instead of `data`: a
 * Downlink once encoded (functions/downlinks/send/encode-object.ts); its port may come from the codec.
 */
export type ObjectDownlink = Omit<Downlink, 'data' | 'port'> & {
  object: unknown;
  port: number | undefined;
};

export interface DownlinkDefaults {
  topicPrefix: string;
  confirmed: boolean;
  mode: DownlinkMode;
}

export const MAX_PAYLOAD_BYTES = 242;

/**
 * The most bytes a downlink request may have. A valid one is well under 1 KB; the bound keeps
 * whatever a request holds (unknown keys, padding) and every error message about it far below
 * Step Functions' 256 KiB per state, which an execution cannot survive exceeding.
 */
export const MAX_REQUEST_BYTES = 8192;

/** At most this much of the problems is told back: enough to fix them, bounded whatever came. */
const MAX_SUMMARY_CHARACTERS = 1000;

// Strict: an unknown field is most often a typo ("confirm", "fport") that would otherwise be
// silently ignored and change what reaches the device.
const requestId = z.string().check(
  z.minLength(1),
  z.maxLength(128),
  z.refine((value) => !/\p{Cc}/u.test(value), 'expected no control characters'),
);

export const payloadHexSchema = z
  .string()
  .check(
    z.regex(/^(?:[0-9a-fA-F]{2})*$/, 'expected hex digits, two per byte'),
    z.maxLength(MAX_PAYLOAD_BYTES * 2, `expected at most ${MAX_PAYLOAD_BYTES} bytes`),
  );

export const portSchema = z.int().check(z.minimum(1), z.maximum(223));

// `data` and `port`, or `object` (and `port` if the codec does not choose it): one payload, never
// two, so that what reaches the device is never a guess between them.
export const downlinkRequestSchema = z
  .strictObject({
    data: z.optional(payloadHexSchema),
    // null is what many clients write for an absent field: refused, as data: null is.
    object: z.optional(
      z.unknown().check(z.refine((value) => value !== null, 'expected a JSON value, not null')),
    ),
    port: z.optional(portSchema),
    confirmed: z.optional(z.boolean()),
    mode: z.optional(z.enum(DOWNLINK_MODES)),
    fcnt: z.optional(z.int().check(z.minimum(0), z.maximum(0xffff_ffff))),
    requestId: z.optional(requestId),
  })
  .check((context) => {
    const { data, object, port } = context.value;
    const problem = (path: string, message: string) => {
      context.issues.push({ code: 'custom', input: context.value, path: [path], message });
    };
    if (data === undefined && object === undefined)
      problem('data', "missing: expected data (hex), or object for the device's payload codec");
    if (data !== undefined && object !== undefined)
      problem('object', 'expected data or object, not both');
    // Without object, a request is one with data: it needs a port.
    if (object === undefined && port === undefined)
      problem('port', 'missing: expected a number 1..223');
  });

export type DownlinkRequest = z.infer<typeof downlinkRequestSchema>;

/**
 * Validates a message from the rule; throws InvalidDownlinkError naming every problem. A request
 * with `object` is valid here as it stands; its encoding may still fail (send-downlink.ts).
 */
export function parseDownlink(
  input: RuleInput,
  defaults: DownlinkDefaults,
): Downlink | ObjectDownlink {
  const devEui = devEuiOfTopic(input.topic, defaults.topicPrefix);
  const issues: InputIssue[] = devEui.ok ? [] : [{ path: 'topic', message: devEui.problem }];
  const request = parseRequest(input.payload);
  if (!request.ok) issues.push(...request.issues);
  if (!devEui.ok || !request.ok) {
    const summary = issues
      .map(({ path, message }) => (path ? `${path}: ${message}` : message))
      .join('; ');
    const bounded =
      summary.length > MAX_SUMMARY_CHARACTERS
        ? `${summary.slice(0, MAX_SUMMARY_CHARACTERS)}...`
        : summary;
    // The issues go to the logs: as bounded as the message, whatever the request held.
    const logged = issues
      .slice(0, 20)
      .map(({ path, message }) => ({ path: path.slice(0, 200), message: message.slice(0, 200) }));
    throw new InvalidDownlinkError(`not a valid downlink: ${bounded}`, logged);
  }
  const { data, object, port, confirmed, mode, fcnt, requestId } = request.value;
  return {
    devEui: devEui.value,
    statusTopic: deviceTopic(defaults.topicPrefix, devEui.value, DOWNLINK_STATUS_SUFFIX),
    // The schema holds one of the two, and a port with data.
    ...(data === undefined ? { object, port } : { data: data.toLowerCase(), port: port ?? 0 }),
    confirmed: confirmed ?? defaults.confirmed,
    mode: mode ?? defaults.mode,
    ...(fcnt === undefined ? {} : { fcnt }),
    ...(requestId === undefined ? {} : { requestId }),
    receivedAt: input.receivedAt,
  };
}

/** The requestId of a request that may be invalid otherwise, so its error status still carries it. */
export function requestIdOf(payload: string): string | undefined {
  const request = parseRequest(payload);
  if (request.ok) return request.value.requestId;
  const json = request.json as { requestId?: unknown } | undefined;
  const candidate = json?.requestId;
  return requestId.safeParse(candidate).success ? (candidate as string) : undefined;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; issues: InputIssue[]; json?: unknown };

function parseRequest(payload: string): Parsed<DownlinkRequest> {
  const bytes = Buffer.from(payload, 'base64');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    json = undefined;
  }
  // Too large is refused whatever it holds; what it holds may still say its requestId.
  if (bytes.length > MAX_REQUEST_BYTES)
    return {
      ok: false,
      issues: [
        {
          path: '',
          message: `the request is ${bytes.length} bytes; a downlink request is at most ${MAX_REQUEST_BYTES}`,
        },
      ],
      json,
    };
  if (json === undefined)
    return {
      ok: false,
      issues: [
        {
          path: '',
          message: 'the payload is not JSON: expected {"data": "<hex>", "port": <1..223>}',
        },
      ],
    };
  const result = downlinkRequestSchema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: issuesOf(result.error), json };
}

type DevEuiOfTopic = { ok: true; value: string } | { ok: false; problem: string };

/** The DevEUI is the level before `downlink` in `{prefix}/{deveui}/downlink`. */
function devEuiOfTopic(topic: string, prefix: string): DevEuiOfTopic {
  const level = deviceLevel(topic, prefix);
  if (level === undefined)
    return { ok: false, problem: `expected ${prefix}/{deveui}/downlink, got "${topic}"` };
  const devEui = normaliseDevEui(level);
  return devEui === undefined
    ? { ok: false, problem: `"${level}" is not a DevEUI: expected ${DEV_EUI_FORMS}` }
    : { ok: true, value: devEui };
}

export function deviceLevel(topic: string, prefix: string): string | undefined {
  const start = `${prefix}/`;
  const end = `/${DOWNLINK_SUFFIX}`;
  if (!topic.startsWith(start) || !topic.endsWith(end)) return undefined;
  const level = topic.slice(start.length, topic.length - end.length);
  return level === '' || level.includes('/') ? undefined : level;
}
