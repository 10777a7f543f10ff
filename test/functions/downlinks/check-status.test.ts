import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  checkStatusHandlerFromEnv,
  type CheckInput,
} from '../../../functions/downlinks/check/check-status.js';
import { sampleEvent } from '../../helpers/api-events.js';
import {
  mockAws,
  orbiwanFunctionEnv,
  publishedMessages,
  resetAws,
} from '../../helpers/aws-mocks.js';
import { startFakeHttpServer, type FakeHttpServer } from '../../helpers/fake-http-server.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs } from '../../helpers/logs.js';

// CheckStatusAtOrbiwan: what the connector does when a downlink's status pushes were lost.

const aws = mockAws();
const ID = '18014398509481985';
const atOrbiwan = (transmissionStatus: number) =>
  `{"id":${ID},"fcnt":57,"port":20,"transmissionStatus":${String(transmissionStatus)},"session_id":"s-1"}`;
const sample = sampleEvent(
  'check-downlink-status',
  'acknowledged-meanwhile',
) as unknown as CheckInput;

let orbiwan: FakeHttpServer;

beforeAll(async () => {
  orbiwan = await startFakeHttpServer();
});

afterAll(async () => {
  await orbiwan.close();
});

beforeEach(() => {
  resetAws(aws, { orbiwanCredentials: { username: 'u', password: 'p' } });
  aws.dynamo.on(UpdateItemCommand).resolves({ Attributes: { requestId: { S: 'order-42' } } });
  aws.dynamo.on(GetItemCommand).resolves({ Item: { requestId: { S: 'order-42' } } });
  orbiwan.requests.length = 0;
  orbiwan.respond(() => ({ status: 200, body: atOrbiwan(2) }));
  captureLogs();
});

function check(input: CheckInput) {
  return checkStatusHandlerFromEnv(orbiwanFunctionEnv(orbiwan.url))(input, lambdaContext);
}

const published = () => publishedMessages(aws.iot);

describe('CheckStatusAtOrbiwan', () => {
  it('asks OrbiWAN for the downlink, records a final status and publishes it as a push would be', async () => {
    await expect(check(sample)).resolves.toEqual({ id: ID, transmissionStatus: 2, final: true });

    expect(orbiwan.requests.map(({ method, path }) => `${method} ${path}`)).toEqual([
      `GET /rest/nodes/70b3d57ed0001a2b/payloads/dl/${ID}`,
    ]);
    expect(orbiwan.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('u:p').toString('base64')}`,
    );
    const [update] = aws.dynamo.commandCalls(UpdateItemCommand);
    expect(update?.args[0].input).toMatchObject({
      Key: { devEui: { S: '70b3d57ed0001a2b' }, downlinkId: { S: ID } },
      ConditionExpression: 'attribute_not_exists(statusRank) OR statusRank < :rank',
    });
    // OrbiWAN's reply byte for byte (its 64-bit id intact), with who and what added.
    expect(published()).toMatchObject([
      {
        topic: 'orbiwan/lorawan/70b3d57ed0001a2b/downlink/status',
        qos: 1,
        text: `${atOrbiwan(2).slice(0, -1)},"DevEUI":"70b3d57ed0001a2b","requestId":"order-42","state":"acknowledged","correlationId":"downlink_1a2b3c55-1b7d-4a57-9c3e-2d5f8e9a0b1c"}`,
      },
    ]);
  });

  it('says a status is not final when the downlink has not got that far', async () => {
    orbiwan.respond(() => ({ status: 200, body: atOrbiwan(1) }));
    // Sent is final for an unconfirmed downlink only.
    await expect(check(sample)).resolves.toEqual({ id: ID, transmissionStatus: 1, final: false });
    await expect(
      check({ ...sample, downlink: { ...sample.downlink, confirmed: false } }),
    ).resolves.toEqual({ id: ID, transmissionStatus: 1, final: true });
  });

  it('publishes nothing when OrbiWAN says no more than the execution knew', async () => {
    orbiwan.respond(() => ({ status: 200, body: atOrbiwan(0) }));
    await expect(check({ ...sample, orbiwan: { id: ID, transmissionStatus: 0 } })).resolves.toEqual(
      { id: ID, transmissionStatus: 0, final: false },
    );
    expect(published()).toEqual([]);
  });

  it('ends with a status pushed meanwhile, without publishing it a second time', async () => {
    // The push was recorded (and published by the status function) just as the wait timed out.
    orbiwan.respond(() => ({ status: 200, body: atOrbiwan(1) }));
    aws.dynamo
      .on(UpdateItemCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'newer', $metadata: {} }));
    aws.dynamo.on(GetItemCommand).resolves({ Item: { lastStatus: { N: '3' } } });

    await expect(check(sample)).resolves.toEqual({ id: ID, transmissionStatus: 3, final: true });
    expect(published()).toEqual([]);
  });

  it('publishes before recording: after a failed publish, the retry still publishes the status', async () => {
    aws.iot.on(PublishCommand).rejectsOnce(new Error('IoT Core down')).resolves({});

    await expect(check(sample)).rejects.toMatchObject({ name: 'DependencyError' });
    expect(aws.dynamo.commandCalls(UpdateItemCommand)).toEqual([]);
    await expect(check(sample)).resolves.toEqual({ id: ID, transmissionStatus: 2, final: true });

    // The same status, offered twice: IoT Core refused the first.
    const acknowledged = expect.objectContaining({ transmissionStatus: 2, state: 'acknowledged' });
    expect(published().map(({ text }) => JSON.parse(text) as unknown)).toEqual([
      acknowledged,
      acknowledged,
    ]);
    expect(aws.dynamo.commandCalls(UpdateItemCommand)).toHaveLength(1);
  });

  it.each([
    [404, 'OrbiwanRejectedError'],
    [500, 'OrbiwanUnavailableError'],
    [429, 'OrbiwanNotReachedError'],
  ])(
    'fails with a typed error, changing nothing, when OrbiWAN answers %i',
    async (status, name) => {
      orbiwan.respond(() => ({ status, body: 'no', headers: { 'content-type': 'text/plain' } }));
      await expect(check(sample)).rejects.toMatchObject({ name });
      expect(aws.dynamo.commandCalls(UpdateItemCommand)).toEqual([]);
      expect(published()).toEqual([]);
    },
  );

  it.each([
    ['not JSON', 'oops'],
    ['without a status', `{"id":${ID}}`],
    ['with a status out of range', atOrbiwan(9)],
  ])('fails, changing nothing, when OrbiWAN answers %s', async (_, body) => {
    orbiwan.respond(() => ({ status: 200, body }));
    await expect(check(sample)).rejects.toMatchObject({ name: 'OrbiwanUnavailableError' });
    expect(aws.dynamo.commandCalls(UpdateItemCommand)).toEqual([]);
    expect(published()).toEqual([]);
  });
});
