import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { dynamoDbCodecStore } from '../../../../functions/codecs/codec-store.js';
import { METRIC } from '../../../../functions/shared/metrics.js';
import { findFunction } from '../../../../local/lambda/local-functions.js';
import {
  DEV_EUI,
  PREFIX,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../../../helpers/downlink-harness.js';

// A request with `object` through the real state machine on the local stack, with PayloadCodecs
// Enabled: the send function encodes it with the device's codec from the real DeviceCodecsTable
// (dynalite), then goes on as with any downlink. Codecs and attachments are stored before the
// first request: the function reads them once a minute.

/** Encodes {interval} (seconds) as 01 <big-endian u16> on port 10; anything else is an error. */
const INTERVAL_CODEC = `
function encodeDownlink(input) {
  if (input.data === null || typeof input.data.interval !== 'number')
    return { errors: ['expected {"interval": <seconds>}'] };
  var seconds = input.data.interval;
  if (input.data.keepPort) return { bytes: [0x02, seconds & 0xff] };
  return { bytes: [0x01, (seconds >> 8) & 0xff, seconds & 0xff], fPort: 10 };
}
`;
/** Encodes nothing: every object is refused. */
const REFUSING_CODEC = `
function encodeDownlink(input) {
  return { errors: ['this device takes no downlinks'], warnings: ['ignored'] };
}
`;
/** Has a codec that refuses everything. */
const REFUSING_DEVICE = '70b3d57ed0001a2c';
/** Has no codec at all. */
const CODECLESS_DEVICE = '70b3d57ed0001a2d';

let harness: DownlinkHarness;
let client: DynamoDBClient;
let printed: string[];

beforeAll(async () => {
  harness = await startDownlinkHarness({ PayloadCodecs: 'Enabled' });
  const table =
    findFunction(harness.cloud.functions, 'DeviceStateFunction')?.environment.DEVICE_CODECS_TABLE ??
    '';
  if (table === '') throw new Error('the device-state function has no DEVICE_CODECS_TABLE');
  client = new DynamoDBClient({
    endpoint: harness.cloud.endpoint.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const store = dynamoDbCodecStore(client, table);
  await store.putCodec('interval-codec', INTERVAL_CODEC);
  await store.putCodec('refusing-codec', REFUSING_CODEC);
  await store.attach({ selector: { kind: 'deveui', value: DEV_EUI }, codec: 'interval-codec' });
  await store.attach({
    selector: { kind: 'deveui', value: REFUSING_DEVICE },
    codec: 'refusing-codec',
  });
});

// What the functions print (logs, and metrics in embedded metric format), one entry per call.
beforeEach(() => {
  printed = [];
  for (const method of ['debug', 'info', 'warn', 'error', 'log'] as const)
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    });
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  client.destroy();
  await harness.close();
});

/** The finalState of every DownlinksEnded metric printed (embedded metric format). */
function downlinksEnded(): unknown[] {
  return printed.flatMap((line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      return entry._aws !== undefined && entry[METRIC.downlinksEnded] !== undefined
        ? [entry.finalState]
        : [];
    } catch {
      return [];
    }
  });
}

const statusesOf = (requestId: string, devEui = DEV_EUI) =>
  harness.statuses(devEui).filter((status) => status.requestId === requestId);

const nameOf = (executionArn: string) => executionArn.split(':').at(-1);

describe('A downlink request with object, PayloadCodecs Enabled', () => {
  it("POSTs the codec's bytes in hex on the codec's port and ends Delivered like any downlink", async () => {
    const before = harness.posts().length;
    const execution = harness.publishDownlink({
      object: { interval: 300 },
      port: 99,
      confirmed: false,
      requestId: 'object-1',
    });
    await harness.waitingForStatus(execution.executionArn);
    const id = harness.acceptedIds().at(-1) ?? '';
    await harness.pushStatus(id, 1);
    const done = await harness.finished(execution.executionArn);

    const posts = harness.posts().slice(before);
    expect(posts).toHaveLength(1);
    expect(posts[0]?.path).toBe(`/rest/nodes/${DEV_EUI}/payloads/dl`);
    expect(posts[0]?.body).toBe('01012c');
    expect(Object.fromEntries(posts[0]?.query ?? [])).toEqual({
      port: '10',
      confirmed: 'false',
      mode: 'enqueue_on_busy',
      data_format: 'hex',
    });
    expect(done.status).toBe('SUCCEEDED');
    // The send task hands the object to EncodeObject, then runs again with the encoded data.
    expect(harness.statesEntered(execution.executionArn)).toEqual([
      'SendDownlink',
      'EncodeObject',
      'SendDownlink',
      'Delivered',
    ]);
    expect(statusesOf('object-1').map((status) => status.state)).toEqual(['accepted', 'sent']);
    expect(downlinksEnded()).toEqual(['delivered']);
  });

  it("sends on the request's port when the codec names none", async () => {
    const before = harness.posts().length;
    const execution = harness.publishDownlink({
      object: { interval: 7, keepPort: true },
      port: 42,
      requestId: 'object-own-port',
    });
    await harness.waitingForStatus(execution.executionArn);
    await harness.pushStatus(harness.acceptedIds().at(-1) ?? '', 2);
    await harness.finished(execution.executionArn);

    const posts = harness.posts().slice(before);
    expect(posts.map((post) => [post.body, post.query.get('port')])).toEqual([['0207', '42']]);
  });

  it('sends data to a device with a codec as it is, without the codec', async () => {
    const before = harness.posts().length;
    const execution = harness.publishDownlink({ data: 'CAFE', port: 3, requestId: 'plain-data' });
    await harness.waitingForStatus(execution.executionArn);
    await harness.pushStatus(harness.acceptedIds().at(-1) ?? '', 2);
    await harness.finished(execution.executionArn);

    const posts = harness.posts().slice(before);
    expect(posts.map((post) => [post.body, post.query.get('port')])).toEqual([['cafe', '3']]);
  });

  it('ends a request for a device without a codec in error NO_CODEC, final state invalid, never POSTing', async () => {
    const before = harness.posts().length;
    const execution = harness.publishDownlink(
      { object: { interval: 300 }, port: 10, requestId: 'no-codec' },
      `${PREFIX}/${CODECLESS_DEVICE}/downlink`,
    );
    const done = await harness.finished(execution.executionArn);

    expect(done).toMatchObject({ status: 'FAILED', error: 'NoCodecError' });
    expect(harness.statesEntered(execution.executionArn)).toEqual([
      'SendDownlink',
      'EncodeObject',
      'ReportInvalidDownlink',
      'InvalidDownlink',
    ]);
    expect(statusesOf('no-codec', CODECLESS_DEVICE)).toEqual([
      {
        DevEUI: CODECLESS_DEVICE,
        requestId: 'no-codec',
        state: 'error',
        error: {
          code: 'NO_CODEC',
          message: `no payload codec is attached to ${CODECLESS_DEVICE} on port 10: attach one (orbiwan-codec attach), or send data in hex`,
        },
        correlationId: nameOf(execution.executionArn),
      },
    ]);
    expect(harness.posts()).toHaveLength(before);
    expect(downlinksEnded()).toEqual(['invalid']);
  });

  it('ends a request the codec cannot encode in error ENCODING_FAILED with its errors, final state invalid, never POSTing', async () => {
    const before = harness.posts().length;
    const execution = harness.publishDownlink(
      { object: { interval: 300 }, requestId: 'refused-object' },
      `${PREFIX}/${REFUSING_DEVICE}/downlink`,
    );
    const done = await harness.finished(execution.executionArn);

    expect(done).toMatchObject({ status: 'FAILED', error: 'DownlinkEncodingError' });
    expect(harness.statesEntered(execution.executionArn).slice(-2)).toEqual([
      'ReportInvalidDownlink',
      'InvalidDownlink',
    ]);
    expect(statusesOf('refused-object', REFUSING_DEVICE)).toEqual([
      expect.objectContaining({
        state: 'error',
        error: {
          code: 'ENCODING_FAILED',
          message:
            'codec refusing-codec could not encode the object: this device takes no downlinks',
        },
      }),
    ]);
    expect(harness.posts()).toHaveLength(before);
    expect(downlinksEnded()).toEqual(['invalid']);
  });

  it('ends an object null in INVALID_DOWNLINK before any codec runs, never POSTing', async () => {
    const before = harness.posts().length;
    const execution = harness.publishDownlink({ object: null, requestId: 'null-object' });
    const done = await harness.finished(execution.executionArn);

    expect(done).toMatchObject({ status: 'FAILED', error: 'InvalidDownlinkError' });
    expect(statusesOf('null-object').at(-1)).toMatchObject({
      state: 'error',
      error: {
        code: 'INVALID_DOWNLINK',
        message: expect.stringContaining('object: expected a JSON value, not null'),
      },
    });
    expect(harness.posts()).toHaveLength(before);
  });
});
