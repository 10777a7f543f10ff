import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Attachment } from '../../../functions/codecs/codec-attachments.js';
import type { CodecStore } from '../../../functions/codecs/codec-store.js';
import { DeviceCodecs } from '../../../functions/codecs/device-codecs.js';
import { deviceMessage } from '../../../functions/device-state/device-messages.js';
import {
  createDeviceStateHandler,
  followDeviceState,
  type DeviceStateDeps,
} from '../../../functions/device-state/device-state-function.js';
import {
  SHADOW_ORIGIN,
  type ShadowDocument,
  type ShadowStore,
} from '../../../functions/device-state/shadow-writer.js';
import { DependencyError, InvalidInputError } from '../../../functions/shared/errors.js';
import { METRIC } from '../../../functions/shared/metrics.js';
import type { MqttMessage, Publish } from '../../../functions/shared/publish.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs, type CapturedLogs } from '../../helpers/logs.js';
import {
  BIG_ID,
  DEV_EUI,
  PREFIX,
  RECEIVED_AT_ISO,
  stateEvent,
  uplinkText,
} from './device-state-fixtures.js';
import { isJsonObject, mergeReported, viaJson } from './shadow-merge.js';

// The device-state function on fakes: a publisher that records, a shadow service in memory, and
// real DeviceCodecs over an in-memory codec store, so that the sample codec below runs in the
// QuickJS sandbox as it does in Lambda.

const CODEC = 'sample-sensor';
const OTHER_DEV_EUI = '0011223344556677';
const DECODED_TOPIC = `${PREFIX}/${DEV_EUI}/uplink/decoded`;
const UPLINK_TIME = '2026-12-05T09:59:59.500Z';

// A TS013 codec whose port says what it returns: a measurement (1), errors only (2), data with an
// error (3), data nested as many levels as the first byte says (4), a text as long as the first
// two bytes say (5), five errors (6), or readings one of which is NaN (7), null once in JSON.
const CODEC_SOURCE = `
  function nest(levels) {
    var value = 1;
    for (var i = 0; i < levels; i++) value = { level: value };
    return value;
  }
  function decodeUplink(input) {
    var b = input.bytes;
    switch (input.fPort) {
      case 1:
        return {
          data: { temperature: ((b[0] << 8) | b[1]) / 10, humidity: b[2], at: input.recvTime },
          warnings: b.length > 3 ? ['trailing bytes'] : []
        };
      case 2: return { errors: ['unknown frame type ' + b[0]] };
      case 3: return { data: { partial: true }, errors: ['checksum mismatch'] };
      case 4: return { data: nest(b[0]) };
      case 5: return { data: { text: new Array(b[0] * 256 + b[1] + 1).join('x') } };
      case 6: return { data: {}, errors: ['e1', 'e2', 'e3', 'e4', 'e5'] };
      case 7: return { data: { readings: [b[0], b[1] / 0 - b[1] / 0, b[2]] } };
    }
    return { errors: ['no port ' + input.fPort] };
  }
`;

const codecStore: CodecStore = {
  attachments: () => {
    const attachment: Attachment = { selector: { kind: 'deveui', value: DEV_EUI }, codec: CODEC };
    return Promise.resolve([attachment]);
  },
  codec: (name) =>
    Promise.resolve(
      name === CODEC ? { name, source: CODEC_SOURCE, sha256: 'sample-sensor-v1' } : undefined,
    ),
};
// One for the file, as one per container in Lambda: the codec loads once.
const codecs = new DeviceCodecs({ store: codecStore, profileOf: () => Promise.resolve(undefined) });
/** Every uplink the function asked the codecs to decode (they still decode it). */
const decodeCalls = vi.spyOn(codecs, 'decodeUplink');

/**
 * A shadow service in memory: merges as AWS does, refuses a stale version, and fails as
 * iotShadowStore fails for the updates IoT Core refuses (400: a null in an array, more than 6
 * levels of nesting; 413: over 8 KB).
 */
class MemoryShadows implements ShadowStore {
  shadow: ShadowDocument | undefined;
  readonly calls: string[] = [];

  read(thingName: string): Promise<ShadowDocument | undefined> {
    this.calls.push(`read ${thingName}`);
    return Promise.resolve(this.shadow === undefined ? undefined : viaJson(this.shadow));
  }

  update(
    thingName: string,
    reported: Record<string, unknown>,
    version: number | undefined,
  ): Promise<boolean> {
    this.calls.push(`update ${thingName} ${String(version)}`);
    const refused = (why: string) =>
      Promise.reject(new DependencyError('SHADOW_FAILED', `IoT Core refused: ${why}`, false));
    if (hasNullInArray(reported)) return refused('Invalid JSON');
    if (levels(reported, 1) > 6) return refused('too many levels of nesting');
    if (version !== undefined && version !== this.shadow?.version) return Promise.resolve(false);
    const next = mergeReported(this.shadow?.reported ?? {}, viaJson(reported));
    if (Buffer.byteLength(JSON.stringify(next)) > 8 * 1024) return refused('too large');
    this.shadow = { version: (this.shadow?.version ?? 0) + 1, reported: next };
    return Promise.resolve(true);
  }

  reported(): Record<string, unknown> {
    return this.shadow?.reported ?? {};
  }
}

function hasNullInArray(value: unknown): boolean {
  if (Array.isArray(value)) return value.some((item) => item === null || hasNullInArray(item));
  return isJsonObject(value) && Object.values(value).some(hasNullInArray);
}

/** As IoT Core counts: `reported` is level 1, each non-empty object or array inside adds one. */
function levels(value: unknown, level: number): number {
  const children = Array.isArray(value)
    ? (value as unknown[])
    : isJsonObject(value)
      ? Object.values(value)
      : [];
  if (children.length === 0) return 0;
  return Math.max(level, ...children.map((child) => levels(child, level + 1)));
}

let published: MqttMessage[];
let shadows: MemoryShadows;
let logs: CapturedLogs;

const publish: Publish = (message) => {
  published.push(message);
  return Promise.resolve();
};

beforeEach(() => {
  published = [];
  shadows = new MemoryShadows();
  logs = captureLogs();
  decodeCalls.mockClear();
});

function deps(overrides: Partial<DeviceStateDeps> = {}): DeviceStateDeps {
  return {
    topicPrefix: PREFIX,
    dataFormat: 'base64',
    publish,
    codecs,
    shadows,
    ...overrides,
  };
}

const follow = (event: unknown, overrides: Partial<DeviceStateDeps> = {}) =>
  followDeviceState(deviceMessage(event, PREFIX), deps(overrides));

/** An uplink on `port` carrying `bytes`, Base64 as the stack's default push format. */
const uplinkEvent = (port: number, bytes: number[], device = DEV_EUI) =>
  stateEvent('uplink', uplinkText({ port, dataFrame: Buffer.from(bytes).toString('base64') }), {
    device,
  });

/** The decoded uplinks published, parsed (the id loses digits: see decodedTexts). */
const decodedMessages = () =>
  published.map(({ topic, qos, payload }) => ({
    topic,
    qos,
    body: JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>,
  }));

const decodedTexts = () => published.map(({ payload }) => Buffer.from(payload).toString('utf8'));

/** The names of the metrics published, in embedded metric format lines. */
const metricNames = () =>
  logs.text().includes('_aws')
    ? logs
        .entries()
        .flatMap((entry) =>
          entry._aws === undefined
            ? []
            : Object.keys(entry).filter((key) => Object.values(METRIC).includes(key as never)),
        )
    : [];

const UPLINK_SECTION = {
  time: UPLINK_TIME,
  fcnt: 42,
  port: 1,
  id: BIG_ID,
  rssi: -87,
  snr: 7.5,
};

describe('followDeviceState, an uplink of a device with a codec', () => {
  it('publishes the decoded uplink once and writes the shadow with its data', async () => {
    const outcome = await follow(uplinkEvent(1, [0x01, 0x08, 0x59, 0x37]));

    expect(outcome).toEqual({ decoded: true, shadow: 'updated' });
    expect(decodeCalls.mock.calls).toEqual([
      [DEV_EUI, { bytes: [0x01, 0x08, 0x59, 0x37], fPort: 1, recvTime: UPLINK_TIME }],
    ]);
    const data = { temperature: 26.4, humidity: 89, at: UPLINK_TIME };
    expect(decodedMessages()).toEqual([
      {
        topic: DECODED_TOPIC,
        qos: 1,
        body: {
          id: Number(BIG_ID),
          DevEUI: DEV_EUI,
          fcnt: 42,
          port: 1,
          time: UPLINK_TIME,
          codec: CODEC,
          data,
          warnings: ['trailing bytes'],
          errors: [],
        },
      },
    ]);
    // The id as OrbiWAN sent it, every digit: JSON.parse above could not tell.
    expect(decodedTexts()[0]).toMatch(new RegExp(`^\\{"id":${BIG_ID},`));
    expect(shadows.reported()).toEqual({ ...SHADOW_ORIGIN, uplink: { ...UPLINK_SECTION, data } });
    expect(metricNames()).toEqual(
      expect.arrayContaining([METRIC.decodeDuration, METRIC.shadowUpdates]),
    );
  });

  it('reads a hex dataFrame when the stack pushes hex', async () => {
    const event = stateEvent('uplink', uplinkText({ dataFrame: '0108593702' }));

    await follow(event, { dataFormat: 'hex' });

    expect(decodedMessages()[0]?.body.data).toEqual({
      temperature: 26.4,
      humidity: 89,
      at: UPLINK_TIME,
    });
  });

  it('publishes what a codec reporting errors returned, errors included, and notes them in the shadow', async () => {
    const outcome = await follow(uplinkEvent(2, [0x07]));

    expect(outcome).toEqual({ decoded: true, shadow: 'updated' });
    const [decoded] = decodedMessages();
    expect(decoded?.topic).toBe(DECODED_TOPIC);
    expect(decoded?.body).toMatchObject({
      codec: CODEC,
      warnings: [],
      errors: ['unknown frame type 7'],
    });
    expect(decoded?.body).not.toHaveProperty('data');
    expect(shadows.reported().uplink).toEqual({
      ...UPLINK_SECTION,
      port: 2,
      decodeErrors: ['unknown frame type 7'],
    });
    expect(metricNames()).toContain(METRIC.decodeErrors);
    expect(logs.text()).toContain('codec reported errors');
  });

  it('keeps data and errors both when a codec returns both, the shadow the first 3 errors', async () => {
    await follow(uplinkEvent(3, [0]));
    expect(shadows.reported().uplink).toMatchObject({
      data: { partial: true },
      decodeErrors: ['checksum mismatch'],
    });

    await follow(stateEvent('uplink', uplinkText({ port: 6, fcnt: 43, dataFrame: 'AA==' })));
    expect(decodedMessages()[1]?.body.errors).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    expect(shadows.reported().uplink).toEqual({
      ...UPLINK_SECTION,
      fcnt: 43,
      port: 6,
      data: {},
      decodeErrors: ['e1', 'e2', 'e3'],
    });
  });

  it('keeps data 4 levels deep in the shadow', async () => {
    await follow(uplinkEvent(4, [4]));

    expect(shadows.reported().uplink).toMatchObject({
      data: { level: { level: { level: { level: 1 } } } },
    });
    expect(shadows.reported().uplink).not.toHaveProperty('dataOmitted');
  });

  it('leaves data more than 4 levels deep out of the shadow, on MQTT only', async () => {
    const outcome = await follow(uplinkEvent(4, [5]));

    expect(outcome).toEqual({ decoded: true, shadow: 'updated' });
    expect(decodedMessages()[0]?.body.data).toEqual({
      level: { level: { level: { level: { level: 1 } } } },
    });
    expect(shadows.reported().uplink).toEqual({
      ...UPLINK_SECTION,
      port: 4,
      dataOmitted: 'too large or too deep for the shadow',
    });
  });

  it('keeps data of 4096 bytes of JSON in the shadow', async () => {
    // {"text":"x...x"}: 11 bytes and the text.
    await follow(uplinkEvent(5, [15, 245]));

    const uplink = shadows.reported().uplink as Record<string, unknown>;
    expect(Buffer.byteLength(JSON.stringify(uplink.data))).toBe(4096);
    expect(uplink).not.toHaveProperty('dataOmitted');
  });

  it('leaves data over 4096 bytes of JSON out of the shadow, on MQTT only', async () => {
    await follow(uplinkEvent(5, [15, 246]));

    const data = decodedMessages()[0]?.body.data;
    expect(Buffer.byteLength(JSON.stringify(data))).toBe(4097);
    expect(shadows.reported().uplink).toEqual({
      ...UPLINK_SECTION,
      port: 5,
      dataOmitted: 'too large or too deep for the shadow',
    });
  });

  it('leaves data with a null in an array (a NaN, in JSON) out of the shadow, which IoT Core would refuse', async () => {
    const outcome = await follow(uplinkEvent(7, [4, 5, 6]));

    expect(outcome).toEqual({ decoded: true, shadow: 'updated' });
    expect(decodedMessages()[0]?.body.data).toEqual({ readings: [4, null, 6] });
    expect(shadows.reported().uplink).toEqual({
      ...UPLINK_SECTION,
      port: 7,
      dataOmitted: 'too large or too deep for the shadow',
    });
  });

  it('replaces earlier decoded data with the newer uplink’s, leaving no old field', async () => {
    await follow(uplinkEvent(1, [0x01, 0x08, 0x59]));
    await follow(stateEvent('uplink', uplinkText({ port: 3, fcnt: 43, dataFrame: 'AA==' })));

    expect(shadows.reported().uplink).toEqual({
      ...UPLINK_SECTION,
      fcnt: 43,
      port: 3,
      data: { partial: true },
      decodeErrors: ['checksum mismatch'],
    });
  });

  it('still publishes an older uplink decoded, but leaves the shadow as it is', async () => {
    await follow(stateEvent('uplink', uplinkText({ fcnt: 50, dataFrame: 'AQhZ' })));
    const before = viaJson(shadows.shadow);

    const outcome = await follow(stateEvent('uplink', uplinkText({ fcnt: 49, dataFrame: 'AQha' })));

    expect(outcome).toEqual({ decoded: true, shadow: 'stale' });
    expect(decodedMessages().map(({ body }) => body.fcnt)).toEqual([50, 49]);
    expect(shadows.shadow).toEqual(before);
    expect(metricNames()).toContain(METRIC.shadowStaleSkips);
  });

  it('fails when the decoded uplink is not published, writing no shadow, so that Lambda retries', async () => {
    const failure = new DependencyError('PUBLISH_FAILED', 'AWS IoT Core did not accept', false);

    await expect(
      follow(uplinkEvent(1, [1, 2, 3]), { publish: () => Promise.reject(failure) }),
    ).rejects.toBe(failure);
    expect(shadows.calls).toEqual([]);
  });
});

describe('followDeviceState, without a codec or a part switched off', () => {
  it('publishes nothing decoded for a device without a codec, and writes the shadow without data', async () => {
    const outcome = await follow(uplinkEvent(1, [1, 8, 89], OTHER_DEV_EUI));

    expect(outcome).toEqual({ decoded: false, shadow: 'updated' });
    expect(published).toEqual([]);
    expect(shadows.calls[0]).toBe(`read ${OTHER_DEV_EUI}`);
    expect(shadows.reported()).toEqual({ ...SHADOW_ORIGIN, uplink: UPLINK_SECTION });
  });

  it('decodes nothing on FPort 0 (MAC commands), though the codec is attached for every port', async () => {
    const outcome = await follow(uplinkEvent(0, [0x02]));

    expect(outcome).toEqual({ decoded: false, shadow: 'updated' });
    expect(decodeCalls.mock.calls).toEqual([]);
    expect(published).toEqual([]);
    expect(shadows.reported().uplink).toEqual({ ...UPLINK_SECTION, port: 0 });
  });

  it('with shadows off, publishes the decoded uplink and touches no shadow', async () => {
    const outcome = await follow(uplinkEvent(1, [1, 8, 89]), { shadows: undefined });

    expect(outcome).toEqual({ decoded: true, shadow: 'off' });
    expect(decodedMessages().map(({ topic }) => topic)).toEqual([DECODED_TOPIC]);
    expect(shadows.calls).toEqual([]);
  });

  it('with codecs off, decodes nothing and writes the shadow without data', async () => {
    const outcome = await follow(uplinkEvent(1, [1, 8, 89]), { codecs: undefined });

    expect(outcome).toEqual({ decoded: false, shadow: 'updated' });
    expect(published).toEqual([]);
    expect(decodeCalls.mock.calls).toEqual([]);
    expect(shadows.reported()).toEqual({ ...SHADOW_ORIGIN, uplink: UPLINK_SECTION });
  });

  it('decodes nothing for a message other than an uplink, and writes its section', async () => {
    const text = '{"latitude":46.2,"longitude":6.14,"loraloc_time":"2026-12-05T09:58:00Z"}';

    const outcome = await follow(stateEvent('location', text));

    expect(outcome).toEqual({ decoded: false, shadow: 'updated' });
    expect(published).toEqual([]);
    expect(decodeCalls.mock.calls).toEqual([]);
    expect(shadows.reported()).toEqual({
      ...SHADOW_ORIGIN,
      location: { time: '2026-12-05T09:58:00.000Z', latitude: 46.2, longitude: 6.14 },
    });
  });

  it('writes nothing for a downlink status flagged stale', async () => {
    const text = `{"id":${BIG_ID},"transmissionStatus":2,"state":"acknowledged","stale":true}`;

    const outcome = await follow(stateEvent('downlink/status', text));

    expect(outcome).toEqual({ decoded: false, shadow: 'stale' });
    expect(shadows.calls).toEqual([]);
    expect(published).toEqual([]);
  });

  it('writes the downlink section for a downlink status not flagged stale', async () => {
    const text = `{"id":${BIG_ID},"transmissionStatus":2,"state":"acknowledged","stale":false}`;

    await follow(stateEvent('downlink/status', text));

    expect(shadows.reported().downlink).toEqual({
      time: RECEIVED_AT_ISO,
      state: 'acknowledged',
      transmissionStatus: 2,
      id: BIG_ID,
    });
  });
});

describe('createDeviceStateHandler', () => {
  it('answers the outcome of the event it is given', async () => {
    const handler = createDeviceStateHandler(deps());

    const outcome = await handler(uplinkEvent(1, [1, 8, 89]), lambdaContext);

    expect(outcome).toEqual({ decoded: true, shadow: 'updated' });
    expect(decodedMessages().map(({ topic }) => topic)).toEqual([DECODED_TOPIC]);
    expect(shadows.reported()).toHaveProperty('uplink.data.humidity', 89);
  });

  it('rejects a malformed event with the InvalidInputError, doing nothing', async () => {
    const handler = createDeviceStateHandler(deps());
    const event = stateEvent('uplink/decoded', uplinkText());

    const error: unknown = await handler(event, lambdaContext).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ code: 'INVALID_EVENT' });
    expect(published).toEqual([]);
    expect(shadows.calls).toEqual([]);
  });
});
