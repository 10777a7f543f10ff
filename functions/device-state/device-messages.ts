import { normaliseDevEui } from '../shared/dev-eui.js';
import { InvalidInputError } from '../shared/errors.js';
import { rawOrbiwanId } from '../shared/raw-json.js';
import { DOWNLINK_STATUS_SUFFIX } from '../shared/topics.js';
import { eventTime, isRecord, type SectionValue, type ShadowSection } from './shadow-sections.js';

// What the device-state function receives: a message the connector itself published on a device's
// topic, as the IoT rule's SELECT hands it on (template.yaml: DeviceState*Rule), and what each
// kind of message says about the device's state.

/** The rule's SELECT: `encode(*, 'base64') AS payload, topic() AS topic, timestamp() AS receivedAt`. */
export interface DeviceStateEvent {
  payload: string;
  topic: string;
  receivedAt: number;
}

/** The topics the rules pass on, after `{prefix}/{devEui}/`. */
export const DEVICE_STATE_SUFFIXES = [
  'uplink',
  'location',
  'status',
  'joininfo',
  'nodeinfo',
  DOWNLINK_STATUS_SUFFIX,
] as const;

export type DeviceStateSuffix = (typeof DEVICE_STATE_SUFFIXES)[number];

export interface DeviceMessage {
  devEui: string;
  suffix: DeviceStateSuffix;
  /** The message as published (OrbiWAN's JSON text, which may hold 64-bit ids). */
  text: string;
  body: Record<string, unknown>;
  receivedAt: number;
}

/** The message a rule passed on; a malformed one (nothing the connector publishes) is refused. */
export function deviceMessage(event: unknown, topicPrefix: string): DeviceMessage {
  const refuse = (message: string) => new InvalidInputError('INVALID_EVENT', message);
  if (!isRecord(event) || typeof event.payload !== 'string' || typeof event.topic !== 'string')
    throw refuse('expected {payload, topic, receivedAt} from the IoT rule');
  const start = `${topicPrefix}/`;
  if (!event.topic.startsWith(start))
    throw refuse(`topic ${event.topic} is not under ${topicPrefix}`);
  const [device = '', ...rest] = event.topic.slice(start.length).split('/');
  const suffix = DEVICE_STATE_SUFFIXES.find((known) => known === rest.join('/'));
  const devEui = normaliseDevEui(device);
  if (suffix === undefined || devEui === undefined)
    throw refuse(`topic ${event.topic} is not a device topic the device state follows`);
  const text = Buffer.from(event.payload, 'base64').toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw refuse(`the message on ${event.topic} is not JSON`);
  }
  if (!isRecord(body)) throw refuse(`the message on ${event.topic} is not a JSON object`);
  // The rule's timestamp(); anything a Date cannot hold is no time at all.
  const receivedAt =
    typeof event.receivedAt === 'number' && !Number.isNaN(new Date(event.receivedAt).getTime())
      ? event.receivedAt
      : Date.now();
  return { devEui, suffix, text, body, receivedAt };
}

/** An uplink's facts, with its payload's bytes (the push's data format: Base64 or hex). */
export interface UplinkFacts {
  id: string | undefined;
  fcnt: number;
  port: number;
  time: string;
  bytes: Buffer;
}

export function uplinkFacts(
  { body, text, receivedAt }: DeviceMessage,
  dataFormat: 'base64' | 'hex',
): UplinkFacts {
  const { fcnt, port, dataFrame } = body;
  if (typeof fcnt !== 'number' || typeof port !== 'number' || typeof dataFrame !== 'string')
    throw new InvalidInputError('INVALID_EVENT', 'the uplink has no fcnt, port or dataFrame');
  return {
    id: rawOrbiwanId(text),
    fcnt,
    port,
    time: eventTime(body.timestamp, receivedAt),
    bytes: Buffer.from(dataFrame, dataFormat),
  };
}

/**
 * What each kind of message other than an uplink keeps in the shadow: its section, the field
 * that says when it happened (else when IoT Core received it), and the fields it keeps there.
 */
const SECTIONS: Record<
  Exclude<DeviceStateSuffix, 'uplink'>,
  { name: ShadowSection['name']; timeField?: string; fields: string[] }
> = {
  location: {
    name: 'location',
    timeField: 'loraloc_time',
    fields: ['latitude', 'longitude', 'altitude'],
  },
  status: {
    name: 'battery',
    timeField: 'timestamp_status',
    fields: ['battery_status', 'margin_status'],
  },
  joininfo: { name: 'join', fields: ['join_status', 'appeui'] },
  nodeinfo: {
    name: 'device',
    fields: ['device_status', 'device_class', 'registration_status', 'last_reception', 'dl_fcnt'],
  },
  [DOWNLINK_STATUS_SUFFIX]: {
    name: 'downlink',
    fields: ['requestId', 'state', 'transmissionStatus', 'correlationId'],
  },
};

/** What the message says about the device, as the shadow's section it updates. */
export function shadowSection(
  message: DeviceMessage,
  uplink: UplinkFacts | undefined,
): ShadowSection {
  const { body, receivedAt, text } = message;
  const pick = (names: string[]) =>
    Object.fromEntries(
      names.filter((name) => body[name] !== undefined).map((name) => [name, body[name]]),
    );
  // OrbiWAN's id as it sent it: a 64-bit number does not survive JSON.parse.
  const id = rawOrbiwanId(text);
  if (message.suffix === 'uplink') {
    // The uplink's own facts; its bytes do not go into the shadow, whatever their format.
    const facts = uplink ?? uplinkFacts(message, 'base64');
    const { fcnt, port, time } = facts;
    const value: SectionValue = {
      time,
      fcnt,
      port,
      ...(facts.id === undefined ? {} : { id: facts.id }),
    };
    return { name: 'uplink', value: { ...value, ...pick(['rssi', 'snr']) } };
  }
  const { name, timeField, fields } = SECTIONS[message.suffix];
  const time = eventTime(timeField === undefined ? undefined : body[timeField], receivedAt);
  const withId = name === 'downlink' && id !== undefined ? { id } : {};
  return { name, value: { time, ...pick(fields), ...withId } };
}
