import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES,
  republishedStatus,
} from '../../../functions/downlinks/downlink-status.js';
import { createHandler } from '../../../functions/downlinks/status/create-handler.js';
import { IOT_MAX_PAYLOAD_BYTES } from '../../../functions/shared/publish.js';
import { SAMPLE_PUSH_TOKEN, bodyBytes, sampleEvent } from '../../helpers/api-events.js';
import {
  PUSH_TOKEN_SECRET_ARN,
  mockAws,
  publishedMessages,
  resetAws,
} from '../../helpers/aws-mocks.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs } from '../../helpers/logs.js';

const aws = mockAws();
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAaUOgV1tNaxq9dQXmEHH8dXC1tZQUx1vlTF9qrPRAd8T4Sa';
const event = sampleEvent('downlink-status', 'acknowledged');
const body = bodyBytes(event).toString('utf8');

const statusHandler = () =>
  createHandler({
    NOTIFICATION_TYPE: 'downlink_status',
    TOPIC_PREFIX: 'orbiwan/lorawan',
    PUSH_TOKEN_SECRET_ARN,
    DOWNLINKS_TABLE_NAME: 'downlinks',
    DOWNLINK_TIMEOUT_SECONDS: '60',
  });
const invoke = () => statusHandler()(event, lambdaContext);

/** The text of every status published, in order. */
const publishedTexts = () => publishedMessages(aws.iot).map(({ text }) => text);

beforeEach(() => {
  resetAws(aws, { pushToken: SAMPLE_PUSH_TOKEN });
  aws.sfn.on(SendTaskSuccessCommand).resolves({});
  captureLogs();
});

describe('Handler: downlink status', () => {
  it("records the status under (DevEUI, OrbiWAN id), republishes it with requestId, state and the downlink's correlation id, and resumes the waiting execution", async () => {
    aws.dynamo.on(UpdateItemCommand).resolves({
      Attributes: {
        requestId: { S: 'order-42' },
        executionArn: {
          S: 'arn:aws:states:eu-west-1:123456789012:execution:DownlinkStateMachine:downlink_abc',
        },
        lastStatus: { N: '2' },
        taskToken: { S: TOKEN },
        waitingAfterRank: { N: '1' },
      },
    });

    const reply = await invoke();

    expect(reply.statusCode).toBe(200);
    expect(aws.dynamo.commandCalls(UpdateItemCommand)[0]?.args[0].input).toMatchObject({
      Key: { devEui: { S: '70b3d57ed0001a2b' }, downlinkId: { S: '1795694400000777' } },
      ConditionExpression: 'attribute_not_exists(statusRank) OR statusRank < :rank',
      ExpressionAttributeValues: expect.objectContaining({
        ':status': { N: '2' },
        ':rank': { N: '2' },
      }),
    });
    expect(publishedTexts()).toEqual([
      `${body.slice(0, -1)},"requestId":"order-42","state":"acknowledged","correlationId":"downlink_abc"}`,
    ]);
    expect(aws.sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input).toEqual({
      taskToken: TOKEN,
      output: '{"id":"1795694400000777","transmissionStatus":2}',
    });
  });

  it('marks a status that adds nothing new stale and does not resume with it', async () => {
    aws.dynamo
      .on(UpdateItemCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'older', $metadata: {} }));
    aws.dynamo.on(GetItemCommand).resolves({
      Item: {
        requestId: { S: 'order-42' },
        lastStatus: { N: '2' },
        taskToken: { S: TOKEN },
        waitingAfterRank: { N: '2' },
      },
    });

    await invoke();

    expect(publishedTexts()).toEqual([
      `${body.slice(0, -1)},"requestId":"order-42","state":"acknowledged","stale":true}`,
    ]);
    expect(aws.sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('still republishes (without requestId) and answers 200 when the table cannot be reached', async () => {
    aws.dynamo.on(UpdateItemCommand).rejects(new Error('table unavailable'));
    const reply = await invoke();
    expect(reply.statusCode).toBe(200);
    expect(publishedTexts()).toEqual([`${body.slice(0, -1)},"state":"acknowledged"}`]);
  });

  it('answers 200 when the execution cannot be resumed (it will time out and say so)', async () => {
    aws.dynamo.on(UpdateItemCommand).resolves({
      Attributes: {
        lastStatus: { N: '2' },
        taskToken: { S: TOKEN },
        waitingAfterRank: { N: '0' },
      },
    });
    aws.sfn.on(SendTaskSuccessCommand).rejects(new Error('service unavailable'));
    expect((await invoke()).statusCode).toBe(200);
  });

  it('answers 5xx and resumes nothing when the status cannot be published', async () => {
    aws.dynamo.on(UpdateItemCommand).resolves({
      Attributes: {
        lastStatus: { N: '2' },
        taskToken: { S: TOKEN },
        waitingAfterRank: { N: '0' },
      },
    });
    aws.iot.on(PublishCommand).rejects(new Error('iot unavailable'));
    expect((await invoke()).statusCode).toBe(502);
    expect(aws.sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('answers 413, recording and publishing nothing, for a status too big to publish with what it adds', async () => {
    const padded = `${body.slice(0, -1)},"pad":"${'x'.repeat(IOT_MAX_PAYLOAD_BYTES - REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES - body.length - 9)}"}`;
    const tooBig = `${padded.slice(0, -1)} }`;
    const handler = statusHandler();
    aws.dynamo
      .on(UpdateItemCommand)
      .resolves({ Attributes: { requestId: { S: 'r'.repeat(128) } } });

    expect(Buffer.byteLength(padded)).toBe(
      IOT_MAX_PAYLOAD_BYTES - REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES,
    );
    expect((await handler({ ...event, body: padded }, lambdaContext)).statusCode).toBe(200);
    const reply = await handler({ ...event, body: tooBig }, lambdaContext);

    expect(reply.statusCode).toBe(413);
    expect(JSON.parse(String(reply.body))).toMatchObject({
      error: {
        message: expect.stringContaining(
          `at most ${String(IOT_MAX_PAYLOAD_BYTES - REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES)}`,
        ),
      },
    });
    expect(aws.dynamo.commandCalls(UpdateItemCommand)).toHaveLength(1);
    expect(publishedMessages(aws.iot)).toHaveLength(1);
  });
});

describe('Downlink status messages', () => {
  it('add at most REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES to what OrbiWAN sent', () => {
    // The longest requestId a request may carry, in the widest UTF-8, the longest state, stale,
    // and the longest execution name Step Functions allows.
    const added = republishedStatus(Buffer.from(body), {
      transmissionStatus: 3,
      requestId: '\u{1F4E1}'.repeat(64) + '\u{10FFFF}'.repeat(64),
      stale: true,
      correlationId: 'x'.repeat(80),
    });
    expect(added.length - Buffer.byteLength(body)).toBeLessThanOrEqual(
      REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES,
    );
  });
});
