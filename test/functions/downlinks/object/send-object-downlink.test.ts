import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DownlinkEncodingError,
  NoCodecError,
} from '../../../../functions/downlinks/downlink-errors.js';
import type { EncodeObject } from '../../../../functions/downlinks/send/encode-object.js';
import { sendDownlink, type SendDeps } from '../../../../functions/downlinks/send/send-downlink.js';
import { DependencyError } from '../../../../functions/shared/errors.js';
import { DEFAULTS, DEV_EUI, EXECUTION, TASK_TOKEN, ruleInput } from '../downlink-fixtures.js';

// The send task before anything is claimed or posted: a request with `object` is encoded first,
// and whatever goes wrong there ends the task without touching DynamoDB, OrbiWAN or IoT Core.
// Those deps are stand-ins that record any use.

let touched: string[];

/** A dependency that must not be used: every call is recorded and fails. */
function untouchable(name: string): unknown {
  return new Proxy(
    {},
    {
      get: (_, property) => () => {
        touched.push(`${name}.${String(property)}`);
        return Promise.reject(new Error(`${name}.${String(property)} was called`));
      },
    },
  );
}

function deps(encodeObject: EncodeObject | undefined): SendDeps {
  return {
    defaults: DEFAULTS,
    orbiwan: untouchable('orbiwan') as SendDeps['orbiwan'],
    claims: untouchable('claims') as SendDeps['claims'],
    lease: untouchable('lease') as SendDeps['lease'],
    records: untouchable('records') as SendDeps['records'],
    publish: () => {
      touched.push('publish');
      return Promise.reject(new Error('publish was called'));
    },
    complete: untouchable('complete') as SendDeps['complete'],
    ...(encodeObject === undefined ? {} : { encodeObject }),
  };
}

const send = (request: Record<string, unknown>, encodeObject: EncodeObject | undefined) =>
  sendDownlink(
    { taskToken: TASK_TOKEN, request: ruleInput(request), correlationId: EXECUTION },
    deps(encodeObject),
    Date.now() + 30_000,
  );

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

beforeEach(() => {
  touched = [];
  for (const method of ['debug', 'info', 'warn', 'error', 'log'] as const)
    vi.spyOn(console, method).mockImplementation(() => undefined);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('sendDownlink with object', () => {
  it('fails with NoCodecError, touching nothing, without encodeObject (PayloadCodecs Disabled)', async () => {
    await expect(send({ object: { interval: 300 }, port: 10 }, undefined)).rejects.toThrow(
      NoCodecError,
    );
    expect(touched).toEqual([]);
  });

  it('fails with NoCodecError, touching nothing, when the device has no codec', async () => {
    const encode = vi.fn<EncodeObject>(() => Promise.resolve(undefined));

    await expect(send({ object: { interval: 300 } }, encode)).rejects.toThrow(NoCodecError);
    expect(encode).toHaveBeenCalledWith(DEV_EUI, { data: { interval: 300 }, fPort: undefined });
    expect(touched).toEqual([]);
  });

  it('fails with DownlinkEncodingError, touching nothing, when the codec reports errors', async () => {
    const encode: EncodeObject = () =>
      Promise.resolve({
        codec: 'thermostat',
        result: { bytes: [], fPort: undefined, warnings: [], errors: ['too hot'] },
      });

    await expect(send({ object: { setpoint: 99 } }, encode)).rejects.toThrow(
      new DownlinkEncodingError('codec thermostat could not encode the object: too hot'),
    );
    expect(touched).toEqual([]);
  });

  it('turns a codec store that fails into a retriable DependencyError, touching nothing', async () => {
    const cause = named('TimeoutError', 'socket timed out');

    const error: unknown = await send({ object: {} }, () => Promise.reject(cause)).catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(DependencyError);
    expect(error).toMatchObject({
      code: 'DEPENDENCY_FAILED',
      message: 'could not encode the object (TimeoutError); nothing was sent',
      throttled: false,
      cause,
    });
    expect(touched).toEqual([]);
  });

  it('marks a throttled codec store as throttled', async () => {
    const throttled = named('ThrottlingException', 'rate exceeded');

    await expect(send({ object: {} }, () => Promise.reject(throttled))).rejects.toMatchObject({
      name: 'DependencyError',
      throttled: true,
    });
  });

  it('lets a typed error of the encoder through as it is', async () => {
    const typed = new NoCodecError('no codec here');

    await expect(send({ object: {} }, () => Promise.reject(typed))).rejects.toBe(typed);
  });

  it('never asks the codec for a request with data', async () => {
    const encode = vi.fn<EncodeObject>(() => Promise.resolve(undefined));

    // The claims stand-in fails, after the payload was settled: the codec was not asked.
    await expect(send({ data: 'aa', port: 1 }, encode)).rejects.toThrow();
    expect(encode).not.toHaveBeenCalled();
    expect(touched).toContain('claims.claim');
  });
});
