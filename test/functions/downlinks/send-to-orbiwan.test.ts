import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  sendToOrbiwanHandlerFromEnv,
  type SendInput,
} from '../../../functions/downlinks/send/send-to-orbiwan.js';
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

const aws = mockAws();
const REPLY =
  '{"id":18014398509481985,"fcnt":57,"port":20,"transmissionStatus":0,"session_id":"s-1"}';
const sample = (name: string) => sampleEvent('send-to-orbiwan', name) as unknown as SendInput;

let orbiwan: FakeHttpServer;

beforeAll(async () => {
  orbiwan = await startFakeHttpServer();
});

afterAll(async () => {
  await orbiwan.close();
});

beforeEach(() => {
  resetAws(aws, { orbiwanCredentials: { username: 'u', password: 'p' } });
  aws.dynamo.on(PutItemCommand).resolves({});
  aws.dynamo.on(DeleteItemCommand).resolves({});
  aws.dynamo.on(UpdateItemCommand).resolves({});
  orbiwan.requests.length = 0;
  orbiwan.respond(() => ({ status: 200, body: REPLY }));
  captureLogs();
});

function send(input: SendInput) {
  return sendToOrbiwanHandlerFromEnv(orbiwanFunctionEnv(`${orbiwan.url}/`))(input, lambdaContext);
}

const lockCalls = () => aws.dynamo.commandCalls(PutItemCommand).map((call) => call.args[0].input);

describe('Handler: SendToOrbiwan', () => {
  it("POSTs once under the device's lease, then records it, publishes accepted and returns OrbiWAN's id", async () => {
    const result = await send(sample('confirmed'));

    expect(result).toEqual({ id: '18014398509481985', fcnt: 57, transmissionStatus: 0 });
    expect(orbiwan.requests).toHaveLength(1);
    expect(orbiwan.requests[0]?.path).toBe('/rest/nodes/70b3d57ed0001a2b/payloads/dl');
    expect(lockCalls()).toEqual([
      expect.objectContaining({
        TableName: 'downlinks',
        Item: expect.objectContaining({
          devEui: { S: '70b3d57ed0001a2b' },
          downlinkId: { S: '#post-lock' },
        }),
        ConditionExpression: 'attribute_not_exists(devEui) OR leaseUntil < :now',
      }),
    ]);
    const [release] = aws.dynamo.commandCalls(DeleteItemCommand);
    expect(release?.args[0].input.Key).toEqual({
      devEui: { S: '70b3d57ed0001a2b' },
      downlinkId: { S: '#post-lock' },
    });
    const [record] = aws.dynamo.commandCalls(UpdateItemCommand);
    expect(record?.args[0].input).toMatchObject({
      Key: { devEui: { S: '70b3d57ed0001a2b' }, downlinkId: { S: '18014398509481985' } },
      ExpressionAttributeValues: expect.objectContaining({ ':request': { S: 'order-42' } }),
    });
    expect(publishedMessages(aws.iot)).toMatchObject([
      {
        topic: 'orbiwan/lorawan/70b3d57ed0001a2b/downlink/status',
        text: `${REPLY.slice(0, -1)},"DevEUI":"70b3d57ed0001a2b","requestId":"order-42","state":"accepted","correlationId":"downlink_6f0c2a8e-1b7d-4a57-9c3e-2d5f8e9a0b1c"}`,
      },
    ]);
  });

  it('sends fcnt and confirmed=false when the downlink says so', async () => {
    await send(sample('unconfirmed-with-fcnt'));
    expect(Object.fromEntries(orbiwan.requests[0]?.query ?? [])).toEqual({
      port: '10',
      confirmed: 'false',
      mode: 'enqueue_on_busy',
      data_format: 'hex',
      fcnt: '12',
    });
    expect(orbiwan.requests[0]?.body).toBe('01a4ff');
  });

  it('waits while another POST holds the device, then sends', async () => {
    const busy = new ConditionalCheckFailedException({ message: 'held', $metadata: {} });
    aws.dynamo.on(PutItemCommand).rejectsOnce(busy).rejectsOnce(busy).resolves({});
    await send(sample('confirmed'));
    expect(lockCalls()).toHaveLength(3);
    expect(orbiwan.requests).toHaveLength(1);
  });

  it('throws the typed error of a refused POST and still releases the device', async () => {
    orbiwan.respond(() => ({
      status: 404,
      body: 'unknown node',
      headers: { 'content-type': 'text/plain' },
    }));
    await expect(send(sample('unknown-device'))).rejects.toMatchObject({
      name: 'UnknownDeviceError',
    });
    expect(aws.dynamo.commandCalls(DeleteItemCommand)).toHaveLength(1);
    expect(publishedMessages(aws.iot)).toEqual([]);
  });

  it('succeeds once OrbiWAN queued the downlink, even if recording, publishing and releasing fail', async () => {
    aws.dynamo.on(UpdateItemCommand).rejects(new Error('table unavailable'));
    aws.dynamo.on(DeleteItemCommand).rejects(new Error('table unavailable'));
    aws.iot.on(PublishCommand).rejects(new Error('iot unavailable'));
    await expect(send(sample('confirmed'))).resolves.toMatchObject({ id: '18014398509481985' });
  });

  it('refuses to start with a malformed OrbiWAN URL or auth mode', () => {
    expect(() => sendToOrbiwanHandlerFromEnv(orbiwanFunctionEnv('orbiwan'))).toThrow(
      'ORBIWAN_BASE_URL "orbiwan" is not a URL',
    );
    expect(() =>
      sendToOrbiwanHandlerFromEnv(orbiwanFunctionEnv('https://o', { ORBIWAN_AUTH_MODE: 'token' })),
    ).toThrow('environment variable ORBIWAN_AUTH_MODE must be one of basic, oauth2, got "token"');
  });
});
