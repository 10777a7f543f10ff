import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseSelector } from '../../functions/codecs/codec-attachments.js';
import { dynamoDbCodecStore } from '../../functions/codecs/codec-store.js';
import { errorCodeFor } from '../../functions/downlinks/downlink-errors.js';
import { OUTCOME_ERRORS } from '../../functions/downlinks/downlink-outcomes.js';
import { parseDownlink, type RuleInput } from '../../functions/downlinks/downlink-request.js';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
  type NotificationDefinition,
  type NotificationType,
} from '../../functions/notifications/notification-types.js';
import { startAwsStandIns, type AwsStandIns } from '../../local/aws/aws-stand-ins.js';
import type { PublishedMessage } from '../../local/aws/iot-data-plane.js';
import { lambdaEnvironment } from '../../local/lambda/function-environment.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import {
  functionProperties,
  loadTemplate,
  resourcesOfType,
} from '../../local/template/sam-template.js';
import type { LocalStack } from '../../local/template/stack.js';
import {
  SAMPLE_PUSH_TOKEN,
  bodyBytes,
  sampleEvents,
  type SampleEvent,
} from '../helpers/api-events.js';
import { startFakeHttpServer, type FakeHttpServer } from '../helpers/fake-http-server.js';
import { SAMPLE_PARAMETERS, sampleStack } from '../helpers/sample-stack.js';
import { samBuild, type BuiltFunction } from '../../local/build/sam-build.js';

// The equivalent of `sam build` + `sam local invoke <Function> -e events/<dir>/<event>.json`:
// every function is bundled exactly as its Metadata says, loaded in a fresh Node process with the
// environment the template gives it, and invoked with each of its sample events. AWS is the local
// stand-in endpoint, reached through the standard AWS_ENDPOINT_URL_* variables; OrbiWAN a fake.

const run = promisify(execFile);
const DEVICE = '70b3d57ed0001a2b';
const SAMPLE_CODEC = fileURLToPath(
  new URL('../../codecs/orbiwan-sample-sensor.js', import.meta.url),
);
const INVOKER = fileURLToPath(new URL('../helpers/invoke-bundle.mjs', import.meta.url));
const template = loadTemplate();
const workDir = mkdtempSync(join(tmpdir(), 'sam-build-'));
const published: PublishedMessage[] = [];
const builds = new Map<string, BuiltFunction>();
let aws: AwsStandIns;
let orbiwan: FakeHttpServer;
let stack: LocalStack;
// OrbiWAN does not know this device: the fake answers 404 for it.
const UNKNOWN_DEVICE = '0011223344556677';

type Outcome = { result: unknown } | { error: { errorType: string; errorMessage: string } };

beforeAll(async () => {
  orbiwan = await startFakeHttpServer((request) =>
    request.path.includes(UNKNOWN_DEVICE)
      ? { status: 404, body: 'Node not found', headers: { 'content-type': 'text/plain' } }
      : {
          status: 200,
          // A POST queues the downlink; asked later, the device has acknowledged it.
          body: `{"id":18014398509481985,"fcnt":57,"port":20,"transmissionStatus":${request.method === 'GET' ? 2 : 0}}`,
        },
  );
  // Every optional feature on, so that every function of the template is given what it needs.
  stack = sampleStack({
    OrbiwanBaseUrl: orbiwan.url,
    PayloadCodecs: 'Enabled',
    DeviceShadows: 'Enabled',
  });
  aws = await standIns();
});

/**
 * AWS as the functions find it: their secrets, an empty downlinks table, IoT Core recording what
 * is published. No Step Functions: no sample event ends a send task from the function.
 */
function standIns(): Promise<AwsStandIns> {
  return startAwsStandIns({
    template,
    stack,
    secrets: {
      [stack.refs.PushTokenSecret ?? '']: SAMPLE_PUSH_TOKEN,
      [SAMPLE_PARAMETERS.OrbiwanCredentialsSecretArn]:
        '{"username":"connector","password":"secret"}',
    },
    onPublish: (message) => void published.push(message),
  });
}

afterAll(async () => {
  await aws.close();
  await orbiwan.close();
  rmSync(workDir, { recursive: true, force: true });
});

/** What `sam local invoke` gives the function: Lambda's environment, its memory size, what sam build added. */
function samLocalEnvironment(
  functionId: string,
  added: Record<string, string>,
  on: AwsStandIns,
): Record<string, string> {
  const { MemorySize, Timeout } = functionProperties(template, functionId);
  return {
    PATH: process.env.PATH ?? '',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(resolveIntrinsics(MemorySize, stack)),
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(Timeout),
    ...lambdaEnvironment(template, stack, functionId, {
      endpointUrl: on.endpoint.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
    ...added,
  };
}

/**
 * The built handler, given the time left of an invocation as long as the function's Timeout, as
 * `sam local invoke` gives it (the send task plans its POST by that time).
 */
function withItsTimeout(built: BuiltFunction): { file: string; exportName: string } {
  const file = join(workDir, `${built.functionId}-with-timeout.mjs`);
  writeFileSync(
    file,
    [
      `import { ${built.exportName} as handler } from ${JSON.stringify(pathToFileURL(built.file).href)};`,
      'export const invoke = (event, context) => {',
      '  const deadline = Date.now() + Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT) * 1000;',
      '  return handler(event, { ...context, getRemainingTimeInMillis: () => deadline - Date.now() });',
      '};',
      '',
    ].join('\n'),
  );
  return { file, exportName: 'invoke' };
}

/** `sam build` (once per function) then `sam local invoke` of it with each of the given events. */
async function buildAndInvoke(
  functionId: string,
  samples: SampleEvent[],
  on: AwsStandIns = aws,
): Promise<Outcome[]> {
  let built = builds.get(functionId);
  if (built === undefined) {
    built = await samBuild(template, functionId, join(workDir, functionId));
    builds.set(functionId, built);
  }
  expect(statSync(built.file).size).toBeGreaterThan(0);
  const { file, exportName } = withItsTimeout(built);
  const eventsFile = join(workDir, `${functionId}-events.json`);
  const resultsFile = join(workDir, `${functionId}-results.json`);
  writeFileSync(eventsFile, JSON.stringify(samples.map((sample) => sample.event)));
  published.length = 0;
  await run(process.execPath, [INVOKER, file, exportName, eventsFile, resultsFile], {
    env: samLocalEnvironment(functionId, built.addedEnvironment, on),
  });
  return JSON.parse(readFileSync(resultsFile, 'utf8')) as Outcome[];
}

// Notification events say by their names what must happen: bad-* -> 400, unauthorized-* -> 401,
// else 200 with the body published on the notification's topic.
function expectedStatus(sample: SampleEvent): number {
  if (sample.name.startsWith('unauthorized-')) return 401;
  if (sample.name.startsWith('bad-')) return 400;
  return 200;
}

// Worked out from the body independently of the handler's own DevEUI code.
function expectedTopic(definition: NotificationDefinition, sample: SampleEvent): string {
  const body = JSON.parse(bodyBytes(sample.event).toString('utf8')) as Record<string, unknown>;
  const named = body.DevEUI ?? body.deveui;
  const prefix = stack.parameters.TopicPrefix ?? '';
  if (typeof named !== 'string') return `${prefix}/${definition.topicSuffix}`;
  const devEui = named.toLowerCase().replace(/^0x/, '').replaceAll('-', '');
  return `${prefix}/${devEui}/${definition.topicSuffix}`;
}

const STATES = ['pending', 'sent', 'acknowledged', 'not_acknowledged', 'error', 'cancelled'];

// The body as received; downlink statuses gain their state (and no requestId: no downlink of the
// connector's has that id here).
function expectedPayload(type: NotificationType, sample: SampleEvent): string {
  const body = bodyBytes(sample.event).toString('utf8');
  if (type !== 'downlink_status') return body;
  const { transmissionStatus } = JSON.parse(body) as { transmissionStatus: number };
  const end = body.lastIndexOf('}');
  return `${body.slice(0, end)},"state":"${STATES[transmissionStatus] ?? ''}"${body.slice(end)}`;
}

describe('sam build + sam local invoke: notification functions', () => {
  describe.each(NOTIFICATION_TYPES)('%s', (type) => {
    const definition = NOTIFICATION_DEFINITIONS[type];
    const samples = sampleEvents(type.replaceAll('_', '-'));

    it('has a valid and a bad sample event', () => {
      expect(samples.some((sample) => expectedStatus(sample) === 200)).toBe(true);
      expect(samples.some((sample) => expectedStatus(sample) === 400)).toBe(true);
    });

    it(`builds ${definition.functionId} and answers each sample event as its name says`, async () => {
      const outcomes = await buildAndInvoke(definition.functionId, samples);

      const statuses = outcomes.map((outcome) =>
        'result' in outcome
          ? (outcome.result as APIGatewayProxyStructuredResultV2).statusCode
          : outcome.error.errorType,
      );
      expect(samples.map((sample, index) => `${sample.name}: ${String(statuses[index])}`)).toEqual(
        samples.map((sample) => `${sample.name}: ${String(expectedStatus(sample))}`),
      );
      const accepted = samples.filter((sample) => expectedStatus(sample) === 200);
      expect(published.map((message) => message.topic)).toEqual(
        accepted.map((sample) => expectedTopic(definition, sample)),
      );
      published.forEach((message, index) => {
        const sample = accepted[index];
        if (sample !== undefined)
          expect(message.payload.toString()).toBe(expectedPayload(type, sample));
        expect(message.qos).toBe(definition.qos);
        expect(message.messageExpirySeconds).toBe(
          definition.expires ? Number(stack.parameters.UplinkEarlyExpirySeconds) : undefined,
        );
      });
    });
  });
});

// The downlink tasks' sample events are their state's input (statemachines/downlink.asl.json).
// What each must do is worked out from the event, as the state machine and OrbiWAN would see it.
const TASK_SAMPLES = {
  SendDownlinkFunction: 'send-downlink',
  CheckDownlinkStatusFunction: 'check-downlink-status',
  ReportDownlinkFailureFunction: 'report-downlink-failure',
};

interface TaskEvent {
  request: RuleInput & { failure?: { Error: string } };
  correlationId: string;
  taskToken?: string;
}
const taskEvent = (sample: SampleEvent) => sample.event as unknown as TaskEvent;

/** The downlink a rule message asks for, or undefined when the request breaks the contract. */
function downlinkOf(request: RuleInput) {
  try {
    return parseDownlink(request, {
      topicPrefix: stack.parameters.TopicPrefix ?? '',
      confirmed: true,
      mode: 'enqueue_on_busy',
    });
  } catch {
    return undefined;
  }
}

/** What SendDownlink does with a request on an empty table: it waits for the statuses, or fails. */
function sendOutcome({ request }: TaskEvent): Outcome {
  const downlink = downlinkOf(request);
  if (downlink === undefined)
    return { error: { errorType: 'InvalidDownlinkError', errorMessage: expect.any(String) } };
  if (downlink.devEui === UNKNOWN_DEVICE)
    return { error: { errorType: 'UnknownDeviceError', errorMessage: expect.any(String) } };
  return { result: 'waiting' };
}

describe('sam build + sam local invoke: downlink tasks', () => {
  let fresh: AwsStandIns | undefined;

  afterEach(async () => {
    await fresh?.close();
    fresh = undefined;
  });

  it('covers every function of the template, with the notification functions above and the custom resource below', () => {
    const covered = [
      ...NOTIFICATION_TYPES.map((type) => NOTIFICATION_DEFINITIONS[type].functionId),
      ...Object.keys(TASK_SAMPLES),
      'PushModeFunction',
      'DeviceStateFunction',
    ].sort();
    const all = resourcesOfType(template, 'AWS::Serverless::Function')
      .map(([id]) => id)
      .sort();
    expect(covered).toEqual(all);
  });

  it.each(Object.entries(TASK_SAMPLES))('has sample events for %s', (_, dir) => {
    expect(sampleEvents(dir).length).toBeGreaterThan(1);
  });

  it('builds SendDownlinkFunction, which posts each valid sample request, publishes accepted and waits', async () => {
    fresh = await standIns();
    const samples = sampleEvents(TASK_SAMPLES.SendDownlinkFunction);

    const outcomes = await buildAndInvoke('SendDownlinkFunction', samples, fresh);

    expect(outcomes).toEqual(samples.map((sample) => sendOutcome(taskEvent(sample))));
    const waiting = samples.filter((_, index) => outcomes[index] && 'result' in outcomes[index]);
    expect(waiting.length).toBeGreaterThan(0);
    expect(published.map((message) => message.topic)).toEqual(
      waiting.map((sample) => downlinkOf(taskEvent(sample).request)?.statusTopic),
    );
    for (const message of published)
      expect(JSON.parse(message.payload.toString())).toMatchObject({ state: 'accepted' });
  });

  it('builds CheckDownlinkStatusFunction, which ends each sample downlink as OrbiWAN has it, or timed_out', async () => {
    fresh = await standIns();
    const samples = sampleEvents(TASK_SAMPLES.CheckDownlinkStatusFunction);
    // Each check runs in an execution whose send task ran first: the same request, the same name.
    const sends = samples.map((sample) => {
      const { request, correlationId } = taskEvent(sample);
      const { payload, topic, receivedAt } = request;
      return {
        ...sample,
        event: {
          taskToken: `token-of-${correlationId}`,
          request: { payload, topic, receivedAt },
          correlationId,
        } as unknown as SampleEvent['event'],
      };
    });
    const sent = await buildAndInvoke('SendDownlinkFunction', sends, fresh);

    const outcomes = await buildAndInvoke('CheckDownlinkStatusFunction', samples, fresh);

    // The fake OrbiWAN answers a GET with acknowledged (2) for every downlink it queued.
    const expected = sent.map((outcome) =>
      'result' in outcome && outcome.result === 'waiting' ? 'acknowledged' : 'timed_out',
    );
    expect(expected).toContain('acknowledged');
    expect(outcomes).toEqual(
      expected.map((finalState) => ({
        result: {
          outcome: expect.objectContaining({ finalState }),
          failure: { Error: OUTCOME_ERRORS[finalState] ?? '', Cause: expect.any(String) },
        },
      })),
    );
    expect(published.map((message) => JSON.parse(message.payload.toString()) as unknown)).toEqual(
      expected.map((finalState) => expect.objectContaining({ state: finalState }) as unknown),
    );
  });

  it('builds ReportDownlinkFailureFunction, which answers each sample failure with the code of its error', async () => {
    fresh = await standIns();
    const samples = sampleEvents(TASK_SAMPLES.ReportDownlinkFailureFunction);

    const outcomes = await buildAndInvoke('ReportDownlinkFailureFunction', samples, fresh);

    expect(outcomes).toEqual(
      samples.map((sample) => {
        const { request } = taskEvent(sample);
        return {
          result: {
            topic: downlinkOf(request)?.statusTopic ?? `${request.topic}/status`,
            code: errorCodeFor(request.failure?.Error ?? ''),
            message: expect.any(String),
          },
        };
      }),
    );
    expect(published.map((message) => JSON.parse(message.payload.toString()) as unknown)).toEqual(
      samples.map(() => expect.objectContaining({ state: 'error' }) as unknown),
    );
  });
});

// CloudFormation invokes a custom resource and waits for its answer at the pre-signed ResponseURL
// of the request: here the fake OrbiWAN's server plays S3 too, and records both.
describe('sam build + sam local invoke: custom resource', () => {
  it('builds PushModeFunction, which starts and stops push mode and answers each request at its ResponseURL', async () => {
    const samples = sampleEvents('pushmode').map((sample) => {
      const event = sample.event as unknown as Record<string, unknown>;
      return {
        ...sample,
        event: {
          ...event,
          ResponseURL: `${orbiwan.url}/cloudformation/${sample.name}?X-Amz-Signature=abc`,
        } as unknown as SampleEvent['event'],
      };
    });
    orbiwan.requests.length = 0;

    const outcomes = await buildAndInvoke('PushModeFunction', samples);

    expect(samples.map((sample) => sample.name)).toEqual(['create', 'delete', 'update']);
    const expected = samples.map(({ event }) => {
      const request = event as unknown as Record<string, string>;
      return {
        Status: 'SUCCESS',
        Reason: expect.any(String),
        PhysicalResourceId: 'orbiwan-push-mode',
        StackId: request.StackId,
        RequestId: request.RequestId,
        LogicalResourceId: 'PushModeCustomResource',
      };
    });
    expect(outcomes).toEqual(expected.map((result) => ({ result })));
    expect(orbiwan.requests.map(({ method, path }) => `${method} ${path}`)).toEqual([
      'PUT /rest/pushmode/start',
      'PUT /cloudformation/create',
      'PUT /rest/pushmode/stop',
      'PUT /cloudformation/delete',
      'PUT /rest/pushmode/start',
      'PUT /cloudformation/update',
    ]);
    const answers = orbiwan.requests
      .filter((request) => request.path.startsWith('/cloudformation/'))
      .map((request) => JSON.parse(request.body) as unknown);
    expect(answers).toEqual(expected);
    const [start] = orbiwan.requests;
    expect(JSON.parse(start?.body ?? '')).toMatchObject({
      host: 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com',
      push_auth_access_token: SAMPLE_PUSH_TOKEN,
      data_format: 'base64',
    });
  });
});

// The device-state function's events are what its IoT rules hand it: a message the connector
// published, Base64-encoded, with its topic. bad-* are refused.
describe('sam build + sam local invoke: device state', () => {
  it('builds DeviceStateFunction, which decodes with the attached codec and keeps the shadow', async () => {
    const fresh = await standIns();
    try {
      const codecs = dynamoDbCodecStore(
        new DynamoDBClient({
          endpoint: fresh.endpoint.url,
          region: stack.region,
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        }),
        stack.refs.DeviceCodecsTable ?? '',
      );
      await codecs.putCodec('sample-sensor', readFileSync(SAMPLE_CODEC, 'utf8'));
      await codecs.attach({ selector: parseSelector(`deveui:${DEVICE}`), codec: 'sample-sensor' });
      const samples = sampleEvents('device-state');

      const outcomes = await buildAndInvoke('DeviceStateFunction', samples, fresh);

      expect(
        samples.map((sample, index) => {
          const outcome = outcomes[index];
          return `${sample.name}: ${outcome === undefined || 'error' in outcome ? `error ${outcome?.error.errorType ?? ''}` : 'ok'}`;
        }),
      ).toEqual(
        samples.map(
          (sample) =>
            `${sample.name}: ${sample.name.startsWith('bad-') ? 'error InvalidInputError' : 'ok'}`,
        ),
      );
      // Beside the shadow service's own messages ($aws/things/...).
      const connectors = published.filter((message) => !message.topic.startsWith('$aws/'));
      expect(connectors.map((message) => message.topic)).toEqual([
        `orbiwan/lorawan/${DEVICE}/uplink/decoded`,
      ]);
      expect(JSON.parse(connectors[0]?.payload.toString() ?? '{}')).toMatchObject({
        DevEUI: DEVICE,
        fcnt: 42,
        codec: 'sample-sensor',
        data: { temperature: 21.37, humidity: 55, battery: 3.5 },
      });
      const shadow = fresh.shadows.get(DEVICE, stack.parameters.ShadowName);
      expect(shadow?.state.reported).toMatchObject({
        uplink: { fcnt: 42, data: { temperature: 21.37 } },
        location: { latitude: 46.2, time: '2026-12-05T09:58:00.000Z' },
        battery: { battery_status: 180 },
        downlink: { requestId: 'cfg-1', state: 'acknowledged', id: '18014398509481986' },
      });
    } finally {
      await fresh.close();
    }
  });
});
