import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  checkStatusHandlerFromEnv,
  type CheckInput,
} from '../../../functions/downlinks/check/check-status.js';
import { downlinkRecords } from '../../../functions/downlinks/downlink-record.js';
import { requestClaims } from '../../../functions/downlinks/request-claims.js';
import { statusPublisher } from '../../../functions/downlinks/status-publisher.js';
import {
  PUBLISHER_LEASE_MS,
  statusPublishing,
} from '../../../functions/downlinks/status-publishing.js';
import { sampleEvent } from '../../helpers/api-events.js';
import {
  ORBIWAN_CREDENTIALS_SECRET_ARN,
  orbiwanFunctionEnv,
  publishedMessages,
} from '../../helpers/aws-mocks.js';
import { ORBIWAN_USER } from '../../helpers/downlink-harness.js';
import { startFakeHttpServer, type FakeHttpServer } from '../../helpers/fake-http-server.js';
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
  reportOf,
  statesPublished,
} from './downlink-fixtures.js';
import { useDownlinksTable } from './downlinks-table.js';

// CheckDownlinkStatusFunction, once a downlink's wait timed out: it asks OrbiWAN, publishes what
// the application has not seen, and ends the downlink. Against a fake OrbiWAN and a real
// (in-memory) downlinks table, reached through AWS_ENDPOINT_URL_DYNAMODB; IoT Core mocked.

const iot = mockClient(IoTDataPlaneClient);
const secrets = mockClient(SecretsManagerClient);
const table = useDownlinksTable({ forFunctions: true });
let orbiwan: FakeHttpServer;
let logs: CapturedLogs;
/** What OrbiWAN answers when asked for the downlink: its transmissionStatus. */
let atOrbiwan: number;

beforeAll(async () => {
  orbiwan = await startFakeHttpServer();
});

afterAll(async () => {
  await orbiwan.close();
});

beforeEach(() => {
  iot.reset();
  iot.on(PublishCommand).resolves({});
  secrets.reset();
  secrets
    .on(GetSecretValueCommand, { SecretId: ORBIWAN_CREDENTIALS_SECRET_ARN })
    .resolves({ SecretString: JSON.stringify(ORBIWAN_USER) });
  orbiwan.requests.length = 0;
  atOrbiwan = 0;
  orbiwan.respond(() => ({ status: 200, body: orbiwanDownlink(DOWNLINK_ID, atOrbiwan) }));
  logs = captureLogs();
});

const sample = (name: string) =>
  sampleEvent('check-downlink-status', name) as unknown as CheckInput;
const INPUT = sample('acknowledged-meanwhile');
const CORRELATION_ID = INPUT.correlationId;
const WAITED = 'OrbiWAN reported no final status within 3600 s';

/** The task as the template wires it. */
const check = (input = INPUT) =>
  checkStatusHandlerFromEnv(
    orbiwanFunctionEnv(orbiwan.url, {
      TOPIC_PREFIX: PREFIX,
      DOWNLINKS_TABLE_NAME: table.tableName,
      DOWNLINK_CONFIRMED_DEFAULT: 'true',
      DOWNLINK_MODE_DEFAULT: 'enqueue_on_busy',
    }),
  )(input, lambdaContext);

const records = () =>
  downlinkRecords({
    client: table.client,
    tableName: table.tableName,
    retentionSeconds: RETENTION_SECONDS,
    publisherLeaseMs: PUBLISHER_LEASE_MS,
  });

/** What the send task left: its claim with OrbiWAN's id, and the downlink's record. */
async function sentDownlink(): Promise<void> {
  const request = { devEui: DEV_EUI, requestId: 'order-42', execution: CORRELATION_ID };
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
  await records().recordPost(DEV_EUI, DOWNLINK_ID, {
    execution: CORRELATION_ID,
    taskToken: 'the-task-token',
    requestId: 'order-42',
    confirmed: true,
    accepted: { state: 'accepted', at: '2026-12-04T12:00:00.000Z' },
  });
}

/** OrbiWAN's answer to the GET, as the application gets it. */
const fromOrbiwan = (transmissionStatus: number, state: string) =>
  `${orbiwanDownlink(DOWNLINK_ID, transmissionStatus).slice(0, -1)},"DevEUI":"${DEV_EUI}","requestId":"order-42","state":"${state}","correlationId":"${CORRELATION_ID}"}`;

const timedOut = (transmissionStatus: number, message: string) =>
  `{"id":${DOWNLINK_ID},"DevEUI":"${DEV_EUI}","requestId":"order-42","transmissionStatus":${String(transmissionStatus)},"state":"timed_out","error":{"code":"TIMED_OUT","message":"${message}"},"correlationId":"${CORRELATION_ID}"}`;

const texts = () => publishedMessages(iot).map(({ text }) => text);

describe('Handler: CheckStatusAtOrbiwan', () => {
  it('asks OrbiWAN for the downlink with a GET, with its credentials', async () => {
    await sentDownlink();

    await check();

    expect(orbiwan.requests.map(({ method, path }) => `${method} ${path}`)).toEqual([
      `GET /rest/nodes/${DEV_EUI}/payloads/dl/${DOWNLINK_ID}`,
    ]);
    expect(orbiwan.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from(`${ORBIWAN_USER.username}:${ORBIWAN_USER.password}`).toString('base64')}`,
    );
  });

  it('publishes a final status OrbiWAN reports, once, and ends the downlink with it', async () => {
    await sentDownlink();
    atOrbiwan = 2;

    const result = await check();

    expect(publishedMessages(iot)).toMatchObject([
      { topic: STATUS_TOPIC, qos: 1, text: fromOrbiwan(2, 'acknowledged') },
    ]);
    const outcome = {
      finalState: 'acknowledged',
      devEui: DEV_EUI,
      downlinkId: DOWNLINK_ID,
      requestId: 'order-42',
      statuses: [
        { state: 'accepted', at: '2026-12-04T12:00:00.000Z' },
        { state: 'acknowledged', at: expect.any(String) },
      ],
    };
    expect(result).toEqual({
      outcome,
      failure: { Error: '', Cause: expect.any(String) },
    });
    expect(JSON.parse(result.failure.Cause)).toEqual(outcome);
    expect(downlinksEnded(logs)).toEqual(['acknowledged']);

    // Retried by the state machine: the same ending, nothing published again.
    await expect(check()).resolves.toMatchObject({ outcome: { finalState: 'acknowledged' } });
    expect(publishedMessages(iot)).toHaveLength(1);
    expect(downlinksEnded(logs)).toEqual(['acknowledged']);
  });

  it.each([
    [3, 'not_acknowledged', 'NotAcknowledged'],
    [4, 'transmission_error', 'TransmissionError'],
    [5, 'cancelled', 'Cancelled'],
  ])(
    'ends with the failure the state machine names, when OrbiWAN reports %i',
    async (status, finalState, error) => {
      await sentDownlink();
      atOrbiwan = status;

      await expect(check()).resolves.toMatchObject({
        outcome: { finalState },
        failure: { Error: error },
      });
    },
  );

  it('ends timed_out after publishing a status OrbiWAN reports that is not final', async () => {
    await sentDownlink();
    atOrbiwan = 1;

    const { outcome, failure } = await check();

    expect(texts()).toEqual([fromOrbiwan(1, 'sent'), timedOut(1, `${WAITED}, nor when asked`)]);
    expect(outcome).toMatchObject({ finalState: 'timed_out' });
    expect(outcome.statuses.map(({ state }) => state)).toEqual(['accepted', 'sent', 'timed_out']);
    expect(failure.Error).toBe('TimedOut');
    expect(downlinksEnded(logs)).toEqual(['timed_out']);
  });

  it('ends timed_out, saying OrbiWAN could not be asked, after publishing statuses reported but never published', async () => {
    await sentDownlink();
    // The status function recorded sent, but IoT Core refused its publish.
    await records().recordReport(DEV_EUI, DOWNLINK_ID, reportOf(DOWNLINK_ID, 1));
    orbiwan.respond(() => ({ status: 503, body: 'maintenance' }));

    const { outcome } = await check();

    // A GET changes nothing at OrbiWAN: asked again while it could not answer.
    expect(orbiwan.requests.length).toBeGreaterThan(1);
    const [sent, ending] = publishedMessages(iot);
    expect(statesPublished(iot)).toEqual(['sent', 'timed_out']);
    expect(sent?.text).toContain('"requestId":"order-42"');
    expect(JSON.parse(ending?.text ?? '')).toMatchObject({
      transmissionStatus: 1,
      error: {
        code: 'TIMED_OUT',
        message: `${WAITED}, and OrbiWAN could not be asked: OrbiWAN failed to show downlink ${DOWNLINK_ID} (503): maintenance`,
      },
    });
    expect(outcome).toMatchObject({ finalState: 'timed_out', downlinkId: DOWNLINK_ID });
  });

  it('ends timed_out, asking once, when OrbiWAN does not know the downlink', async () => {
    await sentDownlink();
    orbiwan.respond(() => ({ status: 404, body: 'Downlink not found' }));

    await expect(check()).resolves.toMatchObject({ outcome: { finalState: 'timed_out' } });

    expect(orbiwan.requests).toHaveLength(1);
    expect(JSON.parse(texts()[0] ?? '')).toMatchObject({
      error: { message: expect.stringContaining('could not be asked: OrbiWAN has no downlink') },
    });
  });

  it('returns the ending of a downlink that ended meanwhile, publishing nothing', async () => {
    await sentDownlink();
    await records().recordReport(DEV_EUI, DOWNLINK_ID, reportOf(DOWNLINK_ID, 2));
    await statusPublishing({
      records: records(),
      publish: statusPublisher(new IoTDataPlaneClient({})),
      complete: undefined,
      topicPrefix: PREFIX,
    }).publishPending(DEV_EUI, DOWNLINK_ID);
    iot.resetHistory();
    atOrbiwan = 2;

    await expect(check()).resolves.toMatchObject({
      outcome: {
        finalState: 'acknowledged',
        statuses: [{ state: 'accepted' }, { state: 'acknowledged' }],
      },
    });

    expect(publishedMessages(iot)).toEqual([]);
  });

  it("ends timed_out without asking when the connector never learnt OrbiWAN's id", async () => {
    const input = sample('unknown-downlink');

    const result = await check(input);

    expect(orbiwan.requests).toEqual([]);
    expect(publishedMessages(iot)).toMatchObject([
      {
        topic: `${PREFIX}/0011223344556677/downlink/status`,
        text: `{"DevEUI":"0011223344556677","state":"timed_out","error":{"code":"TIMED_OUT","message":"${WAITED}, and the connector does not know OrbiWAN's id for it"},"correlationId":"${input.correlationId}"}`,
      },
    ]);
    expect(result).toMatchObject({
      outcome: { finalState: 'timed_out', downlinkId: undefined, statuses: [] },
      failure: { Error: 'TimedOut' },
    });
    expect(downlinksEnded(logs)).toEqual(['timed_out']);
  });

  it('fails, to be retried, when IoT Core refuses timed_out; the retry publishes it once', async () => {
    await sentDownlink();
    iot.on(PublishCommand).rejectsOnce(new Error('IoT Core unavailable')).resolves({});

    await expect(check()).rejects.toMatchObject({ name: 'DependencyError' });
    expect(downlinksEnded(logs)).toEqual([]);

    await expect(check()).resolves.toMatchObject({ outcome: { finalState: 'timed_out' } });
    expect(statesPublished(iot)).toEqual(['timed_out', 'timed_out']);
    expect(downlinksEnded(logs)).toEqual(['timed_out']);
  });
});
