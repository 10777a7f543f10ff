import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startAwsEndpoint, type AwsEndpoint } from '../local/aws/aws-endpoint.js';
import { createTemplateTables, dynamoDbService } from '../local/aws/dynamodb.js';
import { iotDataPlaneService } from '../local/aws/iot-data-plane.js';
import { SecretsStore } from '../local/aws/secrets-manager.js';
import { stepFunctionsService } from '../local/aws/step-functions-api.js';
import { LocalStepFunctions } from '../local/stepfunctions/local-step-functions.js';
import { resolveIntrinsics } from '../local/template/intrinsics.js';
import {
  TEMPLATE_PATH,
  functionProperties,
  loadTemplate,
  type CfnTemplate,
} from '../local/template/sam-template.js';
import { describeStack, type LocalStack } from '../local/template/stack.js';

// What the per-function benchmarks run functions against: the AWS stand-ins (publishes answered at
// once and dropped), the template's tables, and a stand-in OrbiWAN that accepts every downlink.

// The sample events (events/) carry this token.
export const BENCH_TOKEN = 'sample-push-token';
const CREDENTIALS_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench-orbiwan-AbCdEf';

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
    parameters: { OrbiwanBaseUrl: orbiwanUrl, OrbiwanCredentialsSecretArn: CREDENTIALS_ARN },
  });
  const secrets = new SecretsStore();
  secrets.put(stack.refs.PushTokenSecret ?? '', BENCH_TOKEN);
  secrets.put(CREDENTIALS_ARN, '{"username":"bench","password":"bench"}');
  const engine = new LocalStepFunctions({
    region: stack.region,
    accountId: stack.accountId,
    invokeLambda: () => Promise.resolve({}),
  });
  const aws = await startAwsEndpoint([
    iotDataPlaneService(() => undefined),
    secrets.service(),
    dynamoDbService(),
    stepFunctionsService(engine),
  ]);
  await createTemplateTables(
    template,
    stack,
    new DynamoDBClient({
      endpoint: aws.url,
      region: stack.region,
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    }),
  );
  return {
    template,
    stack,
    aws,
    workDir: mkdtempSync(join(tmpdir(), 'bench-')),
    environmentOf: (functionId) => {
      const properties = functionProperties(template, functionId);
      const variables = resolveIntrinsics(
        (properties.Environment as { Variables: Record<string, unknown> }).Variables,
        stack,
      ) as Record<string, unknown>;
      return {
        PATH: process.env.PATH ?? '',
        AWS_REGION: stack.region,
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
        AWS_ENDPOINT_URL_IOT_DATA_PLANE: aws.url,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
        AWS_ENDPOINT_URL_DYNAMODB: aws.url,
        AWS_ENDPOINT_URL_SFN: aws.url,
        AWS_LAMBDA_FUNCTION_NAME: stack.refs[functionId] ?? functionId,
        ...Object.fromEntries(
          Object.entries(variables).map(([key, value]) => [key, String(value)]),
        ),
      };
    },
    close: () => aws.close(),
  };
}

export function readTemplateFile(relative: string): string {
  return readFileSync(join(dirname(TEMPLATE_PATH), relative), 'utf8');
}
