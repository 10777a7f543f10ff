import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { deviceLease } from '../../../functions/downlinks/device-lease.js';
import {
  downlinkRecords,
  type DownlinkRecords,
} from '../../../functions/downlinks/downlink-record.js';
import {
  REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES,
  republishedStatus,
} from '../../../functions/downlinks/downlink-status.js';
import { downlinkItem } from '../../../functions/downlinks/downlink-table.js';
import { downlinkStatusHandlerFromEnv as createHandler } from '../../../functions/downlinks/status/downlink-status-function.js';
import { downlinkStatusIntake } from '../../../functions/downlinks/status-intake.js';
import { statusPublisher } from '../../../functions/downlinks/status-publisher.js';
import {
  PUBLISHER_LEASE_MS,
  statusPublishing,
} from '../../../functions/downlinks/status-publishing.js';
import { stepFunctionsCompletion } from '../../../functions/downlinks/task-completion.js';
import { IOT_MAX_PAYLOAD_BYTES } from '../../../functions/shared/publish.js';
import { SAMPLE_PUSH_TOKEN, bodyBytes, pushEvent, sampleEvent } from '../../helpers/api-events.js';
import { PUSH_TOKEN_SECRET_ARN, publishedMessages } from '../../helpers/aws-mocks.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs } from '../../helpers/logs.js';
import {
  DEV_EUI,
  DOWNLINK_ID,
  EXECUTION,
  PREFIX,
  RETENTION_SECONDS,
  STATUS_TOPIC,
  TASK_TOKEN,
  pushedStatus,
  reportOf,
  statesPublished,
} from './downlink-fixtures.js';
import { useDownlinksTable } from './downlinks-table.js';

// DownlinkStatusFunction as the template wires it, on a real (in-memory) downlinks table: the
// function's own DynamoDB client reaches it through AWS_ENDPOINT_URL_DYNAMODB. IoT Core, Step
// Functions and Secrets Manager are mocked.

const iot = mockClient(IoTDataPlaneClient);
const sfn = mockClient(SFNClient);
const secrets = mockClient(SecretsManagerClient);
const table = useDownlinksTable({ forFunctions: true });

beforeEach(() => {
  for (const mock of [iot, sfn, secrets]) mock.reset();
  iot.on(PublishCommand).resolves({});
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  secrets
    .on(GetSecretValueCommand, { SecretId: PUSH_TOKEN_SECRET_ARN })
    .resolves({ SecretString: SAMPLE_PUSH_TOKEN });
  captureLogs();
});

/** The function as template.yaml configures it. */
const statusHandler = () =>
  createHandler({
    NOTIFICATION_TYPE: 'downlink_status',
    TOPIC_PREFIX: PREFIX,
    PUSH_TOKEN_SECRET_ARN,
    DOWNLINKS_TABLE_NAME: table.tableName,
    DOWNLINK_TIMEOUT_SECONDS: '60',
  });

const statusEvent = (body: string | Buffer): APIGatewayProxyEventV2 =>
  pushEvent({ path: '/rest/callback/payloads/dl', method: 'PUT', body });

/** OrbiWAN pushing a status of the downlink. */
const push = (transmissionStatus: number, id = DOWNLINK_ID) =>
  statusHandler()(statusEvent(pushedStatus(id, transmissionStatus)), lambdaContext);

const records = () =>
  downlinkRecords({
    client: table.client,
    tableName: table.tableName,
    retentionSeconds: RETENTION_SECONDS,
    publisherLeaseMs: PUBLISHER_LEASE_MS,
  });

/** The send task's record of its POST, once `accepted` is out. */
const recordPost = ({ confirmed = true, id = DOWNLINK_ID } = {}) =>
  records().recordPost(DEV_EUI, id, {
    execution: EXECUTION,
    taskToken: TASK_TOKEN,
    requestId: 'order-42',
    confirmed,
    accepted: { state: 'accepted', at: '2026-12-04T12:00:00.000Z' },
  });

const republished = (body: string, state: string, extra = '') =>
  `${body.slice(0, -1)},"requestId":"order-42","state":"${state}"${extra},"correlationId":"${EXECUTION}"}`;

const texts = () => publishedMessages(iot).map(({ text }) => text);

describe('Handler: downlink status', () => {
  it('publishes a status of a downlink the connector sent with its requestId, state and correlation id', async () => {
    await recordPost();

    const reply = await push(1);

    expect(reply.statusCode).toBe(200);
    expect(publishedMessages(iot)).toMatchObject([
      { topic: STATUS_TOPIC, qos: 1, text: republished(pushedStatus(DOWNLINK_ID, 1), 'sent') },
    ]);
    expect(sfn.calls()).toEqual([]);
    expect((await records().read(DEV_EUI, DOWNLINK_ID)).publishedRank).toBe(1);
  });

  it("ends the downlink's task on the final status, with the outcome listing every status", async () => {
    await recordPost();
    await push(1);

    expect((await push(2)).statusCode).toBe(200);

    expect(statesPublished(iot)).toEqual(['sent', 'acknowledged']);
    const [success] = sfn.commandCalls(SendTaskSuccessCommand).map((call) => call.args[0].input);
    expect(success?.taskToken).toBe(TASK_TOKEN);
    expect(JSON.parse(success?.output ?? '')).toEqual({
      outcome: {
        finalState: 'acknowledged',
        devEui: DEV_EUI,
        downlinkId: DOWNLINK_ID,
        requestId: 'order-42',
        statuses: [
          { state: 'accepted', at: '2026-12-04T12:00:00.000Z' },
          { state: 'sent', at: expect.any(String) },
          { state: 'acknowledged', at: expect.any(String) },
        ],
      },
    });
  });

  it.each([
    [3, 'NotAcknowledged'],
    [4, 'TransmissionError'],
    [5, 'Cancelled'],
  ])('fails the task with %i as %s', async (transmissionStatus, error) => {
    await recordPost();

    expect((await push(transmissionStatus)).statusCode).toBe(200);

    expect(sfn.commandCalls(SendTaskSuccessCommand)).toEqual([]);
    expect(sfn.commandCalls(SendTaskFailureCommand).map((call) => call.args[0].input)).toEqual([
      {
        taskToken: TASK_TOKEN,
        error,
        cause: expect.stringContaining(`"downlinkId":"${DOWNLINK_ID}"`),
      },
    ]);
  });

  it('ends an unconfirmed downlink at sent, as delivered', async () => {
    await recordPost({ confirmed: false });

    await push(1);

    const [success] = sfn.commandCalls(SendTaskSuccessCommand).map((call) => call.args[0].input);
    expect(JSON.parse(success?.output ?? '')).toMatchObject({
      outcome: { finalState: 'delivered' },
    });
  });

  it('republishes a repeated status stale, and ends nothing a second time', async () => {
    await recordPost();
    await push(2);

    expect((await push(2)).statusCode).toBe(200);

    expect(texts()).toEqual([
      republished(pushedStatus(DOWNLINK_ID, 2), 'acknowledged'),
      republished(pushedStatus(DOWNLINK_ID, 2), 'acknowledged', ',"stale":true'),
    ]);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });

  it('republishes stale a status that comes after a later one', async () => {
    await recordPost();
    await push(2);

    await push(1);

    expect(statesPublished(iot)).toEqual(['acknowledged', 'sent (stale)']);
  });

  it('republishes a status of a downlink the connector did not send as it came, with its state, and answers 200', async () => {
    const event = sampleEvent('downlink-status', 'acknowledged');
    const body = bodyBytes(event).toString('utf8');

    const reply = await statusHandler()(event, lambdaContext);

    expect(reply.statusCode).toBe(200);
    expect(publishedMessages(iot)).toMatchObject([
      { topic: STATUS_TOPIC, qos: 1, text: `${body.slice(0, -1)},"state":"acknowledged"}` },
    ]);
    expect(await table.item(DEV_EUI, downlinkItem('1795694400000777'))).toMatchObject({
      orphan: { BOOL: true },
    });
    expect(sfn.calls()).toEqual([]);
  });

  it('republishes a repeated status of a downlink the connector did not send stale', async () => {
    await push(2);
    await push(2);

    expect(statesPublished(iot)).toEqual(['acknowledged', 'acknowledged (stale)']);
    for (const text of texts()) expect(text).not.toMatch(/requestId|correlationId/);
  });

  it('correlates a status that names its device in a legacy form', async () => {
    const event = sampleEvent('downlink-status', 'sent-legacy-deveui');
    const body = bodyBytes(event).toString('utf8');
    await recordPost({ id: '1795694400000778' });

    expect((await statusHandler()(event, lambdaContext)).statusCode).toBe(200);

    expect(texts()).toEqual([
      `${body.slice(0, -1)},"requestId":"order-42","state":"sent","correlationId":"${EXECUTION}"}`,
    ]);
  });

  it("leaves a status with the device's lease holder while a POST is in flight: nothing published, 200", async () => {
    const { lease } = await deviceLease({
      client: table.client,
      tableName: table.tableName,
    }).acquire(DEV_EUI, EXECUTION, { deadline: Date.now() + 60_000, waitUntil: Date.now() });

    const reply = await push(1);

    expect(reply.statusCode).toBe(200);
    expect(publishedMessages(iot)).toEqual([]);
    expect((await records().read(DEV_EUI, DOWNLINK_ID)).reports).toMatchObject([
      { transmissionStatus: 1 },
    ]);
    await expect(lease.release()).resolves.toEqual([DOWNLINK_ID]);
  });

  it.each([
    ['an id that is not digits', '"#post-lock"'],
    ['an id with a key of another kind', '"lease"'],
    ['an id of 21 digits', '123456789012345678901'],
  ])('refuses %s with 400, recording and publishing nothing', async (_, id) => {
    const body = `{"DevEUI":"70B3D57ED0001A2B","id":${id},"transmissionStatus":2}`;

    const reply = await statusHandler()(statusEvent(body), lambdaContext);

    expect(reply.statusCode).toBe(400);
    expect(JSON.parse(reply.body ?? '')).toMatchObject({
      error: { code: 'INVALID_NOTIFICATION', message: expect.stringMatching(/\bid\b/) },
    });
    expect(await table.items()).toEqual([]);
    expect(publishedMessages(iot)).toEqual([]);
  });

  it('correlates a body that starts with a UTF-8 byte-order mark, and republishes it without', async () => {
    await recordPost();
    const body = pushedStatus(DOWNLINK_ID, 1);

    const reply = await statusHandler()(statusEvent(Buffer.from(`\uFEFF${body}`)), lambdaContext);

    expect(reply.statusCode).toBe(200);
    expect(texts()).toEqual([republished(body, 'sent')]);
  });

  it('answers 5xx when IoT Core refuses the publish, ending nothing and leaving the status to publish', async () => {
    await recordPost();
    iot.on(PublishCommand).rejects(new Error('IoT Core unavailable'));

    const reply = await push(2);

    expect(reply.statusCode).toBe(502);
    expect(JSON.parse(reply.body ?? '')).toMatchObject({ error: { code: 'PUBLISH_FAILED' } });
    expect(sfn.calls()).toEqual([]);
    const view = await records().read(DEV_EUI, DOWNLINK_ID);
    expect(view).toMatchObject({ publishedRank: 0, ended: undefined });
    expect(view.reports).toMatchObject([{ transmissionStatus: 2 }]);
    expect((await table.item(DEV_EUI, downlinkItem(DOWNLINK_ID)))?.publisher).toBeUndefined();
  });

  it('answers 200 when the task cannot be ended: the status is out, and the wait times out', async () => {
    await recordPost();
    sfn.on(SendTaskSuccessCommand).rejects(new Error('Step Functions unavailable'));

    expect((await push(2)).statusCode).toBe(200);

    expect(statesPublished(iot)).toEqual(['acknowledged']);
    expect((await records().read(DEV_EUI, DOWNLINK_ID)).ended).toBe('acknowledged');
  });

  it('answers 413, recording and publishing nothing, for a status too big to publish with what it adds', async () => {
    await recordPost();
    const limit = IOT_MAX_PAYLOAD_BYTES - REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES;
    const status = pushedStatus(DOWNLINK_ID, 2);
    const tooBig = `${status.slice(0, -1)},"pad":"${'x'.repeat(limit - status.length - 8)}"}`;
    expect(Buffer.byteLength(tooBig)).toBe(limit + 1);

    const reply = await statusHandler()(statusEvent(tooBig), lambdaContext);

    expect(reply.statusCode).toBe(413);
    expect(JSON.parse(reply.body ?? '')).toMatchObject({
      error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('at most') },
    });
    expect((await records().read(DEV_EUI, DOWNLINK_ID)).reports).toEqual([]);
    expect(publishedMessages(iot)).toEqual([]);
    expect(sfn.calls()).toEqual([]);
  });
});

describe('downlinkStatusIntake: a status racing another publisher', () => {
  /**
   * Another status function's publisher takes the lock with `inHand` recorded, and holds it while
   * this intake records and delivers `pushed`; then it publishes and ends the downlink.
   */
  async function raceThePublisher({
    confirmed,
    inHand,
    pushed,
  }: {
    confirmed: boolean;
    inHand: number;
    pushed: number;
  }) {
    await recordPost({ confirmed });
    await records().recordReport(DEV_EUI, DOWNLINK_ID, reportOf(DOWNLINK_ID, inHand));
    const base = records();
    let took: () => void = () => undefined;
    const taken = new Promise<void>((resolve) => (took = resolve));
    let letGo: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    const holding: DownlinkRecords = {
      ...base,
      takePublisher: async (...args) => {
        const view = await base.takePublisher(...args);
        took();
        await held;
        return view;
      },
    };
    const other = statusPublishing({
      records: holding,
      publish: statusPublisher(new IoTDataPlaneClient({})),
      complete: stepFunctionsCompletion(new SFNClient({})),
      topicPrefix: PREFIX,
    }).publishPending(DEV_EUI, DOWNLINK_ID);
    await taken;

    const intake = downlinkStatusIntake({
      records: records(),
      lease: deviceLease({ client: table.client, tableName: table.tableName }),
      complete: stepFunctionsCompletion(new SFNClient({})),
      topicPrefix: PREFIX,
    });
    const body = pushedStatus(DOWNLINK_ID, pushed);
    await intake.deliver(
      { devEui: DEV_EUI },
      { raw: Buffer.from(body), json: JSON.parse(body) },
      statusPublisher(new IoTDataPlaneClient({})),
    );
    // This intake found the lock taken: nothing of its own went out yet.
    expect(publishedMessages(iot)).toEqual([]);

    letGo();
    await other;
  }

  it('leaves a later status to the publisher that ends the downlink at sent: published stale', async () => {
    await raceThePublisher({ confirmed: false, inHand: 1, pushed: 2 });

    expect(statesPublished(iot)).toEqual(['sent', 'acknowledged (stale)']);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });

  it('leaves an earlier status to the publisher that ends the downlink: published stale, not lost', async () => {
    await raceThePublisher({ confirmed: true, inHand: 2, pushed: 1 });

    expect(statesPublished(iot)).toEqual(['acknowledged', 'sent (stale)']);
    expect(texts()[1]).toBe(republished(pushedStatus(DOWNLINK_ID, 1), 'sent', ',"stale":true'));
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });
});

describe('Downlink status messages', () => {
  it('add at most REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES to what OrbiWAN sent', () => {
    const body = pushedStatus(DOWNLINK_ID, 3);
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
