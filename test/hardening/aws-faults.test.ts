import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalConnector } from '../../local/connector.js';
import type { Fault } from '../../local/aws/fault-injection.js';
import {
  startConnectorWithFakeOrbiwan,
  type ConnectorWithFakeOrbiwan,
} from '../helpers/connector-with-fake-orbiwan.js';
import type { FakeHttpServer } from '../helpers/fake-http-server.js';
import { E2E_TOKEN, type ReceivedMessage, type Subscriber } from '../helpers/local-connector.js';

// Faults of the AWS services, played by the local stack's stand-ins to the unmodified SDK clients,
// with OrbiWAN's pushes over real HTTP and the application on real MQTT. OrbiWAN does not retry a
// failed push and deletes an uplink once answered 200: nothing may get a 200 unless published.
// A downlink's wait is ended by the test (as DownlinkTimeoutSeconds would), so lost status
// deliveries show their recovery.

const DEVICE = '0011223344aa0001';
let local: ConnectorWithFakeOrbiwan;
let statusAtOrbiwan: Map<string, number>;
let orbiwan: FakeHttpServer;
let connector: LocalConnector;
let app: Subscriber;
let fcnt = 0;

beforeAll(async () => {
  local = await startConnectorWithFakeOrbiwan('orbiwan/lorawan/#');
  ({ statusAtOrbiwan, orbiwan, connector, subscriber: app } = local);
});

afterEach(() => {
  connector.cloud.faults.clear();
});

afterAll(async () => {
  await local.close();
});

const inject = (fault: Fault) => connector.cloud.faults.inject(fault);

async function pushUplink(): Promise<{ status: number; body: string; fcnt: number }> {
  fcnt += 1;
  const response = await fetch(`${connector.endpoints.http}/rest/callback/payloads/ul`, {
    method: 'POST',
    headers: { authorization: `Bearer ${E2E_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ DevEUI: DEVICE, fcnt, port: 2, dataFrame: 'AQI=', id: fcnt }),
  });
  return { status: response.status, body: await response.text(), fcnt };
}

const uplinkNumbered = (number: number) => (message: ReceivedMessage) =>
  message.topic === `orbiwan/lorawan/${DEVICE}/uplink` &&
  (JSON.parse(message.payload.toString()) as { fcnt: number }).fcnt === number;

/** The uplinks received on MQTT up to a sentinel pushed now (MQTT keeps one publisher's order). */
async function uplinksReceivedBeforeSentinel(): Promise<number[]> {
  const sentinel = await pushUplink();
  expect(sentinel.status).toBe(200);
  await app.next(uplinkNumbered(sentinel.fcnt));
  return app.received
    .filter((message) => message.topic === `orbiwan/lorawan/${DEVICE}/uplink`)
    .map((message) => (JSON.parse(message.payload.toString()) as { fcnt: number }).fcnt)
    .filter((number) => number !== sentinel.fcnt);
}

async function publishDownlink(request: Record<string, unknown>) {
  const requestId = String(request.requestId);
  await app.client.publishAsync(`orbiwan/lorawan/${DEVICE}/downlink`, JSON.stringify(request), {
    qos: 1,
  });
  const final = await app.next(
    (message) =>
      message.topic === `orbiwan/lorawan/${DEVICE}/downlink/status` &&
      message.payload.includes(`"requestId":"${requestId}"`) &&
      /"state":"(error|timed_out|sent|acknowledged)"/.test(message.payload.toString()),
  );
  return JSON.parse(final.payload.toString()) as Record<string, unknown>;
}

const statesOf = (requestId: string) =>
  app.received
    .filter((message) => message.topic.endsWith('/downlink/status'))
    .map((message) => JSON.parse(message.payload.toString()) as Record<string, unknown>)
    .filter((status) => status.requestId === requestId)
    .map((status) => status.state);

const posts = () =>
  orbiwan.requests.filter((request) => request.method === 'POST').map((request) => request.body);

async function pushStatus(id: string, transmissionStatus: number) {
  const response = await fetch(`${connector.endpoints.http}/rest/callback/payloads/dl`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${E2E_TOKEN}`, 'content-type': 'application/json' },
    body: `{"DevEUI":"${DEVICE}","id":${id},"fcnt":1,"port":1,"transmissionStatus":${String(transmissionStatus)}}`,
  });
  return response.status;
}

/** Resolves once the send task waits for its token (told by the activity feed). */
function waitingForStatus(executionArn: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const waiting = connector.cloud.stepFunctions
        .describeExecution(executionArn)
        .history.some(
          (event) => event.type === 'TaskSubmitted' && event.stateName === 'SendDownlink',
        );
      const { status } = connector.cloud.stepFunctions.describeExecution(executionArn);
      if (!waiting && status === 'RUNNING') return;
      unsubscribe();
      if (waiting) resolve();
      else reject(new Error(`the execution ended ${status} before it waited`));
    };
    const unsubscribe = connector.activity.subscribe(check);
    check();
  });
}

// First in the file: the secrets are cached once read.
describe('Faults: Secrets Manager', () => {
  it('answers 502 and publishes nothing while the push token cannot be read, then recovers', async () => {
    inject({
      service: 'secrets-manager',
      operation: 'GetSecretValue',
      effect: { error: 'InternalServiceError', status: 500 },
    });
    const refused = await pushUplink();
    connector.cloud.faults.clear();

    expect(refused.status).toBe(502);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: expect.any(String) } });
    expect(refused.body).not.toMatch(/at .*\.(ts|js|mjs):\d+/);
    expect(await uplinksReceivedBeforeSentinel()).toEqual([]);
  });

  it("ends a downlink in an error status, POSTing nothing, while OrbiWAN's credentials cannot be read", async () => {
    inject({
      service: 'secrets-manager',
      operation: 'GetSecretValue',
      effect: { error: 'InternalServiceError', status: 500 },
    });
    const final = await publishDownlink({ data: '01', port: 1, requestId: 'no-credentials' });

    expect(final).toMatchObject({ state: 'error', error: { code: 'INTERNAL_ERROR' } });
    expect(posts()).toEqual([]);
  });
});

describe('Faults: IoT Core publish', () => {
  it('answers 502 and gives OrbiWAN no 200 while IoT Core refuses the publish', async () => {
    inject({
      service: 'iot-data-plane',
      operation: 'Publish',
      effect: { error: 'InternalFailureException', status: 500 },
    });
    const refused = await pushUplink();
    connector.cloud.faults.clear();

    expect(refused.status).toBe(502);
    expect(await uplinksReceivedBeforeSentinel()).not.toContain(refused.fcnt);
  });

  it('answers 503 (OrbiWAN keeps its copy) while IoT Core throttles', async () => {
    inject({
      service: 'iot-data-plane',
      operation: 'Publish',
      effect: { error: 'ThrottlingException', status: 429 },
    });
    const throttled = await pushUplink();
    connector.cloud.faults.clear();

    expect(throttled.status).toBe(503);
    expect(await uplinksReceivedBeforeSentinel()).not.toContain(throttled.fcnt);
  });

  it('rides out a moment of throttling: the SDK retries, one 200, one message', async () => {
    inject({
      service: 'iot-data-plane',
      operation: 'Publish',
      effect: { error: 'ThrottlingException', status: 429 },
      times: 1,
    });
    const pushed = await pushUplink();

    expect(pushed.status).toBe(200);
    await app.next(uplinkNumbered(pushed.fcnt));
    expect(app.received.filter(uplinkNumbered(pushed.fcnt))).toHaveLength(1);
  });

  it('answers 200 only once a slow publish is done', async () => {
    inject({ service: 'iot-data-plane', operation: 'Publish', effect: { delayMs: 300 } });
    const pushed = await pushUplink();

    expect(pushed.status).toBe(200);
    // The 200 came after IoT Core accepted the message: the connector had already published it.
    const recent = connector.activity.snapshot().notifications[DEVICE] ?? [];
    expect(
      recent.some((notification) => notification.excerpt.includes(`"fcnt":${String(pushed.fcnt)}`)),
    ).toBe(true);
  });
});

describe('Faults: DynamoDB', () => {
  it('ends a downlink in an error status, POSTing nothing, when its request cannot be claimed nor its device taken', async () => {
    inject({
      service: 'dynamodb',
      operation: 'PutItem',
      effect: { error: 'InternalServerError', status: 500 },
    });
    const before = posts().length;
    const final = await publishDownlink({ data: '02', port: 1, requestId: 'no-lease' });

    expect(final).toMatchObject({ state: 'error', error: { code: 'INTERNAL_ERROR' } });
    expect(posts()).toHaveLength(before);
  });

  it('answers 5xx, publishing nothing, to a status push it cannot record; the timeout then asks OrbiWAN and the downlink ends right', async () => {
    const request = { data: '03', port: 1, confirmed: false, requestId: 'unrecorded-status' };
    await app.client.publishAsync(`orbiwan/lorawan/${DEVICE}/downlink`, JSON.stringify(request), {
      qos: 1,
    });
    const id = await local.acceptedId(request.requestId);
    const { executionArn } = local.executionOf(request.requestId);
    await waitingForStatus(executionArn);
    const removeFault = inject({
      service: 'dynamodb',
      effect: { error: 'InternalServerError', status: 500 },
    });
    const status = await pushStatus(id, 1);
    removeFault();
    statusAtOrbiwan.set(id, 1);

    expect(status).toBe(502);
    expect(statesOf(request.requestId)).toEqual(['accepted']);
    // Never resumed: when its wait times out it asks OrbiWAN, and ends Delivered with `sent`.
    expect(await connector.cloud.stepFunctions.timeOutTask(executionArn)).toBe(true);
    const done = await connector.cloud.stepFunctions.whenDone(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    expect(statesOf(request.requestId)).toEqual(['accepted', 'sent']);
    expect(posts().filter((body) => body === '03')).toHaveLength(1);
  });

  it('retries recording a queued downlink, so a DynamoDB hiccup after the POST does not lose it', async () => {
    const request = { data: '04', port: 1, confirmed: false, requestId: 'record-retried' };
    // DynamoDB fails the POST's record (the update that sets the task token), past the SDK's own
    // retries: the send task keeps trying.
    inject({
      service: 'dynamodb',
      operation: 'UpdateItem',
      bodyIncludes: 'taskToken',
      effect: { error: 'InternalServerError', status: 500 },
      times: 4,
    });
    await app.client.publishAsync(`orbiwan/lorawan/${DEVICE}/downlink`, JSON.stringify(request), {
      qos: 1,
    });
    const id = await local.acceptedId(request.requestId);
    const { executionArn } = local.executionOf(request.requestId);
    await waitingForStatus(executionArn);
    expect(await pushStatus(id, 1)).toBe(200);

    expect(await connector.cloud.stepFunctions.whenDone(executionArn)).toMatchObject({
      status: 'SUCCEEDED',
    });
    expect(statesOf(request.requestId)).toEqual(['accepted', 'sent']);
    expect(posts().filter((body) => body === '04')).toHaveLength(1);
  });
});

describe('Faults: Step Functions', () => {
  it('still publishes and answers 200 to a status push when the execution cannot be resumed, and the downlink still ends right', async () => {
    const request = { data: '05', port: 1, confirmed: true, requestId: 'unresumed' };
    await app.client.publishAsync(`orbiwan/lorawan/${DEVICE}/downlink`, JSON.stringify(request), {
      qos: 1,
    });
    const id = await local.acceptedId(request.requestId);
    inject({
      service: 'step-functions',
      operation: 'SendTaskSuccess',
      effect: { error: 'ServiceUnavailable', status: 503 },
      times: 4,
    });
    statusAtOrbiwan.set(id, 2);
    const statusReply = await pushStatus(id, 2);

    expect(statusReply).toBe(200);
    const final = await app.next(
      (message) =>
        message.payload.includes(`"requestId":"unresumed"`) &&
        message.payload.includes('"state":"acknowledged"'),
    );
    expect(JSON.parse(final.payload.toString())).toMatchObject({ transmissionStatus: 2 });
    // The execution was not resumed: when its wait times out it asks OrbiWAN, and ends with the
    // acknowledgement already published, publishing nothing twice.
    const { executionArn } = local.executionOf(request.requestId);
    await waitingForStatus(executionArn);
    expect(await connector.cloud.stepFunctions.timeOutTask(executionArn)).toBe(true);
    const done = await connector.cloud.stepFunctions.whenDone(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    expect(statesOf(request.requestId)).toEqual(['accepted', 'acknowledged']);
    expect(posts().filter((body) => body === '05')).toHaveLength(1);
  });
});
