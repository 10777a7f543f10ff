import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  NoCodecError,
  ObjectToEncodeError,
} from '../../../../functions/downlinks/downlink-errors.js';
import { sendDownlink, type SendDeps } from '../../../../functions/downlinks/send/send-downlink.js';
import { DEFAULTS, EXECUTION, TASK_TOKEN, ruleInput } from '../downlink-fixtures.js';

// The send task before anything is claimed or posted: a request with `object` is the state
// machine's EncodeObject state's to encode first (the send task has no codecs), or refused when
// the stack has none; either way nothing of DynamoDB, OrbiWAN or IoT Core is touched. Those deps
// are stand-ins that record any use.

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

function deps(payloadCodecs: boolean): SendDeps {
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
    payloadCodecs,
  };
}

const send = (request: Record<string, unknown>, payloadCodecs: boolean) =>
  sendDownlink(
    { taskToken: TASK_TOKEN, request: ruleInput(request), correlationId: EXECUTION },
    deps(payloadCodecs),
    Date.now() + 30_000,
  );

beforeEach(() => {
  touched = [];
  for (const method of ['debug', 'info', 'warn', 'error', 'log'] as const)
    vi.spyOn(console, method).mockImplementation(() => undefined);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('sendDownlink with object', () => {
  it('fails with NoCodecError naming the parameter, touching nothing, when PayloadCodecs is Disabled', async () => {
    const error: unknown = await send({ object: { interval: 300 }, port: 10 }, false).catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(NoCodecError);
    expect(error).toHaveProperty('message', expect.stringContaining('PayloadCodecs is Disabled'));
    expect(touched).toEqual([]);
  });

  it('hands the request to EncodeObject (ObjectToEncode), touching nothing, with PayloadCodecs', async () => {
    const error: unknown = await send({ object: { interval: 300 } }, true).catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(ObjectToEncodeError);
    expect(error).toHaveProperty('name', 'ObjectToEncode');
    expect(touched).toEqual([]);
  });

  it('refuses an invalid object request before anything else, whatever the parameter', async () => {
    for (const payloadCodecs of [false, true]) {
      await expect(send({ object: null }, payloadCodecs)).rejects.toMatchObject({
        name: 'InvalidDownlinkError',
      });
    }
    expect(touched).toEqual([]);
  });
});
