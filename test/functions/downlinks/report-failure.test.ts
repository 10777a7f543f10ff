import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  reportFailureHandlerFromEnv,
  type ReportInput,
} from '../../../functions/downlinks/report/report-failure.js';
import { requestClaims } from '../../../functions/downlinks/request-claims.js';
import { sampleEvent } from '../../helpers/api-events.js';
import { publishedMessages } from '../../helpers/aws-mocks.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs, type CapturedLogs } from '../../helpers/logs.js';
import {
  DEV_EUI,
  DOWNLINK_ID,
  PREFIX,
  RETENTION_SECONDS,
  STATUS_TOPIC,
  downlinksEnded,
  orbiwanDownlink,
  ruleInput,
} from './downlink-fixtures.js';
import { useDownlinksTable } from './downlinks-table.js';

// ReportInvalidDownlink, ReportRejection and ReportError: every way the send task fails ends with
// a status saying why. The claims table is real (in-memory), reached through
// AWS_ENDPOINT_URL_DYNAMODB; IoT Core mocked.

const iot = mockClient(IoTDataPlaneClient);
const table = useDownlinksTable({ forFunctions: true });
let logs: CapturedLogs;

beforeEach(() => {
  iot.reset();
  iot.on(PublishCommand).resolves({});
  logs = captureLogs();
});

/** The task as the template wires it. */
const report = (input: ReportInput) =>
  reportFailureHandlerFromEnv({
    TOPIC_PREFIX: PREFIX,
    DOWNLINKS_TABLE_NAME: table.tableName,
    DOWNLINK_TIMEOUT_SECONDS: '3600',
  })(input, lambdaContext);

const sample = (name: string) =>
  sampleEvent('report-downlink-failure', name) as unknown as ReportInput;

/** The one status published, parsed. */
function published(): Record<string, unknown> {
  const messages = publishedMessages(iot);
  expect(messages).toHaveLength(1);
  return JSON.parse(messages[0]?.text ?? '') as Record<string, unknown>;
}

/** A failure as Step Functions passes a Lambda error on: its message inside a JSON Cause. */
const lambdaFailure = (errorType: string, errorMessage: string) => ({
  Error: errorType,
  Cause: JSON.stringify({
    errorType,
    errorMessage,
    trace: [
      `${errorType}: ${errorMessage}`,
      '    at sendDownlink (file:///var/task/handler.mjs:1:2)',
    ],
  }),
});

describe('Handler: ReportDownlinkFailure', () => {
  it('answers an invalid request on its own topic + /status with INVALID_DOWNLINK and its requestId', async () => {
    const input = sample('invalid');

    await expect(report(input)).resolves.toMatchObject({
      topic: STATUS_TOPIC,
      code: 'INVALID_DOWNLINK',
    });

    expect(publishedMessages(iot)).toMatchObject([
      {
        topic: STATUS_TOPIC,
        qos: 1,
        text: JSON.stringify({
          DevEUI: DEV_EUI,
          requestId: 'order-43',
          state: 'error',
          error: {
            code: 'INVALID_DOWNLINK',
            message:
              'not a valid downlink: data: expected hex digits, two per byte; port: Too small: expected number to be >=1',
          },
          correlationId: input.correlationId,
        }),
      },
    ]);
    expect(downlinksEnded(logs)).toEqual(['invalid']);
  });

  it('answers an invalid request on the topic it came on, naming its DevEUI normalised', async () => {
    const topic = `${PREFIX}/70-B3-D5-7E-D0-00-1A-2B/downlink`;
    const input: ReportInput = {
      ...sample('invalid'),
      request: { ...ruleInput('not json', topic), failure: sample('invalid').request.failure },
    };

    await expect(report(input)).resolves.toMatchObject({ topic: `${topic}/status` });

    expect(published()).toMatchObject({ DevEUI: DEV_EUI, state: 'error' });
  });

  it('answers a valid request whose topic writes the DevEUI otherwise on the normalised status topic', async () => {
    const base = sample('rejected-unknown-device');
    const input: ReportInput = {
      ...base,
      request: {
        ...ruleInput(
          { data: 'aabbcc', port: 20, requestId: 'order-45' },
          `${PREFIX}/0x70B3D57ED0001A2B/downlink`,
        ),
        failure: base.request.failure,
      },
    };

    await expect(report(input)).resolves.toMatchObject({
      topic: STATUS_TOPIC,
      code: 'UNKNOWN_DEVICE',
    });

    expect(publishedMessages(iot).map(({ topic }) => topic)).toEqual([STATUS_TOPIC]);
    expect(published()).toMatchObject({ DevEUI: DEV_EUI, requestId: 'order-45' });
  });

  it.each([
    [
      'UnknownDeviceError',
      'UNKNOWN_DEVICE',
      'OrbiWAN does not know device 70b3d57ed0001a2b: Node not found',
    ],
    ['DeviceBusyError', 'DEVICE_BUSY', "OrbiWAN's downlink queue for 70b3d57ed0001a2b is busy"],
    [
      'DeviceLockedError',
      'DEVICE_BUSY',
      'another downlink to 70b3d57ed0001a2b is being sent to OrbiWAN; OrbiWAN takes one at a time',
    ],
    ['OrbiwanRejectedError', 'ORBIWAN_REJECTED', 'OrbiWAN refused the downlink (400): bad port'],
  ])(
    'publishes the rejection %s as code %s with its message, never its trace, counted rejected',
    async (errorType, code, message) => {
      const input: ReportInput = {
        ...sample('rejected-unknown-device'),
        request: {
          ...sample('rejected-unknown-device').request,
          failure: lambdaFailure(errorType, message),
        },
      };

      await expect(report(input)).resolves.toMatchObject({ topic: STATUS_TOPIC, code });

      expect(published()).toMatchObject({
        DevEUI: DEV_EUI,
        requestId: 'order-45',
        state: 'error',
        error: { code, message },
      });
      expect(publishedMessages(iot)[0]?.text).not.toContain('handler.mjs');
      expect(downlinksEnded(logs)).toEqual(['rejected']);
    },
  );

  it('publishes DeviceLockedError from its sample event as DEVICE_BUSY', async () => {
    await expect(report(sample('rejected-device-locked'))).resolves.toMatchObject({
      code: 'DEVICE_BUSY',
    });
    expect(downlinksEnded(logs)).toEqual(['rejected']);
  });

  it('publishes OrbiWAN failing as ORBIWAN_UNAVAILABLE, counted failed', async () => {
    await expect(report(sample('error-orbiwan-unavailable'))).resolves.toMatchObject({
      topic: STATUS_TOPIC,
      code: 'ORBIWAN_UNAVAILABLE',
    });

    expect(published()).toMatchObject({
      requestId: 'order-42',
      state: 'error',
      error: {
        code: 'ORBIWAN_UNAVAILABLE',
        message: 'OrbiWAN failed the downlink POST (502); it may have queued it',
      },
    });
    expect(downlinksEnded(logs)).toEqual(['failed']);
  });

  it("publishes a downlink queued but not recorded as INTERNAL_ERROR, with OrbiWAN's id and a message saying it was queued", async () => {
    const input = sample('error-not-recorded');
    const request = { devEui: DEV_EUI, requestId: 'order-47', execution: input.correlationId };
    const claims = requestClaims({
      client: table.client,
      tableName: table.tableName,
      windowMs: 86_400_000,
      retentionSeconds: RETENTION_SECONDS,
    });
    await claims.claim(request);
    await claims.notePosted(request, {
      downlinkId: DOWNLINK_ID,
      reply: orbiwanDownlink(DOWNLINK_ID, 0),
    });

    await expect(report(input)).resolves.toMatchObject({ code: 'INTERNAL_ERROR' });

    const [message] = publishedMessages(iot);
    // OrbiWAN's 64-bit id exact, as a JSON number.
    expect(message?.text).toMatch(new RegExp(`^\\{"id":${DOWNLINK_ID},"DevEUI"`));
    expect(published()).toMatchObject({
      requestId: 'order-47',
      state: 'error',
      error: {
        code: 'INTERNAL_ERROR',
        message: `OrbiWAN queued the downlink (id ${DOWNLINK_ID}), but the connector could not record it to follow it; do not send it again`,
      },
    });
    expect(downlinksEnded(logs)).toEqual(['failed']);
  });

  it('publishes no id when the failing execution never had one from OrbiWAN', async () => {
    await report(sample('error-orbiwan-unavailable'));

    expect(published()).not.toHaveProperty('id');
  });

  it('reports an error it does not know as INTERNAL_ERROR without details', async () => {
    const base = sample('error-orbiwan-unavailable');
    const input: ReportInput = {
      ...base,
      request: {
        ...base.request,
        failure: { Error: 'Lambda.Unknown', Cause: 'Runtime exited with error: signal: killed' },
      },
    };

    await expect(report(input)).resolves.toMatchObject({ code: 'INTERNAL_ERROR' });

    expect(published()).toMatchObject({
      error: {
        code: 'INTERNAL_ERROR',
        message: 'the connector failed (Lambda.Unknown); see its logs',
      },
    });
  });

  it.each([
    [
      'a cause that is not a Lambda error',
      { Error: 'UnknownDeviceError', Cause: 'no such device' },
      'no such device',
    ],
    ['no cause at all', { Error: 'UnknownDeviceError' }, 'UnknownDeviceError'],
  ])('tells the application %s as it came', async (_, failure, message) => {
    const base = sample('rejected-device-locked');
    const input: ReportInput = { ...base, request: { ...base.request, failure } };

    await expect(report(input)).resolves.toMatchObject({ code: 'UNKNOWN_DEVICE' });

    expect(published()).toMatchObject({ error: { code: 'UNKNOWN_DEVICE', message } });
  });

  it("still reports when OrbiWAN's id cannot be looked up, without it", async () => {
    const withoutTable = reportFailureHandlerFromEnv({
      TOPIC_PREFIX: PREFIX,
      DOWNLINKS_TABLE_NAME: 'no-such-table',
      DOWNLINK_TIMEOUT_SECONDS: '3600',
    });

    await expect(
      withoutTable(sample('error-orbiwan-unavailable'), lambdaContext),
    ).resolves.toMatchObject({ code: 'ORBIWAN_UNAVAILABLE' });

    expect(published()).not.toHaveProperty('id');
    expect(logs.entries()).toContainEqual(
      expect.objectContaining({
        level: 'WARN',
        message: 'could not look up whether OrbiWAN queued the downlink',
      }),
    );
  });

  it('counts as failed, not invalid, an invalid-path failure that is not INVALID_DOWNLINK', async () => {
    const base = sample('invalid');
    const input: ReportInput = {
      ...base,
      request: { ...base.request, failure: { Error: 'States.Runtime', Cause: 'broken' } },
    };

    await expect(report(input)).resolves.toMatchObject({ code: 'INTERNAL_ERROR' });

    expect(downlinksEnded(logs)).toEqual(['failed']);
  });

  it("publishes timed_out when the timeout's check could not run, with OrbiWAN's id and why it was not asked", async () => {
    const correlationId = 'downlink_1a2b3c5d-1b7d-4a57-9c3e-2d5f8e9a0b1c';
    const claims = requestClaims({
      client: table.client,
      tableName: table.tableName,
      windowMs: 86_400_000,
      retentionSeconds: RETENTION_SECONDS,
    });
    const request = { devEui: DEV_EUI, requestId: 'order-42', execution: correlationId };
    await claims.claim(request);
    await claims.notePosted(request, {
      downlinkId: DOWNLINK_ID,
      reply: orbiwanDownlink(DOWNLINK_ID, 0),
    });
    const message =
      'OrbiWAN reported no final status within 3600 s, and the connector could not ask it (DependencyError)';

    const result = await report({
      outcome: 'timed_out',
      request: {
        ...ruleInput({ data: 'aabbcc', port: 20, requestId: 'order-42' }),
        timeoutSeconds: 3600,
        failure: { Error: 'States.Timeout', Cause: 'Task timed out.' },
        checkFailure: lambdaFailure('DependencyError', 'AWS IoT Core did not accept the publish'),
      },
      correlationId,
    });

    expect(result).toMatchObject({ topic: STATUS_TOPIC, code: 'TIMED_OUT', message });
    expect(publishedMessages(iot).map(({ text }) => text)).toEqual([
      `{"id":${DOWNLINK_ID},"DevEUI":"${DEV_EUI}","requestId":"order-42","state":"timed_out","error":{"code":"TIMED_OUT","message":"${message}"},"correlationId":"${correlationId}"}`,
    ]);
    expect(downlinksEnded(logs)).toEqual(['timed_out']);
  });

  it('fails (so the state machine retries it), counting nothing, when the status cannot be published', async () => {
    iot.on(PublishCommand).rejects(new Error('IoT Core unavailable'));

    await expect(report(sample('error-orbiwan-unavailable'))).rejects.toMatchObject({
      name: 'DependencyError',
      code: 'PUBLISH_FAILED',
    });

    expect(downlinksEnded(logs)).toEqual([]);
  });
});
