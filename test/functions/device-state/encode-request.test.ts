import { describe, expect, it, vi } from 'vitest';
import {
  encodedRequest,
  type EncodeObject,
} from '../../../functions/device-state/encode-request.js';
import type { RuleInput } from '../../../functions/downlinks/downlink-request.js';

// What the EncodeObject state hands the send task: the rule's message as it came, with the
// request's `object` replaced by what the device's codec made of it.

const PREFIX = 'orbiwan/lorawan';
const DEV_EUI = '70b3d57ed0001a2b';

function ruleInput(request: unknown): RuleInput & { clientId: string; timeoutSeconds: number } {
  return {
    payload: Buffer.from(JSON.stringify(request)).toString('base64'),
    topic: `${PREFIX}/${DEV_EUI}/downlink`,
    receivedAt: 1795694400123,
    clientId: 'app-1',
    timeoutSeconds: 3600,
  };
}

const requestOf = (input: RuleInput): unknown =>
  JSON.parse(Buffer.from(input.payload, 'base64').toString('utf8'));

const encoder = (bytes: number[], fPort?: number) =>
  vi.fn<EncodeObject>(() =>
    Promise.resolve({
      codec: 'sample-sensor',
      result: { bytes, fPort, warnings: [], errors: [] },
    }),
  );

describe('encodedRequest', () => {
  it("replaces object with the codec's data and port, keeping every other field and the rule's", async () => {
    const input = ruleInput({
      object: { interval: 300 },
      confirmed: false,
      mode: 'fail_on_busy',
      requestId: 'cfg-1',
    });
    const encode = encoder([1, 1, 44], 10);

    const encoded = await encodedRequest(input, PREFIX, encode);

    expect(encode).toHaveBeenCalledWith(DEV_EUI, { data: { interval: 300 }, fPort: undefined });
    expect(requestOf(encoded)).toEqual({
      confirmed: false,
      mode: 'fail_on_busy',
      requestId: 'cfg-1',
      data: '01012c',
      port: 10,
    });
    expect({ ...encoded, payload: undefined }).toEqual({ ...input, payload: undefined });
  });

  it("keeps the request's port when the codec names none", async () => {
    const encoded = await encodedRequest(
      ruleInput({ object: [1], port: 7 }),
      PREFIX,
      encoder([255]),
    );
    expect(requestOf(encoded)).toEqual({ data: 'ff', port: 7 });
  });

  it('hands a request with data back as it came, encoding nothing', async () => {
    const input = ruleInput({ data: 'aabb', port: 3 });
    const encode = encoder([]);

    expect(await encodedRequest(input, PREFIX, encode)).toBe(input);
    expect(encode).not.toHaveBeenCalled();
  });

  it('refuses an invalid request, a stack without codecs, and what the codec refuses, by name', async () => {
    await expect(encodedRequest(ruleInput({ object: null }), PREFIX, encoder([]))).rejects.toThrow(
      expect.objectContaining({ name: 'InvalidDownlinkError' }),
    );
    await expect(
      encodedRequest(ruleInput({ object: { led: true } }), PREFIX, undefined),
    ).rejects.toThrow(expect.objectContaining({ name: 'NoCodecError' }));
    const refusing = vi.fn<EncodeObject>(() =>
      Promise.resolve({
        codec: 'sample-sensor',
        result: {
          bytes: [],
          fPort: undefined,
          warnings: [],
          errors: ['led must be true or false'],
        },
      }),
    );
    await expect(
      encodedRequest(ruleInput({ object: { led: 'on' } }), PREFIX, refusing),
    ).rejects.toThrow(
      expect.objectContaining({
        name: 'DownlinkEncodingError',
        message: 'codec sample-sensor could not encode the object: led must be true or false',
      }),
    );
  });
});
