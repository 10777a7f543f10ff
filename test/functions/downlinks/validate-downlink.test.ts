import { describe, expect, it } from 'vitest';
import { InvalidDownlinkError } from '../../../functions/downlinks/downlink-errors.js';
import type { RuleInput } from '../../../functions/downlinks/downlink-request.js';
import { validateDownlinkHandlerFromEnv } from '../../../functions/downlinks/validate/validate-downlink.js';
import { sampleEvent } from '../../helpers/api-events.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs } from '../../helpers/logs.js';

const env = {
  TOPIC_PREFIX: 'orbiwan/lorawan',
  DOWNLINK_CONFIRMED_DEFAULT: 'true',
  DOWNLINK_MODE_DEFAULT: 'enqueue_on_busy',
};
const sample = (name: string) => sampleEvent('validate-downlink', name) as unknown as RuleInput;
const validate = (input: RuleInput, overrides: Record<string, string> = {}) =>
  validateDownlinkHandlerFromEnv({ ...env, ...overrides })(input, lambdaContext);
const rule = (payload: string, topic = 'orbiwan/lorawan/70b3d57ed0001a2b/downlink'): RuleInput => ({
  payload: Buffer.from(payload).toString('base64'),
  topic,
  receivedAt: 1,
});

async function failure(input: RuleInput): Promise<InvalidDownlinkError> {
  const error = await validate(input).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(InvalidDownlinkError);
  return error as InvalidDownlinkError;
}

describe('Handler: ValidateDownlink', () => {
  it('turns the minimal OrbiWise-connector request into a downlink with the template defaults', async () => {
    captureLogs();
    await expect(validate(sample('minimal'))).resolves.toEqual({
      devEui: '70b3d57ed0001a2b',
      statusTopic: 'orbiwan/lorawan/70b3d57ed0001a2b/downlink/status',
      data: 'aabbcc',
      port: 20,
      confirmed: true,
      mode: 'enqueue_on_busy',
      receivedAt: 1795694400123,
    });
  });

  it('keeps every optional field and lower-cases the hex', async () => {
    captureLogs();
    await expect(validate(sample('all-fields'))).resolves.toMatchObject({
      data: '01a4ff',
      port: 10,
      confirmed: false,
      mode: 'replace_on_busy',
      fcnt: 12,
      requestId: 'order-42',
    });
  });

  it('takes the DevEUI from the topic in any form OrbiWAN documents', async () => {
    captureLogs();
    await expect(validate(sample('dashed-deveui-topic'))).resolves.toMatchObject({
      devEui: '70b3d57ed0001a2b',
    });
  });

  it('uses the configured defaults for confirmed and mode', async () => {
    captureLogs();
    const downlink = await validate(sample('minimal'), {
      DOWNLINK_CONFIRMED_DEFAULT: 'false',
      DOWNLINK_MODE_DEFAULT: 'fail_on_busy',
    });
    expect(downlink).toMatchObject({ confirmed: false, mode: 'fail_on_busy' });
  });

  it('names every DevEUI form it accepts when the topic holds none', async () => {
    captureLogs();
    const error = await failure(rule('{"data":"aa","port":1}', 'orbiwan/lorawan/0x1234/downlink'));
    expect(error.issues).toEqual([
      {
        path: 'topic',
        message:
          '"0x1234" is not a DevEUI: expected 16 hex digits, optionally 0x-prefixed or dash-separated in pairs',
      },
    ]);
  });

  it.each([
    ['bad-not-json', ['']],
    ['bad-odd-hex-and-port-0', ['data', 'port']],
    ['bad-deveui-in-topic', ['topic']],
  ])('refuses %s, naming each problem', async (name, paths) => {
    const logs = captureLogs();
    const error = await failure(sample(name));
    expect(error.name).toBe('InvalidDownlinkError');
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(paths);
    expect(logs.entries().some((entry) => entry.message === 'downlink request invalid')).toBe(true);
  });

  it.each([
    ['an empty payload', '', 'the payload is not JSON'],
    ['a JSON array', '[]', 'expected object'],
    ['invalid UTF-8', '\u00ff', 'the payload is not JSON'],
    [
      'a requestId with a control character',
      '{"data":"aa","port":1,"requestId":"a\\u0000b"}',
      'requestId: expected no control characters',
    ],
    [
      'a requestId over 128 characters',
      `{"data":"aa","port":1,"requestId":"${'x'.repeat(129)}"}`,
      'requestId: ',
    ],
    ['confirmed as a string', '{"data":"aa","port":1,"confirmed":"yes"}', 'confirmed: '],
    [
      'a DevEUI in the body',
      '{"data":"aa","port":1,"DevEUI":"0011223344556677"}',
      'Unrecognized key: "DevEUI"',
    ],
  ])('refuses %s', async (_, payload, message) => {
    captureLogs();
    const input = rule(payload);
    if (payload === '\u00ff') input.payload = Buffer.from([0xff, 0xfe]).toString('base64');
    expect((await failure(input)).message).toContain(message);
  });

  it.each([
    ['a topic outside the prefix', 'other/70b3d57ed0001a2b/downlink'],
    ['a topic with an extra level', 'orbiwan/lorawan/70b3d57ed0001a2b/x/downlink'],
    ['an empty DevEUI level', 'orbiwan/lorawan//downlink'],
  ])('refuses %s', async (_, topic) => {
    captureLogs();
    const error = await failure(rule('{"data":"aa","port":1}', topic));
    expect(error.issues).toEqual([
      {
        path: 'topic',
        message: expect.stringContaining('expected orbiwan/lorawan/{deveui}/downlink'),
      },
    ]);
  });

  it('accepts 242 bytes and an empty payload', async () => {
    captureLogs();
    await expect(
      validate(rule(`{"data":"${'ab'.repeat(242)}","port":223}`)),
    ).resolves.toMatchObject({ port: 223 });
    await expect(validate(rule('{"data":"","port":1}'))).resolves.toMatchObject({ data: '' });
  });

  it.each([
    [
      { DOWNLINK_CONFIRMED_DEFAULT: 'yes' },
      'environment variable DOWNLINK_CONFIRMED_DEFAULT must be one of true, false, got "yes"',
    ],
    [
      { DOWNLINK_MODE_DEFAULT: 'later' },
      'environment variable DOWNLINK_MODE_DEFAULT must be one of enqueue_on_busy, fail_on_busy, replace_on_busy, got "later"',
    ],
    [{ TOPIC_PREFIX: '' }, 'environment variable TOPIC_PREFIX is not set'],
  ])('refuses to start with %o', (overrides, message) => {
    expect(() => validateDownlinkHandlerFromEnv({ ...env, ...overrides })).toThrow(message);
  });
});
