import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
} from '../../functions/notifications/notification-types.js';
import { matchesTopicFilter, templateTopicRules } from '../../local/iot/topic-rules.js';
import { loadHandler } from '../../local/lambda/local-functions.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import {
  functionProperties,
  httpApiRoutes,
  isRecord,
  loadTemplate,
  resourcesOfType,
} from '../../local/template/sam-template.js';
import { SAMPLE_PUSH_TOKEN, pushEvent } from '../helpers/api-events.js';
import {
  isAllowed,
  isStarOnly,
  list,
  templatePolicies,
  type PolicyStatement,
} from '../helpers/iam.js';
import { lambdaContext } from '../helpers/lambda-context.js';
import { captureLogs } from '../helpers/logs.js';
import { sampleStack } from '../helpers/sample-stack.js';

// What test/template/template-iam.test.ts does not already hold: every policy document anywhere in
// the template (not only those reachable from a principal), wildcards inside ARNs, trust policies,
// downlink request topics with odd DevEUI levels and without the explicit Deny, every SendTask*
// action, execution control and self-modification, and the ways into a function over HTTP.

const template = loadTemplate();
const stack = sampleStack();
const prefix = stack.parameters.TopicPrefix ?? '';
const STATE_MACHINE = stack.refs.DownlinkStateMachine ?? '';

const { principals, functions, policyOf, allowedBy, topicArn } = templatePolicies(template, stack);

/**
 * Allowed resources with a '*' inside the ARN (not '*' alone), by principal, with the reason.
 * A DevEUI level is written as 16 '?', never '*' (in IAM '*' also matches '/').
 */
const WILDCARD_RESOURCES: Record<string, { resource: string; why: string }[]> = {
  ReportDownlinkFailureFunction: [
    {
      resource: topicArn(`${prefix}/*/downlink/status`),
      why: 'an invalid request is answered on its own topic level, whatever that level is',
    },
  ],
};

interface Document {
  where: string;
  statements: Record<string, unknown>[];
}

/** Every policy document of the template: any object with a Statement, wherever it sits. */
function policyDocuments(): Document[] {
  const found: Document[] = [];
  const walk = (value: unknown, where: string) => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        walk(item, `${where}[${String(index)}]`);
      });
      return;
    }
    if (!isRecord(value)) return;
    if ('Statement' in value) {
      const resolved = resolveIntrinsics(value, stack) as { Statement: unknown };
      const statements = Array.isArray(resolved.Statement)
        ? resolved.Statement
        : [resolved.Statement];
      found.push({ where, statements: statements as Record<string, unknown>[] });
      return;
    }
    for (const [key, item] of Object.entries(value)) walk(item, `${where}.${key}`);
  };
  for (const [id, resource] of Object.entries(template.Resources)) walk(resource, id);
  return found;
}

const documents = policyDocuments();

/** The downlink state machine's definition, as the template carries it. */
function downlinkDefinition(): { States: Record<string, Record<string, unknown>> } {
  return template.Resources.DownlinkStateMachine?.Properties?.Definition as {
    States: Record<string, Record<string, unknown>>;
  };
}
const isTrustPolicy = (statement: Record<string, unknown>) => 'Principal' in statement;
const identityStatements = documents.flatMap(({ where, statements }) =>
  statements
    .filter((statement) => !isTrustPolicy(statement))
    .map((statement) => ({ where, statement })),
);
const strings = (value: unknown): string[] =>
  value === undefined ? [] : list(value as string | string[]);

const allowStatementsOf = (id: string) =>
  policyOf(id).filter((statement) => statement.Effect === 'Allow');
const inboundFunctions = NOTIFICATION_TYPES.map(
  (type) => NOTIFICATION_DEFINITIONS[type].functionId,
);

// DevEUI levels an application (or an attacker) could put in a downlink request topic: the rule's
// '+' takes any single level, including an empty one, and the connector only validates it later.
const ODD_DEVICE_LEVELS = [
  '70b3d57ed0001a2b',
  '70B3D57ED0001A2B',
  '0x70b3d57ed0001a2b',
  '70-b3-d5-7e-d0-00-1a-2b',
  '',
  '?',
  '*',
  '????????????????',
  '****************',
  'zzzzzzzzzzzzzzzz',
  '70b3d57ed0001a2',
  '70b3d57ed0001a2b0',
  'uplink',
  'downlink',
  '..',
  ' ',
  'é'.repeat(16),
  'x'.repeat(300),
];
// The template's one IoT rule starts the downlink lifecycle: its filter is what a request is.
const downlinkRequestTopics = templateTopicRules(template, stack)
  .filter((rule) => rule.id === 'DownlinkRule')
  .flatMap((rule) => ODD_DEVICE_LEVELS.map((level) => rule.topicFilter.replace('+', level)));

/**
 * The one kind of invoke permission the template may grant: IoT, from one of the template's own
 * topic rules (by its ARN), in this account, on the device-state function.
 */
function isDeviceStateRulePermission(properties: Record<string, unknown>): boolean {
  const sourceArn = properties.SourceArn as { 'Fn::GetAtt'?: [string, string] } | undefined;
  const [rule, attribute] = sourceArn?.['Fn::GetAtt'] ?? [];
  return (
    properties.Principal === 'iot.amazonaws.com' &&
    properties.Action === 'lambda:InvokeFunction' &&
    JSON.stringify(properties.FunctionName) === JSON.stringify({ Ref: 'DeviceStateFunction' }) &&
    JSON.stringify(properties.SourceAccount) === JSON.stringify({ Ref: 'AWS::AccountId' }) &&
    attribute === 'Arn' &&
    template.Resources[rule ?? '']?.Type === 'AWS::IoT::TopicRule'
  );
}

describe('Hardening: IAM least privilege', () => {
  describe('every policy document of the template', () => {
    it("holds every statement of every principal's effective policy, so none escapes the checks", () => {
      const found = identityStatements.map(({ statement }) => statement);
      for (const id of principals)
        for (const statement of policyOf(id)) expect(found, id).toContainEqual(statement);
    });

    it('allows no action with a wildcard, and nothing through NotAction or NotResource', () => {
      const broad = identityStatements.filter(
        ({ statement }) =>
          statement.Effect === 'Allow' &&
          ('NotAction' in statement ||
            'NotResource' in statement ||
            strings(statement.Action).some((action) => /[*?]/.test(action))),
      );
      expect(broad).toEqual([]);
    });

    it("allows '*' as resource only for the actions AWS accepts nothing else for", () => {
      const starred = identityStatements.filter(
        ({ statement }) =>
          statement.Effect === 'Allow' &&
          strings(statement.Resource).includes('*') &&
          strings(statement.Action).some((action) => !isStarOnly(action)),
      );
      expect(starred).toEqual([]);
    });

    it('allows a wildcard inside an ARN only where the list above explains it', () => {
      const wildcards = principals.flatMap((id) =>
        allowStatementsOf(id).flatMap((statement) =>
          list(statement.Resource)
            .filter((resource) => resource !== '*' && resource.includes('*'))
            .filter(
              (resource) =>
                !(WILDCARD_RESOURCES[id] ?? []).some((allowed) => allowed.resource === resource),
            )
            .map((resource) => ({ id, resource })),
        ),
      );
      expect(wildcards).toEqual([]);
    });

    it("names this stack's partition, region and account in every allowed ARN", () => {
      const foreign = identityStatements.flatMap(({ where, statement }) =>
        statement.Effect === 'Allow'
          ? strings(statement.Resource)
              .filter((resource) => resource !== '*')
              .filter((resource) => {
                const [arn, partition, , region, account] = resource.split(':');
                return (
                  arn !== 'arn' ||
                  partition !== 'aws' ||
                  region !== stack.region ||
                  account !== stack.accountId
                );
              })
              .map((resource) => ({ where, resource }))
          : [],
      );
      expect(foreign).toEqual([]);
    });
  });

  describe('trust policies', () => {
    const trusts = documents.filter(({ where }) => where.endsWith('.AssumeRolePolicyDocument'));

    it('exist for every role of the template', () => {
      expect(trusts.map(({ where }) => where.split('.')[0]).sort()).toEqual(
        resourcesOfType(template, 'AWS::IAM::Role')
          .map(([id]) => id)
          .sort(),
      );
    });

    it("let only AWS IoT assume a role, and only on this account's behalf", () => {
      for (const { where, statements } of trusts) {
        expect(statements, where).toEqual([
          {
            Effect: 'Allow',
            Principal: { Service: 'iot.amazonaws.com' },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'aws:SourceAccount': stack.accountId } },
          },
        ]);
      }
    });
  });

  describe('resource policies', () => {
    const resourcePolicies = documents.filter(
      ({ where, statements }) =>
        !where.endsWith('.AssumeRolePolicyDocument') && statements.some(isTrustPolicy),
    );

    const policyAt = (where: string) =>
      resourcePolicies.find((policy) => policy.where === where)?.statements;

    it("are only the alarm topic key's and the dead-letter queue's", () => {
      expect(resourcePolicies.map(({ where }) => where).sort()).toEqual([
        'AlarmTopicKey.Properties.KeyPolicy',
        'DownlinkDeadLetterQueuePolicy.Properties.PolicyDocument',
      ]);
    });

    it('let only the failed-executions rule send to the dead-letter queue, through EventBridge', () => {
      expect(policyAt('DownlinkDeadLetterQueuePolicy.Properties.PolicyDocument')).toEqual([
        {
          Sid: 'FailedExecutionsFromTheRule',
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: stack.attributes['DownlinkDeadLetterQueue.Arn'],
          Condition: {
            ArnEquals: { 'aws:SourceArn': stack.attributes['DownlinkExecutionsFailedRule.Arn'] },
          },
        },
      ]);
    });

    it("let the account administer the alarm topic's key, and this account's alarms use it", () => {
      expect(policyAt('AlarmTopicKey.Properties.KeyPolicy')).toEqual([
        {
          Sid: 'AccountAdministersTheKey',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${stack.accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
        {
          Sid: 'AlarmsOfThisAccountPublish',
          Effect: 'Allow',
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          Resource: '*',
          Condition: { StringEquals: { 'aws:SourceAccount': stack.accountId } },
        },
      ]);
    });
  });

  describe('downlink requests', () => {
    it("takes the request topics from the template's IoT rule", () => {
      expect(downlinkRequestTopics.length).toBe(ODD_DEVICE_LEVELS.length);
      for (const topic of downlinkRequestTopics.filter((each) => !/[+#]/.test(each)))
        expect(
          templateTopicRules(template, stack).some((rule) =>
            matchesTopicFilter(rule.topicFilter, topic),
          ),
          topic,
        ).toBe(true);
    });

    it.each(downlinkRequestTopics.map((topic) => [JSON.stringify(topic), topic]))(
      'lets no principal publish on %s',
      (_, topic) => {
        expect(allowedBy('iot:Publish', topicArn(topic))).toEqual([]);
        expect(allowedBy('iot:RetainPublish', topicArn(topic))).toEqual([]);
      },
    );

    it('lets no principal publish a downlink request even without the explicit Deny', () => {
      for (const topic of downlinkRequestTopics)
        expect(allowedBy('iot:Publish', topicArn(topic), allowStatementsOf), topic).toEqual([]);
    });

    it('denies every function the downlink request topics explicitly, whatever its own policy', () => {
      const permissive: PolicyStatement = {
        Effect: 'Allow',
        Action: 'iot:Publish',
        Resource: topicArn(`${prefix}/*`),
      };
      for (const id of functions)
        for (const topic of downlinkRequestTopics)
          expect(
            isAllowed([...policyOf(id), permissive], 'iot:Publish', topicArn(topic)),
            `${id} on ${JSON.stringify(topic)}`,
          ).toBe(false);
    });

    it('notices a policy whose allow reaches a downlink request (the check itself works)', () => {
      const wildcardLevel: PolicyStatement = {
        Effect: 'Allow',
        Action: 'iot:Publish',
        Resource: topicArn(`${prefix}/*`),
      };
      expect(
        downlinkRequestTopics.every((topic) =>
          isAllowed([wildcardLevel], 'iot:Publish', topicArn(topic)),
        ),
      ).toBe(true);
    });
  });

  describe('executions', () => {
    const TASK_RESULTS = [
      'states:SendTaskSuccess',
      'states:SendTaskFailure',
      'states:SendTaskHeartbeat',
    ];
    // The status function ends a send task on a downlink's final status; the send function ends its
    // own, when that status came before the POST was recorded.
    const STATUS_PATH = ['DownlinkStatusFunction', 'SendDownlinkFunction'];
    const TARGETS = [
      '*',
      STATE_MACHINE,
      `arn:aws:states:${stack.region}:${stack.accountId}:activity:any`,
      `arn:aws:states:${stack.region}:${stack.accountId}:stateMachine:other`,
    ];

    it.each(TASK_RESULTS)('lets only the functions that end a send task send %s', (action) => {
      for (const target of TARGETS) {
        const allowed = allowedBy(action, target);
        expect(
          allowed.filter((id) => !STATUS_PATH.includes(id)),
          target,
        ).toEqual([]);
      }
    });

    it.each(['states:SendTaskSuccess', 'states:SendTaskFailure'])(
      'lets both functions that end a send task %s, and no inbound function but the status one',
      (action) => {
        expect(allowedBy(action, '*')).toEqual(STATUS_PATH);
        expect(inboundFunctions.filter((id) => isAllowed(policyOf(id), action, '*'))).toEqual([
          'DownlinkStatusFunction',
        ]);
      },
    );

    it('lets no function keep a task alive with heartbeats: no task of the state machine has HeartbeatSeconds', () => {
      expect(allowedBy('states:SendTaskHeartbeat', '*')).toEqual([]);
      const states = Object.values(downlinkDefinition().States);
      expect(states.filter((state) => 'HeartbeatSeconds' in state)).toEqual([]);
    });

    it.each([
      'states:StartExecution',
      'states:StartSyncExecution',
      'states:StopExecution',
      'states:RedriveExecution',
    ])('lets no function %s, on any state machine', (action) => {
      for (const target of TARGETS)
        expect(
          functions.filter((id) => isAllowed(policyOf(id), action, target)),
          target,
        ).toEqual([]);
    });

    it('lets only the IoT rule start executions, and the state machine never start itself', () => {
      for (const target of TARGETS)
        expect(
          allowedBy('states:StartExecution', target).filter((id) => id !== 'DownlinkRuleRole'),
          target,
        ).toEqual([]);
    });
  });

  describe('the connector itself', () => {
    const resources = {
      function: stack.attributes['UplinkFunction.Arn'] ?? '',
      // The alias the state machine invokes the send task through.
      alias: stack.refs['SendDownlinkFunction.Alias'] ?? '',
      secret: stack.refs.PushTokenSecret ?? '',
      rule: `arn:aws:iot:${stack.region}:${stack.accountId}:rule/${stack.refs.DownlinkRule ?? ''}`,
      role: stack.attributes['DownlinkRuleRole.Arn'] ?? '',
    };

    it.each([
      ['lambda:InvokeFunction', resources.function],
      ['lambda:InvokeFunction', resources.alias],
      ['lambda:UpdateFunctionCode', resources.function],
      ['lambda:UpdateFunctionConfiguration', resources.function],
      ['secretsmanager:PutSecretValue', resources.secret],
      ['secretsmanager:UpdateSecret', resources.secret],
      ['iot:ReplaceTopicRule', resources.rule],
      ['iot:CreateTopicRule', resources.rule],
      ['iam:PassRole', resources.role],
      ['sts:AssumeRole', resources.role],
      ['states:UpdateStateMachine', STATE_MACHINE],
    ])("lets no function %s on the connector's own resources", (action, resource) => {
      expect(resource).toMatch(/^arn:aws:/);
      expect(functions.filter((id) => isAllowed(policyOf(id), action, resource))).toEqual([]);
    });
  });

  describe('ways in over HTTP', () => {
    const routedFunctions = [...new Set(httpApiRoutes(template).map((route) => route.functionId))];
    const iot = mockClient(IoTDataPlaneClient);
    const secrets = mockClient(SecretsManagerClient);
    const dynamoDb = mockClient(DynamoDBClient);
    const sfn = mockClient(SFNClient);

    it('has one API, the push API, and no function URL or other way to invoke a function', () => {
      const entries = Object.entries(template.Resources)
        .filter(([, resource]) =>
          /^AWS::(Serverless::(Api|HttpApi)|ApiGateway|ApiGatewayV2|Lambda::(Url|Permission))/.test(
            resource.Type,
          ),
        )
        .filter(([, resource]) => !isDeviceStateRulePermission(resource.Properties ?? {}))
        .map(([id, resource]) => `${id} ${resource.Type}`);
      expect(entries).toEqual(['PushApi AWS::Serverless::HttpApi']);
      expect(
        functions.filter((id) => 'FunctionUrlConfig' in functionProperties(template, id)),
      ).toEqual([]);
    });

    it("lets IoT invoke the device-state function only from the template's own rules, in this account", () => {
      const permissions = Object.entries(template.Resources).filter(
        ([, resource]) => resource.Type === 'AWS::Lambda::Permission',
      );
      expect(permissions.length).toBeGreaterThan(0);
      for (const [id, { Properties = {} }] of permissions)
        expect(isDeviceStateRulePermission(Properties), id).toBe(true);
    });

    it('defines routes only through function events: no OpenAPI body, no default route', () => {
      const api = template.Resources.PushApi?.Properties ?? {};
      expect(Object.keys(api).filter((key) => /^Definition/.test(key))).toEqual([]);
      for (const route of httpApiRoutes(template)) {
        expect(route.apiId, route.eventId).toBe('PushApi');
        expect(['POST', 'PUT'], route.path).toContain(route.method);
        expect(route.path).toMatch(/^\/rest\/callback\/[a-z_/]+$/);
      }
    });

    it('gives functions no event but HttpApi events on the push API, and the task functions none', () => {
      const events = functions.flatMap((id) => {
        const configured = functionProperties(template, id).Events;
        return Object.entries(isRecord(configured) ? configured : {}).map(([eventId, event]) => ({
          id,
          eventId,
          type: isRecord(event) ? event.Type : undefined,
        }));
      });
      expect(events.filter((event) => event.type !== 'HttpApi')).toEqual([]);
      expect([...new Set(events.map((event) => event.id))].sort()).toEqual(
        [...inboundFunctions].sort(),
      );
    });

    describe.each(routedFunctions)('%s, as the template builds its handler', (functionId) => {
      const route = httpApiRoutes(template).find((each) => each.functionId === functionId);

      beforeEach(() => {
        for (const client of [iot, secrets, dynamoDb, sfn]) client.reset();
        secrets.on(GetSecretValueCommand).resolves({ SecretString: SAMPLE_PUSH_TOKEN });
        captureLogs();
      });

      type PushHandler = (
        event: APIGatewayProxyEventV2,
        context: Context,
      ) => Promise<APIGatewayProxyStructuredResultV2>;
      const handlerOf = () => loadHandler(template, stack, functionId) as PushHandler;

      it.each([
        ['without an Authorization header', null],
        ['with a wrong token', 'Bearer wrong-token'],
      ])(
        'refuses a request %s with 401 and asks nothing of AWS but the token',
        async (_, authorization) => {
          // Prepare
          const handler = handlerOf();
          const event = pushEvent({ path: route?.path ?? '', body: '{}', authorization });

          // Act
          const response = await handler(event, lambdaContext);

          // Assess
          expect(response.statusCode).toBe(401);
          expect(iot.calls()).toEqual([]);
          expect(dynamoDb.calls()).toEqual([]);
          expect(sfn.calls()).toEqual([]);
          expect(secrets.calls()).toHaveLength(authorization === null ? 0 : 1);
        },
      );
    });
  });
});
