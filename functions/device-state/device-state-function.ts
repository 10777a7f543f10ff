import { DeviceCodecs } from '../codecs/device-codecs.js';
import { dynamoDbCodecStore } from '../codecs/codec-store.js';
import type { DecodedUplink } from '../codecs/ts013.js';
import type { RuleInput } from '../downlinks/downlink-request.js';
import { dynamoDbClient } from '../shared/clients/dynamodb-client.js';
import { iotDataClient } from '../shared/clients/iot-data-client.js';
import { ConfigurationError, requireOneOfEnv } from '../shared/config.js';
import { logger } from '../shared/logger.js';
import { METRIC, MetricUnit, emitMetric } from '../shared/metrics.js';
import { boundByDeadline, observedHandler } from '../shared/observability.js';
import { iotPublisher, type Publish } from '../shared/publish.js';
import { withMembers } from '../shared/raw-json.js';
import { DECODED_UPLINK_SUFFIX, deviceTopic, topicPrefixFromEnv } from '../shared/topics.js';
import {
  deviceMessage,
  shadowSection,
  uplinkFacts,
  type DeviceMessage,
  type UplinkFacts,
} from './device-messages.js';
import { orbiwanProfiles } from './device-profiles.js';
import { encodedRequest, type EncodeObject } from './encode-request.js';
import { isRecord, type ShadowSection } from './shadow-sections.js';
import { iotShadowStore, writeSections, type ShadowStore } from './shadow-writer.js';

// The device-state function: behind IoT rules on the topics the connector publishes, never in the
// way of a republish. For an uplink of a device with a codec it publishes the decoded uplink on
// `.../uplink/decoded`; with shadows on, it writes what each message says into the device's shadow.

export interface DeviceStateDeps {
  topicPrefix: string;
  /** How OrbiWAN encodes dataFrame in its pushes (the stack's PushDataFormat). */
  dataFormat: 'base64' | 'hex';
  publish: Publish;
  /** Undefined when payload codecs are off. */
  codecs: DeviceCodecs | undefined;
  /** Undefined when shadows are off. */
  shadows: ShadowStore | undefined;
}

export interface DeviceStateOutcome {
  decoded: boolean;
  shadow: 'updated' | 'stale' | 'off';
}

export async function followDeviceState(
  message: DeviceMessage,
  deps: DeviceStateDeps,
): Promise<DeviceStateOutcome> {
  logger.appendKeys({ devEui: message.devEui });
  let uplink: UplinkFacts | undefined;
  let decoded: DecodedUplink | undefined;
  if (message.suffix === 'uplink') {
    uplink = uplinkFacts(message, deps.dataFormat);
    if (deps.codecs !== undefined)
      decoded = await publishDecoded(message.devEui, uplink, deps.codecs, deps);
  }
  if (deps.shadows === undefined) return { decoded: decoded !== undefined, shadow: 'off' };
  // A downlink status that adds nothing (a duplicate, or one behind the lifecycle) is not news.
  if (message.body.stale === true) {
    emitMetric(METRIC.shadowStaleSkips, MetricUnit.Count, 1);
    return { decoded: false, shadow: 'stale' };
  }
  const section = withDecodedData(shadowSection(message, uplink), decoded);
  const written = await writeSections(deps.shadows, message.devEui, [section]);
  emitMetric(
    written.outcome === 'updated' ? METRIC.shadowUpdates : METRIC.shadowStaleSkips,
    MetricUnit.Count,
    1,
  );
  return { decoded: decoded !== undefined, shadow: written.outcome };
}

async function publishDecoded(
  devEui: string,
  uplink: UplinkFacts,
  codecs: DeviceCodecs,
  { topicPrefix, publish }: DeviceStateDeps,
): Promise<DecodedUplink | undefined> {
  // FPort 0 carries MAC commands only: nothing of the application's to decode.
  if (uplink.port === 0) return undefined;
  const started = performance.now();
  const coded = await codecs.decodeUplink(devEui, {
    bytes: [...uplink.bytes],
    fPort: uplink.port,
    recvTime: uplink.time,
  });
  if (coded === undefined) return undefined;
  emitMetric(METRIC.decodeDuration, MetricUnit.Milliseconds, performance.now() - started);
  const { codec, result } = coded;
  if (result.errors.length > 0) {
    emitMetric(METRIC.decodeErrors, MetricUnit.Count, 1);
    logger.warn('codec reported errors', { codec, errors: result.errors });
  }
  await publish({
    topic: deviceTopic(topicPrefix, devEui, DECODED_UPLINK_SUFFIX),
    // OrbiWAN's id as it sent it: a 64-bit number does not survive JSON.parse.
    payload: withMembers(
      '{}',
      { DevEUI: devEui, fcnt: uplink.fcnt, port: uplink.port, time: uplink.time, codec, ...result },
      uplink.id === undefined
        ? {}
        : { id: /^\d+$/.test(uplink.id) ? uplink.id : JSON.stringify(uplink.id) },
    ),
    qos: 1,
  });
  return result;
}

// A shadow's state document holds 8 KB, nested at most 6 levels from `reported`: the decoded data
// gets half of it and the levels below reported.uplink.data; what does not fit stays on MQTT only.
const MAX_SHADOW_DATA_BYTES = 4096;
const MAX_SHADOW_DATA_DEPTH = 4;

function withDecodedData(
  section: ShadowSection,
  decoded: DecodedUplink | undefined,
): ShadowSection {
  if (decoded === undefined) return section;
  const { data } = decoded;
  const fits =
    data !== undefined &&
    Buffer.byteLength(JSON.stringify(data)) <= MAX_SHADOW_DATA_BYTES &&
    depth(data) <= MAX_SHADOW_DATA_DEPTH &&
    // IoT Core refuses an update with a null in an array (400 Invalid JSON): the write would fail
    // on every retry.
    !hasNullInArray(data);
  return {
    ...section,
    value: {
      ...section.value,
      ...(fits ? { data } : {}),
      ...(data !== undefined && !fits
        ? { dataOmitted: 'too large or too deep for the shadow' }
        : {}),
      ...(decoded.errors.length > 0 ? { decodeErrors: decoded.errors.slice(0, 3) } : {}),
    },
  };
}

function hasNullInArray(value: unknown): boolean {
  if (Array.isArray(value)) return value.some((item) => item === null || hasNullInArray(item));
  return isRecord(value) && Object.values(value).some(hasNullInArray);
}

/** Levels of objects and arrays: a scalar is 0 deep, {a: 1} 1, {a: {b: 1}} 2. */
function depth(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depth));
  if (isRecord(value)) return 1 + Math.max(0, ...Object.values(value).map(depth));
  return 0;
}

/** What the state machine's EncodeObject state hands the function: the rule's message. */
export interface EncodeEvent {
  encodeRequest: RuleInput;
  /** The downlink's execution name. */
  correlationId: string;
}

function isEncodeEvent(event: unknown): event is EncodeEvent {
  return isRecord(event) && isRecord(event.encodeRequest);
}

/**
 * Two callers: the IoT rules (asynchronously) with a message the connector published, and the
 * downlink state machine's EncodeObject state with a request whose `object` it encodes.
 */
export function createDeviceStateHandler(deps: DeviceStateDeps) {
  const { codecs } = deps;
  const encode: EncodeObject | undefined =
    codecs && ((devEui, input) => codecs.encodeDownlink(devEui, input));
  return observedHandler<unknown, DeviceStateOutcome | RuleInput>((event) =>
    isEncodeEvent(event) ? event.correlationId : undefined,
  ).handler(
    boundByDeadline((event: unknown): Promise<DeviceStateOutcome | RuleInput> =>
      isEncodeEvent(event)
        ? encodedRequest(event.encodeRequest, deps.topicPrefix, encode)
        : followDeviceState(deviceMessage(event, deps.topicPrefix), deps),
    ),
  );
}

export function deviceStateHandlerFromEnv(env: NodeJS.ProcessEnv) {
  const codecsTable = env.DEVICE_CODECS_TABLE ?? '';
  const shadowName = env.SHADOW_NAME ?? '';
  if (codecsTable === '' && shadowName === '')
    throw new ConfigurationError(
      'neither DEVICE_CODECS_TABLE nor SHADOW_NAME is set: nothing to do',
    );
  return createDeviceStateHandler({
    topicPrefix: topicPrefixFromEnv(env),
    dataFormat: requireOneOfEnv('PUSH_DATA_FORMAT', ['base64', 'hex'], env),
    publish: iotPublisher(iotDataClient),
    codecs:
      codecsTable === ''
        ? undefined
        : new DeviceCodecs({
            store: dynamoDbCodecStore(dynamoDbClient, codecsTable),
            profileOf: orbiwanProfiles(env),
          }),
    shadows: shadowName === '' ? undefined : iotShadowStore(iotDataClient, shadowName),
  });
}
