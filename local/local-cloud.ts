import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startAwsEndpoint, type AwsEndpoint } from './aws/aws-endpoint.js';
import { createTemplateTables, dynamoDbService } from './aws/dynamodb.js';
import { randomUUID } from 'node:crypto';
import { iotDataPlaneService, type OnPublish } from './aws/iot-data-plane.js';
import { matchesTopicFilter, templateTopicRules, type MqttMessage } from './iot/topic-rules.js';
import { SecretsStore } from './aws/secrets-manager.js';
import { stepFunctionsService } from './aws/step-functions-api.js';
import { UsageMeter } from './usage-meter.js';
import { FaultInjector } from './aws/fault-injection.js';
import { findFunction, loadLocalFunctions, type LocalFunction } from './lambda/local-functions.js';
import {
  LocalStepFunctions,
  type ExecutionRecord,
  type HistoryEvent,
} from './stepfunctions/local-step-functions.js';
import { resolveIntrinsics } from './template/intrinsics.js';
import { resourcesOfType, type CfnTemplate } from './template/sam-template.js';
import { deployedTemplate, type LocalStack } from './template/stack.js';

// The AWS side of the connector on one machine, wired from template.yaml: the AWS stand-ins on one
// endpoint, every function loaded in this process with its template environment, the template's
// tables created and its state machines registered with their DefinitionSubstitutions.

export const ENDPOINT_VARIABLES = [
  'AWS_ENDPOINT_URL_IOT_DATA_PLANE',
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ENDPOINT_URL_SFN',
] as const;

export interface LocalCloudOptions {
  template: CfnTemplate;
  stack: LocalStack;
  /** Secret values by ARN. */
  secrets: Record<string, string>;
  onPublish: OnPublish;
  /** Reads definition files (DefinitionUri) relative to the template. */
  readDefinition: (definitionUri: string) => string;
  port?: number;
  onExecutionEvent?: (execution: ExecutionRecord, event: HistoryEvent) => void;
  /** See LocalStepFunctionsOptions.retryDelayMs. */
  retryDelayMs?: number;
}

/** A message an IoT rule could not hand to its action, as its error action would record it. */
export interface DeadLetter {
  queueUrl: string;
  ruleId: string;
  message: MqttMessage;
  error: string;
}

export interface LocalCloud {
  endpoint: AwsEndpoint;
  /** What the functions asked of the local cloud: the counts an AWS bill is made of. */
  usage: UsageMeter;
  /** Faults the AWS stand-ins play on request (tests: a service failing, throttling, slow). */
  faults: FaultInjector;
  functions: LocalFunction[];
  stepFunctions: LocalStepFunctions;
  /** State machine ARNs by logical ID. */
  stateMachines: Record<string, string>;
  /** Runs the template's IoT rules for a message published on MQTT; returns the executions started. */
  applyTopicRules: (message: MqttMessage) => ExecutionRecord[];
  deadLetters: DeadLetter[];
  close: () => Promise<void>;
}

// The functions' SDK clients are created once per process and find their endpoint once, so a
// process can only host one local cloud at a time.
let running = false;

export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  if (running)
    throw new Error(
      'a local cloud is already running in this process: its functions share their SDK clients',
    );
  running = true;
  const { stack } = options;
  // Only what CloudFormation would create: a resource whose Condition is false does not exist.
  const template = deployedTemplate(options.template, stack);
  const secrets = new SecretsStore();
  for (const [arn, value] of Object.entries(options.secrets)) secrets.put(arn, value);

  let functions: LocalFunction[] = [];
  const meter = new UsageMeter();
  const faults = new FaultInjector();
  const stepFunctions = new LocalStepFunctions({
    region: stack.region,
    accountId: stack.accountId,
    invokeLambda: async (name, payload) => {
      const target = findFunction(functions, name);
      if (target === undefined) throw new Error(`no local function ${name}`);
      return target.invoke(payload);
    },
    ...(options.onExecutionEvent === undefined ? {} : { onEvent: options.onExecutionEvent }),
    ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
  });
  const endpoint = await startAwsEndpoint(
    [
      iotDataPlaneService(meter.countPublishes(options.onPublish)),
      meter.countRequests(dynamoDbService(), meter.counts.dynamoDbRequests),
      secrets.service(),
      meter.countRequests(stepFunctionsService(stepFunctions), meter.counts.stepFunctionsRequests),
    ].map((service) => faults.wrap(service)),
    options.port,
  );
  // What Lambda gives every function, set before the functions load: their SDK clients find the
  // stand-ins here, and need a region and some credentials to sign with.
  for (const variable of ENDPOINT_VARIABLES) process.env[variable] = endpoint.url;
  process.env.AWS_REGION = stack.region;
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';

  await createTemplateTables(
    template,
    stack,
    new DynamoDBClient({ endpoint: endpoint.url, region: stack.region }),
  );
  functions = (await loadLocalFunctions(template, stack)).map((fn) => meter.countInvocations(fn));

  const stateMachines: Record<string, string> = {};
  for (const [id, machine] of resourcesOfType(template, 'AWS::Serverless::StateMachine')) {
    const properties = machine.Properties ?? {};
    const substitutions = resolveIntrinsics(
      properties.DefinitionSubstitutions ?? {},
      stack,
    ) as Record<string, unknown>;
    const definition = substitute(
      options.readDefinition(String(properties.DefinitionUri)),
      substitutions,
    );
    const name = stack.attributes[`${id}.Name`] ?? id;
    stateMachines[id] = stepFunctions.createStateMachine({ name, definition }).stateMachineArn;
  }

  const rules = templateTopicRules(template, stack);
  const deadLetters: DeadLetter[] = [];
  const applyTopicRules = (message: MqttMessage): ExecutionRecord[] =>
    rules
      .filter((rule) => matchesTopicFilter(rule.topicFilter, message.topic))
      .flatMap((rule) => {
        const input = JSON.stringify(rule.select(message, Date.now()));
        return rule.actions.flatMap((action) => {
          try {
            const stateMachineArn =
              stepFunctions
                .listStateMachines()
                .find((machine) => machine.name === action.stateMachineName)?.stateMachineArn ?? '';
            const name = `${action.executionNamePrefix ?? ''}${action.executionNamePrefix === undefined ? '' : '_'}${randomUUID()}`;
            return [stepFunctions.startExecution({ stateMachineArn, input, name })];
          } catch (error) {
            if (rule.errorAction !== undefined) {
              deadLetters.push({
                queueUrl: rule.errorAction.queueUrl,
                ruleId: rule.id,
                message,
                error: String(error),
              });
            }
            return [];
          }
        });
      });

  const close = async () => {
    await endpoint.close();
    running = false;
  };
  return {
    endpoint,
    usage: meter,
    faults,
    functions,
    stepFunctions,
    stateMachines,
    applyTopicRules,
    deadLetters,
    close,
  };
}

/** DefinitionSubstitutions as Step Functions applies them: every ${Name} replaced, textually. */
export function substitute(definition: string, substitutions: Record<string, unknown>): string {
  return definition.replace(/\$\{([A-Za-z0-9_]+)\}/g, (placeholder, name: string) =>
    name in substitutions ? String(substitutions[name]) : placeholder,
  );
}
