import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import {
  SFNClient,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  downlinkRecords,
  type DownlinkRecords,
} from '../../../functions/downlinks/downlink-record.js';
import { downlinkItem } from '../../../functions/downlinks/downlink-table.js';
import { statusPublisher } from '../../../functions/downlinks/status-publisher.js';
import {
  PUBLISHER_LEASE_MS,
  statusPublishing,
  type StatusPublishing,
} from '../../../functions/downlinks/status-publishing.js';
import { stepFunctionsCompletion } from '../../../functions/downlinks/task-completion.js';
import { publishedMessages } from '../../helpers/aws-mocks.js';
import { captureLogs, type CapturedLogs } from '../../helpers/logs.js';
import {
  DEV_EUI,
  DOWNLINK_ID,
  EXECUTION,
  PREFIX,
  RETENTION_SECONDS,
  STATUS_TOPIC,
  TASK_TOKEN,
  downlinksEnded,
  pushedStatus,
  reportOf,
  statesPublished,
} from './downlink-fixtures.js';
import { useDownlinksTable } from './downlinks-table.js';

// Where a downlink's POST, OrbiWAN's statuses and their publishing meet (downlink-record.ts), and
// the one publisher (status-publishing.ts), on a real (in-memory) table; IoT Core and Step
// Functions mocked, to fail when a test says so.

const iot = mockClient(IoTDataPlaneClient);
const sfn = mockClient(SFNClient);
const table = useDownlinksTable();
let logs: CapturedLogs;

beforeEach(() => {
  iot.reset();
  iot.on(PublishCommand).resolves({});
  sfn.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  logs = captureLogs();
});

function records(now: () => number = Date.now): DownlinkRecords {
  return downlinkRecords({
    client: table.client,
    tableName: table.tableName,
    retentionSeconds: RETENTION_SECONDS,
    publisherLeaseMs: PUBLISHER_LEASE_MS,
    now,
  });
}

/** The publisher as the status function and the send task have it (the check leaves complete out). */
function publishing({
  withRecords = records(),
  completes = true,
}: { withRecords?: DownlinkRecords; completes?: boolean } = {}): StatusPublishing {
  return statusPublishing({
    records: withRecords,
    publish: statusPublisher(new IoTDataPlaneClient({})),
    complete: completes ? stepFunctionsCompletion(new SFNClient({})) : undefined,
    topicPrefix: PREFIX,
  });
}

const ACCEPTED = { state: 'accepted', at: '2026-12-04T12:00:00.000Z' };

/** What the send task records once `accepted` is out. */
const recordPost = ({ confirmed = true } = {}) =>
  records().recordPost(DEV_EUI, DOWNLINK_ID, {
    execution: EXECUTION,
    taskToken: TASK_TOKEN,
    requestId: 'order-42',
    confirmed,
    accepted: ACCEPTED,
  });

/** What the status function records for a status OrbiWAN pushed. */
const recordStatus = (transmissionStatus: number) =>
  records().recordReport(DEV_EUI, DOWNLINK_ID, reportOf(DOWNLINK_ID, transmissionStatus));

/** OrbiWAN's status as republished with the downlink's requestId, state and correlation id. */
const republished = (transmissionStatus: number, state: string) =>
  `${pushedStatus(DOWNLINK_ID, transmissionStatus).slice(0, -1)},"requestId":"order-42","state":"${state}","correlationId":"${EXECUTION}"}`;

const statesRecorded = async () =>
  (await records().read(DEV_EUI, DOWNLINK_ID)).published.map(({ state }) => state);

/** The outcome the send task was completed with, parsed from SendTaskSuccess's output. */
function completedOutcomes(): unknown[] {
  return sfn
    .commandCalls(SendTaskSuccessCommand)
    .map((call) => (JSON.parse(call.args[0].input.output ?? '') as { outcome: unknown }).outcome);
}

describe('downlinkRecords', () => {
  it('records the first status of each rank and says when one of its rank came before', async () => {
    await expect(recordStatus(1)).resolves.toMatchObject({ advanced: true });

    const repeated = await records().recordReport(DEV_EUI, DOWNLINK_ID, {
      ...reportOf(DOWNLINK_ID, 1),
      body: '{"id":1,"transmissionStatus":1,"later":true}',
    });

    expect(repeated.advanced).toBe(false);
    expect(repeated.view.reports).toEqual([reportOf(DOWNLINK_ID, 1)]);
  });

  it('keeps every rank reported, lowest first, whatever order they came in', async () => {
    await recordStatus(3);
    await recordStatus(0);
    await recordStatus(1);

    const view = await records().read(DEV_EUI, DOWNLINK_ID);

    expect(view.reports.map(({ transmissionStatus }) => transmissionStatus)).toEqual([0, 1, 3]);
    expect(view.execution).toBeUndefined();
  });

  it('records the POST over statuses that came first, with accepted as what was published', async () => {
    await recordStatus(1);

    const view = await recordPost();

    expect(view).toMatchObject({
      execution: EXECUTION,
      taskToken: TASK_TOKEN,
      requestId: 'order-42',
      confirmed: true,
      publishedRank: 0,
      published: [ACCEPTED],
      reports: [reportOf(DOWNLINK_ID, 1)],
      ended: undefined,
    });
    expect(await table.item(DEV_EUI, downlinkItem(DOWNLINK_ID))).toMatchObject({
      expiresAt: { N: expect.stringMatching(/^\d+$/) },
    });
  });

  it('records a retried POST with its new token, keeping what was published', async () => {
    await recordPost();
    await recordStatus(1);
    await publishing().publishPending(DEV_EUI, DOWNLINK_ID);

    const view = await records().recordPost(DEV_EUI, DOWNLINK_ID, {
      execution: EXECUTION,
      taskToken: 'a-new-token',
      requestId: 'order-42',
      confirmed: true,
      accepted: { state: 'accepted', at: '2026-12-04T12:05:00.000Z' },
    });

    expect(view).toMatchObject({ taskToken: 'a-new-token', publishedRank: 1 });
    expect(view.published.map(({ state }) => state)).toEqual(['accepted', 'sent']);
  });

  it('marks a downlink the connector did not send as an orphan once, and never one it sent', async () => {
    await recordStatus(2);
    await expect(records().claimOrphan(DEV_EUI, DOWNLINK_ID)).resolves.toBe(true);
    await expect(records().claimOrphan(DEV_EUI, DOWNLINK_ID)).resolves.toBe(false);

    await recordPost();
    await expect(records().claimOrphan(DEV_EUI, '18014398509481999')).resolves.toBe(true);
    await records().recordPost(DEV_EUI, '18014398509481986', {
      execution: EXECUTION,
      taskToken: TASK_TOKEN,
      requestId: undefined,
      confirmed: true,
      accepted: ACCEPTED,
    });
    await expect(records().claimOrphan(DEV_EUI, '18014398509481986')).resolves.toBe(false);
  });
});

describe('statusPublishing: publishPending', () => {
  it('publishes the statuses that came before the POST was recorded, in rank order, and ends on the final one', async () => {
    // OrbiWAN pushed them before the send task knew the id: the final one first.
    await recordStatus(2);
    await recordStatus(1);
    await recordPost();

    const ended = await publishing().publishPending(DEV_EUI, DOWNLINK_ID);

    expect(ended).toBe('acknowledged');
    expect(publishedMessages(iot)).toMatchObject([
      { topic: STATUS_TOPIC, qos: 1, text: republished(1, 'sent') },
      { topic: STATUS_TOPIC, qos: 1, text: republished(2, 'acknowledged') },
    ]);
    const view = await records().read(DEV_EUI, DOWNLINK_ID);
    expect(view).toMatchObject({ ended: 'acknowledged', publishedRank: 2 });
    expect(view.published).toEqual([
      ACCEPTED,
      { state: 'sent', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      { state: 'acknowledged', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    ]);
  });

  it('ends the task once, with the outcome listing every status, and counts the ending once', async () => {
    await recordPost();
    await recordStatus(1);
    await recordStatus(2);

    await publishing().publishPending(DEV_EUI, DOWNLINK_ID);
    await expect(publishing().publishPending(DEV_EUI, DOWNLINK_ID)).resolves.toBeUndefined();

    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.taskToken).toBe(TASK_TOKEN);
    expect(completedOutcomes()).toEqual([
      {
        finalState: 'acknowledged',
        devEui: DEV_EUI,
        downlinkId: DOWNLINK_ID,
        requestId: 'order-42',
        statuses: [
          ACCEPTED,
          { state: 'sent', at: expect.any(String) },
          { state: 'acknowledged', at: expect.any(String) },
        ],
      },
    ]);
    expect(downlinksEnded(logs)).toEqual(['acknowledged']);
    expect(statesPublished(iot)).toEqual(['sent', 'acknowledged']);
  });

  it.each([
    [3, 'not_acknowledged', 'NotAcknowledged', 'not_acknowledged'],
    [4, 'transmission_error', 'TransmissionError', 'error'],
    [5, 'cancelled', 'Cancelled', 'cancelled'],
  ])(
    'ends the task with a failure named after the ending when OrbiWAN reports %i',
    async (transmissionStatus, finalState, error, state) => {
      await recordPost();
      await recordStatus(transmissionStatus);

      await expect(publishing().publishPending(DEV_EUI, DOWNLINK_ID)).resolves.toBe(finalState);

      expect(sfn.commandCalls(SendTaskSuccessCommand)).toEqual([]);
      const [failure] = sfn.commandCalls(SendTaskFailureCommand).map((call) => call.args[0].input);
      expect(failure).toMatchObject({ taskToken: TASK_TOKEN, error });
      expect(JSON.parse(failure?.cause ?? '')).toMatchObject({
        finalState,
        statuses: [ACCEPTED, { state }],
      });
      expect(downlinksEnded(logs)).toEqual([finalState]);
    },
  );

  it('never takes a status back to a lower rank', async () => {
    await recordPost();
    await recordStatus(1);
    await publishing().publishPending(DEV_EUI, DOWNLINK_ID);

    // pending, pushed late: recorded, but nothing goes out and the rank stays at sent.
    await recordStatus(0);
    await expect(publishing().publishPending(DEV_EUI, DOWNLINK_ID)).resolves.toBeUndefined();

    expect(statesPublished(iot)).toEqual(['sent']);
    expect((await records().read(DEV_EUI, DOWNLINK_ID)).publishedRank).toBe(1);
  });

  it('does not count pending as news: accepted said it', async () => {
    await recordStatus(0);
    await recordPost();

    await expect(publishing().publishPending(DEV_EUI, DOWNLINK_ID)).resolves.toBeUndefined();

    expect(publishedMessages(iot)).toEqual([]);
  });

  it('ends an unconfirmed downlink at sent (delivered) and publishes a status after that stale', async () => {
    await recordStatus(1);
    await recordStatus(2);
    await recordPost({ confirmed: false });

    await expect(publishing().publishPending(DEV_EUI, DOWNLINK_ID)).resolves.toBe('delivered');

    expect(statesPublished(iot)).toEqual(['sent', 'acknowledged (stale)']);
    expect(completedOutcomes()).toMatchObject([{ finalState: 'delivered' }]);
    expect(await statesRecorded()).toEqual(['accepted', 'sent']);
  });

  it('publishes with one publisher at a time: nothing while another holds the lock, until it lapses', async () => {
    await recordPost();
    await recordStatus(1);
    const other = await records().takePublisher(DEV_EUI, DOWNLINK_ID, 'other-publisher', {
      always: false,
    });
    expect(other?.reports).toEqual([reportOf(DOWNLINK_ID, 1)]);

    await expect(
      records().takePublisher(DEV_EUI, DOWNLINK_ID, 'third-publisher', { always: true }),
    ).resolves.toBeUndefined();
    await expect(publishing().publishPending(DEV_EUI, DOWNLINK_ID)).resolves.toBeUndefined();
    expect(publishedMessages(iot)).toEqual([]);

    // The other publisher died: its lock lapses after PUBLISHER_LEASE_MS.
    const later = records(() => Date.now() + PUBLISHER_LEASE_MS + 1);
    await publishing({ withRecords: later }).publishPending(DEV_EUI, DOWNLINK_ID);
    expect(statesPublished(iot)).toEqual(['sent']);
  });

  it('gives the lock back when done, and takes it only when something is left to publish', async () => {
    await recordPost();
    await recordStatus(1);
    await publishing().publishPending(DEV_EUI, DOWNLINK_ID);

    expect((await table.item(DEV_EUI, downlinkItem(DOWNLINK_ID)))?.publisher).toBeUndefined();
    await expect(
      records().takePublisher(DEV_EUI, DOWNLINK_ID, 'next', { always: false }),
    ).resolves.toBeUndefined();
    await expect(
      records().takePublisher(DEV_EUI, DOWNLINK_ID, 'next', { always: true }),
    ).resolves.toMatchObject({ publishedRank: 1 });
  });

  it('leaves a status whose publish failed unpublished, and the lock free, for the next publisher', async () => {
    await recordPost();
    await recordStatus(1);
    await recordStatus(2);
    iot
      .on(PublishCommand)
      .resolvesOnce({})
      .rejectsOnce(new Error('IoT Core unavailable'))
      .resolves({});

    await expect(publishing().publishPending(DEV_EUI, DOWNLINK_ID)).rejects.toMatchObject({
      name: 'DependencyError',
    });

    // What did go out stays marked; the final status did not, and nothing ended.
    const view = await records().read(DEV_EUI, DOWNLINK_ID);
    expect(view).toMatchObject({ publishedRank: 1, ended: undefined });
    expect((await table.item(DEV_EUI, downlinkItem(DOWNLINK_ID)))?.publisher).toBeUndefined();
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toEqual([]);
    expect(downlinksEnded(logs)).toEqual([]);

    await expect(publishing().publishPending(DEV_EUI, DOWNLINK_ID)).resolves.toBe('acknowledged');

    // sent once, acknowledged offered twice: IoT Core refused the first.
    expect(statesPublished(iot)).toEqual(['sent', 'acknowledged', 'acknowledged']);
    expect(await statesRecorded()).toEqual(['accepted', 'sent', 'acknowledged']);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });

  it('ends the downlink even when the task no longer waits for its token', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'gone', $metadata: {} }));
    await recordPost();
    await recordStatus(2);

    await expect(publishing().publishPending(DEV_EUI, DOWNLINK_ID)).resolves.toBe('acknowledged');

    expect((await records().read(DEV_EUI, DOWNLINK_ID)).ended).toBe('acknowledged');
    expect(downlinksEnded(logs)).toEqual(['acknowledged']);
  });

  it("ends the downlink when Step Functions fails to end the task (the wait's timeout will)", async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new Error('Step Functions unavailable'));
    await recordPost();
    await recordStatus(2);

    await expect(publishing().publishPending(DEV_EUI, DOWNLINK_ID)).resolves.toBe('acknowledged');

    expect((await records().read(DEV_EUI, DOWNLINK_ID)).ended).toBe('acknowledged');
    expect(logs.text()).toContain('could not end the execution; its timeout will');
  });
});

describe('statusPublishing: endNow', () => {
  const REASON = 'OrbiWAN reported no final status within 3600 s, nor when asked';
  const timedOut = (transmissionStatus: number) =>
    `{"id":${DOWNLINK_ID},"DevEUI":"${DEV_EUI}","requestId":"order-42","transmissionStatus":${String(transmissionStatus)},"state":"timed_out","error":{"code":"TIMED_OUT","message":"${REASON}"},"correlationId":"${EXECUTION}"}`;

  it('publishes what is pending, then timed_out with the last transmissionStatus seen, and says so', async () => {
    await recordPost();
    await recordStatus(0);
    await recordStatus(1);

    const { finalState, view } = await publishing({ completes: false }).endNow(
      DEV_EUI,
      DOWNLINK_ID,
      REASON,
    );

    expect(finalState).toBe('timed_out');
    expect(view.published.map(({ state }) => state)).toEqual(['accepted', 'sent', 'timed_out']);
    expect(view.ended).toBe('timed_out');
    expect(publishedMessages(iot).map(({ text }) => text)).toEqual([
      republished(1, 'sent'),
      timedOut(1),
    ]);
    expect(downlinksEnded(logs)).toEqual(['timed_out']);
  });

  it('says transmissionStatus 0 in timed_out when the application saw nothing after accepted', async () => {
    await recordPost();

    await publishing({ completes: false }).endNow(DEV_EUI, DOWNLINK_ID, REASON);

    expect(publishedMessages(iot).map(({ text }) => text)).toEqual([timedOut(0)]);
  });

  it('ends with the final status when one was pending, without timed_out', async () => {
    await recordPost();
    await recordStatus(3);

    const { finalState } = await publishing({ completes: false }).endNow(
      DEV_EUI,
      DOWNLINK_ID,
      REASON,
    );

    expect(finalState).toBe('not_acknowledged');
    expect(statesPublished(iot)).toEqual(['not_acknowledged']);
  });

  it('returns the final state of a downlink that already ended, publishing nothing', async () => {
    await recordPost();
    await recordStatus(2);
    await publishing().publishPending(DEV_EUI, DOWNLINK_ID);
    iot.resetHistory();

    const { finalState, view } = await publishing({ completes: false }).endNow(
      DEV_EUI,
      DOWNLINK_ID,
      REASON,
    );

    expect(finalState).toBe('acknowledged');
    expect(view.published.map(({ state }) => state)).toEqual(['accepted', 'acknowledged']);
    expect(publishedMessages(iot)).toEqual([]);
    expect(downlinksEnded(logs)).toEqual(['acknowledged']);
  });

  it('returns no ending, publishing nothing, for a downlink whose POST was never recorded', async () => {
    await recordStatus(1);

    const { finalState } = await publishing({ completes: false }).endNow(
      DEV_EUI,
      DOWNLINK_ID,
      REASON,
    );

    expect(finalState).toBeUndefined();
    expect(publishedMessages(iot)).toEqual([]);
  });

  it('waits for the publisher at work, then ends after what it published', async () => {
    await recordPost();
    await recordStatus(1);
    const other = await records().takePublisher(DEV_EUI, DOWNLINK_ID, 'other-publisher', {
      always: false,
    });
    expect(other).toBeDefined();

    const ending = publishing({ completes: false }).endNow(DEV_EUI, DOWNLINK_ID, REASON);
    await records().markPublished(DEV_EUI, DOWNLINK_ID, 'other-publisher', {
      rank: 1,
      entries: [{ state: 'sent', at: '2026-12-04T12:00:01.000Z' }],
      ended: undefined,
    });

    const { finalState, view } = await ending;
    expect(finalState).toBe('timed_out');
    expect(view.published.map(({ state }) => state)).toEqual(['accepted', 'sent', 'timed_out']);
    // The other publisher's sent is not published again; timed_out says it was seen.
    expect(publishedMessages(iot).map(({ text }) => text)).toEqual([timedOut(1)]);
  });
});
