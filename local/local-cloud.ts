import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { AwsEndpoint } from './aws/aws-endpoint.js';
import { startAwsStandIns } from './aws/aws-stand-ins.js';
import type { FaultInjector } from './aws/fault-injection.js';
import type { OnPublish } from './aws/iot-data-plane.js';
import type { DeviceShadows } from './aws/iot-shadows.js';
import {
  matchesTopicFilter,
  templateTopicRules,
  type MqttMessage,
  type TopicRule,
} from './iot/topic-rules.js';
import { awsEndpointVariables } from './lambda/function-environment.js';
import { findFunction, loadLocalFunctions, type LocalFunction } from './lambda/local-functions.js';
import {
  LocalStepFunctions,
  type ExecutionRecord,
  type HistoryEvent,
} from './stepfunctions/local-step-functions.js';
import { resolveIntrinsics } from './template/intrinsics.js';
import {
  definitionFileOf,
  readBesideTemplate,
  resourcesOfType,
  type CfnTemplate,
} from './template/sam-template.js';
import { deployedTemplate, type LocalStack } from './template/stack.js';
import type { UsageMeter } from './usage-meter.js';

// The AWS side of the connector on one machine, wired from template.yaml: the AWS stand-ins on one
// endpoint, every function loaded in this process with its template environment, the template's
// tables created and its state machines registered with their DefinitionSubstitutions.

export interface LocalCloudOptions {
  template: CfnTemplate;
  stack: LocalStack;
  /** Secret values by ARN. */
  secrets: Record<string, string>;
  onPublish: OnPublish;
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
  /** The template as deployed with the stack's parameters (deployedTemplate): what runs. */
  template: CfnTemplate;
  endpoint: AwsEndpoint;
  /** What the functions asked of the local cloud: the counts an AWS bill is made of. */
  usage: UsageMeter;
  /** Faults the AWS stand-ins play on request (tests: a service failing, throttling, slow). */
  faults: FaultInjector;
  /** The devices' shadows, as the IoT Data Plane's shadow API left them. */
  shadows: DeviceShadows;
  functions: LocalFunction[];
  stepFunctions: LocalStepFunctions;
  /** State machine ARNs by logical ID. */
  stateMachines: Record<string, string>;
  /** Runs the template's IoT rules for a message published on MQTT; returns the executions started. */
  applyTopicRules: (message: MqttMessage) => ExecutionRecord[];
  /**
   * Resolves once every function the rules invoked asynchronously has ended (with its retries),
   * those it invokes meanwhile included: for tests that wait for what the rules caused.
   */
  rulesSettled: () => Promise<void>;
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
  const { stack } = options;
  // Only what CloudFormation would create: a resource whose Condition is false does not exist.
  const template = deployedTemplate(options.template, stack);
  // Before anything starts, so that a stale definition leaves nothing running.
  for (const [id] of resourcesOfType(template, 'AWS::Serverless::StateMachine')) {
    inlineDefinition(template, id);
  }
  running = true;

  let functions: LocalFunction[] = [];
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
  const { endpoint, usage, faults, shadows } = await startAwsStandIns({
    template,
    stack,
    secrets: options.secrets,
    onPublish: options.onPublish,
    stepFunctions,
    ...(options.port === undefined ? {} : { port: options.port }),
  });
  // What Lambda gives every function, set before the functions load: their SDK clients find the
  // stand-ins here, and need a region and some credentials to sign with.
  Object.assign(process.env, awsEndpointVariables(endpoint.url));
  process.env.AWS_REGION = stack.region;
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';

  functions = loadLocalFunctions(template, stack).map((fn) => usage.countInvocations(fn));
  const stateMachines = registerStateMachines(template, stack, stepFunctions);
  const { applyTopicRules, rulesSettled, deadLetters } = topicRulesRunner(
    template,
    stack,
    stepFunctions,
    functions,
  );

  const close = async () => {
    await endpoint.close();
    running = false;
  };
  return {
    template,
    endpoint,
    usage,
    faults,
    shadows,
    functions,
    stepFunctions,
    stateMachines,
    applyTopicRules,
    rulesSettled,
    deadLetters,
    close,
  };
}

/** Registers every state machine of the template; returns their ARNs by logical ID. */
function registerStateMachines(
  template: CfnTemplate,
  stack: LocalStack,
  stepFunctions: LocalStepFunctions,
): Record<string, string> {
  const stateMachines: Record<string, string> = {};
  for (const [id, machine] of resourcesOfType(template, 'AWS::Serverless::StateMachine')) {
    const properties = machine.Properties ?? {};
    const substitutions = resolveIntrinsics(
      properties.DefinitionSubstitutions ?? {},
      stack,
    ) as Record<string, unknown>;
    const definition = substitute(JSON.stringify(inlineDefinition(template, id)), substitutions);
    const name = stack.attributes[`${id}.Name`] ?? id;
    stateMachines[id] = stepFunctions.createStateMachine({ name, definition }).stateMachineArn;
  }
  return stateMachines;
}

/**
 * The template's IoT rules over the registered state machines and functions. Each action's state
 * machine is looked up by name once, here; an unknown name keeps the ARN '', which Step Functions
 * refuses, so the message goes to the rule's error action as on AWS. A function is invoked
 * asynchronously, as Lambda does for IoT: the rule hands the event on and is done; a failed
 * invocation is tried again as the function's EventInvokeConfig says (at once here), then
 * dead-lettered.
 */
function topicRulesRunner(
  template: CfnTemplate,
  stack: LocalStack,
  stepFunctions: LocalStepFunctions,
  functions: LocalFunction[],
): Pick<LocalCloud, 'applyTopicRules' | 'rulesSettled' | 'deadLetters'> {
  const arnByName = new Map(
    stepFunctions.listStateMachines().map((machine) => [machine.name, machine.stateMachineArn]),
  );
  const rules = templateTopicRules(template, stack);
  const deadLetters: DeadLetter[] = [];
  const inFlight = new Set<Promise<void>>();
  const deadLetter = (rule: TopicRule, message: MqttMessage, error: unknown) => {
    if (rule.errorAction === undefined) return;
    deadLetters.push({
      queueUrl: rule.errorAction.queueUrl,
      ruleId: rule.id,
      message,
      error: String(error),
    });
  };
  const invokeAsync = (
    rule: TopicRule,
    message: MqttMessage,
    target: LocalFunction,
    event: unknown,
  ) => {
    const invocation = (async () => {
      let failure: unknown;
      for (let attempt = 0; attempt <= target.asyncRetryAttempts; attempt++) {
        try {
          await target.invoke(event);
          return;
        } catch (error) {
          failure = error;
        }
      }
      deadLetter(rule, message, failure);
    })();
    inFlight.add(invocation);
    void invocation.finally(() => inFlight.delete(invocation));
  };
  const applyTopicRules = (message: MqttMessage): ExecutionRecord[] =>
    rules
      .filter((rule) => matchesTopicFilter(rule.topicFilter, message.topic))
      .flatMap((rule) => {
        const input = JSON.stringify(rule.select(message, Date.now()));
        return rule.actions.flatMap((action) => {
          if (action.kind === 'Lambda') {
            const target = findFunction(functions, action.functionArn);
            if (target === undefined)
              deadLetter(rule, message, `no function ${action.functionArn}`);
            else invokeAsync(rule, message, target, JSON.parse(input));
            return [];
          }
          try {
            const stateMachineArn = arnByName.get(action.stateMachineName) ?? '';
            const prefix =
              action.executionNamePrefix === undefined ? '' : `${action.executionNamePrefix}_`;
            return [
              stepFunctions.startExecution({
                stateMachineArn,
                input,
                name: `${prefix}${randomUUID()}`,
              }),
            ];
          } catch (error) {
            deadLetter(rule, message, error);
            return [];
          }
        });
      });
  const rulesSettled = async () => {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  };
  return { applyTopicRules, rulesSettled, deadLetters };
}

/** DefinitionSubstitutions as Step Functions applies them: every ${Name} replaced, textually. */
/**
 * A state machine's Definition as deployed, once it is known to be its definition file's copy: a
 * file edited without `npm run generate` would otherwise run here as it never would on AWS.
 */
function inlineDefinition(template: CfnTemplate, id: string): unknown {
  const file = definitionFileOf(template, id);
  const inline = template.Resources[id]?.Properties?.Definition;
  if (!isDeepStrictEqual(inline, JSON.parse(readBesideTemplate(file)))) {
    throw new Error(
      `${id}: template.yaml's Definition is not ${file} as it is now; run npm run generate`,
    );
  }
  return inline;
}

export function substitute(definition: string, substitutions: Record<string, unknown>): string {
  return definition.replace(/\$\{([A-Za-z0-9_]+)\}/g, (placeholder, name: string) =>
    name in substitutions ? String(substitutions[name]) : placeholder,
  );
}
