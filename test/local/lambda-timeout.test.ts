import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFunction } from '../../local/lambda/local-functions.js';
import { startLocalCloud, type LocalCloud } from '../../local/local-cloud.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import { SAMPLE_PUSH_TOKEN, sampleEvent } from '../helpers/api-events.js';
import { sampleStack } from '../helpers/sample-stack.js';

// The local stack's functions answer as Lambda does when they run past their Timeout: the caller
// (API Gateway, Step Functions) hears Sandbox.Timedout at the deadline, not a late success.

let cloud: LocalCloud;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const template = loadTemplate();
  const uplink = template.Resources.UplinkFunction;
  // A one-second function, so a slow dependency outlasts it.
  if (uplink?.Properties !== undefined) uplink.Properties.Timeout = 1;
  // A short one, but with room for a loaded machine: it must answer as it returned.
  const location = template.Resources.LocationFunction;
  if (location?.Properties !== undefined) location.Properties.Timeout = 2;
  const stack = sampleStack({}, template);
  cloud = await startLocalCloud({
    template,
    stack,
    secrets: { [stack.refs.PushTokenSecret ?? '']: SAMPLE_PUSH_TOKEN },
    onPublish: () => undefined,
  });
});

afterAll(async () => {
  await cloud.close();
});

describe('Local Lambda: Timeout', () => {
  // First: the slow secret of the next test is still being fetched after its invocation failed.
  it('answers an invocation within its Timeout as it returned', async () => {
    const location = findFunction(cloud.functions, 'LocationFunction');
    await expect(location?.invoke(sampleEvent('location', 'lora-location'))).resolves.toMatchObject(
      { statusCode: 200 },
    );
  });

  it('fails an invocation that outlasts its Timeout with Sandbox.Timedout, at the deadline', async () => {
    cloud.faults.inject({ service: 'secrets-manager', effect: { delayMs: 1_500 }, times: 1 });
    const uplink = findFunction(cloud.functions, 'UplinkFunction');
    const started = performance.now();

    const outcome = await uplink
      ?.invoke(sampleEvent('uplink', 'gateways-base64-payload'))
      .catch((error: unknown) => error);

    expect(outcome).toMatchObject({
      name: 'Sandbox.Timedout',
      message: 'Task timed out after 1.00 seconds',
    });
    expect(performance.now() - started).toBeLessThan(1_400);
  });
});
