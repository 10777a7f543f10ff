import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbClient } from '../../functions/shared/clients/dynamodb-client.js';
import { iotDataClient } from '../../functions/shared/clients/iot-data-client.js';
import { sfnClient } from '../../functions/shared/clients/sfn-client.js';
import { orbiwanAuth } from '../../functions/shared/orbiwan/orbiwan-auth.js';
import { createOrbiwanClient } from '../../functions/shared/orbiwan/orbiwan-client.js';
import { iotPublisher } from '../../functions/shared/publish.js';
import { deviceLease } from '../../functions/downlinks/device-lease.js';
import { downlinkRecords } from '../../functions/downlinks/downlink-record.js';
import { MAX_REQUEST_BYTES } from '../../functions/downlinks/downlink-request.js';
import { requestClaims } from '../../functions/downlinks/request-claims.js';
import { reportFailure } from '../../functions/downlinks/report/report-failure.js';
import {
  createSendDownlinkHandler,
  type SendDeps,
  type SendInput,
} from '../../functions/downlinks/send/send-downlink.js';
import { stepFunctionsCompletion } from '../../functions/downlinks/task-completion.js';
import {
  acceptDownlinks,
  DEV_EUI,
  ORBIWAN_USER,
  PREFIX,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../helpers/downlink-harness.js';
import { startFakeHttpServer, type FakeHttpServer } from '../helpers/fake-http-server.js';
import { lambdaContext } from '../helpers/lambda-context.js';
import { captureLogs } from '../helpers/logs.js';

// The nine defects found in lifecycle v1 (issue 10), each reproduced as it was found and held to
// what the lifecycle promises now (docs/reliability.md: Delivery guarantees). Each failed on lifecycle v1.

let harness: DownlinkHarness;

beforeAll(async () => {
  harness = await startDownlinkHarness();
});

afterEach(() => {
  harness.orbiwan.respond(acceptDownlinks(harness.statusAtOrbiwan));
  harness.cloud.faults.clear();
});

afterAll(async () => {
  await harness.close();
});

const nameOf = (executionArn: string) => executionArn.split(':').at(-1);
const statusesOf = (requestId: string, devEui = DEV_EUI) =>
  harness.statuses(devEui).filter((status) => status.requestId === requestId);

describe('Regressions of lifecycle v1', () => {
  it('1: a final status OrbiWAN pushes before the POST is recorded reaches the application with its requestId, after accepted, and ends the downlink', async () => {
    // A Class C device: OrbiWAN pushes `sent` of an unconfirmed downlink before it answers the POST.
    const accept = acceptDownlinks(harness.statusAtOrbiwan);
    harness.orbiwan.respond(async (request) => {
      const reply = accept(request);
      const id = /"id":(\d+)/.exec(reply.body ?? '')?.[1] ?? '';
      expect((await harness.pushStatus(id, 1)).statusCode).toBe(200);
      return reply;
    });
    const execution = harness.publishDownlink({
      data: '01',
      port: 2,
      confirmed: false,
      requestId: 'class-c',
    });
    const done = await harness.finished(execution.executionArn);

    expect(done.status).toBe('SUCCEEDED');
    expect(statusesOf('class-c')).toEqual([
      expect.objectContaining({ state: 'accepted', correlationId: nameOf(execution.executionArn) }),
      expect.objectContaining({ state: 'sent', correlationId: nameOf(execution.executionArn) }),
    ]);
  });

  it('2: a status whose publish failed is published before the downlink ends, never counted as seen', async () => {
    const execution = harness.publishDownlink({ data: '02', port: 2, requestId: 'lost-publish' });
    await harness.waitingForStatus(execution.executionArn);
    const id = harness.acceptedIds().at(-1) ?? '';
    // IoT Core refuses every try of the SDK's: OrbiWAN gets a 5xx, and never pushes it again.
    harness.cloud.faults.inject({
      service: 'iot-data-plane',
      operation: 'Publish',
      effect: { error: 'InternalFailureException', status: 500 },
      times: 3,
    });
    harness.statusAtOrbiwan.set(id, 2);
    expect((await harness.pushStatus(id, 2)).statusCode).toBe(502);
    expect(statusesOf('lost-publish').map((status) => status.state)).toEqual(['accepted']);

    await harness.timeOut(execution.executionArn);
    const done = await harness.finished(execution.executionArn);

    expect(statusesOf('lost-publish').map((status) => status.state)).toEqual([
      'accepted',
      'acknowledged',
    ]);
    expect(done.status).toBe('SUCCEEDED');
  });

  it('3: acknowledged is never followed by timed_out when DynamoDB fails while the timeout asks OrbiWAN', async () => {
    const execution = harness.publishDownlink({ data: '03', port: 2, requestId: 'ack-then?' });
    await harness.waitingForStatus(execution.executionArn);
    const id = harness.acceptedIds().at(-1) ?? '';
    harness.statusAtOrbiwan.set(id, 2);
    // DynamoDB fails recording what OrbiWAN answers, past the SDK's four attempts.
    harness.cloud.faults.inject({
      service: 'dynamodb',
      operation: 'UpdateItem',
      bodyIncludes: ':status',
      effect: { error: 'InternalServerError', status: 500 },
      times: 4,
    });
    await harness.timeOut(execution.executionArn);
    const done = await harness.finished(execution.executionArn);

    expect(statusesOf('ack-then?').map((status) => status.state)).toEqual([
      'accepted',
      'acknowledged',
    ]);
    expect(statusesOf('ack-then?').at(-1)).toMatchObject({ transmissionStatus: 2 });
    expect(done.status).toBe('SUCCEEDED');
  });

  it("6: a status push whose id names one of the connector's own items is refused 400 and blocks nothing", async () => {
    const device = '70b3d57ed0009996';
    const reply = await harness.pushStatusBody(
      `{"DevEUI":"${device}","id":"#post-lock","transmissionStatus":2}`,
    );
    expect(reply.statusCode).toBe(400);
    expect(reply.body).toContain('id');

    const execution = harness.publishDownlink(
      { data: '06', port: 2, confirmed: false, requestId: 'not-blocked' },
      `${PREFIX}/${device}/downlink`,
    );
    await harness.waitingForStatus(execution.executionArn);
    expect(statusesOf('not-blocked', device).map((status) => status.state)).toEqual(['accepted']);
    await harness.cloud.stepFunctions.timeOutTask(execution.executionArn);
    await harness.finished(execution.executionArn);
  });

  it('7: a status whose body starts with a UTF-8 byte-order mark correlates like any other', async () => {
    const execution = harness.publishDownlink({
      data: '07',
      port: 2,
      confirmed: false,
      requestId: 'bom',
    });
    await harness.waitingForStatus(execution.executionArn);
    const id = harness.acceptedIds().at(-1) ?? '';
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(`{"DevEUI":"${DEV_EUI}","id":${id},"transmissionStatus":1}`),
    ]);
    expect((await harness.pushStatusBody(body)).statusCode).toBe(200);
    const done = await harness.finished(execution.executionArn);

    expect(done.status).toBe('SUCCEEDED');
    expect(statusesOf('bom').map((status) => status.state)).toEqual(['accepted', 'sent']);
  });

  it('8: a request of ~70 KB of unknown keys is refused with an error naming the limit, and its execution ends as any invalid one', async () => {
    const request: Record<string, unknown> = { data: '08', port: 2, requestId: 'too-big' };
    for (let key = 0; key < 3_500; key++) request[`unknownKey${String(key).padStart(5, '0')}`] = 1;
    expect(JSON.stringify(request).length).toBeGreaterThan(65_000);
    const before = harness.posts().length;

    const execution = harness.publishDownlink(request);
    const done = await harness.finished(execution.executionArn);

    expect(done).toMatchObject({ status: 'FAILED', error: 'InvalidDownlinkError' });
    expect(statusesOf('too-big')).toEqual([
      expect.objectContaining({
        state: 'error',
        error: {
          code: 'INVALID_DOWNLINK',
          message: expect.stringContaining(`at most ${String(MAX_REQUEST_BYTES)}`),
        },
      }),
    ]);
    expect(harness.posts()).toHaveLength(before);
  });
});

// ---------------------------------------------------------------------------------------------
// The send task itself, against the same stand-ins, with the Lambda deadline and clock of the
// test's choosing: what a slow OrbiWAN login or a long send path looks like, without waiting.
// ---------------------------------------------------------------------------------------------

describe('Regressions of lifecycle v1: the send task', () => {
  let orbiwan: FakeHttpServer;

  beforeAll(async () => {
    orbiwan = await startFakeHttpServer(acceptDownlinks());
  });

  afterAll(async () => {
    await orbiwan.close();
  });

  const table = () => harness.cloud.functions.find((fn) => fn.id === 'SendDownlinkFunction');
  const tableName = () => table()?.environment.DOWNLINKS_TABLE_NAME ?? '';

  function sendTask({ now = Date.now }: { now?: () => number } = {}) {
    const auth = orbiwanAuth({
      mode: 'basic',
      baseUrl: orbiwan.url,
      credentials: () => Promise.resolve(ORBIWAN_USER),
      connectTimeoutMs: 2_000,
      timeoutMs: 6_000,
    });
    const settings = { client: dynamoDbClient, tableName: tableName(), retentionSeconds: 3600 };
    const deps: SendDeps = {
      defaults: { topicPrefix: PREFIX, confirmed: true, mode: 'enqueue_on_busy' },
      orbiwan: createOrbiwanClient({
        baseUrl: orbiwan.url,
        auth,
        connectTimeoutMs: 2_000,
        timeoutMs: 6_000,
      }),
      claims: requestClaims({ ...settings, windowMs: 60_000, now }),
      lease: deviceLease({ client: dynamoDbClient, tableName: tableName(), now, pollMs: 10 }),
      records: downlinkRecords({ ...settings, publisherLeaseMs: 30_000, now }),
      publish: iotPublisher(iotDataClient),
      complete: stepFunctionsCompletion(sfnClient),
      now,
    };
    return createSendDownlinkHandler(deps);
  }

  const input = (devEui: string, requestId: string): SendInput => ({
    taskToken: 'a'.repeat(64),
    request: {
      payload: Buffer.from(JSON.stringify({ data: 'aa', port: 2, requestId })).toString('base64'),
      topic: `${PREFIX}/${devEui}/downlink`,
      receivedAt: Date.now(),
    },
    correlationId: `downlink_${requestId}`,
  });
  const withDeadline = (remainingMs: number) => ({
    ...lambdaContext,
    getRemainingTimeInMillis: () => remainingMs,
  });

  it('4: never two POSTs to one device, however long the first one holds it: its lease lasts until its Lambda deadline', async () => {
    captureLogs();
    const device = '70b3d57ed0009994';
    const posts = () => orbiwan.requests.filter((request) => request.path.includes(device));
    // The first send task's POST is held at OrbiWAN, as long as the test says.
    let answer: () => void = () => undefined;
    const accept = acceptDownlinks();
    orbiwan.respond(async (request) => {
      if (posts().length === 1) await new Promise<void>((resolve) => (answer = resolve));
      return accept(request);
    });
    const first = sendTask()(input(device, 'first'), withDeadline(40_000));
    await expect.poll(() => posts().length).toBe(1);

    // A second downlink's send task, eleven seconds later by its clock (v1's lease lapsed at 10 s),
    // a clock that runs a hundred times fast: its wait for the device is over in milliseconds.
    const start = Date.now();
    const later = () => start + 11_000 + (Date.now() - start) * 100;
    const second = await sendTask({ now: later })(input(device, 'second'), withDeadline(40_000))
      .then(() => 'posted')
      .catch((error: unknown) => (error as Error).name);
    answer();
    await first;

    expect(second).toBe('DeviceLockedError');
    expect(posts()).toHaveLength(1);
  });

  it('5: a send task never starts a POST it could not finish before its Lambda deadline: nothing is queued behind an error', async () => {
    captureLogs();
    const device = '70b3d57ed0009995';
    const posts = () => orbiwan.requests.filter((request) => request.path.includes(device));
    orbiwan.respond(acceptDownlinks());

    // What is left of a send task after a slow OAuth2 login and a wait for its device.
    const outcome = await sendTask()(input(device, 'late'), withDeadline(9_000))
      .then(() => 'posted')
      .catch((error: unknown) => error as Error);

    expect(outcome).toMatchObject({
      name: 'OrbiwanNotReachedError',
      message: expect.stringContaining('nothing was sent'),
    });
    expect(posts()).toEqual([]);
    // Nothing holds the device: the next attempt may post at once.
    await expect(
      dynamoDbClient.send(
        new PutItemCommand({
          TableName: tableName(),
          Item: { devEui: { S: device }, itemKey: { S: 'lease' } },
          ConditionExpression: 'attribute_not_exists(devEui)',
        }),
      ),
    ).resolves.toBeDefined();
    await dynamoDbClient.send(
      new DeleteItemCommand({
        TableName: tableName(),
        Key: { devEui: { S: device }, itemKey: { S: 'lease' } },
      }),
    );
  });

  it("9: a device kept busy by the connector's own downlinks ends DEVICE_BUSY, counted rejected, not failed", async () => {
    const logs = captureLogs();
    const published: string[] = [];
    await reportFailure(
      {
        outcome: 'rejected',
        request: {
          payload: Buffer.from('{"data":"09","port":2,"requestId":"busy"}').toString('base64'),
          topic: `${PREFIX}/${DEV_EUI}/downlink`,
          receivedAt: Date.now(),
          failure: {
            Error: 'DeviceLockedError',
            Cause: JSON.stringify({
              errorType: 'DeviceLockedError',
              errorMessage: 'another downlink is being sent to OrbiWAN',
            }),
          },
        },
        correlationId: 'downlink_busy',
      },
      {
        publish: (message) => {
          published.push(message.payload.toString());
          return Promise.resolve();
        },
        topicPrefix: PREFIX,
        claims: requestClaims({
          client: dynamoDbClient,
          tableName: tableName(),
          windowMs: 0,
          retentionSeconds: 3600,
        }),
      },
    );

    expect(published.map((text) => JSON.parse(text) as unknown)).toEqual([
      expect.objectContaining({
        state: 'error',
        error: expect.objectContaining({ code: 'DEVICE_BUSY' }),
      }),
    ]);
    const ended = logs
      .entries()
      .filter((entry) => 'DownlinksEnded' in entry)
      .map((entry) => entry.finalState);
    expect(ended).toEqual(['rejected']);
  });
});
