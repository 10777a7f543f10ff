import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { findFunction } from '../../../../local/lambda/local-functions.js';
import {
  DEV_EUI,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../../../helpers/downlink-harness.js';

// A request with `object` on a stack deployed with PayloadCodecs Disabled (the default): there is
// no codecs table, and the send function has nothing to encode with.

let harness: DownlinkHarness;

beforeAll(async () => {
  harness = await startDownlinkHarness();
});

beforeEach(() => {
  for (const method of ['debug', 'info', 'warn', 'error', 'log'] as const)
    vi.spyOn(console, method).mockImplementation(() => undefined);
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await harness.close();
});

describe('A downlink request with object, PayloadCodecs Disabled', () => {
  it('tells the send function, and deploys no function that could encode', () => {
    expect(
      findFunction(harness.cloud.functions, 'SendDownlinkFunction')?.environment.PAYLOAD_CODECS,
    ).toBe('Disabled');
    expect(findFunction(harness.cloud.functions, 'DeviceStateFunction')).toBeUndefined();
  });

  it('ends in error NO_CODEC saying PayloadCodecs is Disabled, never POSTing', async () => {
    const before = harness.posts().length;
    const execution = harness.publishDownlink({
      object: { interval: 300 },
      port: 10,
      requestId: 'codecs-disabled',
    });
    const done = await harness.finished(execution.executionArn);

    expect(done).toMatchObject({ status: 'FAILED', error: 'NoCodecError' });
    expect(harness.statesEntered(execution.executionArn)).toEqual([
      'SendDownlink',
      'ReportInvalidDownlink',
      'InvalidDownlink',
    ]);
    expect(harness.statuses(DEV_EUI).at(-1)).toMatchObject({
      requestId: 'codecs-disabled',
      state: 'error',
      error: {
        code: 'NO_CODEC',
        message: expect.stringContaining('its stack parameter PayloadCodecs is Disabled'),
      },
    });
    expect(harness.posts()).toHaveLength(before);
  });

  it('still sends data requests', async () => {
    const execution = harness.publishDownlink({ data: 'aa', port: 1, requestId: 'plain' });
    await harness.waitingForStatus(execution.executionArn);
    await harness.pushStatus(harness.acceptedIds().at(-1) ?? '', 2);
    const done = await harness.finished(execution.executionArn);

    expect(done.status).toBe('SUCCEEDED');
    expect(harness.posts().at(-1)?.body).toBe('aa');
  });
});
