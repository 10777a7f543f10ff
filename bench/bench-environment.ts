import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseSelector } from '../functions/codecs/codec-attachments.js';
import { dynamoDbCodecStore } from '../functions/codecs/codec-store.js';
import type { AwsEndpoint } from '../local/aws/aws-endpoint.js';
import { startAwsStandIns } from '../local/aws/aws-stand-ins.js';
import { lambdaEnvironment } from '../local/lambda/function-environment.js';
import { LocalStepFunctions } from '../local/stepfunctions/local-step-functions.js';
import { loadTemplate, type CfnTemplate } from '../local/template/sam-template.js';
import { describeStack, type LocalStack } from '../local/template/stack.js';

// What the per-function benchmarks run functions against: the AWS stand-ins (publishes answered at
// once and dropped), the template's tables, and a stand-in OrbiWAN that accepts every downlink. The
// stack has every opt-in feature on (PayloadCodecs, DeviceShadows), so that every function of the
// template exists and starts; the sample codec is attached to the device of the sample events.

// The sample events (events/) carry this token.
export const BENCH_TOKEN = 'sample-push-token';
const CREDENTIALS_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench-orbiwan-AbCdEf';
const BENCH_CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };
/** The opt-in features, on. */
export const DEVICE_STATE_PARAMETERS = { PayloadCodecs: 'Enabled', DeviceShadows: 'Enabled' };
/** The device of the sample events (events/), and the codec of the local stack's sample sensors. */
export const SAMPLE_DEVICE = '70b3d57ed0001a2b';
export const SAMPLE_CODEC = {
  name: 'orbiwan-sample-sensor',
  source: readFileSync(new URL('../codecs/orbiwan-sample-sensor.js', import.meta.url), 'utf8'),
};

export interface BenchEnvironment {
  template: CfnTemplate;
  stack: LocalStack;
  aws: AwsEndpoint;
  workDir: string;
  /** What Lambda would give the function: its template environment plus the AWS endpoints. */
  environmentOf: (functionId: string) => Record<string, string>;
  close: () => Promise<void>;
}

export async function startBenchEnvironment(orbiwanUrl: string): Promise<BenchEnvironment> {
  const template = loadTemplate();
  const stack = describeStack(template, {
    parameters: {
      OrbiwanBaseUrl: orbiwanUrl,
      OrbiwanCredentialsSecretArn: CREDENTIALS_ARN,
      ...DEVICE_STATE_PARAMETERS,
    },
  });
  // Executions are started and answered, their tasks never run: the benchmarks time one function.
  const engine = new LocalStepFunctions({
    region: stack.region,
    accountId: stack.accountId,
    invokeLambda: () => Promise.resolve({}),
  });
  const standIns = await startAwsStandIns({
    template,
    stack,
    secrets: {
      [stack.refs.PushTokenSecret ?? '']: BENCH_TOKEN,
      [CREDENTIALS_ARN]: '{"username":"bench","password":"bench"}',
    },
    onPublish: () => undefined,
    stepFunctions: engine,
  });
  const access = { endpointUrl: standIns.endpoint.url, credentials: BENCH_CREDENTIALS };
  await attachSampleCodec(standIns.endpoint.url, stack.refs.DeviceCodecsTable ?? '', [
    SAMPLE_DEVICE,
  ]);
  return {
    template,
    stack,
    aws: standIns.endpoint,
    workDir: mkdtempSync(join(tmpdir(), 'bench-')),
    environmentOf: (functionId) => ({
      PATH: process.env.PATH ?? '',
      ...lambdaEnvironment(template, stack, functionId, access),
    }),
    close: () => standIns.close(),
  };
}

/**
 * Stores the sample codec in the codecs table behind an AWS endpoint and attaches it to each
 * device, as `orbiwan-codec add` and `attach` do.
 */
export async function attachSampleCodec(
  endpoint: string,
  table: string,
  devEuis: string[],
): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'eu-west-1',
    credentials: BENCH_CREDENTIALS,
  });
  try {
    const store = dynamoDbCodecStore(client, table);
    await store.putCodec(SAMPLE_CODEC.name, SAMPLE_CODEC.source);
    for (const devEui of devEuis)
      await store.attach({
        selector: parseSelector(`deveui:${devEui}`),
        codec: SAMPLE_CODEC.name,
      });
  } finally {
    client.destroy();
  }
}
