import { PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  reportFailureHandlerFromEnv,
  type ReportInput,
} from '../../../functions/downlinks/report/report-failure.js';
import { sampleEvent } from '../../helpers/api-events.js';
import { mockAws, publishedMessages, resetAws } from '../../helpers/aws-mocks.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs } from '../../helpers/logs.js';

const aws = mockAws();
const report = (input: ReportInput) =>
  reportFailureHandlerFromEnv({ TOPIC_PREFIX: 'orbiwan/lorawan' })(input, lambdaContext);
const sample = (name: string) =>
  sampleEvent('report-downlink-failure', name) as unknown as ReportInput;

/** The one status published. */
function published() {
  const messages = publishedMessages(aws.iot);
  const [message] = messages;
  if (message === undefined || messages.length > 1) {
    throw new Error(`expected one status published, got ${String(messages.length)}`);
  }
  return message;
}

beforeEach(() => {
  resetAws(aws);
  captureLogs();
});

describe('Handler: ReportDownlinkFailure', () => {
  it('answers an invalid request on its own topic + /status with INVALID_DOWNLINK and its requestId', async () => {
    await expect(report(sample('invalid'))).resolves.toEqual({
      topic: 'orbiwan/lorawan/70b3d57ed0001a2b/downlink/status',
      code: 'INVALID_DOWNLINK',
    });
    expect(published()).toMatchObject({
      topic: 'orbiwan/lorawan/70b3d57ed0001a2b/downlink/status',
      qos: 1,
      text: JSON.stringify({
        DevEUI: '70b3d57ed0001a2b',
        requestId: 'order-43',
        state: 'error',
        error: {
          code: 'INVALID_DOWNLINK',
          message:
            'not a valid downlink: data: expected hex digits, two per byte; port: Too small: expected number to be >=1',
        },
        correlationId: 'downlink_1a2b3c58-1b7d-4a57-9c3e-2d5f8e9a0b1c',
      }),
    });
  });

  it.each([
    [
      'rejected-unknown-device',
      'UNKNOWN_DEVICE',
      'OrbiWAN does not know device 70b3d57ed0001a2b: Node not found',
    ],
    [
      'error-orbiwan-unavailable',
      'ORBIWAN_UNAVAILABLE',
      'OrbiWAN failed the downlink POST (502); it may have queued it',
    ],
  ])(
    'publishes %s as an error status with code %s and the error message, never the trace',
    async (name, code, message) => {
      await report(sample(name));
      const status = JSON.parse(published().text) as Record<string, unknown>;
      expect(status).toMatchObject({
        DevEUI: '70b3d57ed0001a2b',
        state: 'error',
        error: { code, message },
      });
      expect(published().text).not.toContain('handler.mjs');
    },
  );

  it("publishes a timeout as timed_out with OrbiWAN's id (exact, as a JSON number), the last known status and the correlation id", async () => {
    await report(sample('timed-out'));
    expect(published().text).toBe(
      '{"id":18014398509481985,"DevEUI":"70b3d57ed0001a2b","requestId":"order-42","transmissionStatus":0,"state":"timed_out","error":{"code":"TIMED_OUT","message":"OrbiWAN reported no final status within 86400 s of waiting"},"correlationId":"downlink_1a2b3c5a-1b7d-4a57-9c3e-2d5f8e9a0b1c"}',
    );
  });

  it('reports an error it does not know as INTERNAL_ERROR without details', async () => {
    const input = {
      ...sample('error-orbiwan-unavailable'),
      failure: { Error: 'Lambda.Unknown', Cause: 'Runtime exited with error: signal: killed' },
    };
    await report(input);
    expect(JSON.parse(published().text)).toMatchObject({
      error: {
        code: 'INTERNAL_ERROR',
        message: 'the connector failed (Lambda.Unknown); see its logs',
      },
    });
  });

  it('fails (so the state machine retries it) when the status cannot be published', async () => {
    aws.iot.on(PublishCommand).rejects(new Error('unavailable'));
    await expect(report(sample('timed-out'))).rejects.toMatchObject({
      name: 'DependencyError',
      code: 'PUBLISH_FAILED',
    });
  });
});
