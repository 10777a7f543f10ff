import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  DeleteItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  reportFailureHandlerFromEnv,
  type ReportInput,
} from '../../functions/downlinks/report/report-failure.js';
import {
  sendToOrbiwanHandlerFromEnv,
  type SendInput,
} from '../../functions/downlinks/send/send-to-orbiwan.js';
import { createHandler as createStatusHandler } from '../../functions/downlinks/status/create-handler.js';
import { createHandler as createNotificationHandler } from '../../functions/notifications/create-handler.js';
import { METRIC } from '../../functions/shared/metrics.js';
import { SAMPLE_PUSH_TOKEN, pushEvent, sampleEvent } from '../helpers/api-events.js';
import {
  PUSH_TOKEN_SECRET_ARN,
  mockAws,
  orbiwanFunctionEnv,
  resetAws,
} from '../helpers/aws-mocks.js';
import { startFakeHttpServer, type FakeHttpServer } from '../helpers/fake-http-server.js';
import { lambdaContext } from '../helpers/lambda-context.js';
import { captureLogs, type CapturedLogs } from '../helpers/logs.js';

// What operators see: the metrics the dashboard and alarms read (embedded metric format lines),
// and one correlation id in every log line of an invocation.

const aws = mockAws();
const PUSH_ENV = { TOPIC_PREFIX: 'orbiwan/lorawan', PUSH_TOKEN_SECRET_ARN };
let orbiwan: FakeHttpServer;
let logs: CapturedLogs;

beforeAll(async () => {
  orbiwan = await startFakeHttpServer();
});

afterAll(async () => {
  await orbiwan.close();
});

beforeEach(() => {
  resetAws(aws, {
    pushToken: SAMPLE_PUSH_TOKEN,
    orbiwanCredentials: { username: 'u', password: 'p' },
  });
  aws.dynamo.on(PutItemCommand).resolves({});
  aws.dynamo.on(DeleteItemCommand).resolves({});
  aws.dynamo.on(UpdateItemCommand).resolves({});
  aws.sfn.on(SendTaskSuccessCommand).resolves({});
  orbiwan.respond(() => ({
    status: 200,
    body: '{"id":18014398509481985,"fcnt":57,"port":20,"transmissionStatus":0}',
  }));
  logs = captureLogs();
});

interface MetricLine {
  name: string;
  value: unknown;
  unit: string;
  namespace: string;
  dimensions: Record<string, unknown>;
}

/** The metrics printed in embedded metric format, one entry per metric. */
function metricsPublished(): MetricLine[] {
  return logs.entries().flatMap((entry) => {
    const metadata = entry._aws as
      | {
          CloudWatchMetrics: {
            Namespace: string;
            Dimensions: string[][];
            Metrics: { Name: string; Unit: string }[];
          }[];
        }
      | undefined;
    if (metadata === undefined) return [];
    return metadata.CloudWatchMetrics.flatMap(({ Namespace, Dimensions, Metrics }) =>
      Metrics.map(({ Name, Unit }) => ({
        name: Name,
        value: entry[Name],
        unit: Unit,
        namespace: Namespace,
        dimensions: Object.fromEntries(
          (Dimensions[0] ?? []).map((dimension) => [dimension, entry[dimension]]),
        ),
      })),
    );
  });
}

const logLines = () => logs.entries().filter((entry) => entry._aws === undefined);

describe('Observability: notifications', () => {
  const uplink = () =>
    createNotificationHandler({
      ...PUSH_ENV,
      NOTIFICATION_TYPE: 'uplink',
    })(sampleEvent('uplink', 'gateways-base64-payload'), lambdaContext);

  it('counts a published notification by type, under the stack namespace and the service', async () => {
    expect((await uplink()).statusCode).toBe(200);

    expect(metricsPublished()).toEqual([
      {
        name: METRIC.notificationsPublished,
        value: 1,
        unit: 'Count',
        namespace: 'OrbiwanConnector/test',
        dimensions: { service: 'orbiwan-connector', notificationType: 'uplink' },
      },
    ]);
  });

  it("carries the HTTP request's id as the correlation id of every log line", async () => {
    const event = sampleEvent('uplink', 'gateways-base64-payload');
    await createNotificationHandler({ ...PUSH_ENV, NOTIFICATION_TYPE: 'uplink' })(
      event,
      lambdaContext,
    );

    const lines = logLines();
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.correlation_id).toBe(event.requestContext.requestId);
  });

  it('counts a push refused for its token as an auth failure, and publishes nothing', async () => {
    const reply = await createNotificationHandler({ ...PUSH_ENV, NOTIFICATION_TYPE: 'uplink' })(
      pushEvent({ path: '/rest/callback/payloads/ul', body: '{}', authorization: 'Bearer wrong' }),
      lambdaContext,
    );

    expect(reply.statusCode).toBe(401);
    expect(metricsPublished()).toEqual([
      expect.objectContaining({
        name: METRIC.authFailures,
        value: 1,
        dimensions: { service: 'orbiwan-connector', notificationType: 'uplink' },
      }),
    ]);
  });

  it('counts a push answered 5xx because IoT Core failed as a publish failure', async () => {
    aws.iot.on(PublishCommand).rejects(new Error('IoT Core down'));
    expect((await uplink()).statusCode).toBe(502);

    expect(metricsPublished().map((metric) => metric.name)).toEqual([METRIC.publishFailures]);
  });
});

describe('Observability: downlinks', () => {
  const send = (input: SendInput) =>
    sendToOrbiwanHandlerFromEnv(orbiwanFunctionEnv(orbiwan.url))(input, lambdaContext);
  const sendInput = () => ({
    ...(sampleEvent('send-to-orbiwan', 'confirmed') as unknown as SendInput),
    correlationId: 'downlink_6f0c2a8e-1b7d-4a57-9c3e-2d5f8e9a0b1c',
  });

  it('times the call to OrbiWAN and the request-to-acceptance delay, and logs the correlation id', async () => {
    const input = sendInput();
    await send(input);

    const metrics = metricsPublished();
    expect(metrics).toContainEqual(
      expect.objectContaining({
        name: METRIC.orbiwanCallLatency,
        unit: 'Milliseconds',
        dimensions: { service: 'orbiwan-connector', operation: 'enqueueDownlink' },
      }),
    );
    const acceptance = metrics.find((metric) => metric.name === METRIC.downlinkAcceptanceLatency);
    // The sample was received long ago: the delay is measured from the rule's receivedAt.
    expect(acceptance?.value).toBeGreaterThanOrEqual(Date.now() - input.downlink.receivedAt - 1000);
    expect(metrics.some((metric) => metric.name === METRIC.orbiwanErrors)).toBe(false);
    for (const line of logLines()) expect(line.correlation_id).toBe(input.correlationId);
  });

  it('counts a call OrbiWAN fails as an OrbiWAN error', async () => {
    orbiwan.respond(() => ({ status: 503, body: 'maintenance' }));
    await expect(send(sendInput())).rejects.toMatchObject({ name: 'OrbiwanUnavailableError' });

    expect(metricsPublished()).toContainEqual(
      expect.objectContaining({
        name: METRIC.orbiwanErrors,
        value: 1,
        dimensions: { service: 'orbiwan-connector', operation: 'enqueueDownlink' },
      }),
    );
  });

  it("does not count a device's busy queue as an OrbiWAN error; counts a 404, which a wrong URL gives too", async () => {
    orbiwan.respond(() => ({ status: 409, body: 'queue full' }));
    await expect(send(sendInput())).rejects.toMatchObject({ name: 'DeviceBusyError' });
    const afterBusy = metricsPublished().map((metric) => metric.name);
    expect(afterBusy).toContain(METRIC.orbiwanCallLatency);
    expect(afterBusy).not.toContain(METRIC.orbiwanErrors);

    orbiwan.respond(() => ({ status: 404, body: 'no such node' }));
    await expect(send(sendInput())).rejects.toMatchObject({ name: 'UnknownDeviceError' });
    expect(metricsPublished().map((metric) => metric.name)).toContain(METRIC.orbiwanErrors);
  });

  it('counts an unconfirmed downlink as delivered when its `sent` came before the POST was recorded', async () => {
    // What DynamoDB answers the POST's record with: the item as it was, holding the early status.
    aws.dynamo.on(UpdateItemCommand).resolves({ Attributes: { lastStatus: { N: '1' } } });
    await send(sampleEvent('send-to-orbiwan', 'unconfirmed-with-fcnt') as unknown as SendInput);

    expect(metricsPublished()).toContainEqual(
      expect.objectContaining({
        name: METRIC.downlinksEnded,
        value: 1,
        dimensions: { service: 'orbiwan-connector', finalState: 'delivered' },
      }),
    );
  });

  it('leaves a final status that came before the POST to the status function, which counted it', async () => {
    aws.dynamo.on(UpdateItemCommand).resolves({ Attributes: { lastStatus: { N: '2' } } });
    await send(sendInput());
    aws.dynamo.on(UpdateItemCommand).resolves({ Attributes: { lastStatus: { N: '1' } } });
    await send(sendInput()); // confirmed: `sent` does not end it

    expect(metricsPublished().map((metric) => metric.name)).not.toContain(METRIC.downlinksEnded);
  });

  it.each([
    ['invalid', 'invalid'],
    ['rejected-unknown-device', 'rejected'],
    ['error-orbiwan-unavailable', 'failed'],
    ['timed-out', 'timed_out'],
  ])('counts a downlink reported %s as ended %s, once it is published', async (sample, state) => {
    const report = reportFailureHandlerFromEnv({ TOPIC_PREFIX: 'orbiwan/lorawan' });
    await report(
      sampleEvent('report-downlink-failure', sample) as unknown as ReportInput,
      lambdaContext,
    );

    expect(metricsPublished()).toEqual([
      expect.objectContaining({
        name: METRIC.downlinksEnded,
        value: 1,
        dimensions: { service: 'orbiwan-connector', finalState: state },
      }),
    ]);
  });

  it('counts the connector failing on the validation path as failed, not invalid', async () => {
    const report = reportFailureHandlerFromEnv({ TOPIC_PREFIX: 'orbiwan/lorawan' });
    const invalid = sampleEvent('report-downlink-failure', 'invalid') as unknown as ReportInput;
    await report(
      {
        ...invalid,
        failure: { Error: 'Lambda.TooManyRequestsException', Cause: 'Rate Exceeded.' },
      },
      lambdaContext,
    );

    expect(metricsPublished()).toEqual([
      expect.objectContaining({
        name: METRIC.downlinksEnded,
        value: 1,
        dimensions: { service: 'orbiwan-connector', finalState: 'failed' },
      }),
    ]);
  });

  it('counts a status IoT Core would not take, and not yet the failure (the state retries it)', async () => {
    aws.iot.on(PublishCommand).rejects(new Error('IoT Core down'));
    const report = reportFailureHandlerFromEnv({ TOPIC_PREFIX: 'orbiwan/lorawan' });
    await expect(
      report(
        sampleEvent('report-downlink-failure', 'timed-out') as unknown as ReportInput,
        lambdaContext,
      ),
    ).rejects.toThrow();
    expect(metricsPublished()).toEqual([
      expect.objectContaining({
        name: METRIC.statusPublishFailures,
        value: 1,
        dimensions: { service: 'orbiwan-connector' },
      }),
    ]);
  });

  it('counts an accepted status IoT Core would not take, though the downlink goes on', async () => {
    aws.iot.on(PublishCommand).rejects(new Error('IoT Core down'));
    await expect(send(sendInput())).resolves.toMatchObject({ id: '18014398509481985' });

    expect(metricsPublished().map((metric) => metric.name)).toContain(METRIC.statusPublishFailures);
  });

  const pushStatus = () =>
    createStatusHandler({
      ...PUSH_ENV,
      NOTIFICATION_TYPE: 'downlink_status',
      DOWNLINKS_TABLE_NAME: 'downlinks',
      DOWNLINK_TIMEOUT_SECONDS: '60',
    })(sampleEvent('downlink-status', 'acknowledged'), lambdaContext);

  it("counts the status that ends a downlink, and logs the downlink's correlation id", async () => {
    aws.dynamo.on(UpdateItemCommand).resolves({
      Attributes: {
        lastStatus: { N: '2' },
        confirmed: { BOOL: true },
        executionArn: {
          S: 'arn:aws:states:eu-west-1:123456789012:execution:DownlinkStateMachine:downlink_abc',
        },
      },
    });
    await pushStatus();

    expect(metricsPublished()).toContainEqual(
      expect.objectContaining({
        name: METRIC.downlinksEnded,
        dimensions: { service: 'orbiwan-connector', finalState: 'acknowledged' },
      }),
    );
    expect(logLines().some((line) => line.downlinkCorrelationId === 'downlink_abc')).toBe(true);
  });

  it('does not count a repeated final status twice', async () => {
    aws.dynamo
      .on(UpdateItemCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'not newer', $metadata: {} }));
    aws.dynamo.on(GetItemCommand).resolves({ Item: { lastStatus: { N: '2' } } });
    await pushStatus();

    expect(metricsPublished().map((metric) => metric.name)).toEqual([
      METRIC.notificationsPublished,
    ]);
  });
});

describe('Observability: tracing', () => {
  async function freshTracer(env: Record<string, string>) {
    vi.resetModules();
    const saved = process.env;
    process.env = { ...saved, ...env };
    try {
      return (await import('../../functions/shared/tracer.js')).tracer;
    } finally {
      process.env = saved;
    }
  }

  it('loads the X-Ray tracer in Lambda with tracing on, and nowhere else', async () => {
    expect(await freshTracer({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' })).toBeDefined();
    expect(await freshTracer({})).toBeUndefined();
    expect(
      await freshTracer({
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        POWERTOOLS_TRACE_ENABLED: 'false',
      }),
    ).toBeUndefined();
    expect(
      await freshTracer({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', AWS_SAM_LOCAL: 'true' }),
    ).toBeUndefined();
  });
});
