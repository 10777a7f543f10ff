import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AwsEndpoint } from '../local/aws/aws-endpoint.js';
import { startAwsStandIns } from '../local/aws/aws-stand-ins.js';
import { lambdaEnvironment } from '../local/lambda/function-environment.js';
import { LocalStepFunctions } from '../local/stepfunctions/local-step-functions.js';
import { loadTemplate, type CfnTemplate } from '../local/template/sam-template.js';
import { describeStack, type LocalStack } from '../local/template/stack.js';

// What the per-function benchmarks run functions against: the AWS stand-ins (publishes answered at
// once and dropped), the template's tables, and a stand-in OrbiWAN that accepts every downlink.

// The sample events (events/) carry this token.
export const BENCH_TOKEN = 'sample-push-token';
const CREDENTIALS_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench-orbiwan-AbCdEf';
const BENCH_CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };

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
