import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  NOT_STARTED_RESOURCE_ID,
  PUSH_MODE_RESOURCE_ID,
  RESPONSE_RESERVE_MS,
  pushModeHandlerFromEnv,
} from '../../../functions/pushmode/configure-push-mode.js';
import { PUSH_SUBSCRIPTIONS } from '../../../functions/pushmode/push-mode-start.js';
import {
  startOrbiwanSimulator,
  type OrbiwanSimulator,
} from '../../../local/orbiwan-simulator/orbiwan-simulator.js';
import { sampleEvent } from '../../helpers/api-events.js';
import {
  ORBIWAN_CREDENTIALS_SECRET_ARN,
  PUSH_TOKEN_SECRET_ARN,
  mockAws,
  resetAws,
} from '../../helpers/aws-mocks.js';
import {
  startFakeHttpServer,
  type FakeHttpServer,
  type RecordedRequest,
  type Responder,
} from '../../helpers/fake-http-server.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs, type CapturedLogs } from '../../helpers/logs.js';

// The custom resource behind ConfigureOrbiwanPushMode, against the OrbiWAN simulator (or a fake
// OrbiWAN where the simulator cannot misbehave on request), with a fake ResponseURL capturing
// what CloudFormation would receive.

const aws = mockAws();
const PUSH_TOKEN = 'PushTok-r7Wq2Zx9Lm4Kd8Vb';
const CREDENTIALS = { username: 'app-user', password: 's3cret' };
const DEVICE = '70b3d57ed0000001';
const API_URL = 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com';

const opened: { close: () => Promise<void> }[] = [];
let cloudFormation: FakeHttpServer;
let logs: CapturedLogs;

beforeEach(async () => {
  resetAws(aws, { pushToken: PUSH_TOKEN, orbiwanCredentials: CREDENTIALS });
  cloudFormation = await open(startFakeHttpServer(() => ({ status: 200 })));
  logs = captureLogs();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((resource) => resource.close()));
});

async function open<T extends { close: () => Promise<void> }>(starting: Promise<T>): Promise<T> {
  const resource = await starting;
  opened.push(resource);
  return resource;
}

function startSimulator(): Promise<OrbiwanSimulator> {
  return open(
    startOrbiwanSimulator({
      port: 0,
      credentials: CREDENTIALS,
      devices: [{ devEui: DEVICE, deviceClass: 'A' }],
      uplinkIntervalMs: 0,
      classCDelayMs: 5,
      outcomes: { nackRate: 0, errorRate: 0, cancelRate: 0 },
      seed: 7,
    }),
  );
}

/** A fake OrbiWAN that answers every request as told. */
function startFakeOrbiwan(responder: Responder): Promise<FakeHttpServer> {
  return open(startFakeHttpServer(responder));
}

/** A sample event from events/pushmode/, answering to the fake ResponseURL. */
function request(
  name: 'create' | 'update' | 'delete',
  changes: Record<string, unknown> = {},
  properties: Record<string, unknown> = {},
): CloudFormationCustomResourceEvent {
  const event = sampleEvent('pushmode', name) as unknown as CloudFormationCustomResourceEvent;
  return {
    ...event,
    ResponseURL: `${cloudFormation.url}/cfn-response?X-Amz-Signature=0123abcd`,
    ResourceProperties: { ...event.ResourceProperties, ...properties },
    ...changes,
  };
}

function invoke(
  orbiwanUrl: string,
  event: CloudFormationCustomResourceEvent,
  { env = {}, context = lambdaContext }: { env?: Record<string, string>; context?: Context } = {},
) {
  const handler = pushModeHandlerFromEnv({
    ORBIWAN_BASE_URL: orbiwanUrl,
    ORBIWAN_AUTH_MODE: 'basic',
    ORBIWAN_CREDENTIALS_SECRET_ARN,
    PUSH_TOKEN_SECRET_ARN,
    ...env,
  });
  return handler(event, context);
}

/** What CloudFormation received at the ResponseURL, parsed. */
function answers(): Record<string, unknown>[] {
  return cloudFormation.requests.map((received) => JSON.parse(received.body) as never);
}

async function pushModeStatus(simulator: OrbiwanSimulator): Promise<Record<string, unknown>> {
  const reply = await fetch(`${simulator.url}/rest/pushmode/status`, {
    headers: {
      authorization: `Basic ${Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString('base64')}`,
    },
  });
  return (await reply.json()) as Record<string, unknown>;
}

/** A port nothing listens on. */
async function unreachableUrl(): Promise<string> {
  const server = await startFakeHttpServer();
  await server.close();
  return server.url;
}

const identifiers = (event: CloudFormationCustomResourceEvent) => ({
  StackId: event.StackId,
  RequestId: event.RequestId,
  LogicalResourceId: event.LogicalResourceId,
});

describe('Custom resource PushModeCustomResource: Create and Update', () => {
  it('starts push mode for the API with every served topic, and answers SUCCESS', async () => {
    // Prepare
    const simulator = await startSimulator();
    const event = request('create');

    // Act
    const returned = await invoke(simulator.url, event);

    // Assess
    const status = await pushModeStatus(simulator);
    expect(status).toEqual({
      running: true,
      host: API_URL,
      port: 443,
      path_prefix: '',
      data_format: 'base64',
      push_subscription: PUSH_SUBSCRIPTIONS.join(','),
    });
    expect(PUSH_SUBSCRIPTIONS).toEqual([
      'payloads_ul_early',
      'payloads_ul',
      'payloads_dl',
      'joininfo',
      'nodeinfo',
      'location',
      'status',
      'alarm',
    ]);
    expect(JSON.stringify(status)).not.toContain(PUSH_TOKEN);
    expect(answers()).toEqual([
      {
        Status: 'SUCCESS',
        Reason: expect.stringContaining(`pushes ${PUSH_SUBSCRIPTIONS.join(',')} to ${API_URL}:443`),
        PhysicalResourceId: PUSH_MODE_RESOURCE_ID,
        ...identifiers(event),
      },
    ]);
    expect(returned).toEqual(answers()[0]);
  });

  it("makes OrbiWAN push to the API's callback routes with the generated token", async () => {
    // Prepare
    const simulator = await startSimulator();
    const connector = await open(startFakeHttpServer(() => ({ status: 200 })));

    // Act
    await invoke(simulator.url, request('create', {}, { PushEndpointUrl: connector.url }));
    await simulator.uplink(DEVICE);

    // Assess
    expect(
      connector.requests.map(({ method, path, headers }) => ({
        method,
        path,
        authorization: headers.authorization,
      })),
    ).toEqual([
      {
        method: 'POST',
        path: '/rest/callback/payloads/ul_early',
        authorization: `Bearer ${PUSH_TOKEN}`,
      },
      { method: 'POST', path: '/rest/callback/payloads/ul', authorization: `Bearer ${PUSH_TOKEN}` },
    ]);
  });

  it('logs in with OAuth2 when OrbiwanAuthMode says so', async () => {
    const simulator = await startSimulator();

    await invoke(simulator.url, request('create'), { env: { ORBIWAN_AUTH_MODE: 'oauth2' } });

    expect(await pushModeStatus(simulator)).toMatchObject({ running: true, host: API_URL });
    expect(answers()).toMatchObject([{ Status: 'SUCCESS' }]);
  });

  it('starts push mode again with the new properties on Update, keeping its PhysicalResourceId', async () => {
    const simulator = await startSimulator();
    await invoke(simulator.url, request('create'));
    const update = request('update');

    await invoke(simulator.url, update);

    expect(await pushModeStatus(simulator)).toMatchObject({ running: true, data_format: 'hex' });
    expect(answers()[1]).toEqual({
      Status: 'SUCCESS',
      Reason: expect.any(String),
      PhysicalResourceId: PUSH_MODE_RESOURCE_ID,
      ...identifiers(update),
    });
  });

  it('answers FAILED naming the refused credentials when OrbiWAN answers 401', async () => {
    const simulator = await startSimulator();
    aws.secrets
      .on(GetSecretValueCommand, { SecretId: ORBIWAN_CREDENTIALS_SECRET_ARN })
      .resolves({ SecretString: '{"username":"app-user","password":"wrong"}' });
    const event = request('create');

    await invoke(simulator.url, event);

    expect(await pushModeStatus(simulator)).toEqual({ running: false });
    expect(answers()).toEqual([
      {
        Status: 'FAILED',
        Reason: expect.stringMatching(
          new RegExp(
            `^could not start OrbiWAN push mode at ${simulator.url}/rest/pushmode/start: OrbiwanRejectedError: OrbiWAN refused the connector's credentials \\(401\\)`,
          ),
        ),
        PhysicalResourceId: NOT_STARTED_RESOURCE_ID,
        ...identifiers(event),
      },
    ]);
  });

  it('answers FAILED with the status when OrbiWAN fails the start (500)', async () => {
    const orbiwan = await startFakeOrbiwan(() => ({
      status: 500,
      body: 'database unavailable',
      headers: { 'content-type': 'text/plain' },
    }));

    await invoke(orbiwan.url, request('create'));

    expect(orbiwan.requests.map(({ method, path }) => `${method} ${path}`)).toEqual([
      'PUT /rest/pushmode/start',
    ]);
    expect(answers()).toMatchObject([
      {
        Status: 'FAILED',
        Reason: expect.stringContaining(
          'OrbiwanUnavailableError: OrbiWAN failed to start push mode (500): database unavailable',
        ),
        PhysicalResourceId: NOT_STARTED_RESOURCE_ID,
      },
    ]);
  });

  it('answers FAILED when OrbiWAN cannot be reached', async () => {
    const url = await unreachableUrl();

    await invoke(url, request('create'));

    expect(answers()).toMatchObject([
      {
        Status: 'FAILED',
        Reason: expect.stringContaining(
          `could not start OrbiWAN push mode at ${url}/rest/pushmode/start: OrbiwanNotReachedError: OrbiWAN could not be reached (ECONNREFUSED)`,
        ),
      },
    ]);
  });

  it('keeps its PhysicalResourceId when an Update fails, so CloudFormation rolls back to it', async () => {
    const orbiwan = await startFakeOrbiwan(() => ({ status: 503 }));

    await invoke(orbiwan.url, request('update'));

    expect(answers()).toMatchObject([
      { Status: 'FAILED', PhysicalResourceId: PUSH_MODE_RESOURCE_ID },
    ]);
  });

  it('sends the body OrbiWAN documents, as JSON', async () => {
    const orbiwan = await startFakeOrbiwan(() => ({ status: 200, body: '{}' }));

    await invoke(orbiwan.url, request('update'));

    const [start] = orbiwan.requests;
    expect(start?.headers['content-type']).toBe('application/json');
    expect(start?.headers.authorization).toBe(
      `Basic ${Buffer.from('app-user:s3cret').toString('base64')}`,
    );
    expect(JSON.parse(start?.body ?? '')).toEqual({
      host: API_URL,
      port: 443,
      path_prefix: '',
      push_auth_access_token: PUSH_TOKEN,
      data_format: 'hex',
      push_subscription: PUSH_SUBSCRIPTIONS.join(','),
      retry_policy: 0,
    });
  });

  it('never puts the token in the answer or the logs, even when OrbiWAN quotes it back', async () => {
    const orbiwan = await startFakeOrbiwan((received: RecordedRequest) => ({
      status: 400,
      body: `bad request: ${received.body}`,
      headers: { 'content-type': 'text/plain' },
    }));

    await invoke(orbiwan.url, request('create'));

    const [answer] = answers();
    expect(answer?.Status).toBe('FAILED');
    expect(answer?.Reason).toContain('<PUSH_TOKEN>');
    expect(cloudFormation.requests[0]?.body).not.toContain(PUSH_TOKEN);
    expect(logs.text()).not.toContain(PUSH_TOKEN);
    expect(logs.text()).toContain('OrbiWAN push mode not configured');
  });

  it('answers FAILED when the push token cannot be read, and calls no OrbiWAN', async () => {
    const orbiwan = await startFakeOrbiwan(() => ({ status: 200 }));
    aws.secrets
      .on(GetSecretValueCommand, { SecretId: PUSH_TOKEN_SECRET_ARN })
      .rejects(
        Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }),
      );

    await invoke(orbiwan.url, request('create'));

    expect(orbiwan.requests).toEqual([]);
    expect(answers()).toMatchObject([
      {
        Status: 'FAILED',
        Reason: expect.stringContaining(
          'the push token could not be read from Secrets Manager: AccessDeniedException: User is not authorized',
        ),
      },
    ]);
  });

  it('answers FAILED naming a property that is wrong', async () => {
    const orbiwan = await startFakeOrbiwan(() => ({ status: 200 }));

    await invoke(orbiwan.url, request('create', {}, { DataFormat: 'xml' }));

    expect(orbiwan.requests).toEqual([]);
    expect(answers()).toMatchObject([
      {
        Status: 'FAILED',
        Reason: expect.stringMatching(/^the custom resource's properties are wrong: DataFormat: /),
      },
    ]);
  });

  it('answers FAILED with the configuration error rather than failing to start', async () => {
    const orbiwan = await startFakeOrbiwan(() => ({ status: 200 }));

    await invoke(orbiwan.url, request('create'), { env: { ORBIWAN_AUTH_MODE: 'digest' } });

    expect(answers()).toMatchObject([
      {
        Status: 'FAILED',
        Reason: expect.stringContaining(
          'ConfigurationError: environment variable ORBIWAN_AUTH_MODE must be one of basic, oauth2, got "digest"',
        ),
      },
    ]);
  });

  it('answers FAILED before the function times out when OrbiWAN does not answer', async () => {
    const orbiwan = await startFakeOrbiwan(() => 'hang');
    const context = {
      ...lambdaContext,
      getRemainingTimeInMillis: () => RESPONSE_RESERVE_MS + 1_000,
    };
    const started = Date.now();

    await invoke(orbiwan.url, request('create'), { context });

    expect(Date.now() - started).toBeLessThan(3_000);
    expect(answers()).toMatchObject([
      {
        Status: 'FAILED',
        Reason: expect.stringContaining('OrbiWAN push mode was not started within 1 s'),
        PhysicalResourceId: NOT_STARTED_RESOURCE_ID,
      },
    ]);
  });
});

describe('Custom resource PushModeCustomResource: Delete', () => {
  it('stops push mode and answers SUCCESS', async () => {
    const simulator = await startSimulator();
    await invoke(simulator.url, request('create'));
    const deletion = request('delete');

    await invoke(simulator.url, deletion);

    expect(await pushModeStatus(simulator)).toMatchObject({ running: false });
    expect(answers()[1]).toEqual({
      Status: 'SUCCESS',
      Reason: expect.stringContaining(`OrbiWAN at ${simulator.url} pushes no more`),
      PhysicalResourceId: PUSH_MODE_RESOURCE_ID,
      ...identifiers(deletion),
    });
  });

  it.each([
    ['refuses the credentials (401)', "OrbiWAN refused the connector's credentials (401)", 401],
    ['fails (500)', 'OrbiWAN failed to stop push mode (500)', 500],
  ])('answers SUCCESS when OrbiWAN %s, naming the problem', async (_, problem, status) => {
    const orbiwan = await startFakeOrbiwan(() => ({ status }));

    await invoke(orbiwan.url, request('delete'));

    expect(orbiwan.requests.map(({ method, path }) => `${method} ${path}`)).toEqual([
      'PUT /rest/pushmode/stop',
    ]);
    expect(answers()).toMatchObject([
      {
        Status: 'SUCCESS',
        Reason: expect.stringContaining(problem),
        PhysicalResourceId: PUSH_MODE_RESOURCE_ID,
      },
    ]);
    expect(logs.text()).toContain('OrbiWAN push mode not stopped');
  });

  it('answers SUCCESS when OrbiWAN cannot be reached, saying how to stop it by hand', async () => {
    const url = await unreachableUrl();

    await invoke(url, request('delete'));

    expect(answers()).toMatchObject([
      {
        Status: 'SUCCESS',
        Reason: expect.stringContaining(
          `could not stop OrbiWAN push mode at ${url} (OrbiwanNotReachedError: OrbiWAN could not be reached (ECONNREFUSED)); deleted anyway: stop it with PUT ${url}/rest/pushmode/stop`,
        ),
      },
    ]);
  });

  it('answers SUCCESS in time when OrbiWAN does not answer', async () => {
    const orbiwan = await startFakeOrbiwan(() => 'hang');
    const context = {
      ...lambdaContext,
      getRemainingTimeInMillis: () => RESPONSE_RESERVE_MS + 1_000,
    };

    await invoke(orbiwan.url, request('delete'), { context });

    expect(answers()).toMatchObject([
      { Status: 'SUCCESS', Reason: expect.stringContaining('did not stop push mode within 1 s') },
    ]);
  });

  it('stops nothing for a Create that failed (the Delete of its rollback)', async () => {
    const orbiwan = await startFakeOrbiwan(() => ({ status: 200 }));

    await invoke(orbiwan.url, request('delete', { PhysicalResourceId: NOT_STARTED_RESOURCE_ID }));

    expect(orbiwan.requests).toEqual([]);
    expect(answers()).toMatchObject([
      { Status: 'SUCCESS', PhysicalResourceId: NOT_STARTED_RESOURCE_ID },
    ]);
  });

  it('answers SUCCESS even when the function is misconfigured', async () => {
    await invoke('', request('delete'));

    expect(answers()).toMatchObject([
      {
        Status: 'SUCCESS',
        Reason: expect.stringContaining('environment variable ORBIWAN_BASE_URL is not set'),
      },
    ]);
  });
});

describe('Custom resource PushModeCustomResource: the answer to CloudFormation', () => {
  it('PUTs JSON without a content type, as the pre-signed URL was signed', async () => {
    const simulator = await startSimulator();

    await invoke(simulator.url, request('create'));

    const [put] = cloudFormation.requests;
    expect(put?.method).toBe('PUT');
    expect(put?.path).toBe('/cfn-response');
    expect(put?.query.get('X-Amz-Signature')).toBe('0123abcd');
    expect(put?.headers['content-type']).toBe('');
    expect(Number(put?.headers['content-length'])).toBe(Buffer.byteLength(put?.body ?? ''));
  });

  it('tries once more when S3 fails, then throws so that Lambda retries the request', async () => {
    const simulator = await startSimulator();
    cloudFormation.respond(() => ({ status: 503 }));

    await expect(invoke(simulator.url, request('create'))).rejects.toThrow(
      "CloudFormation's response URL answered 503",
    );
    expect(cloudFormation.requests).toHaveLength(2);
  });

  it('does not repeat an answer S3 refused (403)', async () => {
    const simulator = await startSimulator();
    cloudFormation.respond(() => ({ status: 403 }));

    await expect(invoke(simulator.url, request('delete'))).rejects.toMatchObject({
      name: 'CloudFormationResponseError',
    });
    expect(cloudFormation.requests).toHaveLength(1);
  });

  it('never logs the pre-signed ResponseURL', async () => {
    const simulator = await startSimulator();

    await invoke(simulator.url, request('create'));

    expect(logs.text()).toContain('answered CloudFormation');
    expect(logs.text()).not.toContain('X-Amz-Signature');
  });
});
