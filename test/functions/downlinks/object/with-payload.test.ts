import { describe, expect, it, vi } from 'vitest';
import type { EncodedDownlink } from '../../../../functions/codecs/ts013.js';
import {
  DownlinkEncodingError,
  NoCodecError,
  errorCodeFor,
} from '../../../../functions/downlinks/downlink-errors.js';
import type { Downlink, ObjectDownlink } from '../../../../functions/downlinks/downlink-request.js';
import {
  withPayload,
  type EncodeObject,
} from '../../../../functions/device-state/encode-request.js';
import { DEV_EUI, STATUS_TOPIC } from '../downlink-fixtures.js';

// withPayload turns a request's `object` into a downlink's hex data and port with the device's
// codec, holding what the codec made to the rules a request's own data and port follow.

const base = {
  devEui: DEV_EUI,
  statusTopic: STATUS_TOPIC,
  confirmed: true,
  mode: 'enqueue_on_busy',
  requestId: 'req-1',
  receivedAt: 1_795_694_400_123,
} as const;

const objectDownlink = (port?: number, object: unknown = { interval: 300 }): ObjectDownlink => ({
  ...base,
  object,
  port,
});

const encoded = (result: Partial<EncodedDownlink>): EncodedDownlink => ({
  bytes: [],
  fPort: undefined,
  warnings: [],
  errors: [],
  ...result,
});

/** An encoder whose device has codec `name`, which answers `result`. */
function encoderAnswering(result: Partial<EncodedDownlink>, name = 'interval-codec') {
  return vi.fn<EncodeObject>(() => Promise.resolve({ codec: name, result: encoded(result) }));
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as Error,
  );
}

describe('withPayload', () => {
  it('returns a data request as it is and never asks the codec', async () => {
    const downlink: Downlink = { ...base, data: 'aabb', port: 20 };
    const encode = encoderAnswering({ bytes: [1] });

    await expect(withPayload(downlink, encode)).resolves.toBe(downlink);
    await expect(withPayload(downlink, undefined)).resolves.toBe(downlink);
    expect(encode).not.toHaveBeenCalled();
  });

  it('refuses an object with NoCodecError saying PayloadCodecs is Disabled when the stack runs no codecs', async () => {
    const error = await failure(withPayload(objectDownlink(10), undefined));

    expect(error).toBeInstanceOf(NoCodecError);
    expect(error.name).toBe('NoCodecError');
    expect(errorCodeFor(error.name)).toBe('NO_CODEC');
    expect(error.message).toContain('PayloadCodecs is Disabled');
    expect(error.message).toContain('send data in hex');
  });

  it('refuses an object with NoCodecError naming the DevEUI and port when no codec is attached', async () => {
    const encode = vi.fn<EncodeObject>(() => Promise.resolve(undefined));

    const error = await failure(withPayload(objectDownlink(10), encode));

    expect(error).toBeInstanceOf(NoCodecError);
    expect(error.message).toBe(
      `no payload codec is attached to ${DEV_EUI} on port 10: attach one (orbiwan-codec attach), or send data in hex`,
    );
    expect(encode).toHaveBeenCalledWith(DEV_EUI, { data: { interval: 300 }, fPort: 10 });
  });

  it('names no port when the request has none and no codec is attached', async () => {
    const error = await failure(
      withPayload(objectDownlink(undefined), () => Promise.resolve(undefined)),
    );

    expect(error).toBeInstanceOf(NoCodecError);
    expect(error.message).toContain(`attached to ${DEV_EUI}:`);
    expect(error.message).not.toContain('on port');
  });

  it('hands the codec the object as data and the request port as fPort', async () => {
    const encode = encoderAnswering({ bytes: [1], fPort: 3 });

    await withPayload(objectDownlink(undefined, [1, 'two', null]), encode);

    expect(encode).toHaveBeenCalledWith(DEV_EUI, { data: [1, 'two', null], fPort: undefined });
  });

  it('fails with DownlinkEncodingError naming the codec and every error it reported', async () => {
    const encode = encoderAnswering(
      { errors: ['interval out of range', 'unit unknown'] },
      'acme-thermostat',
    );

    const error = await failure(withPayload(objectDownlink(10), encode));

    expect(error).toBeInstanceOf(DownlinkEncodingError);
    expect(errorCodeFor(error.name)).toBe('ENCODING_FAILED');
    expect(error.message).toBe(
      'codec acme-thermostat could not encode the object: interval out of range; unit unknown',
    );
  });

  it("sends on the codec's fPort rather than the request's port", async () => {
    const downlink = await withPayload(
      objectDownlink(10),
      encoderAnswering({ bytes: [1, 2], fPort: 77 }),
    );

    expect(downlink.port).toBe(77);
  });

  it("sends on the request's port when the codec returns no fPort", async () => {
    const downlink = await withPayload(objectDownlink(10), encoderAnswering({ bytes: [1, 2] }));

    expect(downlink.port).toBe(10);
  });

  it('fails with DownlinkEncodingError when neither the codec nor the request gives a port', async () => {
    const error = await failure(
      withPayload(objectDownlink(undefined), encoderAnswering({ bytes: [1] }, 'portless')),
    );

    expect(error).toBeInstanceOf(DownlinkEncodingError);
    expect(error.message).toBe('codec portless returned no fPort, and the request has no port');
  });

  it.each([0, 224, 255, -1])(
    'fails with DownlinkEncodingError when the codec returns fPort %i',
    async (fPort) => {
      const error = await failure(
        withPayload(objectDownlink(10), encoderAnswering({ bytes: [1], fPort }, 'bad-port')),
      );

      expect(error).toBeInstanceOf(DownlinkEncodingError);
      expect(error.message).toBe(
        `codec bad-port returned fPort ${String(fPort)}; a downlink's is 1..223`,
      );
    },
  );

  it('fails with DownlinkEncodingError when the codec encodes 243 bytes', async () => {
    const error = await failure(
      withPayload(
        objectDownlink(10),
        encoderAnswering({ bytes: new Array<number>(243).fill(0xab), fPort: 5 }, 'verbose'),
      ),
    );

    expect(error).toBeInstanceOf(DownlinkEncodingError);
    expect(error.message).toBe('codec verbose encoded 243 bytes; a downlink is at most 242');
  });

  it('accepts 242 bytes, the most a downlink holds', async () => {
    const downlink = await withPayload(
      objectDownlink(10),
      encoderAnswering({ bytes: new Array<number>(242).fill(0xab), fPort: 5 }),
    );

    expect(downlink.data).toBe('ab'.repeat(242));
  });

  it('accepts an empty payload', async () => {
    const downlink = await withPayload(objectDownlink(10), encoderAnswering({ bytes: [] }));

    expect(downlink.data).toBe('');
  });

  it('returns a plain downlink: lowercase hex of the bytes, the port, and the rest of the request, without object', async () => {
    const downlink = await withPayload(
      objectDownlink(10),
      encoderAnswering({ bytes: [0x00, 0x0f, 0xab, 0xff, 0x10], fPort: 9 }),
    );

    expect(downlink).toEqual({ ...base, data: '000fabff10', port: 9 });
    expect('object' in downlink).toBe(false);
  });

  it('ignores the warnings of a codec that encoded', async () => {
    const downlink = await withPayload(
      objectDownlink(10),
      encoderAnswering({ bytes: [1], warnings: ['rounded the interval'] }),
    );

    expect(downlink.data).toBe('01');
  });

  it('lets an error of the encoder itself through as it is', async () => {
    const broken = new Error('the codec store failed');

    const error = await failure(withPayload(objectDownlink(10), () => Promise.reject(broken)));

    expect(error).toBe(broken);
  });
});
