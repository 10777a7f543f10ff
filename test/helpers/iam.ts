// A small IAM policy evaluator for the template checks: explicit Deny wins, then any Allow, else
// implicit deny. Enough for identity policies with Action and Resource (with * and ? wildcards)
// and StringEquals conditions on the request's context keys; anything it does not model
// (NotAction, NotResource, other condition operators) is reported, never ignored.
// templatePolicies gives the effective policy of each principal of the template, for
// test/template/template-iam.test.ts and test/hardening/iam-least-privilege.test.ts alike.

import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import {
  functionProperties,
  isRecord,
  resourcesOfType,
  type CfnTemplate,
} from '../../local/template/sam-template.js';
import type { LocalStack } from '../../local/template/stack.js';

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: { StringEquals: Record<string, string | string[]> };
}

/** The request's condition context keys (kms:ViaService, ...). */
export type RequestContext = Record<string, string>;

export function toStatements(document: unknown): PolicyStatement[] {
  const statements = (document as { Statement?: unknown }).Statement;
  const list = Array.isArray(statements) ? statements : [statements];
  return list.map((statement) => {
    const { Effect, Action, Resource, ...rest } = statement as Record<string, unknown>;
    const { Condition, ...others } = rest;
    if (Condition !== undefined && Object.keys(Condition as object).join() !== 'StringEquals')
      throw new Error(`condition ${JSON.stringify(Condition)}: only StringEquals is modelled`);
    const unsupported = Object.keys(others).filter((key) => key !== 'Sid');
    if (unsupported.length > 0)
      throw new Error(`statement uses ${unsupported.join(', ')}, which the checks do not model`);
    if (
      (Effect !== 'Allow' && Effect !== 'Deny') ||
      Action === undefined ||
      Resource === undefined
    ) {
      throw new Error(`statement needs Effect, Action and Resource: ${JSON.stringify(statement)}`);
    }
    return statement as PolicyStatement;
  });
}

export function isAllowed(
  statements: PolicyStatement[],
  action: string,
  resource: string,
  context: RequestContext = {},
): boolean {
  const conditionHolds = (statement: PolicyStatement) =>
    Object.entries(statement.Condition?.StringEquals ?? {}).every(([key, values]) =>
      list(values).includes(context[key] ?? ''),
    );
  const applies = (statement: PolicyStatement) =>
    list(statement.Action).some((pattern) => wildcardMatch(pattern, action, true)) &&
    list(statement.Resource).some((pattern) => wildcardMatch(pattern, resource, false)) &&
    conditionHolds(statement);
  const matching = statements.filter(applies);
  if (matching.some((statement) => statement.Effect === 'Deny')) return false;
  return matching.some((statement) => statement.Effect === 'Allow');
}

export function list(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}

function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

/**
 * Actions AWS accepts only with Resource '*'; '*' as a resource is refused for every other action.
 * Each entry says why it cannot be scoped.
 */
export const STAR_ONLY_ACTIONS: Readonly<Record<string, string>> = {
  // The Service Authorization Reference (list_awsstepfunctions.html) gives SendTaskSuccess,
  // SendTaskFailure and SendTaskHeartbeat no resource type: a callback task is named by its token,
  // not by an ARN IAM could match.
  'states:SendTaskSuccess': 'callback results name a task token, not a resource',
  'states:SendTaskFailure': 'callback results name a task token, not a resource',
  'states:SendTaskHeartbeat': 'callback results name a task token, not a resource',
  // Step Functions delivers its logs through CloudWatch Logs' vended log delivery, whose APIs have
  // no resource-level permissions; AWS's documented policy for state machine logging
  // (step-functions/latest/dg/cw-logs.html) grants exactly these on '*'.
  'logs:CreateLogDelivery': 'vended log delivery: no resource-level permissions',
  'logs:GetLogDelivery': 'vended log delivery: no resource-level permissions',
  'logs:UpdateLogDelivery': 'vended log delivery: no resource-level permissions',
  'logs:DeleteLogDelivery': 'vended log delivery: no resource-level permissions',
  'logs:ListLogDeliveries': 'vended log delivery: no resource-level permissions',
  'logs:PutResourcePolicy': 'the account-wide CloudWatch Logs resource policy log delivery needs',
  'logs:DescribeResourcePolicies': 'the account-wide CloudWatch Logs resource policy, read',
  'logs:DescribeLogGroups': 'part of the documented state machine logging policy',
};

export const isStarOnly = (action: string): boolean =>
  Object.prototype.hasOwnProperty.call(STAR_ONLY_ACTIONS, action);

/** The principals of a template and their effective identity policies, as deployed as `stack`. */
export interface TemplatePolicies {
  /** Every function, state machine and role of the template, in that order. */
  principals: string[];
  /** The functions of the template. */
  functions: string[];
  /** The effective identity policy of a principal: its inline statements plus the managed
   *  policies (of this template) it references. Anything else is an error, never ignored. */
  policyOf: (id: string) => PolicyStatement[];
  /** The principals (sorted) that `policy` (policyOf by default) allows `action` on `resource`. */
  allowedBy: (
    action: string,
    resource: string,
    policy?: (id: string) => PolicyStatement[],
  ) => string[];
  /** The ARN of an MQTT topic in the stack's account and region. */
  topicArn: (topic: string) => string;
}

export function templatePolicies(template: CfnTemplate, stack: LocalStack): TemplatePolicies {
  const ids = (type: string) => resourcesOfType(template, type).map(([id]) => id);

  function managedPolicyStatements(arn: string): PolicyStatement[] {
    const found = resourcesOfType(template, 'AWS::IAM::ManagedPolicy').find(
      ([id]) => stack.refs[id] === arn,
    );
    if (found === undefined)
      throw new Error(
        `policy ${arn} is not defined in the template; the checks cannot see into it`,
      );
    return toStatements(resolveIntrinsics(found[1].Properties?.PolicyDocument, stack));
  }

  function samPolicies(owner: string, policies: unknown): PolicyStatement[] {
    return list((policies ?? []) as string | string[]).flatMap((policy: unknown) => {
      const resolved = resolveIntrinsics(policy, stack);
      if (typeof resolved === 'string') return managedPolicyStatements(resolved);
      if (isRecord(resolved) && 'Statement' in resolved) return toStatements(resolved);
      throw new Error(
        `${owner}: policy ${JSON.stringify(policy)} is not an inline statement list or a managed policy of this template`,
      );
    });
  }

  function policyOf(id: string): PolicyStatement[] {
    const resource = template.Resources[id];
    switch (resource?.Type) {
      case 'AWS::Serverless::Function':
        return samPolicies(id, functionProperties(template, id).Policies);
      case 'AWS::Serverless::StateMachine':
        return samPolicies(id, resource.Properties?.Policies);
      case 'AWS::IAM::Role':
        return ((resource.Properties?.Policies ?? []) as { PolicyDocument: unknown }[]).flatMap(
          (policy) => toStatements(resolveIntrinsics(policy.PolicyDocument, stack)),
        );
      default:
        throw new Error(`${id} is not a principal of the template`);
    }
  }

  const functions = ids('AWS::Serverless::Function');
  const principals = [
    ...functions,
    ...ids('AWS::Serverless::StateMachine'),
    ...ids('AWS::IAM::Role'),
  ];
  return {
    principals,
    functions,
    policyOf,
    allowedBy: (action, resource, policy = policyOf) =>
      principals.filter((id) => isAllowed(policy(id), action, resource)).sort(),
    topicArn: (topic) => `arn:aws:iot:${stack.region}:${stack.accountId}:topic/${topic}`,
  };
}
