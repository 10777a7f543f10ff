import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
  type NotificationType,
} from '../../functions/notifications/notification-types.js';
import { functionEnvironment } from '../../local/lambda/function-environment.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import { loadTemplate, parameterViolation } from '../../local/template/sam-template.js';
import {
  DEV_EUI as HARNESS_DEVICE,
  PREFIX as HARNESS_PREFIX,
  acceptDownlinks,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../helpers/downlink-harness.js';
import {
  STAR_ONLY_ACTIONS,
  isAllowed,
  isStarOnly,
  list,
  templatePolicies,
  type RequestContext,
  toStatements,
} from '../helpers/iam.js';
import { captureLogs } from '../helpers/logs.js';
import { sampleStack } from '../helpers/sample-stack.js';

// Least privilege, checked by evaluating each principal's effective policy (its inline statements
// plus the managed policies it references) against concrete actions and ARNs, and against what
// each function was seen to ask of AWS in downlinks' lives on the local stack.

const template = loadTemplate();
// With everything optional on, so that every principal is checked.
const ALL_ON = { PayloadCodecs: 'Enabled', DeviceShadows: 'Enabled' };
const stack = sampleStack(ALL_ON);
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
  // Records OrbiWAN's statuses with their downlink, publishes them, and ends the send task.
  DownlinkStatusFunction: [
    ...NOTIFICATION_ACTIONS,
    'dynamodb:GetItem',
    'dynamodb:UpdateItem',
    'states:SendTaskSuccess',
    'states:SendTaskFailure',
  ],
  // Claims the requestId, takes the device's lease, POSTs, records; ends its own task when a
  // final status came before its record.
  SendDownlinkFunction: [
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'iot:Publish',
    'secretsmanager:GetSecretValue',
    'states:SendTaskSuccess',
    'states:SendTaskFailure',
  ],
  // Its task is over when it runs: it publishes how the downlink ended, and never ends a task.
  CheckDownlinkStatusFunction: [
    'dynamodb:GetItem',
    'dynamodb:UpdateItem',
    'iot:Publish',
    'secretsmanager:GetSecretValue',
  ],
  // Reads whether OrbiWAN queued the downlink, to name it in the error status.
  ReportDownlinkFailureFunction: ['dynamodb:GetItem', 'iot:Publish'],
  // Optional (ConfigureOrbiwanPushMode): hands the push token to OrbiWAN, logged in as the connector.
  PushModeFunction: ['secretsmanager:GetSecretValue'],
  // Its tasks' functions, EncodeObject's among them with PayloadCodecs.
  DownlinkStateMachine: [
    'lambda:InvokeFunction',
    ...Object.keys(STAR_ONLY_ACTIONS).filter((action) => action.startsWith('logs:')),
  ],
  DownlinkRuleRole: ['states:StartExecution'],
  DownlinkRuleErrorRole: ['sqs:SendMessage'],
  // Optional (PayloadCodecs, DeviceShadows): reads codecs, publishes decoded uplinks, keeps the
  // devices' shadows; asks OrbiWAN for a device's profile when a codec is attached by profile.
  DeviceStateFunction: [
    'dynamodb:GetItem',
    'dynamodb:Query',
    'iot:GetThingShadow',
    'iot:Publish',
    'iot:UpdateThingShadow',
    'secretsmanager:GetSecretValue',
  ],
};

/** The tasks of the downlink state machine (and EncodeObject's, with PayloadCodecs). */
const TASK_FUNCTIONS = [
  'CheckDownlinkStatusFunction',
  'ReportDownlinkFailureFunction',
  'SendDownlinkFunction',
];
const ENCODE_OBJECT_FUNCTION = 'DeviceStateFunction';

function topicsOf(type: NotificationType): string[] {
  const { topicSuffix, device } = NOTIFICATION_DEFINITIONS[type];
  const perDevice = `${prefix}/${DEV_EUI}/${topicSuffix}`;
  const perPrefix = `${prefix}/${topicSuffix}`;
  return { required: [perDevice], optional: [perDevice, perPrefix], none: [perPrefix] }[device];
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
      'DeviceStateFunction',
      'PushModeFunction',
      'SendDownlinkFunction',
    ]);
    expect(
      allowedBy('secretsmanager:GetSecretValue', PUSH_TOKEN.replace('PushTokenSecret', 'Other')),
    ).toEqual([]);
  });

  it('lets the functions that read the OrbiWAN credentials decrypt them with their own KMS key, through Secrets Manager only', () => {
    const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const viaSecretsManager = { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' };
    const decrypters = (parameters: Record<string, string>, context: RequestContext) => {
      const own = templatePolicies(template, sampleStack({ ...ALL_ON, ...parameters }));
      return own.principals.filter((id) =>
        isAllowed(own.policyOf(id), 'kms:Decrypt', KEY, context),
      );
    };

    expect(decrypters({ OrbiwanCredentialsKmsKeyArn: KEY }, viaSecretsManager).sort()).toEqual([
      'CheckDownlinkStatusFunction',
      'DeviceStateFunction',
      'PushModeFunction',
      'SendDownlinkFunction',
    ]);
    expect(decrypters({ OrbiwanCredentialsKmsKeyArn: KEY }, {})).toEqual([]);
    expect(decrypters({}, viaSecretsManager)).toEqual([]);
  });

  it('takes only a complete secret ARN, which IAM can match, and a KMS key by its key ARN', () => {
    const parameters = template.Parameters ?? {};
    const secret = parameters.OrbiwanCredentialsSecretArn;
    const key = parameters.OrbiwanCredentialsKmsKeyArn;
    if (secret === undefined || key === undefined) throw new Error('parameters missing');

    expect(parameterViolation(secret, ORBIWAN_CREDENTIALS)).toBeUndefined();
    expect(parameterViolation(secret, ORBIWAN_CREDENTIALS.replace(/-AbCdEf$/, ''))).toMatch(
      /complete ARN/,
    );
    expect(parameterViolation(key, '')).toBeUndefined();
    expect(
      parameterViolation(key, 'arn:aws:kms:eu-west-1:123456789012:alias/orbiwan'),
    ).toBeDefined();
  });

  it('scopes the device-state function to the codecs table, the decoded topic and the named shadow', () => {
    const policy = policyOf('DeviceStateFunction');
    const codecs = attribute('DeviceCodecsTable.Arn');
    const thing = (name: string, shadow: string) =>
      `arn:aws:iot:${stack.region}:${stack.accountId}:thing/${name}/${shadow}`;
    expect(codecs).not.toBe('');
    expect(isAllowed(policy, 'dynamodb:Query', codecs)).toBe(true);
    expect(isAllowed(policy, 'dynamodb:Query', TABLE)).toBe(false);
    expect(isAllowed(policy, 'dynamodb:PutItem', codecs)).toBe(false);
    expect(isAllowed(policy, 'iot:Publish', topicArn(`${prefix}/${DEV_EUI}/uplink/decoded`))).toBe(
      true,
    );
    expect(isAllowed(policy, 'iot:Publish', topicArn(`${prefix}/${DEV_EUI}/uplink`))).toBe(false);
    expect(isAllowed(policy, 'iot:Publish', DOWNLINK_REQUEST)).toBe(false);
    const shadow = stack.parameters.ShadowName ?? '';
    expect(isAllowed(policy, 'iot:UpdateThingShadow', thing(DEV_EUI, shadow))).toBe(true);
    expect(isAllowed(policy, 'iot:UpdateThingShadow', thing(DEV_EUI, 'other'))).toBe(false);
    expect(isAllowed(policy, 'iot:UpdateThingShadow', thing('other-thing', shadow))).toBe(false);
  });

  it('gives the device-state function only what the enabled features need', () => {
    const actionsWith = (parameters: Record<string, string>) => {
      const own = templatePolicies(template, sampleStack(parameters));
      return own
        .policyOf('DeviceStateFunction')
        .filter((statement) => statement.Effect === 'Allow')
        .flatMap((statement) => list(statement.Action))
        .filter((action) => action !== 'secretsmanager:GetSecretValue')
        .sort();
    };
    expect(actionsWith({ PayloadCodecs: 'Enabled' })).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'iot:Publish',
    ]);
    expect(actionsWith({ DeviceShadows: 'Enabled' })).toEqual([
      'iot:GetThingShadow',
      'iot:UpdateThingShadow',
    ]);
  });

  it.each(['states:SendTaskSuccess', 'states:SendTaskFailure'])(
    'lets only the functions that end a send task %s',
    (action) => {
      expect(allowedBy(action, '*')).toEqual(['DownlinkStatusFunction', 'SendDownlinkFunction']);
    },
  );

  it('lets the rule start this state machine and no other, and its error action only fill the dead-letter queue', () => {
    expect(allowedBy('states:StartExecution', STATE_MACHINE)).toEqual(['DownlinkRuleRole']);
    expect(
      isAllowed(policyOf('DownlinkRuleRole'), 'states:StartExecution', `${STATE_MACHINE}-other`),
    ).toBe(false);
    expect(allowedBy('sqs:SendMessage', attribute('DownlinkDeadLetterQueue.Arn'))).toEqual([
      'DownlinkRuleErrorRole',
    ]);
  });

  it('lets the state machine invoke its task functions, as its definition names them, and no other function', () => {
    const { Partition, ...substitutions } = resolveIntrinsics(
      template.Resources.DownlinkStateMachine?.Properties?.DefinitionSubstitutions,
      stack,
    ) as Record<string, string>;
    expect(Partition).toBe('aws');
    // SendDownlink through the alias that provisioned concurrency can keep warm.
    expect(substitutions).toEqual({
      SendDownlinkFunctionArn: ref('SendDownlinkFunction.Alias'),
      CheckDownlinkStatusFunctionArn: attribute('CheckDownlinkStatusFunction.Arn'),
      ReportDownlinkFailureFunctionArn: attribute('ReportDownlinkFailureFunction.Arn'),
      // EncodeObject's, with PayloadCodecs.
      DeviceStateFunctionArn: attribute('DeviceStateFunction.Arn'),
    });
    const invoked = Object.values(substitutions);
    for (const id of functions) {
      for (const arn of [attribute(`${id}.Arn`), ref(`${id}.Alias`)].filter(Boolean)) {
        expect(isAllowed(policyOf('DownlinkStateMachine'), 'lambda:InvokeFunction', arn), arn).toBe(
          invoked.includes(arn),
        );
      }
    }
    expect([...TASK_FUNCTIONS, ENCODE_OBJECT_FUNCTION].map((id) => `${id}Arn`).sort()).toEqual(
      Object.keys(substitutions).sort(),
    );
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
    for (const id of [...TASK_FUNCTIONS, 'DownlinkStatusFunction']) {
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

// The least privilege above is what the policies say; this is what the functions need. Each
// downlink's life runs on the local stack (the real functions and state machine, one invocation at
// a time), and every request a function makes of an AWS stand-in must be one its policy allows.
describe('Template: IAM, against what the functions do', () => {
  const SERVICE_PREFIX: Record<string, string> = {
    dynamodb: 'dynamodb',
    'iot-data-plane': 'iot',
    'secrets-manager': 'secretsmanager',
    'step-functions': 'states',
  };
  let harness: DownlinkHarness;
  const running = new Set<string>();
  const seen = new Map<string, Set<string>>();
  const published = new Map<string, Set<string>>();
  const noting = (map: Map<string, Set<string>>, id: string, value: string) => {
    map.set(id, (map.get(id) ?? new Set()).add(value));
  };

  beforeAll(async () => {
    captureLogs();
    harness = await startDownlinkHarness();
    for (const fn of harness.cloud.functions) {
      const invoke = fn.invoke;
      fn.invoke = async (event) => {
        if (running.size > 0)
          throw new Error(`${fn.id} ran while ${[...running].join(', ')} did: who asked what?`);
        running.add(fn.id);
        const before = harness.published.length;
        try {
          return await invoke(event);
        } finally {
          for (const message of harness.published.slice(before))
            noting(published, fn.id, message.topic);
          running.delete(fn.id);
        }
      };
    }
    harness.cloud.faults.hold((service, operation) => {
      for (const id of running)
        noting(seen, id, `${SERVICE_PREFIX[service] ?? service}:${operation}`);
      return Promise.resolve();
    });
    // A downlink that ends Delivered, one NotAcknowledged, one asked for at OrbiWAN on timeout, a
    // repeated requestId, an unknown device and a request that is not JSON: every function of the
    // downlink path, on every path that asks AWS something.
    for (const final of [2, 3]) {
      const execution = harness.publishDownlink({
        data: 'aabbcc',
        port: 20,
        requestId: `iam-${String(final)}`,
      });
      await harness.waitingForStatus(execution.executionArn);
      const id = harness.acceptedIds().at(-1) ?? '';
      await harness.pushStatus(id, 1);
      await harness.pushStatus(id, final);
      await harness.finished(execution.executionArn);
    }
    const waiting = harness.publishDownlink({ data: 'aabbcc', port: 20 });
    await harness.waitingForStatus(waiting.executionArn);
    await harness.timeOut(waiting.executionArn);
    await harness.finished(waiting.executionArn);
    await harness.finished(
      harness.publishDownlink({ data: 'aabbcc', port: 20, requestId: 'iam-2' }).executionArn,
    );
    harness.orbiwan.respond(() => ({ status: 404, body: 'Node not found' }));
    await harness.finished(harness.publishDownlink({ data: 'aabbcc', port: 20 }).executionArn);
    harness.orbiwan.respond(acceptDownlinks(harness.statusAtOrbiwan));
    await harness.finished(harness.publishDownlink('not json').executionArn);
  });

  afterAll(async () => {
    await harness.close();
  });

  it('ran every function of the downlink path', () => {
    expect([...seen.keys()].sort()).toEqual([...TASK_FUNCTIONS, 'DownlinkStatusFunction'].sort());
  });

  it.each([...TASK_FUNCTIONS, 'DownlinkStatusFunction'])(
    "lets %s do everything it was seen to ask of AWS, on this stack's resources",
    (id) => {
      const deployed = harness.cloud.template;
      const { policyOf: deployedPolicyOf } = templatePolicies(deployed, sampleStack());
      const policy = deployedPolicyOf(id);
      const environment = functionEnvironment(deployed, sampleStack(), id);
      const secrets = Object.entries(environment)
        .filter(([name]) => name.endsWith('_SECRET_ARN'))
        .map(([, arn]) => arn);
      const refused = [...(seen.get(id) ?? [])].filter((action) => {
        if (action.startsWith('dynamodb:')) return !isAllowed(policy, action, TABLE);
        if (action.startsWith('states:')) return !isAllowed(policy, action, '*');
        if (action.startsWith('secretsmanager:'))
          return !secrets.some((secret) => isAllowed(policy, action, secret));
        if (action === 'iot:Publish')
          return [...(published.get(id) ?? [])].some(
            (topic) => !isAllowed(policy, action, topicArn(topic)),
          );
        return true;
      });
      expect(refused).toEqual([]);
      // Each one the policies allow on purpose (EXPECTED_ACTIONS above).
      for (const action of seen.get(id) ?? [])
        expect(EXPECTED_ACTIONS[id], action).toContain(action);
    },
  );

  it("was seen to publish on the device's status topic only", () => {
    for (const [id, topics] of published)
      expect([...topics], id).toEqual([`${HARNESS_PREFIX}/${HARNESS_DEVICE}/downlink/status`]);
  });
});
