import { execFile } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
} from '../../functions/notifications/notification-types.js';
import type { LocalConnector } from '../../local/connector.js';
import { bodyBytes, sampleEvents } from '../helpers/api-events.js';
import {
  E2E_TOKEN,
  startTestConnector,
  subscribe,
  type Subscriber,
} from '../helpers/local-connector.js';

// The running local stack, from the outside: real HTTP to its push API, a real MQTT client on its
// broker, the AWS SDK and CLI on its AWS endpoint, TLS client certificates on its IoT endpoint.

const run = promisify(execFile);
const PREFIX = 'orbiwan/lorawan';
const CLASS_C = '70b3d57ed0000001';
let connector: LocalConnector;
let subscriber: Subscriber;
let sfn: SFNClient;

beforeAll(async () => {
  connector = await startTestConnector();
  subscriber = await subscribe(connector.endpoints.mqtt, `${PREFIX}/#`);
  sfn = new SFNClient({
    endpoint: connector.endpoints.aws,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  await subscriber.close();
  await connector.close();
});

function push(path: string, body: string | Buffer, token = E2E_TOKEN, method = 'POST') {
  return fetch(`${connector.endpoints.http}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  });
}

const statusOf =
  (requestId: string, state: string) => (message: { topic: string; payload: Buffer }) =>
    message.topic.endsWith('/downlink/status') &&
    message.payload.includes(`"requestId":"${requestId}"`) &&
    message.payload.includes(`"state":"${state}"`);

async function executionOf(requestId: string) {
  const [machine] = (await sfn.send(new ListStateMachinesCommand({}))).stateMachines ?? [];
  const { executions = [] } = await sfn.send(
    new ListExecutionsCommand({ stateMachineArn: machine?.stateMachineArn }),
  );
  for (const { executionArn } of executions) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    // The rule hands the request over Base64-encoded.
    const { payload = '' } = JSON.parse(execution.input ?? '{}') as { payload?: string };
    if (Buffer.from(payload, 'base64').toString().includes(`"requestId":"${requestId}"`))
      return execution;
  }
  return undefined;
}

describe('Local stack: inbound', () => {
  it('answers the health check', async () => {
    const response = await fetch(`${connector.endpoints.http}/_local/health`);
    expect(response.status).toBe(200);
  });

  it.each(NOTIFICATION_TYPES)(
    'republishes a %s notification pushed over HTTP on its topic, byte for byte',
    async (type) => {
      const { callbackPath, topicSuffix } = NOTIFICATION_DEFINITIONS[type];
      const sample = sampleEvents(type.replaceAll('_', '-')).find(
        (candidate) => !/^(bad|unauthorized)-/.test(candidate.name),
      );
      const body = bodyBytes(sample?.event ?? ({} as never));

      const response = await push(
        callbackPath,
        body,
        E2E_TOKEN,
        sample?.event.requestContext.http.method,
      );
      const { published } = (await response.json()) as { published: string };
      const message = await subscriber.next(
        (candidate) =>
          candidate.topic === published &&
          candidate.payload.subarray(0, body.length - 1).equals(body.subarray(0, body.length - 1)),
      );

      expect(response.status).toBe(200);
      expect(published.endsWith(`/${topicSuffix}`)).toBe(true);
      if (type === 'downlink_status')
        expect(JSON.parse(message.payload.toString())).toMatchObject({
          ...(JSON.parse(body.toString()) as object),
          state: 'acknowledged',
        });
      else expect(message.payload.equals(body)).toBe(true);
    },
  );

  it('refuses a wrong or missing token with 401 and publishes nothing', async () => {
    const body = JSON.stringify({
      DevEUI: '0011223344556677',
      dataFrame: 'AQ==',
      port: 1,
      fcnt: 1,
    });
    const forged = await push('/rest/callback/payloads/ul', body, 'forged');
    const missing = await fetch(`${connector.endpoints.http}/rest/callback/payloads/ul`, {
      method: 'POST',
      body,
    });
    // A sentinel through the same path: anything the refused requests had published would come first.
    const sentinel = JSON.stringify({
      DevEUI: '0011223344556677',
      dataFrame: 'Ag==',
      port: 2,
      fcnt: 2,
    });
    await push('/rest/callback/payloads/ul', sentinel);
    const first = await subscriber.next(
      (message) => message.topic === `${PREFIX}/0011223344556677/uplink`,
    );

    expect([forged.status, missing.status]).toEqual([401, 401]);
    expect(first.payload.toString()).toBe(sentinel);
  });

  it('answers 404 for a path that is not a callback route', async () => {
    expect((await push('/rest/callback/unknown', '{}')).status).toBe(404);
  });

  it('carries the simulated devices uplinks, early and normal, with the same id', async () => {
    const device = '70b3d57ed0000002';
    await connector.simulator?.uplink(device);
    const early = await subscriber.next(
      (message) => message.topic === `${PREFIX}/${device}/uplink_early`,
    );
    const normal = await subscriber.next(
      (message) => message.topic === `${PREFIX}/${device}/uplink`,
    );
    const id = (text: Buffer) => /"id":(\d+)/.exec(text.toString())?.[1];
    expect(id(early.payload)).toBeDefined();
    expect(id(early.payload)).toBe(id(normal.payload));
  });
});

describe('Local stack: downlinks', () => {
  it('sends a downlink published on MQTT to OrbiWAN and publishes accepted, sent and acknowledged', async () => {
    await subscriber.client.publishAsync(
      `${PREFIX}/${CLASS_C}/downlink`,
      JSON.stringify({ data: 'aabbcc', port: 20, requestId: 'e2e-mqtt' }),
      { qos: 1 },
    );

    const acknowledged = await subscriber.next(statusOf('e2e-mqtt', 'acknowledged'));
    const states = subscriber.received
      .filter(
        (message) =>
          message.topic.endsWith('/downlink/status') &&
          message.payload.includes('"requestId":"e2e-mqtt"'),
      )
      .map((message) => (JSON.parse(message.payload.toString()) as { state: string }).state);
    expect(states).toEqual(['accepted', 'sent', 'acknowledged']);
    expect(JSON.parse(acknowledged.payload.toString())).toMatchObject({ transmissionStatus: 2 });
    const sent = connector.simulator
      ?.downlinks()
      .find((downlink) => downlink.data === 'aabbcc' && downlink.devEui === CLASS_C);
    expect(sent).toMatchObject({ port: 20, confirmed: true, transmissionStatus: 2 });
    expect(connector.simulator?.stats().parallelPostViolations).toBe(0);
  });

  it('ends a bad downlink with an error status and a failed execution, sending nothing', async () => {
    const posts = connector.simulator?.stats().downlinkPosts;
    await subscriber.client.publishAsync(
      `${PREFIX}/${CLASS_C}/downlink`,
      JSON.stringify({ data: 'abc', port: 0, requestId: 'e2e-bad' }),
      { qos: 1 },
    );

    const error = await subscriber.next(statusOf('e2e-bad', 'error'));
    expect(JSON.parse(error.payload.toString())).toMatchObject({
      error: { code: 'INVALID_DOWNLINK' },
    });
    const execution = await executionOf('e2e-bad');
    expect(execution).toMatchObject({ status: 'FAILED', error: 'InvalidDownlinkError' });
    expect(connector.simulator?.stats().downlinkPosts).toBe(posts);
  });

  it('takes a downlink on the mutual-TLS HTTPS endpoint with the generated client certificate', async () => {
    const { certificates, endpoints } = connector;
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpsRequest(
        `${endpoints.iotHttps}/topics/${encodeURIComponent(`${PREFIX}/${CLASS_C}/downlink`)}?qos=1`,
        {
          method: 'POST',
          ca: certificates.ca,
          cert: certificates.clientCert,
          key: certificates.clientKey,
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.end(
        JSON.stringify({ data: '01', port: 2, confirmed: false, requestId: 'e2e-https' }),
      );
    });

    expect(status).toBe(200);
    await subscriber.next(statusOf('e2e-https', 'sent'));
  });

  it('refuses an HTTPS client without a certificate of the development CA', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const request = httpsRequest(
        `${connector.endpoints.iotHttps}/topics/x?qos=1`,
        { method: 'POST', ca: connector.certificates.ca },
        (response) => {
          resolve(String(response.statusCode));
        },
      );
      request.on('error', (error) => {
        resolve(error.message);
      });
      request.end('{}');
    });
    expect(outcome).not.toBe('200');
  });

  it('serves MQTT over WebSocket on the HTTP port', async () => {
    const client = await mqtt.connectAsync(connector.endpoints.mqttWebSocket, {
      reconnectPeriod: 0,
    });
    await client.subscribeAsync(`${PREFIX}/+/joininfo`);
    const received = new Promise<string>((resolve) =>
      client.on('message', (_, payload) => {
        resolve(payload.toString());
      }),
    );
    const body = JSON.stringify({ DevEUI: '0011223344556677', join_status: 'JOIN_ACCEPTED' });
    await push('/rest/callback/joininfo', body, E2E_TOKEN, 'PUT');
    expect(await received).toBe(body);
    await client.endAsync();
  });

  it('lets the stock AWS CLI see the state machine under its logical ID and its executions', async () => {
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_PAGER: '',
    };
    const { stdout } = await run(
      'aws',
      [
        '--endpoint-url',
        connector.endpoints.aws,
        'stepfunctions',
        'list-state-machines',
        '--output',
        'json',
      ],
      { env },
    );
    const [machine] = (
      JSON.parse(stdout) as { stateMachines: { name: string; stateMachineArn: string }[] }
    ).stateMachines;
    expect(machine?.name).toBe('DownlinkStateMachine');
    const executions = await run(
      'aws',
      [
        '--endpoint-url',
        connector.endpoints.aws,
        'stepfunctions',
        'list-executions',
        '--state-machine-arn',
        machine?.stateMachineArn ?? '',
        '--output',
        'json',
      ],
      { env },
    );
    expect(
      (JSON.parse(executions.stdout) as { executions: unknown[] }).executions.length,
    ).toBeGreaterThan(0);
  });
});
