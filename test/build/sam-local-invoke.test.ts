import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { samBuild } from '../../local/build/sam-build.js';

// The equivalent of `sam build` + `sam local invoke <Function> -e events/<dir>/<event>.json`:
// every function is bundled exactly as its Metadata says, loaded in a fresh Node process with the
// environment the template gives it, and invoked with each of its sample events. AWS is the local
// stand-in endpoint, reached through the standard AWS_ENDPOINT_URL_* variables; OrbiWAN a fake.

const run = promisify(execFile);
const INVOKER = fileURLToPath(new URL('../helpers/invoke-bundle.mjs', import.meta.url));
const template = loadTemplate();
const workDir = mkdtempSync(join(tmpdir(), 'sam-build-'));
const published: PublishedMessage[] = [];
let aws: AwsStandIns;
let orbiwan: FakeHttpServer;
let stack: LocalStack;

type Outcome = { result: unknown } | { error: { errorType: string; errorMessage: string } };

beforeAll(async () => {
  orbiwan = await startFakeHttpServer((request) =>
    request.path.includes('0011223344556677')
      ? { status: 404, body: 'Node not found', headers: { 'content-type': 'text/plain' } }
      : {
          status: 200,
          // A POST queues the downlink; asked later, the device has acknowledged it.
          body: `{"id":18014398509481985,"fcnt":57,"port":20,"transmissionStatus":${request.method === 'GET' ? 2 : 0}}`,
        },
  );
  stack = sampleStack({ OrbiwanBaseUrl: orbiwan.url });
  // No Step Functions: no function invoked here calls it.
  aws = await startAwsStandIns({
    template,
    stack,
    secrets: {
      [stack.refs.PushTokenSecret ?? '']: SAMPLE_PUSH_TOKEN,
      [SAMPLE_PARAMETERS.OrbiwanCredentialsSecretArn]:
        '{"username":"connector","password":"secret"}',
    },
    onPublish: (message) => void published.push(message),
  });
});

afterAll(async () => {
  await aws.close();
  await orbiwan.close();
  rmSync(workDir, { recursive: true, force: true });
});

/** What `sam local invoke` gives the function: Lambda's environment, its memory size, what sam build added. */
function samLocalEnvironment(
  functionId: string,
  added: Record<string, string>,
): Record<string, string> {
  const { MemorySize } = functionProperties(template, functionId);
  return {
    PATH: process.env.PATH ?? '',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(resolveIntrinsics(MemorySize, stack)),
    ...lambdaEnvironment(template, stack, functionId, {
      endpointUrl: aws.endpoint.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
    ...added,
  };
}

/** `sam build` then `sam local invoke` of one function with each of the given events. */
async function buildAndInvoke(functionId: string, samples: SampleEvent[]): Promise<Outcome[]> {
  const built = await samBuild(template, functionId, join(workDir, functionId));
  expect(statSync(built.file).size).toBeGreaterThan(0);
  const eventsFile = join(workDir, `${functionId}-events.json`);
  const resultsFile = join(workDir, `${functionId}-results.json`);
  writeFileSync(eventsFile, JSON.stringify(samples.map((sample) => sample.event)));
  published.length = 0;
  await run(process.execPath, [INVOKER, built.file, built.exportName, eventsFile, resultsFile], {
    env: samLocalEnvironment(functionId, built.addedEnvironment),
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

// What each downlink task must do with its sample events: return (a value matching) or throw.
const TASKS: Record<
  string,
  { dir: string; expected: (name: string) => { throws: string } | { returns: unknown } }
> = {
  ValidateDownlinkFunction: {
    dir: 'validate-downlink',
    expected: (name) =>
      name.startsWith('bad-')
        ? { throws: 'InvalidDownlinkError' }
        : { returns: expect.objectContaining({ devEui: '70b3d57ed0001a2b' }) },
  },
  SendToOrbiwanFunction: {
    dir: 'send-to-orbiwan',
    expected: (name) =>
      name === 'unknown-device'
        ? { throws: 'UnknownDeviceError' }
        : { returns: { id: '18014398509481985', fcnt: 57, transmissionStatus: 0 } },
  },
  WaitForStatusFunction: { dir: 'wait-for-status', expected: () => ({ returns: 'waiting' }) },
  CheckDownlinkStatusFunction: {
    dir: 'check-downlink-status',
    expected: (name) =>
      name === 'unknown-downlink'
        ? { throws: 'OrbiwanRejectedError' }
        : { returns: { id: '18014398509481985', transmissionStatus: 2, final: true } },
  },
  ReportDownlinkFailureFunction: {
    dir: 'report-downlink-failure',
    expected: (name) => ({
      returns: {
        topic: 'orbiwan/lorawan/70b3d57ed0001a2b/downlink/status',
        code: {
          invalid: 'INVALID_DOWNLINK',
          'rejected-unknown-device': 'UNKNOWN_DEVICE',
          'error-orbiwan-unavailable': 'ORBIWAN_UNAVAILABLE',
          'timed-out': 'TIMED_OUT',
        }[name],
      },
    }),
  },
};

describe('sam build + sam local invoke: downlink tasks', () => {
  it('covers every function of the template, with the notification functions above and the custom resource below', () => {
    const covered = [
      ...NOTIFICATION_TYPES.map((type) => NOTIFICATION_DEFINITIONS[type].functionId),
      ...Object.keys(TASKS),
      'PushModeFunction',
    ].sort();
    const all = resourcesOfType(template, 'AWS::Serverless::Function')
      .map(([id]) => id)
      .sort();
    expect(covered).toEqual(all);
  });

  it.each(Object.entries(TASKS))(
    'builds %s and answers each of its sample events',
    async (functionId, { dir, expected }) => {
      const samples = sampleEvents(dir);
      const outcomes = await buildAndInvoke(functionId, samples);

      expect(samples.length).toBeGreaterThan(1);
      samples.forEach((sample, index) => {
        const expectation = expected(sample.name);
        const outcome = outcomes[index];
        if ('throws' in expectation)
          expect(outcome, sample.name).toMatchObject({ error: { errorType: expectation.throws } });
        else expect(outcome, sample.name).toEqual({ result: expectation.returns });
      });
    },
  );
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
