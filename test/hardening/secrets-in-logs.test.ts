import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CheckInput } from '../../functions/downlinks/check/check-status.js';
import { deviceLease } from '../../functions/downlinks/device-lease.js';
import { downlinkRecords } from '../../functions/downlinks/downlink-record.js';
import type { RuleInput } from '../../functions/downlinks/downlink-request.js';
import {
  downlinkDefaultsFromEnv,
  requestIdWindowMsFromEnv,
} from '../../functions/downlinks/downlink-settings.js';
import { downlinksTableFromEnv } from '../../functions/downlinks/downlink-table.js';
import { requestClaims } from '../../functions/downlinks/request-claims.js';
import {
  createSendDownlinkHandler,
  type SendInput,
} from '../../functions/downlinks/send/send-downlink.js';
import { statusPublisher } from '../../functions/downlinks/status-publisher.js';
import { PUBLISHER_LEASE_MS } from '../../functions/downlinks/status-publishing.js';
import { stepFunctionsCompletion } from '../../functions/downlinks/task-completion.js';
import { NOTIFICATION_DEFINITIONS } from '../../functions/notifications/notification-types.js';
import { dynamoDbClient } from '../../functions/shared/clients/dynamodb-client.js';
import { iotDataClient } from '../../functions/shared/clients/iot-data-client.js';
import { sfnClient } from '../../functions/shared/clients/sfn-client.js';
import { logger } from '../../functions/shared/logger.js';
import { orbiwanAuth, type OrbiwanAuthMode } from '../../functions/shared/orbiwan/orbiwan-auth.js';
import { createOrbiwanClient } from '../../functions/shared/orbiwan/orbiwan-client.js';
import { topicPrefixFromEnv } from '../../functions/shared/topics.js';
import type { PublishedMessage } from '../../local/aws/iot-data-plane.js';
import {
  findFunction,
  loadHandler,
  type LocalFunction,
} from '../../local/lambda/local-functions.js';
import { startLocalCloud, type LocalCloud } from '../../local/local-cloud.js';
import type { ExecutionRecord } from '../../local/stepfunctions/local-step-functions.js';
import type { LocalStack } from '../../local/template/stack.js';
import {
  functionProperties,
  loadTemplate,
  resourcesOfType,
} from '../../local/template/sam-template.js';
import { pushEvent } from '../helpers/api-events.js';
import { acceptDownlinks } from '../helpers/downlink-harness.js';
import {
  startFakeHttpServer,
  type FakeHttpServer,
  type RecordedRequest,
  type Reply,
} from '../helpers/fake-http-server.js';
import { lambdaContext } from '../helpers/lambda-context.js';
import { SAMPLE_PARAMETERS, sampleStack } from '../helpers/sample-stack.js';

// The connector at work in this process, every line it writes captured: the functions' logger
// (Powertools writes to the console in tests, test/helpers/setup-env.ts), anything written to
// stdout or stderr directly, what Lambda would log for an error a handler throws, the executions'
// history and the status messages applications receive. The secrets are distinctive strings that
// occur nowhere else, so finding none of them means none was written.

const PUSH_TOKEN = 'PushTok-7Qx9ZkW3vRbL2mNp';
const CREDENTIALS = {
  username: 'connector-user-Hy4s',
  // Characters a form body and Base64 encode differently, so each encoding is searched for.
  password: 'Pw!Yx4%Tq8&Jr2 Vn6=Kd',
  clientId: 'ClientId-Gs3Ke9Wm1Tz',
};
const PRESENTED = [
  `Bearer Forged-9fKq2Lr8Ws4Nd`,
  `Bearer ${PUSH_TOKEN}Suffix-Zx1`,
  `Bearer Prefixed-Vb6${PUSH_TOKEN}`,
  `bearer ${PUSH_TOKEN.toLowerCase()}`,
  `Basic ${Buffer.from(`orbiwan:${PUSH_TOKEN}`).toString('base64')}`,
  `Token ${PUSH_TOKEN}`,
  `Bearer Long-${'Qw7Er'.repeat(2000)}`,
];
const DEV_EUI = '70b3d57ed0001a2b';
const PREFIX = 'orbiwan/lorawan';
const ACCESS = 'AccessTok-Mn5Bv8Cx2Za';
const REFRESH = 'RefreshTok-Lk4Jh7Gf1Ds';

interface Captured {
  /** Every line the functions' logger and the process wrote, as written. */
  lines: string[];
  /** Errors handlers threw, as Lambda would log them (errorType, errorMessage, stack, causes). */
  thrown: string[];
}

const captured: Captured = { lines: [], thrown: [] };
const issuedTokens: string[] = [];
const taskTokens: string[] = [];
/** How many of taskTokens the state machine made (the rest are the hand-run send tasks'). */
let stateMachineTaskTokens = 0;
const replies: Record<string, number> = {};
const outcomes: Record<string, 'returned' | 'threw'> = {};
const executions: Record<string, ExecutionRecord> = {};
const published: PublishedMessage[] = [];
let orbiwan: FakeHttpServer;
let cloud: LocalCloud;

/** Starts capturing every console call and every write to stdout and stderr. */
function captureEverything(): () => void {
  const spies = [
    ...(['debug', 'info', 'warn', 'error', 'log', 'trace'] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        captured.lines.push(args.map(String).join(' '));
      }),
    ),
    ...[process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
        captured.lines.push(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
        return true;
      }),
    ),
  ];
  return () => {
    for (const spy of spies) spy.mockRestore();
  };
}

/** What Lambda writes when a handler throws: the error's type, message and stack, with its causes. */
function asRuntimeLogLine(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error; current !== undefined;) {
    if (current instanceof Error) {
      parts.push(current.name, current.message, current.stack ?? '', ownProperties(current));
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : JSON.stringify(current));
      current = undefined;
    }
  }
  return parts.join('\n');
}

// An SDK error carries its response metadata in properties of its own; written too, to be safe.
function ownProperties(error: Error): string {
  try {
    return JSON.stringify(error);
  } catch {
    return Object.keys(error).join(' ');
  }
}

type Handler<Input, Output> = (input: Input, context: Context) => Promise<Output>;

/** The context Lambda gives the function: its deadline is the template's Timeout from now. */
function invocationOf(functionId: string): Context {
  const { Timeout } = functionProperties(cloud.template, functionId);
  const deadline = Date.now() + (typeof Timeout === 'number' ? Timeout : 3) * 1000;
  return { ...lambdaContext, getRemainingTimeInMillis: () => deadline - Date.now() };
}

async function run<Input, Output>(
  name: string,
  handler: Handler<Input, Output>,
  input: Input,
  context: Context = lambdaContext,
): Promise<Output | undefined> {
  try {
    const output = await handler(input, context);
    outcomes[name] = 'returned';
    return output;
  } catch (error) {
    captured.thrown.push(asRuntimeLogLine(error));
    outcomes[name] = 'threw';
    return undefined;
  }
}

function fn(id: string): LocalFunction {
  const found = findFunction(cloud.functions, id);
  if (found === undefined) throw new Error(`the template has no ${id}`);
  return found;
}

/** A handler of a template function built as its entry point builds it, with another environment. */
function handlerWith<Input, Output>(
  id: string,
  environment: Record<string, string>,
): Handler<Input, Output> {
  return loadHandler(cloud.template, stack, id, environment) as Handler<Input, Output>;
}

async function push(
  name: string,
  functionId: string,
  body: string,
  authorization: string | null,
): Promise<void> {
  const type = Object.values(NOTIFICATION_DEFINITIONS).find(
    (definition) => definition.functionId === functionId,
  );
  const reply = (await fn(functionId).invoke(
    pushEvent({ path: type?.callbackPath ?? '', body, authorization }),
  )) as APIGatewayProxyStructuredResultV2;
  replies[name] = reply.statusCode ?? 0;
}

/** A downlink request as the IoT rule hands it to the state machine. */
function ruleInput(requestId: string): RuleInput {
  return {
    payload: Buffer.from(JSON.stringify({ data: 'aabbcc', port: 20, requestId })).toString(
      'base64',
    ),
    topic: `${PREFIX}/${DEV_EUI}/downlink`,
    receivedAt: Date.now(),
  };
}

/**
 * What state SendDownlink passes its function, for a send task run by hand: a task token of its
 * own (as distinctive as Step Functions' are), searched for with the ones the state machine made.
 */
function sendInput(requestId: string): SendInput {
  const taskToken = Buffer.from(`TaskTok-${requestId}-Qz8Wv3Lm`).toString('base64');
  taskTokens.push(taskToken);
  return { taskToken, request: ruleInput(requestId), correlationId: `hand-run-${requestId}` };
}

// The fake OrbiWAN: downlinks as acceptDownlinks answers them, OAuth2 tokens as OrbiWAN issues
// them (with expires_in 60, every token is due for renewal at once: each use refreshes it), and
// whatever a scenario scripts on top.
const statusAtOrbiwan = new Map<string, number>();
const acceptDownlink = acceptDownlinks(statusAtOrbiwan);
let script: { token?: Reply | 'hang'; downlink?: Reply | 'hang' } = {};
let postsAnswered401 = 0;

function orbiwanResponder(request: RecordedRequest): Reply | 'hang' {
  if (request.path === '/rest/oauth2/token') {
    if (script.token !== undefined) return script.token;
    const grant = new URLSearchParams(request.body).get('grant_type') ?? '';
    const n = String(issuedTokens.length);
    const access = `${ACCESS}-${grant}-${n}`;
    const refresh = `${REFRESH}-${grant}-${n}`;
    issuedTokens.push(access, refresh);
    return {
      status: 200,
      body: JSON.stringify({
        access_token: access,
        refresh_token: refresh,
        expires_in: 60,
        token_type: 'bearer',
      }),
    };
  }
  if (request.method === 'POST' && postsAnswered401 > 0) {
    postsAnswered401 -= 1;
    return { status: 401, body: 'Unauthorized', headers: { 'content-type': 'text/plain' } };
  }
  if (request.method === 'POST' && script.downlink !== undefined) return script.downlink;
  return acceptDownlink(request);
}

async function scenariosThroughTheNotificationFunctions(): Promise<void> {
  const uplink = JSON.stringify({ DevEUI: DEV_EUI, dataFrame: 'AQIDBA==', port: 10, fcnt: 1 });
  await push('uplink, right token', 'UplinkFunction', uplink, `Bearer ${PUSH_TOKEN}`);
  await push(
    'uplink, not JSON, right token',
    'UplinkFunction',
    '{"DevEUI":',
    `Bearer ${PUSH_TOKEN}`,
  );
  await push('uplink, no token', 'UplinkFunction', uplink, null);
  for (const [index, presented] of PRESENTED.entries()) {
    await push(`uplink, presented token ${String(index)}`, 'UplinkFunction', uplink, presented);
    await push(`alarm, presented token ${String(index)}`, 'AlarmFunction', '{}', presented);
  }
  // IoT Core throttles, then fails, the publish.
  const iot = mockClient(IoTDataPlaneClient);
  try {
    iot
      .on(PublishCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await push('uplink, publish throttled', 'UplinkFunction', uplink, `Bearer ${PUSH_TOKEN}`);
    iot
      .on(PublishCommand)
      .rejects(Object.assign(new Error('Internal failure'), { name: 'InternalFailureException' }));
    const status = `{"DevEUI":"${DEV_EUI}","id":1,"transmissionStatus":1}`;
    await push(
      'downlink status, publish failed',
      'DownlinkStatusFunction',
      status,
      `Bearer ${PUSH_TOKEN}`,
    );
  } finally {
    iot.restore();
  }
  // The push token's secret cannot be read.
  const unreadable = handlerWith<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(
    'UplinkFunction',
    {
      PUSH_TOKEN_SECRET_ARN: `${fn('UplinkFunction').environment.PUSH_TOKEN_SECRET_ARN ?? ''}-gone`,
    },
  );
  const failed = await run(
    'uplink, secret unreadable',
    unreadable,
    pushEvent({
      path: '/rest/callback/payloads/ul',
      body: uplink,
      authorization: `Bearer ${PUSH_TOKEN}`,
    }),
  );
  replies['uplink, secret unreadable'] = failed?.statusCode ?? 0;
}

async function downlinkThroughTheStateMachine(
  name: string,
  then: (executionArn: string) => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const [execution] = cloud.applyTopicRules({
    topic: `${PREFIX}/${DEV_EUI}/downlink`,
    payload: Buffer.from(JSON.stringify({ data: 'aabbcc', port: 20, requestId: name })),
    clientId: 'test-app',
  });
  if (execution === undefined) throw new Error('the IoT rule started no execution');
  await then(execution.executionArn);
  executions[name] = await cloud.stepFunctions.whenDone(execution.executionArn);
}

// Told of every execution event; each listener says whether it is done listening.
const executionListeners = new Set<() => boolean>();

function waitingForStatus(executionArn: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      const waiting = cloud.stepFunctions
        .describeExecution(executionArn)
        .history.some(
          (event) => event.type === 'TaskSubmitted' && event.stateName === 'SendDownlink',
        );
      if (!waiting) return false;
      resolve();
      return true;
    };
    if (!check()) executionListeners.add(check);
  });
}

/** Ends the execution's wait as DownlinkTimeoutSeconds would, once its send task has returned. */
async function timeOut(executionArn: string): Promise<void> {
  if (!(await cloud.stepFunctions.timeOutTask(executionArn)))
    throw new Error(`${executionArn} is not waiting for its send task`);
}

async function scenariosWithBasicAuth(): Promise<void> {
  // Delivered: OrbiWAN accepts, then pushes "acknowledged" to the downlink status function.
  await downlinkThroughTheStateMachine('basic, delivered', async (executionArn) => {
    await waitingForStatus(executionArn);
    const id = [...statusAtOrbiwan.keys()].at(-1) ?? '';
    const body = `{"DevEUI":"${DEV_EUI.toUpperCase()}","id":${id},"transmissionStatus":2}`;
    await push('status push, right token', 'DownlinkStatusFunction', body, `Bearer ${PUSH_TOKEN}`);
  });
  // OrbiWAN pushes "acknowledged", but Step Functions cannot be told: the status function logs
  // the failure, the wait times out, and the timeout's check ends the downlink as it was published.
  await downlinkThroughTheStateMachine('basic, delivered, execution not told', async (arn) => {
    await waitingForStatus(arn);
    const id = [...statusAtOrbiwan.keys()].at(-1) ?? '';
    const body = `{"DevEUI":"${DEV_EUI.toUpperCase()}","id":${id},"transmissionStatus":2}`;
    const removeFault = cloud.faults.inject({
      service: 'step-functions',
      operation: 'SendTaskSuccess',
      effect: { error: 'ServiceUnavailable', status: 503, message: 'Service unavailable' },
    });
    try {
      await push(
        'status push, execution not told',
        'DownlinkStatusFunction',
        body,
        `Bearer ${PUSH_TOKEN}`,
      );
    } finally {
      removeFault();
    }
    await timeOut(arn);
  });
  // No status ever comes: the wait times out, OrbiWAN is asked, the downlink ends timed_out.
  await downlinkThroughTheStateMachine('basic, timed out', async (executionArn) => {
    await waitingForStatus(executionArn);
    await timeOut(executionArn);
  });
  for (const [name, status] of [
    ['basic, OrbiWAN 401', 401],
    ['basic, OrbiWAN 500', 500],
    ['basic, OrbiWAN 404', 404],
  ] as const) {
    script = { downlink: { status, body: 'refused', headers: { 'content-type': 'text/plain' } } };
    await downlinkThroughTheStateMachine(name);
  }
  script = {};
}

async function scenariosWithOAuth2(): Promise<void> {
  const send = handlerWith<SendInput, unknown>('SendDownlinkFunction', {
    ORBIWAN_AUTH_MODE: 'oauth2',
  });
  const check = handlerWith<CheckInput, unknown>('CheckDownlinkStatusFunction', {
    ORBIWAN_AUTH_MODE: 'oauth2',
  });
  const sendIt = (name: string, requestId: string) =>
    run(name, send, sendInput(requestId), invocationOf('SendDownlinkFunction'));
  const login = sendInput('oauth2-login');
  await run('oauth2, login and POST', send, login, invocationOf('SendDownlinkFunction'));
  const loginId = [...statusAtOrbiwan.keys()].at(-1) ?? '';
  await sendIt('oauth2, refresh and POST', 'oauth2-refresh');
  postsAnswered401 = 1;
  await sendIt('oauth2, POST 401 once, new token, POST', 'oauth2-401-once');
  postsAnswered401 = 2;
  await sendIt('oauth2, POST 401 twice', 'oauth2-401-twice');
  script = { downlink: { status: 500, body: 'boom' } };
  await sendIt('oauth2, POST 500', 'oauth2-500');
  script = { token: { status: 400, body: '{"error":"invalid_grant"}' } };
  await sendIt('oauth2, grant refused', 'oauth2-refused');
  script = { token: { status: 503, body: 'unavailable' } };
  await sendIt('oauth2, token endpoint 503', 'oauth2-503');
  script = {};
  // The first downlink's wait timed out; OrbiWAN, asked, has it acknowledged.
  statusAtOrbiwan.set(loginId, 2);
  await run(
    'oauth2, status GET',
    check,
    { request: { ...login.request, timeoutSeconds: 3600 }, correlationId: login.correlationId },
    invocationOf('CheckDownlinkStatusFunction'),
  );
}

async function scenariosThatTimeOut(): Promise<void> {
  // The template's handler waits 6 s for OrbiWAN; the same handler, as sendDownlinkHandlerFromEnv
  // builds it from the template's environment, with an OrbiWAN client that waits 200 ms.
  const environment = fn('SendDownlinkFunction').environment;
  const table = downlinksTableFromEnv(environment);
  const sendWith = (mode: OrbiwanAuthMode) => {
    const timeouts = { connectTimeoutMs: 200, timeoutMs: 200 };
    const auth = orbiwanAuth({
      mode,
      baseUrl: orbiwan.url,
      credentials: () => Promise.resolve(CREDENTIALS),
      ...timeouts,
    });
    return createSendDownlinkHandler({
      defaults: {
        topicPrefix: topicPrefixFromEnv(environment),
        ...downlinkDefaultsFromEnv(environment),
      },
      orbiwan: createOrbiwanClient({ baseUrl: orbiwan.url, auth, ...timeouts }),
      claims: requestClaims({
        client: dynamoDbClient,
        ...table,
        windowMs: requestIdWindowMsFromEnv(environment),
      }),
      lease: deviceLease({ client: dynamoDbClient, tableName: table.tableName }),
      records: downlinkRecords({
        client: dynamoDbClient,
        ...table,
        publisherLeaseMs: PUBLISHER_LEASE_MS,
      }),
      publish: statusPublisher(iotDataClient),
      complete: stepFunctionsCompletion(sfnClient),
    });
  };
  const sendIt = (name: string, mode: OrbiwanAuthMode, requestId: string) =>
    run(name, sendWith(mode), sendInput(requestId), invocationOf('SendDownlinkFunction'));
  script = { downlink: 'hang' };
  await sendIt('basic, POST hangs', 'basic', 'basic-hang');
  await sendIt('oauth2, POST hangs', 'oauth2', 'oauth2-hang');
  script = { token: 'hang' };
  await sendIt('oauth2, token endpoint hangs', 'oauth2', 'oauth2-token-hang');
  script = {};
}

let stopCapture: () => void = () => undefined;
let stack: LocalStack;

beforeAll(async () => {
  orbiwan = await startFakeHttpServer(orbiwanResponder);
  const template = loadTemplate();
  stack = sampleStack({ OrbiwanBaseUrl: orbiwan.url }, template);
  cloud = await startLocalCloud({
    template,
    stack,
    secrets: {
      [stack.refs.PushTokenSecret ?? '']: PUSH_TOKEN,
      [SAMPLE_PARAMETERS.OrbiwanCredentialsSecretArn]: JSON.stringify(CREDENTIALS),
    },
    onPublish: (message) => {
      published.push(message);
    },
    onExecutionEvent: () => {
      for (const listener of [...executionListeners])
        if (listener()) executionListeners.delete(listener);
    },
    retryDelayMs: 5,
  });
  // Each task token the state machine hands out, as SendDownlink's function receives it.
  const send = fn('SendDownlinkFunction');
  const invokeSend = send.invoke.bind(send);
  vi.spyOn(send, 'invoke').mockImplementation((event) => {
    const { taskToken } = event as { taskToken?: unknown };
    if (typeof taskToken === 'string') {
      taskTokens.push(taskToken);
      stateMachineTaskTokens += 1;
    }
    return invokeSend(event);
  });
  // Everything the functions could log, at the most talkative level.
  logger.setLogLevel('DEBUG');
  stopCapture = captureEverything();
  try {
    await scenariosThroughTheNotificationFunctions();
    await scenariosWithBasicAuth();
    await scenariosWithOAuth2();
    await scenariosThatTimeOut();
  } finally {
    stopCapture();
  }
});

afterAll(async () => {
  stopCapture();
  logger.setLogLevel('INFO');
  await cloud.close();
  await orbiwan.close();
});

/** Everything written where someone other than the connector may read it. */
function everythingWritten(): string {
  const history = Object.values(executions).flatMap((execution) => [
    execution.cause ?? '',
    execution.error ?? '',
    ...execution.history.flatMap((event) => [event.error ?? '', event.cause ?? '']),
  ]);
  return [
    ...captured.lines,
    ...captured.thrown,
    ...history,
    ...published.map((message) => message.payload.toString('utf8')),
  ].join('\n');
}

const basicHeader = `Basic ${Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString('base64')}`;

describe('Hardening: no secret in any log line', () => {
  it('ran every scenario to the outcome it was meant to have', () => {
    expect(replies).toMatchObject({
      'uplink, right token': 200,
      'uplink, not JSON, right token': 400,
      'uplink, no token': 401,
      'uplink, publish throttled': 503,
      'downlink status, publish failed': 502,
      'uplink, secret unreadable': 502,
      'status push, right token': 200,
      'status push, execution not told': 200,
    });
    expect(outcomes).toEqual({
      'uplink, secret unreadable': 'returned',
      'oauth2, login and POST': 'returned',
      'oauth2, refresh and POST': 'returned',
      'oauth2, POST 401 once, new token, POST': 'returned',
      'oauth2, POST 401 twice': 'threw',
      'oauth2, POST 500': 'threw',
      'oauth2, grant refused': 'threw',
      'oauth2, token endpoint 503': 'threw',
      'oauth2, status GET': 'returned',
      'basic, POST hangs': 'threw',
      'oauth2, POST hangs': 'threw',
      'oauth2, token endpoint hangs': 'threw',
    });
    for (const [index] of PRESENTED.entries()) {
      expect(replies[`uplink, presented token ${String(index)}`], PRESENTED[index]).toBe(401);
      expect(replies[`alarm, presented token ${String(index)}`], PRESENTED[index]).toBe(401);
    }
    expect(
      Object.fromEntries(
        Object.entries(executions).map(([name, execution]) => [name, execution.status]),
      ),
    ).toEqual({
      'basic, delivered': 'SUCCEEDED',
      'basic, delivered, execution not told': 'SUCCEEDED',
      'basic, timed out': 'FAILED',
      'basic, OrbiWAN 401': 'FAILED',
      'basic, OrbiWAN 500': 'FAILED',
      'basic, OrbiWAN 404': 'FAILED',
    });
    const lastStates = Object.fromEntries(
      Object.keys(executions).map((name) => [
        name,
        published
          .map((message) => JSON.parse(message.payload.toString('utf8')) as Record<string, unknown>)
          .filter((status) => status.requestId === name)
          .at(-1)?.state,
      ]),
    );
    expect(lastStates).toEqual({
      'basic, delivered': 'acknowledged',
      'basic, delivered, execution not told': 'acknowledged',
      'basic, timed out': 'timed_out',
      'basic, OrbiWAN 401': 'error',
      'basic, OrbiWAN 500': 'error',
      'basic, OrbiWAN 404': 'error',
    });
    // The hand-run check asked OrbiWAN, with OAuth2, and ended the first downlink as it stood.
    expect(
      published
        .map((message) => JSON.parse(message.payload.toString('utf8')) as Record<string, unknown>)
        .filter((status) => status.requestId === 'oauth2-login')
        .map((status) => status.state),
    ).toEqual(['accepted', 'acknowledged']);
    const grants = orbiwan.requests
      .filter((request) => request.path === '/rest/oauth2/token')
      .map((request) => new URLSearchParams(request.body).get('grant_type'));
    expect(grants).toContain('password');
    expect(grants).toContain('refresh_token');
    expect(
      orbiwan.requests.filter((request) => request.headers.authorization === basicHeader).length,
    ).toBeGreaterThan(0);
    expect(stateMachineTaskTokens).toBeGreaterThan(0);
  });

  it('captured the log lines of every kind of scenario, so the search below means something', () => {
    const text = captured.lines.join('\n');
    expect(captured.lines.length).toBeGreaterThanOrEqual(30);
    for (const message of [
      'notification republished',
      'request refused',
      'request failed',
      'downlink queued by OrbiWAN',
      'downlink ended',
      'could not end the execution; its timeout will',
      'status of a downlink the connector did not send',
      'downlink failed',
      'asked OrbiWAN for a downlink whose wait timed out',
    ])
      expect(text, message).toContain(message);
    expect(captured.thrown.length).toBeGreaterThanOrEqual(7);
  });

  it.each([
    ['the push token', () => [PUSH_TOKEN, PUSH_TOKEN.toLowerCase()]],
    [
      'a token presented to the push API',
      () => PRESENTED.map((header) => header.slice(header.indexOf(' ') + 1)),
    ],
    [
      'the OrbiWAN password, as is, form-encoded or in a Basic header',
      () => [
        CREDENTIALS.password,
        new URLSearchParams({ p: CREDENTIALS.password }).toString().slice(2),
        encodeURIComponent(CREDENTIALS.password),
        basicHeader,
        basicHeader.slice('Basic '.length),
      ],
    ],
    ['the OAuth2 client id', () => [CREDENTIALS.clientId]],
    ['an OAuth2 access or refresh token', () => issuedTokens],
    ['a task token', () => taskTokens],
  ])('never writes %s anywhere', (_, secrets) => {
    const written = everythingWritten();
    const values = secrets();
    expect(values.length).toBeGreaterThan(0);
    expect(values.filter((secret) => written.includes(secret))).toEqual([]);
  });

  it('would find a secret that was written (the capture sees the logger and stdout)', () => {
    // Prepare
    const lines = captured.lines.length;
    const stop = captureEverything();

    // Act
    logger.error('canary', { token: `${PUSH_TOKEN}-canary-logger` });
    process.stdout.write(`${PUSH_TOKEN}-canary-stdout\n`);
    stop();

    // Assess
    const text = captured.lines.slice(lines).join('\n');
    captured.lines.splice(lines);
    expect(text).toContain(`${PUSH_TOKEN}-canary-logger`);
    expect(text).toContain(`${PUSH_TOKEN}-canary-stdout`);
  });
});

describe('Hardening: nothing in the template configured to log a secret', () => {
  const template = loadTemplate();
  const functionIds = resourcesOfType(template, 'AWS::Serverless::Function').map(([id]) => id);

  it('lets no function log its incoming event, which carries the Authorization header', () => {
    for (const id of functionIds) {
      const environment = functionProperties(template, id).Environment as {
        Variables?: Record<string, unknown>;
      };
      expect(Object.keys(environment.Variables ?? {}), id).not.toContain(
        'POWERTOOLS_LOGGER_LOG_EVENT',
      );
    }
  });

  it("records no header and no authorizer context in the API's access log", () => {
    const { Format: format } = template.Resources.PushApi?.Properties?.AccessLogSettings as {
      Format: string;
    };
    expect(format).not.toMatch(/\$(request\.header|context\.authorizer|input|util)/i);
    expect(format).not.toMatch(/authorization/i);
  });

  it('keeps execution data (task tokens, payloads) out of the state machine log', () => {
    for (const [id, machine] of resourcesOfType(template, 'AWS::Serverless::StateMachine')) {
      const logging = machine.Properties?.Logging as { IncludeExecutionData?: boolean } | undefined;
      expect(logging?.IncludeExecutionData, id).toBe(false);
    }
  });
});
