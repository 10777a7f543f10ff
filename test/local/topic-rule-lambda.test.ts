import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREFIX, startDownlinkHarness, type DownlinkHarness } from '../helpers/downlink-harness.js';

// The template's rules with a Lambda action, run locally as IoT Core runs them: the function is
// invoked asynchronously, a failed invocation is tried again as its EventInvokeConfig says, and
// what never succeeds goes to the rule's error action.

let harness: DownlinkHarness;

beforeAll(async () => {
  harness = await startDownlinkHarness({ PayloadCodecs: 'Enabled' });
});

afterAll(async () => {
  await harness.close();
});

describe('Local stack: IoT rules with a Lambda action', () => {
  it('tries a failing invocation once and as many times again as EventInvokeConfig says, then dead-letters it', async () => {
    const { cloud } = harness;
    const retries =
      cloud.functions.find((fn) => fn.id === 'DeviceStateFunction')?.asyncRetryAttempts ?? -1;
    const invocations = () => cloud.usage.counts.invocations.DeviceStateFunction ?? 0;
    const before = invocations();
    // Nothing the connector publishes: the function refuses it, every time.
    const message = {
      topic: `${PREFIX}/70b3d57ed0001a2b/uplink`,
      payload: Buffer.from('not json'),
    };

    expect(cloud.applyTopicRules(message)).toEqual([]);
    await cloud.rulesSettled();

    expect(retries).toBe(2);
    expect(invocations() - before).toBe(1 + retries);
    expect(cloud.deadLetters.at(-1)).toMatchObject({
      ruleId: 'DeviceStateUplinkRule',
      message,
      error: expect.stringContaining('not JSON'),
    });
  });
});
