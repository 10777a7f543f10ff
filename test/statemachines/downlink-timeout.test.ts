import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEV_EUI,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../helpers/downlink-harness.js';

// In a file of its own: one local cloud per process (the functions' SDK clients are shared).
// OrbiWAN does not retry a status push that failed, so every test here loses its pushes: the
// wait times out (the test ends it as DownlinkTimeoutSeconds would) and the connector asks
// OrbiWAN where the downlink stands.
let short: DownlinkHarness;

beforeAll(async () => {
  short = await startDownlinkHarness({ DownlinkTimeoutSeconds: '60' });
});

beforeEach(() => {
  short.published.length = 0;
  short.orbiwan.requests.length = 0;
});

afterAll(async () => {
  await short.close();
});

/** Publishes a downlink and, once OrbiWAN accepted it, sets what OrbiWAN will say when asked. */
async function downlinkWhosePushesAreLost(
  request: Record<string, unknown>,
  statusAtOrbiwan?: number,
) {
  const execution = short.publishDownlink(request);
  await short.waitingForStatus(execution.executionArn);
  const [id = ''] = short.acceptedIds();
  if (statusAtOrbiwan !== undefined) short.statusAtOrbiwan.set(id, statusAtOrbiwan);
  await short.timeOut(execution.executionArn);
  return { execution, id, done: await short.finished(execution.executionArn) };
}

const statusChecks = () =>
  short.orbiwan.requests.filter(
    (request) => request.method === 'GET' && request.path.includes('/payloads/dl/'),
  );

describe('Downlink lifecycle: timeout, and status pushes that never arrive', () => {
  it('ends TimedOut with a timed_out status when OrbiWAN still reports it pending', async () => {
    const { execution, id, done } = await downlinkWhosePushesAreLost({
      data: 'aa',
      port: 20,
      requestId: 'silent',
    });

    expect(done).toMatchObject({ status: 'FAILED', error: 'TimedOut' });
    expect(short.statesEntered(execution.executionArn)).toEqual([
      'SendDownlink',
      'CheckStatusAtOrbiwan',
      'EndAfterCheck',
      'TimedOut',
    ]);
    expect(statusChecks().map((request) => request.path)).toEqual([
      `/rest/nodes/${DEV_EUI}/payloads/dl/${id}`,
    ]);
    // Pending is no news: the accepted status said so already.
    const [accepted, timedOut, ...more] = short.statuses();
    expect(accepted).toMatchObject({ state: 'accepted' });
    expect(timedOut).toEqual({
      DevEUI: DEV_EUI,
      id: accepted?.id,
      requestId: 'silent',
      transmissionStatus: 0,
      state: 'timed_out',
      error: {
        code: 'TIMED_OUT',
        message: 'OrbiWAN reported no final status within 60 s, nor when asked',
      },
      correlationId: execution.executionArn.split(':').at(-1),
    });
    expect(more).toEqual([]);
  });

  it('ends Delivered, and publishes the acknowledgement, when OrbiWAN says the device acknowledged it', async () => {
    const { execution, done } = await downlinkWhosePushesAreLost(
      { data: 'bb', port: 20, confirmed: true, requestId: 'lost-ack' },
      2,
    );

    expect(done).toMatchObject({ status: 'SUCCEEDED' });
    expect(short.statesEntered(execution.executionArn)).toEqual([
      'SendDownlink',
      'CheckStatusAtOrbiwan',
      'EndAfterCheck',
      'Delivered',
    ]);
    expect(JSON.parse(done.output ?? '{}')).toMatchObject({
      finalState: 'acknowledged',
      requestId: 'lost-ack',
      statuses: [{ state: 'accepted' }, { state: 'acknowledged' }],
    });
    const [accepted, acknowledged, ...more] = short.statuses();
    expect(acknowledged).toMatchObject({
      DevEUI: DEV_EUI,
      id: accepted?.id,
      requestId: 'lost-ack',
      transmissionStatus: 2,
      state: 'acknowledged',
    });
    expect(acknowledged).not.toHaveProperty('stale');
    expect(more).toEqual([]);
  });

  it.each([
    [3, 'NotAcknowledged', 'NotAcknowledged', 'not_acknowledged'],
    [4, 'TransmissionError', 'TransmissionError', 'error'],
    [5, 'Cancelled', 'Cancelled', 'cancelled'],
  ])(
    'ends with status %i from OrbiWAN as a push of it would have (%s)',
    async (status, finalState, error, word) => {
      const { execution, done } = await downlinkWhosePushesAreLost(
        { data: 'cc', port: 20, confirmed: true },
        status,
      );
      expect(done).toMatchObject({ status: 'FAILED', error });
      expect(short.statesEntered(execution.executionArn).at(-1)).toBe(finalState);
      expect(short.statuses().map((message) => message.state)).toEqual(['accepted', word]);
    },
  );

  it('ends Delivered when OrbiWAN says an unconfirmed downlink was sent', async () => {
    const { execution, done } = await downlinkWhosePushesAreLost(
      { data: 'dd', port: 20, confirmed: false },
      1,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED' });
    expect(short.statesEntered(execution.executionArn).at(-1)).toBe('Delivered');
    expect(short.statuses().map((message) => message.state)).toEqual(['accepted', 'sent']);
  });

  it('publishes sent, then times out, when OrbiWAN says a confirmed downlink was only sent', async () => {
    const { done } = await downlinkWhosePushesAreLost({ data: 'ee', port: 20, confirmed: true }, 1);
    expect(done).toMatchObject({ status: 'FAILED', error: 'TimedOut' });
    expect(short.statuses().map((message) => message.state)).toEqual([
      'accepted',
      'sent',
      'timed_out',
    ]);
    expect(short.statuses().at(-1)).toMatchObject({ transmissionStatus: 1 });
  });

  it('times out when OrbiWAN cannot say, after asking again while it could not answer', async () => {
    const accept = short.orbiwan.requests;
    short.orbiwan.respond((request) =>
      request.method === 'GET' ? { status: 503, body: 'down for maintenance' } : acceptOnce(),
    );
    const { execution, done } = await downlinkWhosePushesAreLost({ data: 'ff', port: 20 });

    expect(done).toMatchObject({ status: 'FAILED', error: 'TimedOut' });
    expect(short.statesEntered(execution.executionArn).slice(-3)).toEqual([
      'CheckStatusAtOrbiwan',
      'EndAfterCheck',
      'TimedOut',
    ]);
    // Asked more than once; one POST all along.
    expect(statusChecks().length).toBeGreaterThan(1);
    expect(accept.filter((request) => request.method === 'POST')).toHaveLength(1);
    expect(short.statuses().map((message) => message.state)).toEqual(['accepted', 'timed_out']);
    expect(short.statuses().at(-1)).toMatchObject({
      error: {
        code: 'TIMED_OUT',
        message: expect.stringContaining('OrbiWAN could not be asked'),
      },
    });
  });
});

function acceptOnce() {
  return {
    status: 200,
    body: '{"id":18014398509489999,"fcnt":7,"port":20,"transmissionStatus":0}',
  };
}
