import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  acceptDownlinks,
  DEV_EUI,
  ORBIWAN_USER,
  PREFIX,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../helpers/downlink-harness.js';

// The real statemachines/downlink.asl.json, run by aws-local-stepfunctions with the template's
// substitutions, its task functions in-process, DynamoDB in memory and a fake OrbiWAN; OrbiWAN's
// status pushes go through the real downlink status function, which delivers the task tokens.

let harness: DownlinkHarness;

beforeAll(async () => {
  harness = await startDownlinkHarness();
});

afterEach(() => {
  harness.orbiwan.respond(acceptDownlinks());
});

afterAll(async () => {
  await harness.close();
});

/** Publishes a downlink, waits until it waits for OrbiWAN's status, returns execution and OrbiWAN id. */
async function acceptedDownlink(request: Record<string, unknown>) {
  const execution = harness.publishDownlink(request);
  await harness.waitingForStatus(execution.executionArn);
  const id = harness.acceptedIds().at(-1) ?? '';
  return { execution, id };
}

/** The status messages of one downlink (by requestId), as apps see them. */
function statusesOf(requestId: string) {
  return harness.statuses().filter((status) => status.requestId === requestId);
}

/** An execution's name: the downlink's correlation id, in its statuses and logs. */
const nameOf = (executionArn: string) => executionArn.split(':').at(-1);

describe('Downlink lifecycle', () => {
  it('sends {"data":"aabbcc","port":20} as exactly one POST with the right path, query, body and auth', async () => {
    const before = harness.posts().length;
    const { execution, id } = await acceptedDownlink({ data: 'aabbcc', port: 20 });
    await harness.pushStatus(id, 1);
    await harness.pushStatus(id, 2);
    await harness.finished(execution.executionArn);

    const posts = harness.posts().slice(before);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatchObject({
      method: 'POST',
      path: `/rest/nodes/${DEV_EUI}/payloads/dl`,
      body: 'aabbcc',
    });
    expect(Object.fromEntries(posts[0]?.query ?? [])).toEqual({
      port: '20',
      confirmed: 'true',
      mode: 'enqueue_on_busy',
      data_format: 'hex',
    });
    expect(posts[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from(`${ORBIWAN_USER.username}:${ORBIWAN_USER.password}`).toString('base64')}`,
    );
  });

  it('ends an unconfirmed downlink Delivered once OrbiWAN reports it sent', async () => {
    const { execution, id } = await acceptedDownlink({
      data: 'AABBCC',
      port: 20,
      confirmed: false,
      requestId: 'unconfirmed-1',
    });
    await harness.pushStatus(id, 1);
    const done = await harness.finished(execution.executionArn);

    expect(done.status).toBe('SUCCEEDED');
    expect(harness.statesEntered(execution.executionArn)).toEqual(['SendDownlink', 'Delivered']);
    // Both carry the execution's name: the connector's accepted, and OrbiWAN's push republished.
    const correlationId = nameOf(execution.executionArn);
    expect(statusesOf('unconfirmed-1')).toEqual([
      expect.objectContaining({
        state: 'accepted',
        transmissionStatus: 0,
        fcnt: expect.any(Number),
        DevEUI: DEV_EUI,
        correlationId,
      }),
      expect.objectContaining({ state: 'sent', transmissionStatus: 1, correlationId }),
    ]);
    expect(harness.posts().at(-1)?.query.get('confirmed')).toBe('false');
    expect(harness.posts().at(-1)?.body).toBe('aabbcc');
  });

  it('waits past "sent" for a confirmed downlink and ends Delivered, in two states, listing every status', async () => {
    const { execution, id } = await acceptedDownlink({
      data: '01',
      port: 1,
      requestId: 'confirmed-1',
    });
    await harness.pushStatus(id, 1);
    expect(harness.cloud.stepFunctions.describeExecution(execution.executionArn).status).toBe(
      'RUNNING',
    );
    await harness.pushStatus(id, 2);
    const done = await harness.finished(execution.executionArn);

    expect(done.status).toBe('SUCCEEDED');
    expect(harness.statesEntered(execution.executionArn)).toEqual(['SendDownlink', 'Delivered']);
    expect(statusesOf('confirmed-1').map((status) => status.state)).toEqual([
      'accepted',
      'sent',
      'acknowledged',
    ]);
    expect(JSON.parse(done.output ?? '{}')).toEqual({
      finalState: 'acknowledged',
      devEui: DEV_EUI,
      downlinkId: id,
      requestId: 'confirmed-1',
      statuses: ['accepted', 'sent', 'acknowledged'].map((state) => ({
        state,
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      })),
    });
  });

  it.each([
    [3, 'not_acknowledged', 'NotAcknowledged'],
    [4, 'error', 'TransmissionError'],
    [5, 'cancelled', 'Cancelled'],
  ])(
    'ends with status %i (%s) in two states, the failure state %s, whose cause lists the statuses',
    async (transmissionStatus, state, error) => {
      const requestId = `final-${String(transmissionStatus)}`;
      const { execution, id } = await acceptedDownlink({ data: '01', port: 1, requestId });
      await harness.pushStatus(id, transmissionStatus);
      const done = await harness.finished(execution.executionArn);

      expect(done).toMatchObject({ status: 'FAILED', error });
      expect(harness.statesEntered(execution.executionArn)).toEqual(['SendDownlink', error]);
      expect(statusesOf(requestId).map((status) => status.state)).toEqual(['accepted', state]);
      expect(JSON.parse(done.cause ?? '{}')).toMatchObject({
        downlinkId: id,
        requestId,
        statuses: [{ state: 'accepted' }, { state }],
      });
    },
  );

  it.each([
    ['not JSON', 'port=20&data=aa', 'the payload is not JSON'],
    ['odd-length hex', { data: 'abc', port: 20 }, 'data: expected hex digits, two per byte'],
    ['not hex', { data: 'zz', port: 20 }, 'data: expected hex digits'],
    ['port 0', { data: 'aa', port: 0 }, 'port: '],
    ['port 224', { data: 'aa', port: 224 }, 'port: '],
    ['a string port', { data: 'aa', port: '20' }, 'port: '],
    ['243 bytes', { data: 'ab'.repeat(243), port: 20 }, 'data: expected at most 242 bytes'],
    ['an unknown mode', { data: 'aa', port: 20, mode: 'now' }, 'mode: '],
    ['an unknown field', { data: 'aa', port: 20, confirm: true }, 'Unrecognized key: "confirm"'],
    ['a negative fcnt', { data: 'aa', port: 20, fcnt: -1 }, 'fcnt: '],
  ])(
    'refuses a request with %s: error status INVALID_DOWNLINK, failed execution, nothing sent',
    async (_, request, message) => {
      const before = harness.posts().length;
      const requestId =
        typeof request === 'string' ? undefined : `invalid-${String(Math.random())}`;
      const execution = harness.publishDownlink(
        typeof request === 'string' ? request : { ...request, requestId },
      );
      const done = await harness.finished(execution.executionArn);

      expect(done).toMatchObject({ status: 'FAILED', error: 'InvalidDownlinkError' });
      expect(harness.statesEntered(execution.executionArn)).toEqual([
        'SendDownlink',
        'ReportInvalidDownlink',
        'InvalidDownlink',
      ]);
      expect(harness.statuses().at(-1)).toEqual({
        DevEUI: DEV_EUI,
        ...(requestId === undefined ? {} : { requestId }),
        state: 'error',
        error: { code: 'INVALID_DOWNLINK', message: expect.stringContaining(message) },
        correlationId: nameOf(execution.executionArn),
      });
      expect(harness.posts()).toHaveLength(before);
    },
  );

  it('ends StatusNotPublished, which the dead-letter queue records, when the refusal cannot be published', async () => {
    const removeFault = harness.cloud.faults.inject({
      service: 'iot-data-plane',
      operation: 'Publish',
      effect: { error: 'InternalFailureException', status: 500 },
    });
    try {
      const execution = harness.publishDownlink({ data: 'zz', port: 20 });
      const done = await harness.finished(execution.executionArn);

      expect(done).toMatchObject({ status: 'FAILED', error: 'StatusNotPublished' });
      expect(harness.statesEntered(execution.executionArn)).toEqual([
        'SendDownlink',
        'ReportInvalidDownlink',
        'StatusNotPublished',
      ]);
    } finally {
      removeFault();
    }
  });

  it('refuses a downlink whose topic names no valid DevEUI, answering on that topic', async () => {
    const before = harness.posts().length;
    const execution = harness.publishDownlink(
      { data: 'aa', port: 20, requestId: 'bad-topic' },
      `${PREFIX}/not-a-deveui/downlink`,
    );
    const done = await harness.finished(execution.executionArn);

    expect(done).toMatchObject({ status: 'FAILED', error: 'InvalidDownlinkError' });
    const answer = harness.published.at(-1);
    expect(answer?.topic).toBe(`${PREFIX}/not-a-deveui/downlink/status`);
    expect(JSON.parse(answer?.payload.toString() ?? '{}')).toMatchObject({
      DevEUI: 'not-a-deveui',
      requestId: 'bad-topic',
      error: {
        code: 'INVALID_DOWNLINK',
        message: expect.stringContaining('topic: "not-a-deveui" is not a DevEUI'),
      },
    });
    expect(harness.posts()).toHaveLength(before);
  });

  it.each([
    [404, 'UnknownDeviceError', 'UNKNOWN_DEVICE', 'Rejected'],
    [409, 'DeviceBusyError', 'DEVICE_BUSY', 'Rejected'],
    [400, 'OrbiwanRejectedError', 'ORBIWAN_REJECTED', 'Rejected'],
    [500, 'OrbiwanUnavailableError', 'ORBIWAN_UNAVAILABLE', 'Failed'],
    [503, 'OrbiwanUnavailableError', 'ORBIWAN_UNAVAILABLE', 'Failed'],
  ])(
    'ends OrbiWAN %i in %s: one POST, never retried, error status %s',
    async (status, error, code, finalState) => {
      harness.orbiwan.respond(() => ({
        status,
        body: 'refused',
        headers: { 'content-type': 'text/plain' },
      }));
      const before = harness.posts().length;
      const execution = harness.publishDownlink({
        data: 'aa',
        port: 20,
        requestId: `orbiwan-${String(status)}`,
      });
      const done = await harness.finished(execution.executionArn);

      expect(done).toMatchObject({ status: 'FAILED', error });
      expect(harness.statesEntered(execution.executionArn).slice(-2)).toEqual([
        finalState === 'Rejected' ? 'ReportRejection' : 'ReportError',
        finalState,
      ]);
      expect(harness.posts().length - before).toBe(1);
      expect(statusesOf(`orbiwan-${String(status)}`)).toEqual([
        {
          DevEUI: DEV_EUI,
          requestId: `orbiwan-${String(status)}`,
          state: 'error',
          error: {
            code,
            message: expect.stringContaining(
              String(status === 404 || status === 409 ? 'refused' : status),
            ),
          },
          correlationId: nameOf(execution.executionArn),
        },
      ]);
    },
  );

  it('retries a POST that OrbiWAN throttled (it did not queue it) and then follows the downlink', async () => {
    const accept = acceptDownlinks();
    let calls = 0;
    harness.orbiwan.respond((request) => (++calls === 1 ? { status: 429 } : accept(request)));
    const before = harness.posts().length;
    const { execution, id } = await acceptedDownlink({
      data: 'aa',
      port: 20,
      confirmed: false,
      requestId: 'throttled',
    });
    await harness.pushStatus(id, 1);
    const done = await harness.finished(execution.executionArn);

    expect(done.status).toBe('SUCCEEDED');
    expect(harness.posts().length - before).toBe(2);
    expect(statusesOf('throttled').map((status) => status.state)).toEqual(['accepted', 'sent']);
  });

  it('delivers a status that arrives twice only once, and marks the repeat stale', async () => {
    const { execution, id } = await acceptedDownlink({
      data: 'aa',
      port: 20,
      confirmed: false,
      requestId: 'duplicate',
    });
    await harness.pushStatus(id, 1);
    await harness.pushStatus(id, 1);
    const done = await harness.finished(execution.executionArn);

    expect(done.status).toBe('SUCCEEDED');
    expect(statusesOf('duplicate')).toEqual([
      expect.objectContaining({ state: 'accepted' }),
      expect.objectContaining({ state: 'sent' }),
      expect.objectContaining({ state: 'sent', stale: true }),
    ]);
    expect(statusesOf('duplicate')[1]).not.toHaveProperty('stale');
  });

  it('never lets an older status move the lifecycle back: acknowledged, then a late "sent"', async () => {
    const { execution, id } = await acceptedDownlink({
      data: 'aa',
      port: 20,
      requestId: 'reversed',
    });
    await harness.pushStatus(id, 2);
    const done = await harness.finished(execution.executionArn);
    const reply = await harness.pushStatus(id, 1);

    expect(done.status).toBe('SUCCEEDED');
    expect(harness.statesEntered(execution.executionArn)).toEqual(['SendDownlink', 'Delivered']);
    expect(reply.statusCode).toBe(200);
    expect(statusesOf('reversed').map((status) => [status.state, status.stale])).toEqual([
      ['accepted', undefined],
      ['acknowledged', undefined],
      ['sent', true],
    ]);
  });

  it('publishes a final status that OrbiWAN pushed before it answered the POST after accepted, with the requestId, and ends with it', async () => {
    const accept = acceptDownlinks();
    // A Class C device: OrbiWAN pushes "sent" before it even answers the POST.
    harness.orbiwan.respond(async (request) => {
      const reply = accept(request);
      const id = /"id":(\d+)/.exec(reply.body ?? '')?.[1] ?? '';
      await harness.pushStatus(id, 1);
      return reply;
    });
    const execution = harness.publishDownlink({
      data: 'aa',
      port: 20,
      confirmed: false,
      requestId: 'early-status',
    });
    const done = await harness.finished(execution.executionArn);

    expect(done.status).toBe('SUCCEEDED');
    expect(harness.statesEntered(execution.executionArn)).toEqual(['SendDownlink', 'Delivered']);
    expect(statusesOf('early-status')).toEqual([
      expect.objectContaining({ state: 'accepted', correlationId: nameOf(execution.executionArn) }),
      expect.objectContaining({ state: 'sent', correlationId: nameOf(execution.executionArn) }),
    ]);
    // Nothing else about it: no copy without the requestId.
    const id = harness.acceptedIds().at(-1) ?? '';
    expect(
      harness.published.filter((message) => message.payload.toString().includes(`"id":${id},`)),
    ).toHaveLength(2);
  });

  it('answers 200 to a status for a downlink the connector does not know, and republishes it', async () => {
    const reply = await harness.pushStatus('99999999999999999', 2, '0011223344556677');
    expect(reply.statusCode).toBe(200);
    expect(harness.statuses('0011223344556677').at(-1)).toMatchObject({
      state: 'acknowledged',
      transmissionStatus: 2,
    });
    expect(harness.statuses('0011223344556677').at(-1)).not.toHaveProperty('requestId');
  });

  it('never has two POSTs for one device in flight, even for downlinks published at once', async () => {
    const accept = acceptDownlinks();
    let inFlight = 0;
    let mostInFlight = 0;
    // OrbiWAN holds each POST a while: long enough for any parallel POST to arrive meanwhile.
    harness.orbiwan.respond(async (request) => {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 100));
      inFlight -= 1;
      return accept(request);
    });
    const executions = [1, 2, 3, 4].map((n) =>
      harness.publishDownlink({
        data: 'aa',
        port: 20,
        confirmed: false,
        requestId: `parallel-${String(n)}`,
      }),
    );
    await Promise.all(
      executions.map((execution) => harness.waitingForStatus(execution.executionArn)),
    );

    expect(mostInFlight).toBe(1);
    for (const execution of executions)
      harness.cloud.stepFunctions.stopExecution(execution.executionArn);
  });
});
