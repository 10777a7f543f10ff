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
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startAwsEndpoint, type AwsEndpoint } from '../../local/aws/aws-endpoint.js';
import { createTemplateTables, dynamoDbService } from '../../local/aws/dynamodb.js';
import { iotDataPlaneService, type PublishedMessage } from '../../local/aws/iot-data-plane.js';
import { SecretsStore } from '../../local/aws/secrets-manager.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import { functionProperties, loadTemplate } from '../../local/template/sam-template.js';
import {
  SAMPLE_PUSH_TOKEN,
  bodyBytes,
  sampleEvents,
  type SampleEvent,
} from '../helpers/api-events.js';
import { samBuild } from '../helpers/sam-build.js';
import { sampleStack } from '../helpers/sample-stack.js';

// The equivalent of `sam build` + `sam local invoke <Function> -e events/<type>/<event>.json`:
// every function is bundled exactly as its Metadata says, loaded in a fresh Node process with the
// environment the template gives it, and invoked with each of its sample events. AWS is the local
// stand-in endpoint, reached through the standard AWS_ENDPOINT_URL_* variables.
//
// Sample event names say what must happen: bad-* -> 400, unauthorized-* -> 401, else 200 with the
// body published byte for byte on the notification's topic.

const run = promisify(execFile);
const INVOKER = fileURLToPath(new URL('../helpers/invoke-bundle.mjs', import.meta.url));
const template = loadTemplate();
const stack = sampleStack();
const workDir = mkdtempSync(join(tmpdir(), 'sam-build-'));
const published: PublishedMessage[] = [];
let aws: AwsEndpoint;

beforeAll(async () => {
  const secrets = new SecretsStore();
  secrets.put(stack.refs.PushTokenSecret ?? '', SAMPLE_PUSH_TOKEN);
  aws = await startAwsEndpoint([
    iotDataPlaneService((message) => void published.push(message)),
    secrets.service(),
    dynamoDbService(),
  ]);
  await createTemplateTables(template, stack, new DynamoDBClient({ endpoint: aws.url }));
});

afterAll(async () => {
  await aws.close();
  rmSync(workDir, { recursive: true, force: true });
});

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

function lambdaEnvironment(
  functionId: string,
  added: Record<string, string>,
): Record<string, string> {
  const properties = functionProperties(template, functionId);
  const variables = resolveIntrinsics(
    (properties.Environment as { Variables: Record<string, unknown> }).Variables,
    stack,
  ) as Record<string, unknown>;
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: stack.region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_IOT_DATA_PLANE: aws.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    AWS_ENDPOINT_URL_DYNAMODB: aws.url,
    AWS_ENDPOINT_URL_SFN: aws.url,
    AWS_LAMBDA_FUNCTION_NAME: stack.refs[functionId] ?? functionId,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(resolveIntrinsics(properties.MemorySize, stack)),
    ...Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, String(value)])),
    ...added,
  };
}

describe('sam build + sam local invoke', () => {
  describe.each(NOTIFICATION_TYPES)('%s', (type) => {
    const definition = NOTIFICATION_DEFINITIONS[type];
    const samples = sampleEvents(type.replaceAll('_', '-'));

    it('has a valid and a bad sample event', () => {
      expect(samples.some((sample) => expectedStatus(sample) === 200)).toBe(true);
      expect(samples.some((sample) => expectedStatus(sample) === 400)).toBe(true);
    });

    it(`builds ${definition.functionId} and answers each sample event as its name says`, async () => {
      // Prepare
      const built = await samBuild(
        template,
        definition.functionId,
        join(workDir, definition.functionId),
      );
      expect(statSync(built.file).size).toBeGreaterThan(0);
      const eventsFile = join(workDir, `${type}-events.json`);
      const resultsFile = join(workDir, `${type}-results.json`);
      writeFileSync(eventsFile, JSON.stringify(samples.map((sample) => sample.event)));
      published.length = 0;

      // Act
      await run(
        process.execPath,
        [INVOKER, built.file, built.exportName, eventsFile, resultsFile],
        {
          env: lambdaEnvironment(definition.functionId, built.addedEnvironment),
        },
      );

      // Assess
      const results = JSON.parse(
        readFileSync(resultsFile, 'utf8'),
      ) as APIGatewayProxyStructuredResultV2[];
      const accepted = samples.filter((sample) => expectedStatus(sample) === 200);
      expect(
        results.map(
          (result, index) => `${samples[index]?.name ?? ''}: ${String(result.statusCode)}`,
        ),
      ).toEqual(samples.map((sample) => `${sample.name}: ${String(expectedStatus(sample))}`));
      expect(published.map((message) => message.topic)).toEqual(
        accepted.map((sample) => expectedTopic(definition, sample)),
      );
      published.forEach((message, index) => {
        const sample = accepted[index];
        expect(sample).toBeDefined();
        if (sample !== undefined)
          expect(message.payload.toString()).toBe(expectedPayload(type, sample));
        expect(message.qos).toBe(definition.qos);
        const expiry = definition.expires
          ? Number(stack.parameters.UplinkEarlyExpirySeconds)
          : undefined;
        expect(message.messageExpirySeconds).toBe(expiry);
      });
    });
  });
});
