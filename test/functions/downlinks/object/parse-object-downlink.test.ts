import { describe, expect, it } from 'vitest';
import { InvalidDownlinkError } from '../../../../functions/downlinks/downlink-errors.js';
import { parseDownlink } from '../../../../functions/downlinks/downlink-request.js';
import { DEFAULTS, DEV_EUI, STATUS_TOPIC, ruleInput } from '../downlink-fixtures.js';

// A downlink request may carry `object`, for the device's payload codec to encode, instead of
// `data` in hex: parseDownlink takes one or the other, never both, and a port only with data.

const parse = (request: Record<string, unknown>) => parseDownlink(ruleInput(request), DEFAULTS);

/** The message parseDownlink refused the request with. */
function refusal(request: Record<string, unknown>): string {
  try {
    parse(request);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidDownlinkError);
    return (error as InvalidDownlinkError).message;
  }
  throw new Error(`parseDownlink accepted ${JSON.stringify(request)}`);
}

describe('parseDownlink with object', () => {
  it('accepts an object without a port, leaving the port to the codec', () => {
    const downlink = parse({ object: { interval: 300 } });

    expect(downlink).toEqual({
      devEui: DEV_EUI,
      statusTopic: STATUS_TOPIC,
      object: { interval: 300 },
      port: undefined,
      confirmed: true,
      mode: 'enqueue_on_busy',
      receivedAt: ruleInput({}).receivedAt,
    });
    expect('data' in downlink).toBe(false);
  });

  it('keeps the port given with an object', () => {
    expect(parse({ object: { interval: 300 }, port: 10 })).toMatchObject({
      object: { interval: 300 },
      port: 10,
    });
  });

  it('keeps confirmed, mode, fcnt and requestId given with an object', () => {
    expect(
      parse({
        object: { reset: true },
        confirmed: false,
        mode: 'replace_on_busy',
        fcnt: 7,
        requestId: 'object-request',
      }),
    ).toMatchObject({
      object: { reset: true },
      confirmed: false,
      mode: 'replace_on_busy',
      fcnt: 7,
      requestId: 'object-request',
    });
  });

  it.each([
    ['a number', 42],
    ['a string', 'reboot'],
    ['an array', [1, 2, 3]],
    ['an empty object', {}],
    ['false', false],
  ])('accepts %s as the object, passed on as it is', (_, object) => {
    expect(parse({ object })).toMatchObject({ object });
  });

  // What many clients write for an absent field: refused, as data null is.
  it('refuses object null, as it refuses data null', () => {
    expect(refusal({ object: null })).toContain('object: expected a JSON value, not null');
    expect(refusal({ data: null, port: 1 })).toContain('data: Invalid input: expected string');
  });

  it('refuses a request with both data and object, naming "not both"', () => {
    const message = refusal({ data: 'aa', object: { interval: 300 }, port: 10 });
    expect(message).toBe('not a valid downlink: object: expected data or object, not both');
  });

  it('refuses data with object null as both', () => {
    expect(refusal({ data: 'aa', object: null, port: 10 })).toContain(
      'object: expected data or object, not both',
    );
  });

  it('refuses a request with neither data nor object, naming data and port', () => {
    const message = refusal({});
    expect(message).toContain(
      "data: missing: expected data (hex), or object for the device's payload codec",
    );
    expect(message).toContain('port: missing: expected a number 1..223');
  });

  it('refuses data without a port, naming port', () => {
    expect(refusal({ data: 'aa' })).toBe(
      'not a valid downlink: port: missing: expected a number 1..223',
    );
  });

  it.each([
    ['0', 0],
    ['224', 224],
    ['a string', '10'],
    ['a fraction', 1.5],
  ])('refuses an object with port %s', (_, port) => {
    expect(refusal({ object: { interval: 300 }, port })).toContain('port: ');
  });

  it('refuses an unknown field next to an object', () => {
    expect(refusal({ object: {}, objects: {} })).toContain('Unrecognized key: "objects"');
  });

  it('still lowercases data and keeps its port when there is no object', () => {
    expect(parse({ data: 'AABB', port: 3 })).toMatchObject({ data: 'aabb', port: 3 });
  });
});
