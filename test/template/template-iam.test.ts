import { describe, expect, it } from 'vitest';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
  type NotificationType,
} from '../../functions/notifications/notification-types.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import {
  STAR_ONLY_ACTIONS,
  isAllowed,
  isStarOnly,
  list,
  templatePolicies,
  toStatements,
} from '../helpers/iam.js';
import { sampleStack } from '../helpers/sample-stack.js';

// Least privilege, checked by evaluating each principal's effective policy (its inline statements
// plus the managed policies it references) against concrete actions and ARNs.

const template = loadTemplate();
const stack = sampleStack();
const { principals, functions, policyOf, allowedBy, topicArn } = templatePolicies(template, stack);
const ref = (id: string) => stack.refs[id] ?? '';
const attribute = (name: string) => stack.attributes[name] ?? '';
const prefix = stack.parameters.TopicPrefix ?? '';
const DEV_EUI = '0011223344556677';
const DOWNLINK_REQUEST = topicArn(`${prefix}/${DEV_EUI}/downlink`);
const DOWNLINK_STATUS = topicArn(`${prefix}/${DEV_EUI}/downlink/status`);
const TABLE = attribute('DownlinksTable.Arn');
const PUSH_TOKEN = ref('PushTokenSecret');
const ORBIWAN_CREDENTIALS = stack.parameters.OrbiwanCredentialsSecretArn ?? '';
const STATE_MACHINE = ref('DownlinkStateMachine');

const notificationFunction = (type: NotificationType) => NOTIFICATION_DEFINITIONS[type].functionId;

const NOTIFICATION_ACTIONS = ['iot:Publish', 'secretsmanager:GetSecretValue'];
const EXPECTED_ACTIONS: Record<string, string[]> = {
  ...Object.fromEntries(
    NOTIFICATION_TYPES.map((type) => [notificationFunction(type), NOTIFICATION_ACTIONS]),
  ),
  DownlinkStatusFunction: [
    ...NOTIFICATION_ACTIONS,
    'dynamodb:GetItem',
    'dynamodb:UpdateItem',
    'states:SendTaskSuccess',
  ],
  ValidateDownlinkFunction: [],
  SendToOrbiwanFunction: [
    'dynamodb:DeleteItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'iot:Publish',
    'secretsmanager:GetSecretValue',
  ],
  WaitForStatusFunction: ['dynamodb:UpdateItem', 'states:SendTaskSuccess'],
  CheckDownlinkStatusFunction: [
    'dynamodb:GetItem',
    'dynamodb:UpdateItem',
    'iot:Publish',
    'secretsmanager:GetSecretValue',
  ],
  ReportDownlinkFailureFunction: ['iot:Publish'],
  // Optional (ConfigureOrbiwanPushMode): hands the push token to OrbiWAN, logged in as the connector.
  PushModeFunction: ['secretsmanager:GetSecretValue'],
  DownlinkStateMachine: [
    'lambda:InvokeFunction',
    ...Object.keys(STAR_ONLY_ACTIONS).filter((action) => action.startsWith('logs:')),
  ],
  DownlinkRuleRole: ['states:StartExecution'],
  DownlinkRuleErrorRole: ['sqs:SendMessage'],
};

function topicsOf(type: NotificationType): string[] {
  const { topicSuffix } = NOTIFICATION_DEFINITIONS[type];
  if (type === 'appchange') return [`${prefix}/${topicSuffix}`];
  if (type === 'alarm') return [`${prefix}/${DEV_EUI}/alarm`, `${prefix}/alarm`];
  return [`${prefix}/${DEV_EUI}/${topicSuffix}`];
}

describe('Template: IAM', () => {
  it('knows the permissions of every principal in the template', () => {
    expect([...principals].sort()).toEqual(Object.keys(EXPECTED_ACTIONS).sort());
  });

  it.each(Object.entries(EXPECTED_ACTIONS))('lets %s do only what it needs', (id, actions) => {
    const allowed = new Set(
      policyOf(id)
        .filter((statement) => statement.Effect === 'Allow')
        .flatMap((statement) => list(statement.Action)),
    );
    expect([...allowed].sort()).toEqual([...actions].sort());
  });

  it("grants no wildcard action, and '*' as resource only where AWS allows nothing else", () => {
    const broad = principals.flatMap((id) =>
      policyOf(id)
        .filter((statement) => statement.Effect === 'Allow')
        .filter(
          (statement) =>
            list(statement.Action).some((action) => action.includes('*')) ||
            (list(statement.Resource).includes('*') &&
              list(statement.Action).some((action) => !isStarOnly(action))),
        )
        .map((statement) => ({ id, statement })),
    );
    expect(broad).toEqual([]);
  });

  it('lets no function publish a downlink request, so no notification can ever become one', () => {
    expect(allowedBy('iot:Publish', DOWNLINK_REQUEST)).toEqual([]);
    for (const id of functions)
      expect(
        policyOf(id).some((statement) => statement.Effect === 'Deny'),
        id,
      ).toBe(true);
  });

  describe.each(NOTIFICATION_TYPES)('%s function', (type) => {
    const policy = policyOf(notificationFunction(type));

    it('may publish to its own topic', () => {
      for (const topic of topicsOf(type))
        expect(isAllowed(policy, 'iot:Publish', topicArn(topic))).toBe(true);
    });

    it("may not publish to another type's topic or outside the prefix", () => {
      const others = NOTIFICATION_TYPES.filter((other) => other !== type).flatMap(topicsOf);
      for (const topic of [...others, `other/${DEV_EUI}/uplink`, `${prefix}-x/${DEV_EUI}/uplink`]) {
        expect(isAllowed(policy, 'iot:Publish', topicArn(topic)), topic).toBe(false);
      }
    });
  });

  it('lets only the notification functions and the push mode function read the push token', () => {
    expect(allowedBy('secretsmanager:GetSecretValue', PUSH_TOKEN)).toEqual(
      [...NOTIFICATION_TYPES.map(notificationFunction), 'PushModeFunction'].sort(),
    );
  });

  it('lets only the functions that call OrbiWAN read its credentials, and no one any other secret', () => {
    expect(allowedBy('secretsmanager:GetSecretValue', ORBIWAN_CREDENTIALS)).toEqual([
      'CheckDownlinkStatusFunction',
      'PushModeFunction',
      'SendToOrbiwanFunction',
    ]);
    expect(
      allowedBy('secretsmanager:GetSecretValue', PUSH_TOKEN.replace('PushTokenSecret', 'Other')),
    ).toEqual([]);
  });

  it('lets only the status and wait functions resume executions', () => {
    expect(allowedBy('states:SendTaskSuccess', '*')).toEqual([
      'DownlinkStatusFunction',
      'WaitForStatusFunction',
    ]);
  });

  it('lets the rule start this state machine and no other, and its error action only fill the dead-letter queue', () => {
    expect(allowedBy('states:StartExecution', STATE_MACHINE)).toEqual(['DownlinkRuleRole']);
    expect(
      isAllowed(policyOf('DownlinkRuleRole'), 'states:StartExecution', `${STATE_MACHINE}-other`),
    ).toBe(false);
    expect(allowedBy('sqs:SendMessage', attribute('DownlinkDeadLetterQueue.Arn'))).toEqual([
      'DownlinkRuleErrorRole',
    ]);
  });

  it('lets the state machine invoke its five task functions and no other function', () => {
    const tasks = [
      'ValidateDownlinkFunction',
      'SendToOrbiwanFunction',
      'WaitForStatusFunction',
      'CheckDownlinkStatusFunction',
      'ReportDownlinkFailureFunction',
    ];
    for (const id of functions) {
      expect(
        isAllowed(
          policyOf('DownlinkStateMachine'),
          'lambda:InvokeFunction',
          attribute(`${id}.Arn`),
        ),
        id,
      ).toBe(tasks.includes(id));
    }
  });

  it('scopes DynamoDB access to the downlinks table', () => {
    const otherTable = TABLE.replace(/table\/.*/, 'table/other');
    for (const action of [
      'dynamodb:UpdateItem',
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
    ]) {
      expect(allowedBy(action, otherTable)).toEqual([]);
    }
  });

  it('lets the downlink functions publish statuses only', () => {
    for (const id of [
      'SendToOrbiwanFunction',
      'CheckDownlinkStatusFunction',
      'ReportDownlinkFailureFunction',
    ]) {
      expect(isAllowed(policyOf(id), 'iot:Publish', DOWNLINK_STATUS), id).toBe(true);
      expect(
        isAllowed(policyOf(id), 'iot:Publish', topicArn(`${prefix}/${DEV_EUI}/uplink`)),
        id,
      ).toBe(false);
    }
  });

  it('notices a policy that would allow a downlink (the check itself works)', () => {
    const tooBroad = toStatements({
      Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: topicArn(`${prefix}/*`) }],
    });
    expect(isAllowed(tooBroad, 'iot:Publish', DOWNLINK_REQUEST)).toBe(true);
  });
});
