import { describe, expect, it } from 'vitest';
import {
  DEVICE_STATE_SUFFIXES,
  deviceMessage,
  shadowSection,
  uplinkFacts,
  type DeviceMessage,
} from '../../../functions/device-state/device-messages.js';
import { InvalidInputError } from '../../../functions/shared/errors.js';
import {
  BIG_ID,
  DEV_EUI,
  PREFIX,
  RECEIVED_AT,
  RECEIVED_AT_ISO,
  stateEvent,
  uplinkText,
} from './device-state-fixtures.js';

// What the device-state function makes of the messages the rules pass on: the event checked, an
// uplink's facts, and the shadow section each kind of message updates.

const BODY = '{"DevEUI":"70B3D57ED0001A2B","fcnt":1}';

function refusal(event: unknown, prefix = PREFIX): InvalidInputError {
  try {
    deviceMessage(event, prefix);
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error('the event was accepted');
}

const message = (suffix: string, text: string, receivedAt = RECEIVED_AT): DeviceMessage =>
  deviceMessage(stateEvent(suffix, text, { receivedAt }), PREFIX);

describe('deviceMessage', () => {
  describe.each([
    ['1 level', 'orbiwan'],
    ['3 levels', 'acme/lorawan/eu'],
  ])('under a prefix of %s', (_levels, prefix) => {
    it.each([...DEVICE_STATE_SUFFIXES])('accepts a message on %s', (suffix) => {
      const event = stateEvent(suffix, BODY, { prefix });

      expect(deviceMessage(event, prefix)).toEqual({
        devEui: DEV_EUI,
        suffix,
        text: BODY,
        body: { DevEUI: '70B3D57ED0001A2B', fcnt: 1 },
        receivedAt: RECEIVED_AT,
      });
    });
  });

  it('lists the six suffixes the rules pass on', () => {
    expect([...DEVICE_STATE_SUFFIXES].sort()).toEqual(
      ['downlink/status', 'joininfo', 'location', 'nodeinfo', 'status', 'uplink'].sort(),
    );
  });

  it.each([
    ['upper case', '70B3D57ED0001A2B'],
    ['0x-prefixed', '0x70B3d57ed0001a2b'],
    ['dash-separated', '70-B3-D5-7E-D0-00-1A-2B'],
  ])('normalises a DevEUI written in %s', (_form, device) => {
    expect(deviceMessage(stateEvent('uplink', BODY, { device }), PREFIX).devEui).toBe(DEV_EUI);
  });

  it('keeps the text as published, bytes beyond ASCII included', () => {
    const text = '{"DevEUI":"70b3d57ed0001a2b","note":"température ✓","id":18014398509481985}';

    const parsed = message('nodeinfo', text);

    expect(parsed.text).toBe(text);
    expect(parsed.body.note).toBe('température ✓');
  });

  it.each([
    ['no receivedAt', undefined],
    ['a receivedAt no Date can hold', 1e20],
    ['a receivedAt that is not a number', 'yesterday'],
  ])('takes the time it is called at when the rule gave %s', (_, given) => {
    const { payload, topic } = stateEvent('status', BODY);
    const before = Date.now();

    const { receivedAt } = deviceMessage({ payload, topic, receivedAt: given }, PREFIX);

    expect(receivedAt).toBeGreaterThanOrEqual(before);
    expect(receivedAt).toBeLessThanOrEqual(Date.now());
  });

  it.each([
    ['nothing', undefined],
    ['null', null],
    ['a string', 'orbiwan/lorawan/70b3d57ed0001a2b/uplink'],
    ['an array', [stateEvent('uplink', BODY)]],
    ['an event without payload', { topic: `${PREFIX}/${DEV_EUI}/uplink`, receivedAt: 1 }],
    ['an event without topic', { payload: 'e30=', receivedAt: 1 }],
    ['a payload that is not a string', { payload: 7, topic: `${PREFIX}/${DEV_EUI}/uplink` }],
  ])('refuses %s as an event', (_what, event) => {
    const error = refusal(event);

    expect(error.code).toBe('INVALID_EVENT');
    expect(error.message).toMatch(/expected \{payload, topic, receivedAt\}/);
  });

  it.each([
    ['another prefix', `other/${DEV_EUI}/uplink`],
    ['a prefix that only starts the same', `${PREFIX}x/${DEV_EUI}/uplink`],
    ['a shorter prefix', `orbiwan/${DEV_EUI}/uplink`],
    ['the prefix alone', PREFIX],
  ])('refuses a topic outside the prefix: %s', (_what, topic) => {
    const error = refusal({ payload: 'e30=', topic, receivedAt: RECEIVED_AT });

    expect(error.code).toBe('INVALID_EVENT');
    expect(error.message).toBe(`topic ${topic} is not under ${PREFIX}`);
  });

  it.each([
    ['the decoded uplink', 'uplink/decoded'],
    ['a downlink request', 'downlink'],
    ['an alarm', 'alarm'],
    ['a status with more levels', 'status/extra'],
    ['no suffix', ''],
    ['a suffix in upper case', 'UPLINK'],
  ])('refuses %s as a topic the device state does not follow', (_what, suffix) => {
    const event = stateEvent(suffix, BODY);

    const error = refusal(event);

    expect(error.code).toBe('INVALID_EVENT');
    expect(error.message).toBe(
      `topic ${event.topic} is not a device topic the device state follows`,
    );
  });

  it.each([
    ['15 digits', '70b3d57ed0001a2'],
    ['17 digits', '70b3d57ed0001a2b0'],
    ['a letter beyond hex', '70b3d57ed0001a2g'],
    ['a wildcard', '+'],
    ['nothing', ''],
  ])('refuses a DevEUI of %s', (_what, device) => {
    const event = stateEvent('uplink', BODY, { device });

    const error = refusal(event);

    expect(error.code).toBe('INVALID_EVENT');
    expect(error.message).toBe(
      `topic ${event.topic} is not a device topic the device state follows`,
    );
  });

  it.each([
    ['text', 'not json'],
    ['truncated JSON', '{"DevEUI":"70b3'],
    ['nothing', ''],
  ])('refuses a payload of %s as not JSON', (_what, text) => {
    const event = stateEvent('location', text);

    const error = refusal(event);

    expect(error.code).toBe('INVALID_EVENT');
    expect(error.message).toBe(`the message on ${event.topic} is not JSON`);
  });

  it.each([
    ['an array', '[{"DevEUI":"70b3d57ed0001a2b"}]'],
    ['a string', '"uplink"'],
    ['a number', '42'],
    ['null', 'null'],
  ])('refuses JSON that is %s as not an object', (_what, text) => {
    const event = stateEvent('status', text);

    const error = refusal(event);

    expect(error.code).toBe('INVALID_EVENT');
    expect(error.message).toBe(`the message on ${event.topic} is not a JSON object`);
  });
});

describe('uplinkFacts', () => {
  const BYTES = [0x01, 0x08, 0x59, 0x37, 0x0d, 0xac];

  it('reads a Base64 dataFrame, and keeps every digit of a 64-bit id', () => {
    const text = uplinkText({ dataFrame: 'AQhZNw2s' });
    expect(text).toContain(`"id":${BIG_ID}`);

    expect(uplinkFacts(message('uplink', text), 'base64')).toEqual({
      id: BIG_ID,
      fcnt: 42,
      port: 1,
      time: '2026-12-05T09:59:59.500Z',
      bytes: Buffer.from(BYTES),
    });
  });

  it('reads a hex dataFrame, in either case', () => {
    for (const dataFrame of ['010859370dac', '010859370DAC']) {
      const facts = uplinkFacts(message('uplink', uplinkText({ dataFrame })), 'hex');

      expect([...facts.bytes]).toEqual(BYTES);
    }
  });

  it('reads an id OrbiWAN sent as a string', () => {
    const text = `{"id":"${BIG_ID}","fcnt":1,"port":2,"dataFrame":""}`;

    expect(uplinkFacts(message('uplink', text), 'base64').id).toBe(BIG_ID);
  });

  it('has no id when the uplink has none, and no bytes for an empty dataFrame', () => {
    const facts = uplinkFacts(message('uplink', '{"fcnt":0,"port":1,"dataFrame":""}'), 'base64');

    expect(facts.id).toBeUndefined();
    expect(facts.bytes).toHaveLength(0);
  });

  it.each([
    ['an ISO time', '2026-12-05T09:59:59Z', '2026-12-05T09:59:59.000Z'],
    ['epoch seconds', 1_796_464_800, '2026-12-05T10:00:00.000Z'],
    ['epoch milliseconds', 1_796_464_800_250, '2026-12-05T10:00:00.250Z'],
    ['no time', undefined, RECEIVED_AT_ISO],
    ['a time that does not parse', 'yesterday', RECEIVED_AT_ISO],
  ])('takes its time from the timestamp: %s', (_what, timestamp, expected) => {
    const text = JSON.stringify({ fcnt: 1, port: 1, dataFrame: 'AA==', timestamp });

    expect(uplinkFacts(message('uplink', text), 'base64').time).toBe(expected);
  });

  it.each([
    ['no fcnt', '{"port":1,"dataFrame":"AA=="}'],
    ['no port', '{"fcnt":1,"dataFrame":"AA=="}'],
    ['no dataFrame', '{"fcnt":1,"port":1}'],
    ['an fcnt that is a string', '{"fcnt":"1","port":1,"dataFrame":"AA=="}'],
    ['a dataFrame that is not a string', '{"fcnt":1,"port":1,"dataFrame":[0]}'],
  ])('refuses an uplink with %s', (_what, text) => {
    expect(() => uplinkFacts(message('uplink', text), 'base64')).toThrow(
      expect.objectContaining({
        name: 'InvalidInputError',
        code: 'INVALID_EVENT',
        message: 'the uplink has no fcnt, port or dataFrame',
      }),
    );
  });
});

describe('shadowSection', () => {
  it('makes an uplink the uplink section: its time, counter, port, id and radio', () => {
    const uplink = message('uplink', uplinkText({ extra: { sf_used: 9, live: true } }));

    expect(shadowSection(uplink, undefined)).toEqual({
      name: 'uplink',
      value: {
        time: '2026-12-05T09:59:59.500Z',
        fcnt: 42,
        port: 1,
        id: BIG_ID,
        rssi: -87,
        snr: 7.5,
      },
    });
  });

  it('takes the uplink facts it is given', () => {
    const uplink = message('uplink', uplinkText({ dataFrame: '00' }));
    const facts = { id: '7', fcnt: 9, port: 3, time: RECEIVED_AT_ISO, bytes: Buffer.from([0]) };

    expect(shadowSection(uplink, facts).value).toEqual({
      time: RECEIVED_AT_ISO,
      fcnt: 9,
      port: 3,
      id: '7',
      rssi: -87,
      snr: 7.5,
    });
  });

  it('times an uplink without timestamp by when the rule received it', () => {
    const uplink = message('uplink', uplinkText({ timestamp: null }));

    expect(shadowSection(uplink, undefined).value.time).toBe(RECEIVED_AT_ISO);
  });

  it('makes a location the location section, timed by loraloc_time', () => {
    const text =
      '{"DevEUI":"70B3D57ED0001A2B","latitude":46.2,"longitude":6.14,"altitude":372,"loraloc_time":"2026-12-05T09:58:00Z","precision":20}';

    expect(shadowSection(message('location', text), undefined)).toEqual({
      name: 'location',
      value: { time: '2026-12-05T09:58:00.000Z', latitude: 46.2, longitude: 6.14, altitude: 372 },
    });
  });

  it('times a location without loraloc_time by when the rule received it, leaving out what it lacks', () => {
    const text = '{"latitude":46.2,"longitude":6.14}';

    expect(shadowSection(message('location', text), undefined).value).toEqual({
      time: RECEIVED_AT_ISO,
      latitude: 46.2,
      longitude: 6.14,
    });
  });

  it('makes a status the battery section, timed by timestamp_status (epoch seconds)', () => {
    const text =
      '{"DevEUI":"70B3D57ED0001A2B","battery_status":180,"margin_status":9,"timestamp_status":1796464800}';

    expect(shadowSection(message('status', text), undefined)).toEqual({
      name: 'battery',
      value: { time: '2026-12-05T10:00:00.000Z', battery_status: 180, margin_status: 9 },
    });
  });

  it('times a status without timestamp_status by when the rule received it', () => {
    expect(shadowSection(message('status', '{"battery_status":0}'), undefined).value).toEqual({
      time: RECEIVED_AT_ISO,
      battery_status: 0,
    });
  });

  it('makes a join info the join section, timed by when the rule received it', () => {
    const text =
      '{"DevEUI":"70B3D57ED0001A2B","join_status":"accepted","appeui":"70b3d57ed0000000","timestamp":"2020-01-01T00:00:00Z"}';

    expect(shadowSection(message('joininfo', text), undefined)).toEqual({
      name: 'join',
      value: { time: RECEIVED_AT_ISO, join_status: 'accepted', appeui: '70b3d57ed0000000' },
    });
  });

  it('makes a node info the device section, timed by when the rule received it', () => {
    const text =
      '{"DevEUI":"70B3D57ED0001A2B","device_status":"active","device_class":"A","registration_status":"registered","last_reception":"2026-12-05T09:00:00Z","dl_fcnt":-1,"comment":"x"}';

    expect(shadowSection(message('nodeinfo', text), undefined)).toEqual({
      name: 'device',
      value: {
        time: RECEIVED_AT_ISO,
        device_status: 'active',
        device_class: 'A',
        registration_status: 'registered',
        last_reception: '2026-12-05T09:00:00Z',
        dl_fcnt: -1,
      },
    });
  });

  it('makes a downlink status the downlink section, with the raw id, timed by when the rule received it', () => {
    const text = `{"DevEUI":"70b3d57ed0001a2b","id":${BIG_ID},"fcnt":57,"port":10,"transmissionStatus":2,"requestId":"cfg-1","state":"acknowledged","correlationId":"downlink_6f0c"}`;

    expect(shadowSection(message('downlink/status', text), undefined)).toEqual({
      name: 'downlink',
      value: {
        time: RECEIVED_AT_ISO,
        requestId: 'cfg-1',
        state: 'acknowledged',
        transmissionStatus: 2,
        correlationId: 'downlink_6f0c',
        id: BIG_ID,
      },
    });
  });

  it('makes a downlink status without id a downlink section without one', () => {
    const text = '{"state":"invalid","requestId":"r-1"}';

    expect(shadowSection(message('downlink/status', text), undefined).value).toEqual({
      time: RECEIVED_AT_ISO,
      requestId: 'r-1',
      state: 'invalid',
    });
  });
});
