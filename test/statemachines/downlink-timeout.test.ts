import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEV_EUI,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../helpers/downlink-harness.js';

// In a file of its own: one local cloud per process (the functions' SDK clients are shared).
let short: DownlinkHarness;

beforeAll(async () => {
  short = await startDownlinkHarness({ DownlinkTimeoutSeconds: '1' });
});

afterAll(async () => {
  await short.close();
});

describe('Downlink lifecycle: timeout', () => {
  it('ends TimedOut with a timed_out status when OrbiWAN reports nothing in DownlinkTimeoutSeconds', async () => {
    const execution = short.publishDownlink({ data: 'aa', port: 20, requestId: 'silent' });
    const done = await short.finished(execution.executionArn);

    expect(done).toMatchObject({ status: 'FAILED', error: 'TimedOut' });
    expect(short.statesEntered(execution.executionArn).slice(-3)).toEqual([
      'WaitForStatus',
      'ReportTimeout',
      'TimedOut',
    ]);
    const [accepted, timedOut] = short.statuses();
    expect(timedOut).toEqual({
      DevEUI: DEV_EUI,
      id: accepted?.id,
      requestId: 'silent',
      transmissionStatus: 0,
      state: 'timed_out',
      error: {
        code: 'TIMED_OUT',
        message: 'OrbiWAN reported no final status within 1 s of waiting',
      },
    });
  });
});
