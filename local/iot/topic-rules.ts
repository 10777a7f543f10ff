import { resolveIntrinsics } from '../template/intrinsics.js';
import { resourcesOfType, type CfnTemplate } from '../template/sam-template.js';
import type { LocalStack } from '../template/stack.js';

// The template's AWS IoT topic rules, run locally: each rule's SQL (the subset the connector uses)
// picks its messages and builds the action's input; actions start Step Functions executions or
// invoke functions asynchronously, and what they cannot hand on goes to the error action's queue.

export interface MqttMessage {
  topic: string;
  payload: Buffer;
  clientId?: string;
}

export interface StepFunctionsAction {
  kind: 'StepFunctions';
  stateMachineName: string;
  executionNamePrefix: string | undefined;
}

/** Lambda's asynchronous invocation, as the IoT rule's lambda action makes it. */
export interface LambdaAction {
  kind: 'Lambda';
  functionArn: string;
}

export interface SqsAction {
  kind: 'Sqs';
  queueUrl: string;
}

export interface TopicRule {
  id: string;
  topicFilter: string;
  /** The SELECT clause applied to a message: the action's input. */
  select: (message: MqttMessage, receivedAt: number) => Record<string, unknown>;
  actions: (StepFunctionsAction | LambdaAction)[];
  errorAction: SqsAction | undefined;
}

type Expression = (message: MqttMessage, receivedAt: number) => unknown;

const SQL = /^\s*SELECT\s+(.+?)\s+FROM\s+'([^']+)'\s*$/is;

export function templateTopicRules(template: CfnTemplate, stack: LocalStack): TopicRule[] {
  return resourcesOfType(template, 'AWS::IoT::TopicRule').map(([id, resource]) => {
    const payload = resolveIntrinsics(resource.Properties?.TopicRulePayload, stack) as {
      Sql: string;
      RuleDisabled?: boolean;
      Actions: Record<string, Record<string, string>>[];
      ErrorAction?: Record<string, Record<string, string>>;
    };
    const parsed = SQL.exec(payload.Sql);
    if (parsed?.[1] === undefined || parsed[2] === undefined)
      throw new Error(`${id}: SQL not supported locally: ${payload.Sql}`);
    const fields = splitTopLevel(parsed[1]).map((item) => selectItem(id, item));
    return {
      id,
      topicFilter: parsed[2],
      select: (message, receivedAt) =>
        Object.fromEntries(
          fields.map(({ alias, expression }) => [alias, expression(message, receivedAt)]),
        ),
      actions: payload.Actions.map((action): StepFunctionsAction | LambdaAction => {
        if (action.Lambda?.FunctionArn !== undefined)
          return { kind: 'Lambda', functionArn: action.Lambda.FunctionArn };
        const target = action.StepFunctions;
        if (target?.StateMachineName === undefined)
          throw new Error(`${id}: only StepFunctions and Lambda actions are supported locally`);
        return {
          kind: 'StepFunctions',
          stateMachineName: target.StateMachineName,
          executionNamePrefix: target.ExecutionNamePrefix,
        };
      }),
      errorAction:
        payload.ErrorAction?.Sqs?.QueueUrl === undefined
          ? undefined
          : { kind: 'Sqs', queueUrl: payload.ErrorAction.Sqs.QueueUrl },
    };
  });
}

/** MQTT topic filter matching: + is one level, # the rest. */
export function matchesTopicFilter(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  for (const [index, level] of filterLevels.entries()) {
    if (level === '#') return true;
    if (index >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[index]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

function selectItem(ruleId: string, item: string): { alias: string; expression: Expression } {
  const match = /^(.+?)\s+AS\s+([A-Za-z_][A-Za-z0-9_]*)$/i.exec(item.trim());
  if (match?.[1] === undefined || match[2] === undefined)
    throw new Error(`${ruleId}: SELECT item "${item}" needs AS alias locally`);
  return { alias: match[2], expression: expression(ruleId, match[1].trim()) };
}

function expression(ruleId: string, text: string): Expression {
  const compact = text.replace(/\s+/g, '');
  if (/^encode\(\*,'base64'\)$/i.test(compact)) return ({ payload }) => payload.toString('base64');
  if (/^topic\(\)$/i.test(compact)) return ({ topic }) => topic;
  const level = /^topic\((\d+)\)$/i.exec(compact);
  if (level?.[1] !== undefined) {
    const index = Number(level[1]) - 1;
    return ({ topic }) => topic.split('/')[index];
  }
  if (/^timestamp\(\)$/i.test(compact)) return (_, receivedAt) => receivedAt;
  if (/^clientid\(\)$/i.test(compact)) return ({ clientId }) => clientId ?? '';
  if (/^-?\d+(?:\.\d+)?$/.test(compact)) {
    const literal = Number(compact);
    return () => literal;
  }
  throw new Error(`${ruleId}: SQL expression "${text}" is not supported locally`);
}

function splitTopLevel(list: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of list) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ',' && depth === 0) {
      items.push(current);
      current = '';
    } else current += char;
  }
  return [...items, current];
}
