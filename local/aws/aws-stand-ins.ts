import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LocalStepFunctions } from '../stepfunctions/local-step-functions.js';
import type { CfnTemplate } from '../template/sam-template.js';
import type { LocalStack } from '../template/stack.js';
import { UsageMeter } from '../usage-meter.js';
import { startAwsEndpoint, type AwsEndpoint } from './aws-endpoint.js';
import { createTemplateTables, dynamoDbService } from './dynamodb.js';
import { FaultInjector } from './fault-injection.js';
import { iotDataPlaneService, type OnPublish } from './iot-data-plane.js';
import { DeviceShadows } from './iot-shadows.js';
import { SecretsStore } from './secrets-manager.js';
import { stepFunctionsService } from './step-functions-api.js';

// The AWS services the functions call, on one local endpoint: IoT Data Plane (publishes go to
// onPublish, device shadows are kept in memory), Secrets Manager holding the given secrets,
// DynamoDB with the template's tables, and the Step Functions API when an engine is given. Every
// request is metered and may play a fault.

export interface AwsStandInsOptions {
  /** The tables of its AWS::DynamoDB::Table resources are created. */
  template: CfnTemplate;
  stack: LocalStack;
  /** Secret values by ARN. */
  secrets: Record<string, string>;
  onPublish: OnPublish;
  /** Served as the Step Functions API; without it, Step Functions requests are refused. */
  stepFunctions?: LocalStepFunctions;
  port?: number;
}

export interface AwsStandIns {
  endpoint: AwsEndpoint;
  /** What was asked of the stand-ins: the counts an AWS bill is made of. */
  usage: UsageMeter;
  /** Faults the stand-ins play on request (tests: a service failing, throttling, slow). */
  faults: FaultInjector;
  /** The Device Shadow service's shadows, as the IoT Data Plane's shadow API changed them. */
  shadows: DeviceShadows;
  close: () => Promise<void>;
}

// The stand-ins check no signature; the SDK only needs something to sign with.
const ANY_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export async function startAwsStandIns(options: AwsStandInsOptions): Promise<AwsStandIns> {
  const { template, stack, stepFunctions } = options;
  const usage = new UsageMeter();
  const faults = new FaultInjector();
  const secrets = new SecretsStore();
  for (const [arn, value] of Object.entries(options.secrets)) secrets.put(arn, value);
  // A shadow update's /update/documents message goes to the broker uncounted: `publishes` counts
  // the connector's own messages.
  const shadows = new DeviceShadows(options.onPublish);
  const services = [
    usage.countRequests(
      iotDataPlaneService(usage.countPublishes(options.onPublish), shadows),
      usage.counts.iotDataRequests,
    ),
    usage.countRequests(dynamoDbService(), usage.counts.dynamoDbRequests),
    secrets.service(),
    ...(stepFunctions === undefined
      ? []
      : [
          usage.countRequests(
            stepFunctionsService(stepFunctions),
            usage.counts.stepFunctionsRequests,
          ),
        ]),
  ];
  const endpoint = await startAwsEndpoint(
    services.map((service) => faults.wrap(service)),
    options.port,
  );
  await createTemplateTables(
    template,
    stack,
    new DynamoDBClient({
      endpoint: endpoint.url,
      region: stack.region,
      credentials: ANY_CREDENTIALS,
    }),
  );
  return { endpoint, usage, faults, shadows, close: () => endpoint.close() };
}
