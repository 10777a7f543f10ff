import {
  DeleteItemCommand,
  InternalServerError,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LEASE_MARGIN_MS, deviceLease } from '../../../functions/downlinks/device-lease.js';
import { DownlinkNotRecordedError } from '../../../functions/downlinks/downlink-errors.js';
import { downlinkRecords } from '../../../functions/downlinks/downlink-record.js';
import { LEASE_ITEM, requestItem } from '../../../functions/downlinks/downlink-table.js';
import { requestClaims } from '../../../functions/downlinks/request-claims.js';
import {
  sendDownlink,
  sendDownlinkHandlerFromEnv,
  type SendDeps,
  type SendInput,
} from '../../../functions/downlinks/send/send-downlink.js';
import { downlinkStatusHandlerFromEnv as createStatusHandler } from '../../../functions/downlinks/status/downlink-status-function.js';
import { statusPublisher } from '../../../functions/downlinks/status-publisher.js';
import { PUBLISHER_LEASE_MS } from '../../../functions/downlinks/status-publishing.js';
import { stepFunctionsCompletion } from '../../../functions/downlinks/task-completion.js';
import { orbiwanClientFromEnv } from '../../../functions/shared/orbiwan/orbiwan-from-env.js';
import { rawOrbiwanId } from '../../../functions/shared/raw-json.js';
import { SAMPLE_PUSH_TOKEN, pushEvent, sampleEvent } from '../../helpers/api-events.js';
import {
  ORBIWAN_CREDENTIALS_SECRET_ARN,
  PUSH_TOKEN_SECRET_ARN,
  orbiwanFunctionEnv,
  publishedMessages,
} from '../../helpers/aws-mocks.js';
import { ORBIWAN_USER, acceptDownlinks } from '../../helpers/downlink-harness.js';
import {
  startFakeHttpServer,
  type FakeHttpServer,
  type Reply,
} from '../../helpers/fake-http-server.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs } from '../../helpers/logs.js';
import {
  DEFAULTS,
  DEV_EUI,
  PREFIX,
  RETENTION_SECONDS,
  STATUS_TOPIC,
  pushedStatus,
  statesPublished,
} from './downlink-fixtures.js';
import { useDownlinksTable, withFaults } from './downlinks-table.js';

// SendDownlinkFunction, the one task between the IoT rule and OrbiWAN: against a fake OrbiWAN and
// a real (in-memory) downlinks table, which the function's own DynamoDB client reaches through
// AWS_ENDPOINT_URL_DYNAMODB. IoT Core, Step Functions and Secrets Manager are mocked.

const iot = mockClient(IoTDataPlaneClient);
const sfn = mockClient(SFNClient);
const secrets = mockClient(SecretsManagerClient);
const table = useDownlinksTable({ forFunctions: true });
let orbiwan: FakeHttpServer;
let accepted: AcceptingOrbiwan;

/** A Lambda context with this much of the invocation's time left. */
const withTimeLeft = (ms: number): Context => ({
  ...lambdaContext,
  getRemainingTimeInMillis: () => ms,
});
/** A fresh invocation: the send function's Timeout in template.yaml (40 s). */
const FRESH = withTimeLeft(40_000);

beforeAll(async () => {
  orbiwan = await startFakeHttpServer();
});

afterAll(async () => {
  await orbiwan.close();
});

beforeEach(() => {
  for (const mock of [iot, sfn, secrets]) mock.reset();
  iot.on(PublishCommand).resolves({});
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
  secrets
    .on(GetSecretValueCommand, { SecretId: ORBIWAN_CREDENTIALS_SECRET_ARN })
    .resolves({ SecretString: JSON.stringify(ORBIWAN_USER) });
  secrets
    .on(GetSecretValueCommand, { SecretId: PUSH_TOKEN_SECRET_ARN })
    .resolves({ SecretString: SAMPLE_PUSH_TOKEN });
  orbiwan.requests.length = 0;
  accepted = acceptingOrbiwan();
  captureLogs();
});

interface AcceptingOrbiwan {
  /** OrbiWAN's replies to the POSTs, as sent. */
  replies: string[];
  /** OrbiWAN's ids, in order. */
  ids: () => string[];
  /** Runs while OrbiWAN handles a POST, before it replies, with the id it is about to give. */
  meanwhile: (work: (id: string) => Promise<void>) => void;
}

/** OrbiWAN accepting every downlink (test/helpers/downlink-harness.ts), its replies kept. */
function acceptingOrbiwan(): AcceptingOrbiwan {
  const accept = acceptDownlinks();
  const replies: string[] = [];
  let during: (id: string) => Promise<void> = () => Promise.resolve();
  orbiwan.respond(async (request) => {
    const reply = accept(request);
    if (request.method !== 'POST') return reply;
    replies.push(reply.body ?? '');
    await during(rawOrbiwanId(reply.body ?? '') ?? '');
    return reply;
  });
  return {
    replies,
    ids: () => replies.map((reply) => rawOrbiwanId(reply) ?? ''),
    meanwhile: (work) => {
      during = work;
    },
  };
}

const env = (url = orbiwan.url) =>
  orbiwanFunctionEnv(url, {
    TOPIC_PREFIX: PREFIX,
    DOWNLINKS_TABLE_NAME: table.tableName,
    DOWNLINK_CONFIRMED_DEFAULT: 'true',
    DOWNLINK_MODE_DEFAULT: 'enqueue_on_busy',
    REQUEST_ID_WINDOW_SECONDS: '86400',
    PAYLOAD_CODECS: 'Disabled',
  });

const sample = (name: string) => sampleEvent('send-downlink', name) as unknown as SendInput;

/** The task as the template wires it. */
const send = (input: SendInput, context = FRESH, url = orbiwan.url) =>
  sendDownlinkHandlerFromEnv(env(url))(input, context);

const posts = () => orbiwan.requests.filter((request) => request.method === 'POST');

const tableModules = (client: DynamoDBClient = table.client) => ({
  claims: requestClaims({
    client,
    tableName: table.tableName,
    windowMs: 86_400_000,
    retentionSeconds: RETENTION_SECONDS,
  }),
  lease: deviceLease({ client, tableName: table.tableName }),
  records: downlinkRecords({
    client,
    tableName: table.tableName,
    retentionSeconds: RETENTION_SECONDS,
    publisherLeaseMs: PUBLISHER_LEASE_MS,
  }),
});

/** The task's work with its dependencies in hand: DynamoDB, its clock. */
const deps = (client?: DynamoDBClient, now?: () => number): SendDeps => ({
  defaults: DEFAULTS,
  orbiwan: orbiwanClientFromEnv(env()),
  ...tableModules(client),
  publish: statusPublisher(new IoTDataPlaneClient({})),
  complete: stepFunctionsCompletion(new SFNClient({})),
  ...(now === undefined ? {} : { now }),
});

/** `accepted` as the application gets it: OrbiWAN's reply, with who and what added. */
const acceptedText = (reply: string, input: SendInput) =>
  `${reply.slice(0, -1)},"DevEUI":"${DEV_EUI}","requestId":"order-42","state":"accepted","correlationId":"${input.correlationId}"}`;

const leaseItem = () => table.item(DEV_EUI, LEASE_ITEM);

const dynamoFailure = () => new InternalServerError({ message: 'DynamoDB failed', $metadata: {} });

/** The item key a DynamoDB request writes, for faults aimed at one kind of item. */
function itemKeyOf(command: object): string {
  if (command instanceof PutItemCommand) return command.input.Item?.itemKey?.S ?? '';
  if (command instanceof UpdateItemCommand) return command.input.Key?.itemKey?.S ?? '';
  return '';
}

describe('Handler: SendDownlink', () => {
  it('POSTs the downlink once, with its device, port, options, hex data and credentials', async () => {
    await expect(send(sample('confirmed'))).resolves.toBe('waiting');

    expect(posts()).toHaveLength(1);
    const [post] = posts();
    expect(post?.path).toBe('/rest/nodes/70b3d57ed0001a2b/payloads/dl');
    expect(Object.fromEntries(post?.query ?? [])).toEqual({
      port: '20',
      confirmed: 'true',
      mode: 'enqueue_on_busy',
      data_format: 'hex',
    });
    expect(post?.body).toBe('aabbcc');
    expect(post?.headers.authorization).toBe(
      `Basic ${Buffer.from(`${ORBIWAN_USER.username}:${ORBIWAN_USER.password}`).toString('base64')}`,
    );
  });

  it('sends fcnt, confirmed=false and the mode when the request says so', async () => {
    await send(sample('all-fields'));

    expect(Object.fromEntries(posts()[0]?.query ?? [])).toEqual({
      port: '10',
      confirmed: 'false',
      mode: 'replace_on_busy',
      data_format: 'hex',
      fcnt: '12',
    });
    expect(posts()[0]?.body).toBe('01a4ff');
  });

  it("publishes accepted: OrbiWAN's reply with the DevEUI, requestId, state and correlation id", async () => {
    const input = sample('confirmed');

    await send(input);

    expect(publishedMessages(iot)).toEqual([
      {
        topic: STATUS_TOPIC,
        qos: 1,
        payload: expect.any(Buffer),
        text: acceptedText(accepted.replies[0] ?? '', input),
      },
    ]);
  });

  it("records the downlink with the task token, keeps OrbiWAN's id with the claim, and gives the device back", async () => {
    const input = sample('confirmed');

    await send(input);

    const [id = ''] = accepted.ids();
    const { records, claims } = tableModules();
    expect(await records.read(DEV_EUI, id)).toMatchObject({
      execution: input.correlationId,
      taskToken: input.taskToken,
      requestId: 'order-42',
      confirmed: true,
      publishedRank: 0,
      published: [{ state: 'accepted', at: expect.any(String) }],
      ended: undefined,
    });
    await expect(
      claims.posted({ devEui: DEV_EUI, requestId: 'order-42', execution: input.correlationId }),
    ).resolves.toEqual({ downlinkId: id, reply: accepted.replies[0] });
    expect(await leaseItem()).toBeUndefined();
  });

  it("holds the device's lease while it posts, until its Lambda deadline and the margin", async () => {
    const input = sample('confirmed');
    let leaseDuringPost: Awaited<ReturnType<typeof leaseItem>>;
    accepted.meanwhile(async () => {
      leaseDuringPost = await leaseItem();
    });
    const before = Date.now();

    await send(input);

    expect(leaseDuringPost?.owner).toEqual({ S: input.correlationId });
    const leaseUntil = Number(leaseDuringPost?.leaseUntil?.N);
    expect(leaseUntil).toBeGreaterThanOrEqual(before + 40_000 + LEASE_MARGIN_MS);
    expect(leaseUntil).toBeLessThanOrEqual(Date.now() + 40_000 + LEASE_MARGIN_MS);
  });

  it('posts to the normalised DevEUI and answers on its status topic when the topic writes it otherwise', async () => {
    await send(sample('dashed-deveui-topic'));

    expect(posts()[0]?.path).toBe('/rest/nodes/70b3d57ed0001a2b/payloads/dl');
    expect(publishedMessages(iot).map(({ topic }) => topic)).toEqual([STATUS_TOPIC]);
  });

  it.each(['bad-not-json', 'bad-odd-hex-and-port-0', 'bad-deveui-in-topic'])(
    'throws InvalidDownlinkError for %s, claiming, posting and publishing nothing',
    async (name) => {
      await expect(send(sample(name))).rejects.toMatchObject({ name: 'InvalidDownlinkError' });

      expect(orbiwan.requests).toEqual([]);
      expect(publishedMessages(iot)).toEqual([]);
      expect(await table.items()).toEqual([]);
    },
  );

  it('throws DuplicateRequest for a requestId another execution sent within the window, sending nothing', async () => {
    const first = sample('confirmed');
    await send(first);

    const repeat = { ...first, taskToken: 'another-token', correlationId: 'downlink_repeat' };
    await expect(send(repeat)).rejects.toMatchObject({
      name: 'DuplicateRequest',
      message: `requestId "order-42" was sent to ${DEV_EUI} by ${first.correlationId} within the window: this request is that downlink`,
    });

    expect(posts()).toHaveLength(1);
    expect(statesPublished(iot)).toEqual(['accepted']);
  });

  it('sends a request without requestId each time it comes', async () => {
    const first = sample('minimal');
    await send(first);
    await send({ ...first, taskToken: 'another-token', correlationId: 'downlink_again' });

    expect(posts()).toHaveLength(2);
    expect(statesPublished(iot)).toEqual(['accepted', 'accepted']);
    for (const { text } of publishedMessages(iot)) expect(text).not.toContain('requestId');
  });

  it.each<[string, Reply | 'reset', string]>([
    [
      '404',
      { status: 404, body: 'Node not found', headers: { 'content-type': 'text/plain' } },
      'UnknownDeviceError',
    ],
    ['409', { status: 409, body: 'queue full' }, 'DeviceBusyError'],
    ['400', { status: 400, body: 'bad port' }, 'OrbiwanRejectedError'],
    ['500', { status: 500, body: 'oops' }, 'OrbiwanUnavailableError'],
    ['a reset connection', 'reset', 'OrbiwanUnavailableError'],
    ['429', { status: 429, body: 'slow down' }, 'OrbiwanNotReachedError'],
  ])(
    'throws %s as %s, publishing and recording nothing, and gives the device back',
    async (_, answer, name) => {
      orbiwan.respond(() => answer);

      await expect(send(sample('confirmed'))).rejects.toMatchObject({ name });

      expect(posts()).toHaveLength(1);
      expect(publishedMessages(iot)).toEqual([]);
      expect(await leaseItem()).toBeUndefined();
      const kinds = (await table.items()).map((item) => item.itemKey?.S);
      expect(kinds).toEqual([requestItem('order-42')]);
    },
  );

  it('throws OrbiwanNotReachedError when OrbiWAN refuses the connection, and gives the device back', async () => {
    const closed = await startFakeHttpServer();
    await closed.close();

    await expect(send(sample('confirmed'), FRESH, closed.url)).rejects.toMatchObject({
      name: 'OrbiwanNotReachedError',
    });

    expect(publishedMessages(iot)).toEqual([]);
    expect(await leaseItem()).toBeUndefined();
  });

  it('throws OrbiwanNotReachedError without posting when too little of its time is left', async () => {
    await expect(send(sample('confirmed'), withTimeLeft(15_000))).rejects.toMatchObject({
      name: 'OrbiwanNotReachedError',
      message: 'too little time was left to post the downlink and record it; nothing was sent',
    });

    expect(orbiwan.requests).toEqual([]);
    expect(await leaseItem()).toBeUndefined();
  });

  it('gives up with DeviceLockedError, posting nothing, while another downlink holds the device', async () => {
    await tableModules().lease.acquire(DEV_EUI, 'downlink_other', {
      deadline: Date.now() + 60_000,
      waitUntil: Date.now(),
    });

    // Left: the POST's own budget (16 s), the deadline margin (1 s) and 1.3 s to wait for the device.
    await expect(send(sample('confirmed'), withTimeLeft(18_300))).rejects.toMatchObject({
      name: 'DeviceLockedError',
    });

    expect(orbiwan.requests).toEqual([]);
    expect((await leaseItem())?.owner).toEqual({ S: 'downlink_other' });
  });

  it('follows the downlink an earlier attempt posted: no second POST, accepted again, the new token recorded', async () => {
    const input = sample('confirmed');
    const request = { devEui: DEV_EUI, requestId: 'order-42', execution: input.correlationId };
    const reply = '{"id":18014398509481999,"fcnt":57,"port":20,"transmissionStatus":0}';
    const { claims, records } = tableModules();
    await claims.claim(request);
    await claims.notePosted(request, { downlinkId: '18014398509481999', reply });

    await expect(send(input)).resolves.toBe('waiting');

    expect(orbiwan.requests).toEqual([]);
    expect(publishedMessages(iot).map(({ text }) => text)).toEqual([acceptedText(reply, input)]);
    expect(await records.read(DEV_EUI, '18014398509481999')).toMatchObject({
      execution: input.correlationId,
      taskToken: input.taskToken,
    });
  });

  it('throws OrbiwanUnavailableError without posting when an earlier attempt died holding the device', async () => {
    const input = sample('confirmed');
    const { claims, lease } = tableModules();
    await claims.claim({ devEui: DEV_EUI, requestId: 'order-42', execution: input.correlationId });
    await lease.acquire(DEV_EUI, input.correlationId, {
      deadline: Date.now() + 30_000,
      waitUntil: Date.now(),
    });

    await expect(send(input)).rejects.toMatchObject({
      name: 'OrbiwanUnavailableError',
      message:
        'an earlier attempt of this downlink stopped while posting it: OrbiWAN may have queued it',
    });

    expect(orbiwan.requests).toEqual([]);
    // Its lease stays until it lapses: taken away, a later attempt could not tell it may have posted.
    expect((await leaseItem())?.owner).toEqual({ S: input.correlationId });
  });

  it('publishes a status OrbiWAN pushed during the POST after accepted, with the requestId', async () => {
    const input = sample('confirmed');
    accepted.meanwhile(async (id) => {
      expect((await pushStatus(id, 1)).statusCode).toBe(200);
    });

    await expect(send(input)).resolves.toBe('waiting');

    expect(statesPublished(iot)).toEqual(['accepted', 'sent']);
    expect(publishedMessages(iot)[1]?.text).toBe(
      `${pushedStatus(accepted.ids()[0] ?? '', 1).slice(0, -1)},"requestId":"order-42","state":"sent","correlationId":"${input.correlationId}"}`,
    );
    expect(sfn.calls()).toEqual([]);
  });

  it('ends its own task when the final status came during the POST', async () => {
    const input = sample('confirmed');
    accepted.meanwhile(async (id) => {
      await pushStatus(id, 1);
      await pushStatus(id, 2);
    });

    await expect(send(input)).resolves.toBe('ended');

    expect(statesPublished(iot)).toEqual(['accepted', 'sent', 'acknowledged']);
    expect(
      sfn.commandCalls(SendTaskSuccessCommand).map((call) => call.args[0].input.taskToken),
    ).toEqual([input.taskToken]);
  });

  it('republishes as it came a status of another downlink left with the device during the POST', async () => {
    accepted.meanwhile(async () => {
      await pushStatus('18014398509481000', 2);
    });

    await send(sample('confirmed'));

    const [, other] = publishedMessages(iot);
    expect(statesPublished(iot)).toEqual(['accepted', 'acknowledged']);
    expect(other?.text).toBe(
      `${pushedStatus('18014398509481000', 2).slice(0, -1)},"state":"acknowledged"}`,
    );
  });

  it('republishes as it came a status of another downlink left with the device during a POST OrbiWAN refused', async () => {
    orbiwan.respond(async () => {
      await pushStatus('18014398509481000', 2);
      return { status: 409, body: 'queue full' };
    });

    await expect(send(sample('confirmed'))).rejects.toMatchObject({ name: 'DeviceBusyError' });

    expect(publishedMessages(iot).map(({ text }) => text)).toEqual([
      `${pushedStatus('18014398509481000', 2).slice(0, -1)},"state":"acknowledged"}`,
    ]);
    expect(await leaseItem()).toBeUndefined();
  });

  it('refuses to start with a malformed OrbiWAN URL or auth mode', () => {
    expect(() => sendDownlinkHandlerFromEnv(env('orbiwan'))).toThrow(
      'ORBIWAN_BASE_URL "orbiwan" is not a URL',
    );
    expect(() => sendDownlinkHandlerFromEnv({ ...env(), ORBIWAN_AUTH_MODE: 'token' })).toThrow(
      'environment variable ORBIWAN_AUTH_MODE must be one of basic, oauth2, got "token"',
    );
  });
});

describe('sendDownlink: DynamoDB failing', () => {
  const deadline = () => Date.now() + 39_000;

  /** A clock that, once OrbiWAN answered, runs to the deadline: one attempt, no time for another. */
  const clockRunsOutOnceAnswered = () => {
    let skew = 0;
    accepted.meanwhile(() => {
      skew = 60_000;
      return Promise.resolve();
    });
    return () => Date.now() + skew;
  };

  it.each([
    [
      'the claim',
      requestItem('order-42'),
      'could not record the request (InternalServerError); nothing was sent',
    ],
    ['the lease', LEASE_ITEM, 'could not take the device (InternalServerError); nothing was sent'],
  ])(
    'throws DependencyError (retried by the state machine) when %s cannot be written, sending nothing',
    async (_, itemKey, message) => {
      const client = withFaults(table.client, (command) =>
        command instanceof PutItemCommand && itemKeyOf(command) === itemKey
          ? dynamoFailure()
          : undefined,
      );

      await expect(
        sendDownlink(sample('confirmed'), deps(client), deadline()),
      ).rejects.toMatchObject({
        name: 'DependencyError',
        code: 'DEPENDENCY_FAILED',
        message,
      });

      expect(orbiwan.requests).toEqual([]);
      expect(publishedMessages(iot)).toEqual([]);
    },
  );

  it('retries recording the POST and its id once OrbiWAN queued the downlink, until it works', async () => {
    const input = sample('confirmed');
    let failures = 3;
    const client = withFaults(table.client, (command) =>
      command instanceof UpdateItemCommand && failures-- > 0 ? dynamoFailure() : undefined,
    );

    await expect(sendDownlink(input, deps(client), deadline())).resolves.toBe('waiting');

    expect(posts()).toHaveLength(1);
    const [id = ''] = accepted.ids();
    const { records, claims } = tableModules();
    expect((await records.read(DEV_EUI, id)).taskToken).toBe(input.taskToken);
    await expect(
      claims.posted({ devEui: DEV_EUI, requestId: 'order-42', execution: input.correlationId }),
    ).resolves.toMatchObject({ downlinkId: id });
    expect(statesPublished(iot)).toEqual(['accepted']);
    expect(await leaseItem()).toBeUndefined();
  });

  it('gives the device back when DynamoDB fails to delete its lease at first, so no other downlink waits for it to lapse', async () => {
    let failures = 2;
    const client = withFaults(table.client, (command) =>
      command instanceof DeleteItemCommand && failures-- > 0 ? dynamoFailure() : undefined,
    );

    await expect(sendDownlink(sample('confirmed'), deps(client), deadline())).resolves.toBe(
      'waiting',
    );

    expect(failures).toBe(-1);
    expect(await leaseItem()).toBeUndefined();
  });

  it("keeps the device when OrbiWAN's id could not be kept with the claim, so a retry cannot post again", async () => {
    const input = sample('confirmed');
    const now = clockRunsOutOnceAnswered();
    const client = withFaults(table.client, (command) =>
      command instanceof UpdateItemCommand && itemKeyOf(command) === requestItem('order-42')
        ? dynamoFailure()
        : undefined,
    );

    await expect(sendDownlink(input, deps(client, now), deadline())).resolves.toBe('waiting');
    expect((await leaseItem())?.owner).toEqual({ S: input.correlationId });

    // The state machine retries the task (its Lambda failed after): it must not post again.
    await expect(sendDownlink(input, deps(), deadline())).rejects.toMatchObject({
      name: 'OrbiwanUnavailableError',
    });
    expect(posts()).toHaveLength(1);
  });

  it("throws DownlinkNotRecordedError naming OrbiWAN's id when the record keeps failing until the deadline", async () => {
    const input = sample('confirmed');
    const now = clockRunsOutOnceAnswered();
    const client = withFaults(table.client, (command) =>
      command instanceof UpdateItemCommand && itemKeyOf(command).startsWith('downlink#')
        ? dynamoFailure()
        : undefined,
    );

    const error = await sendDownlink(input, deps(client, now), deadline()).catch(
      (caught: unknown) => caught,
    );

    const [id = ''] = accepted.ids();
    expect(error).toBeInstanceOf(DownlinkNotRecordedError);
    expect(error).toMatchObject({
      downlinkId: id,
      message: `OrbiWAN queued the downlink (id ${id}), but the connector could not record it to follow it; do not send it again`,
    });
    expect(posts()).toHaveLength(1);
    expect(statesPublished(iot)).toEqual(['accepted']);
    expect(await leaseItem()).toBeUndefined();
  });
});

/** OrbiWAN pushing a status to the downlink status function (as the template wires it). */
function pushStatus(id: string, transmissionStatus: number) {
  return createStatusHandler({
    NOTIFICATION_TYPE: 'downlink_status',
    TOPIC_PREFIX: PREFIX,
    PUSH_TOKEN_SECRET_ARN,
    DOWNLINKS_TABLE_NAME: table.tableName,
    DOWNLINK_TIMEOUT_SECONDS: '3600',
  })(
    pushEvent({
      path: '/rest/callback/payloads/dl',
      method: 'PUT',
      body: pushedStatus(id, transmissionStatus),
    }),
    lambdaContext,
  );
}
