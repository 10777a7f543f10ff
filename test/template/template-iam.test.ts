import { describe, expect, it } from 'vitest';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
} from '../../functions/notifications/notification-types.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import {
  functionProperties,
  isRecord,
  loadTemplate,
  resourcesOfType,
} from '../../local/template/sam-template.js';
import { describeStack } from '../../local/template/stack.js';
import { isAllowed, list, toStatements, type PolicyStatement } from '../helpers/iam.js';

// Least privilege, checked by evaluating each function's effective policy (its inline statements
// plus the managed policies it references) against concrete actions and ARNs.

const template = loadTemplate();
const stack = describeStack(template, {
  parameters: { OrbiwanBaseUrl: 'https://orbiwan.example.com' },
});
const prefix = stack.parameters.TopicPrefix ?? '';
const topicArn = (topic: string) => `arn:aws:iot:${stack.region}:${stack.accountId}:topic/${topic}`;
const DEV_EUI = '0011223344556677';

function managedPolicyStatements(arn: string): PolicyStatement[] {
  const found = resourcesOfType(template, 'AWS::IAM::ManagedPolicy').find(
    ([id]) => stack.refs[id] === arn,
  );
  if (found === undefined)
    throw new Error(`policy ${arn} is not defined in the template; the checks cannot see into it`);
  return toStatements(resolveIntrinsics(found[1].Properties?.PolicyDocument, stack));
}

function policyOf(functionId: string): PolicyStatement[] {
  const policies = list(functionProperties(template, functionId).Policies as string | string[]);
  return policies.flatMap((policy: unknown) => {
    const resolved = resolveIntrinsics(policy, stack);
    if (typeof resolved === 'string') return managedPolicyStatements(resolved);
    if (isRecord(resolved) && 'Statement' in resolved) return toStatements(resolved);
    throw new Error(
      `${functionId}: policy ${JSON.stringify(policy)} is not an inline statement list or a managed policy of this template`,
    );
  });
}

function allStatements(): PolicyStatement[] {
  const functions = resourcesOfType(template, 'AWS::Serverless::Function').flatMap(([id]) =>
    policyOf(id),
  );
  const managed = resourcesOfType(template, 'AWS::IAM::ManagedPolicy').flatMap(([id]) =>
    managedPolicyStatements(stack.refs[id] ?? ''),
  );
  return [...functions, ...managed];
}

function topicsOf(type: (typeof NOTIFICATION_TYPES)[number]): string[] {
  const { topicSuffix } = NOTIFICATION_DEFINITIONS[type];
  return type === 'appchange'
    ? [`${prefix}/${topicSuffix}`]
    : type === 'alarm'
      ? [`${prefix}/${DEV_EUI}/alarm`, `${prefix}/alarm`]
      : [`${prefix}/${DEV_EUI}/${topicSuffix}`];
}

describe('Template: IAM', () => {
  it('grants no Allow on every action or every resource', () => {
    const broad = allStatements().filter(
      (statement) =>
        statement.Effect === 'Allow' &&
        (list(statement.Action).some((action) => action.endsWith('*')) ||
          list(statement.Resource).includes('*')),
    );
    expect(broad).toEqual([]);
  });

  describe.each(NOTIFICATION_TYPES)('%s function', (type) => {
    const policy = policyOf(NOTIFICATION_DEFINITIONS[type].functionId);

    it('may publish to its own topic', () => {
      for (const topic of topicsOf(type))
        expect(isAllowed(policy, 'iot:Publish', topicArn(topic))).toBe(true);
    });

    it('may not publish a downlink, so a forged notification can never become one', () => {
      expect(isAllowed(policy, 'iot:Publish', topicArn(`${prefix}/${DEV_EUI}/downlink`))).toBe(
        false,
      );
    });

    it("may not publish to another type's topic or outside the prefix", () => {
      const others = NOTIFICATION_TYPES.filter((other) => other !== type).flatMap(topicsOf);
      for (const topic of [...others, `other/${DEV_EUI}/uplink`, `${prefix}-x/${DEV_EUI}/uplink`]) {
        expect(isAllowed(policy, 'iot:Publish', topicArn(topic)), topic).toBe(false);
      }
    });

    it('may read the push token and no other secret', () => {
      const pushToken = stack.refs.PushTokenSecret ?? '';
      expect(isAllowed(policy, 'secretsmanager:GetSecretValue', pushToken)).toBe(true);
      expect(
        isAllowed(
          policy,
          'secretsmanager:GetSecretValue',
          pushToken.replace('PushTokenSecret', 'OrbiwanCredentials'),
        ),
      ).toBe(false);
    });

    it('may do nothing else', () => {
      const actions = new Set(
        policy.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action)),
      );
      expect([...actions].sort()).toEqual(['iot:Publish', 'secretsmanager:GetSecretValue']);
    });
  });

  it('lets only the notification functions read the push token', () => {
    const readers = resourcesOfType(template, 'AWS::Serverless::Function')
      .filter(([id]) =>
        isAllowed(policyOf(id), 'secretsmanager:GetSecretValue', stack.refs.PushTokenSecret ?? ''),
      )
      .map(([id]) => id)
      .sort();
    expect(readers).toEqual(
      NOTIFICATION_TYPES.map((type) => NOTIFICATION_DEFINITIONS[type].functionId).sort(),
    );
  });

  it('notices a policy that would allow a downlink (the check itself works)', () => {
    const tooBroad = toStatements({
      Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: topicArn(`${prefix}/*`) }],
    });
    expect(isAllowed(tooBroad, 'iot:Publish', topicArn(`${prefix}/${DEV_EUI}/downlink`))).toBe(
      true,
    );
  });
});
