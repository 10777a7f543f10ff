import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ReportInput } from '../../functions/downlinks/report/report-failure.js';
import { SAMPLE_PUSH_TOKEN, sampleEvent } from '../helpers/api-events.js';
import { PUSH_TOKEN_SECRET_ARN, mockAws, resetAws } from '../helpers/aws-mocks.js';
import { lambdaContext } from '../helpers/lambda-context.js';
import { captureLogs } from '../helpers/logs.js';

// Tracing as it runs in Lambda: the functions load the X-Ray tracer (shared/tracer.ts) and send
// each invocation's subsegment to the X-Ray daemon over UDP; here the daemon is a socket of the
// test's, so what the functions would send to X-Ray is read back and checked. This file's process
// is the only one that loads the X-Ray SDK.

const TRACE_ID = '1-5759e988-bd862e3fe1be46a994272793';
const aws = mockAws();
let daemon: Socket;
let saved: NodeJS.ProcessEnv;

interface Subsegment {
  name: string;
  trace_id: string;
  parent_id: string;
  annotations?: Record<string, unknown>;
}

/** The next subsegment the functions send to the X-Ray daemon. */
function nextSubsegment(): Promise<Subsegment> {
  return new Promise((resolve) => {
    daemon.once('message', (message) => {
      // The X-Ray daemon protocol: a JSON header line, then the segment document.
      const [, document = ''] = message.toString('utf8').split('\n');
      resolve(JSON.parse(document) as Subsegment);
    });
  });
}

beforeAll(async () => {
  daemon = createSocket('udp4');
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  saved = process.env;
  // What Lambda sets for a function with Tracing: Active (the trace header changes per invocation).
  process.env = {
    ...saved,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: '/var/task',
    _HANDLER: 'handler.handler',
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${String(daemon.address().port)}`,
    _X_AMZN_TRACE_ID: `Root=${TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1`,
  };
  vi.resetModules();
  resetAws(aws, { pushToken: SAMPLE_PUSH_TOKEN });
});

afterAll(() => {
  process.env = saved;
  daemon.close();
});

describe('Tracing in Lambda', () => {
  it("traces a push's invocation, annotated with the HTTP request's id", async () => {
    captureLogs();
    const { notificationHandlerFromEnv } =
      await import('../../functions/notifications/notification-handler.js');
    const handler = notificationHandlerFromEnv({
      TOPIC_PREFIX: 'orbiwan/lorawan',
      PUSH_TOKEN_SECRET_ARN,
      NOTIFICATION_TYPE: 'uplink',
    });
    const event = sampleEvent('uplink', 'gateways-base64-payload');
    const traced = nextSubsegment();

    expect((await handler(event, lambdaContext)).statusCode).toBe(200);

    expect(await traced).toMatchObject({
      name: '## handler.handler',
      trace_id: TRACE_ID,
      parent_id: '53995c3f42cd8ad8',
      annotations: { correlationId: event.requestContext.requestId },
    });
  });

  it("traces a downlink task, annotated with its execution's name", async () => {
    captureLogs();
    const { reportFailureHandlerFromEnv } =
      await import('../../functions/downlinks/report/report-failure.js');
    const report = reportFailureHandlerFromEnv({
      TOPIC_PREFIX: 'orbiwan/lorawan',
      DOWNLINKS_TABLE_NAME: 'downlinks',
      DOWNLINK_TIMEOUT_SECONDS: '3600',
    });
    const input = sampleEvent('report-downlink-failure', 'invalid') as unknown as ReportInput;
    const traced = nextSubsegment();

    await report({ ...input, correlationId: 'downlink_6f0c2a8e-1b7d' }, lambdaContext);

    expect((await traced).annotations).toMatchObject({ correlationId: 'downlink_6f0c2a8e-1b7d' });
  });
});
