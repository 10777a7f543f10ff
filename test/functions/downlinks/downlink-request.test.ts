import { describe, expect, it } from 'vitest';
import { InvalidDownlinkError } from '../../../functions/downlinks/downlink-errors.js';
import {
  MAX_REQUEST_BYTES,
  parseDownlink,
  requestIdOf,
  type RuleInput,
} from '../../../functions/downlinks/downlink-request.js';
import type { SendInput } from '../../../functions/downlinks/send/send-downlink.js';
import { sampleEvent } from '../../helpers/api-events.js';
import { DEFAULTS, ruleInput } from './downlink-fixtures.js';

// The downlink request contract (docs/downlinks.md: Request), as SendDownlink checks it first.

const sample = (name: string) =>
  (sampleEvent('send-downlink', name) as unknown as SendInput).request;

function failure(input: RuleInput): InvalidDownlinkError {
  try {
    parseDownlink(input, DEFAULTS);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidDownlinkError);
    return error as InvalidDownlinkError;
  }
  throw new Error('the request was accepted');
}

/** A request of exactly `bytes` bytes: a valid one, padded with whitespace. */
function requestOfBytes(bytes: number): string {
  const request = '{"data":"aa","port":1,"requestId":"big-1"}';
  return `${request}${' '.repeat(bytes - request.length)}`;
}

describe('parseDownlink', () => {
  it('turns the minimal OrbiWise-connector request into a downlink with the defaults', () => {
    expect(parseDownlink(sample('minimal'), DEFAULTS)).toEqual({
      devEui: '70b3d57ed0001a2b',
      statusTopic: 'orbiwan/lorawan/70b3d57ed0001a2b/downlink/status',
      data: 'aabbcc',
      port: 20,
      confirmed: true,
      mode: 'enqueue_on_busy',
      receivedAt: 1795694400123,
    });
  });

  it('keeps every optional field and lower-cases the hex', () => {
    expect(parseDownlink(sample('all-fields'), DEFAULTS)).toMatchObject({
      data: '01a4ff',
      port: 10,
      confirmed: false,
      mode: 'replace_on_busy',
      fcnt: 12,
      requestId: 'order-44',
    });
  });

  it('uses the configured defaults for confirmed and mode when the request leaves them out', () => {
    expect(
      parseDownlink(sample('minimal'), { ...DEFAULTS, confirmed: false, mode: 'fail_on_busy' }),
    ).toMatchObject({ confirmed: false, mode: 'fail_on_busy' });
  });

  it.each([
    ['dash-separated', '70-B3-D5-7E-D0-00-1A-2B'],
    ['0x-prefixed', '0x70B3D57ED0001A2B'],
    ['upper case', '70B3D57ED0001A2B'],
  ])(
    'takes the DevEUI from the topic written %s, and answers on its normalised topic',
    (_, level) => {
      expect(
        parseDownlink(
          ruleInput({ data: 'aa', port: 1 }, `orbiwan/lorawan/${level}/downlink`),
          DEFAULTS,
        ),
      ).toMatchObject({
        devEui: '70b3d57ed0001a2b',
        statusTopic: 'orbiwan/lorawan/70b3d57ed0001a2b/downlink/status',
      });
    },
  );

  it('names every DevEUI form it accepts when the topic holds none', () => {
    expect(failure(sample('bad-deveui-in-topic')).issues).toEqual([
      {
        path: 'topic',
        message:
          '"thermostat-7" is not a DevEUI: expected 16 hex digits, optionally 0x-prefixed or dash-separated in pairs',
      },
    ]);
  });

  it.each([
    ['a topic outside the prefix', 'other/70b3d57ed0001a2b/downlink'],
    ['a topic with an extra level', 'orbiwan/lorawan/70b3d57ed0001a2b/x/downlink'],
    ['an empty DevEUI level', 'orbiwan/lorawan//downlink'],
  ])('refuses %s', (_, topic) => {
    expect(failure(ruleInput({ data: 'aa', port: 1 }, topic)).issues).toEqual([
      {
        path: 'topic',
        message: expect.stringContaining('expected orbiwan/lorawan/{deveui}/downlink'),
      },
    ]);
  });

  it('refuses a payload that is not JSON, saying what a request looks like', () => {
    const error = failure(sample('bad-not-json'));
    expect(error.message).toBe(
      'not a valid downlink: the payload is not JSON: expected {"data": "<hex>", "port": <1..223>}',
    );
    expect(error.issues.map(({ path }) => path)).toEqual(['']);
  });

  it('names each problem of a request with odd hex and port 0', () => {
    const error = failure(sample('bad-odd-hex-and-port-0'));
    expect(error.message).toBe(
      'not a valid downlink: data: expected hex digits, two per byte; port: Too small: expected number to be >=1',
    );
    expect(error.issues.map(({ path }) => path)).toEqual(['data', 'port']);
  });

  it.each([
    ['port 0', { data: 'aa', port: 0 }, 'port: Too small'],
    ['port 224', { data: 'aa', port: 224 }, 'port: Too big'],
    ['a negative fcnt', { data: 'aa', port: 1, fcnt: -1 }, 'fcnt: Too small'],
    ['an fcnt over 32 bits', { data: 'aa', port: 1, fcnt: 2 ** 32 }, 'fcnt: Too big'],
    ['243 bytes of data', { data: 'ab'.repeat(243), port: 1 }, 'data: expected at most 242 bytes'],
    [
      'a DevEUI in the body',
      { data: 'aa', port: 1, DevEUI: '0011223344556677' },
      'Unrecognized key: "DevEUI"',
    ],
    ['a misspelt field', { data: 'aa', port: 1, confirm: false }, 'Unrecognized key: "confirm"'],
    ['confirmed as a string', { data: 'aa', port: 1, confirmed: 'yes' }, 'confirmed: '],
    ['an unknown mode', { data: 'aa', port: 1, mode: 'later' }, 'mode: '],
    [
      'a requestId with a control character',
      { data: 'aa', port: 1, requestId: 'a\u0000b' },
      'requestId: expected no control characters',
    ],
    [
      'a requestId over 128 characters',
      { data: 'aa', port: 1, requestId: 'x'.repeat(129) },
      'requestId: ',
    ],
    ['a JSON array', [], 'expected object'],
  ])('refuses %s', (_, request, message) => {
    expect(failure(ruleInput(request)).message).toContain(message);
  });

  it('refuses a payload that is not UTF-8 as not JSON', () => {
    const input = { ...ruleInput(''), payload: Buffer.from([0xff, 0xfe]).toString('base64') };
    expect(failure(input).message).toContain('the payload is not JSON');
  });

  it('accepts the bounds: 242 bytes on port 223, an empty payload on port 1, fcnt 0 and 2^32-1', () => {
    expect(parseDownlink(ruleInput({ data: 'ab'.repeat(242), port: 223 }), DEFAULTS)).toMatchObject(
      {
        port: 223,
      },
    );
    expect(parseDownlink(ruleInput({ data: '', port: 1, fcnt: 0 }), DEFAULTS)).toMatchObject({
      data: '',
      fcnt: 0,
    });
    expect(
      parseDownlink(ruleInput({ data: '', port: 1, fcnt: 0xffff_ffff }), DEFAULTS),
    ).toMatchObject({ fcnt: 0xffff_ffff });
  });

  it('accepts a request of MAX_REQUEST_BYTES and refuses one byte more, naming the limit', () => {
    expect(parseDownlink(ruleInput(requestOfBytes(MAX_REQUEST_BYTES)), DEFAULTS)).toMatchObject({
      requestId: 'big-1',
    });

    const error = failure(ruleInput(requestOfBytes(MAX_REQUEST_BYTES + 1)));

    expect(error.message).toBe(
      `not a valid downlink: the request is ${String(MAX_REQUEST_BYTES + 1)} bytes; a downlink request is at most ${String(MAX_REQUEST_BYTES)}`,
    );
  });

  it('answers a request with thousands of unknown keys in a bounded message that still says what is wrong', () => {
    // As many keys as fit under the limit, so that it is the schema that refuses them.
    let request = '{"data":"aa","port":1';
    for (let key = 0; ; key++) {
      const member = `,"k${key.toString(36)}":0`;
      if (Buffer.byteLength(`${request}${member}}`) > MAX_REQUEST_BYTES) break;
      request += member;
    }
    request += '}';

    const error = failure(ruleInput(request));

    expect(error.message.length).toBeLessThan(1200);
    expect(error.message).toMatch(/^not a valid downlink: Unrecognized keys: "k0", "k1", /);
    expect(error.message).toMatch(/\.\.\.$/);
    // The issues it logs are bounded too.
    expect(JSON.stringify(error.issues).length).toBeLessThan(1_200);
  });

  it('refuses thousands of unknown keys over the limit by their size, in a short message', () => {
    const keys = Object.fromEntries(Array.from({ length: 5000 }, (_, key) => [`k${key}`, 0]));

    const error = failure(ruleInput({ data: 'aa', port: 1, ...keys }));

    expect(error.message.length).toBeLessThan(200);
    expect(error.message).toContain(`a downlink request is at most ${String(MAX_REQUEST_BYTES)}`);
  });
});

describe('requestIdOf', () => {
  it.each([
    ['a valid request', '{"data":"aa","port":1,"requestId":"order-42"}', 'order-42'],
    [
      'an invalid request with a valid requestId',
      '{"data":"abc","port":0,"requestId":"order-43"}',
      'order-43',
    ],
    [
      'a request too large, whose JSON still names it',
      requestOfBytes(MAX_REQUEST_BYTES + 1),
      'big-1',
    ],
    [
      'a requestId with a control character',
      '{"data":"aa","port":1,"requestId":"a\\u0000b"}',
      undefined,
    ],
    ['a requestId that is not a string', '{"data":"aa","port":1,"requestId":42}', undefined],
    ['a payload that is not JSON', 'requestId=order-42', undefined],
    ['a request without one', '{"data":"aa","port":1}', undefined],
  ])('finds the requestId of %s', (_, payload, requestId) => {
    expect(requestIdOf(Buffer.from(payload).toString('base64'))).toBe(requestId);
  });
});
