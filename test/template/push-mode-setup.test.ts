import { describe, expect, it } from 'vitest';
import { RESPONSE_RESERVE_MS } from '../../functions/pushmode/configure-push-mode.js';
import { pushModeStartBody } from '../../functions/pushmode/push-mode-start.js';
import { ORBIWAN_TIMEOUT_MS } from '../../functions/shared/orbiwan/orbiwan-from-env.js';
import { NOTIFICATION_TYPES } from '../../functions/notifications/notification-types.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import {
  functionProperties,
  loadTemplate,
  resourcesOfType,
} from '../../local/template/sam-template.js';
import { deployedTemplate } from '../../local/template/stack.js';
import { sampleStack } from '../helpers/sample-stack.js';

// The optional setup (ConfigureOrbiwanPushMode): off unless asked for, and when on, the custom
// resource points OrbiWAN at the same API, with the same body, as the outputs tell an operator to.

const template = loadTemplate();
const SETUP = ['PushModeFunction', 'PushModeLogGroup', 'PushModeCustomResource'];

function outputsOf(stack: ReturnType<typeof sampleStack>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(template.Outputs ?? {}).map(([name, output]) => [
      name,
      resolveIntrinsics(output.Value, stack),
    ]),
  );
}

describe('Template: push mode setup', () => {
  it('is off by default, an explicit true or false', () => {
    expect(template.Parameters?.ConfigureOrbiwanPushMode).toMatchObject({
      Type: 'String',
      Default: 'false',
      AllowedValues: ['true', 'false'],
    });
    for (const id of SETUP)
      expect(template.Resources[id]?.Condition, id).toBe('StackConfiguresPushMode');
  });

  it("starts push mode only once the API's stage and every route's invoke permission exist", () => {
    // The logical ids SAM gives what it generates: {api}ApiGatewayDefaultStage for an HTTP API
    // without StageName, {function}{event}Permission for each HttpApi event.
    expect(template.Resources.PushApi?.Properties?.StageName).toBeUndefined();
    const permissions = resourcesOfType(template, 'AWS::Serverless::Function').flatMap(
      ([id, resource]) =>
        Object.entries(
          (resource.Properties?.Events ?? {}) as Record<
            string,
            { Type: string; Properties: { ApiId?: unknown } }
          >,
        )
          .filter(([, event]) => event.Type === 'HttpApi')
          .map(([event, { Properties }]) => {
            expect(Properties.ApiId, `${id} ${event}`).toEqual({ Ref: 'PushApi' });
            return `${id}${event}Permission`;
          }),
    );
    // A POST and a PUT route for every notification type.
    expect(permissions).toHaveLength(2 * NOTIFICATION_TYPES.length);
    expect(template.Resources.PushModeCustomResource?.DependsOn).toEqual([
      'PushApiApiGatewayDefaultStage',
      ...permissions,
    ]);
  });

  it.each([
    ['false', []],
    ['true', SETUP],
  ])('creates the setup resources when ConfigureOrbiwanPushMode is %s', (value, expected) => {
    const stack = sampleStack({ ConfigureOrbiwanPushMode: value });
    const deployed = Object.keys(deployedTemplate(template, stack).Resources);
    expect(SETUP.filter((id) => deployed.includes(id))).toEqual(expected);
    const unconditional = Object.entries(template.Resources)
      .filter(([, resource]) => resource.Condition === undefined)
      .map(([id]) => id);
    expect(deployed).toEqual(expect.arrayContaining(unconditional));
  });

  it.each(['base64', 'hex'] as const)(
    'gives the custom resource what builds the PushModeStartBody output (%s), and never the token',
    (dataFormat) => {
      const stack = sampleStack({ ConfigureOrbiwanPushMode: 'true', PushDataFormat: dataFormat });
      const outputs = outputsOf(stack);
      const properties = resolveIntrinsics(
        template.Resources.PushModeCustomResource?.Properties,
        stack,
      ) as Record<string, unknown>;

      expect(properties).toEqual({
        ServiceToken: stack.attributes['PushModeFunction.Arn'],
        ServiceTimeout: expect.any(Number),
        PushEndpointUrl: outputs.PushEndpointUrl,
        DataFormat: dataFormat,
        OrbiwanBaseUrl: stack.parameters.OrbiwanBaseUrl,
      });
      expect(JSON.stringify(template.Resources.PushModeCustomResource)).not.toContain(
        'PushTokenSecret',
      );
      // One body: what the function sends is what the output shows, the token aside.
      expect(JSON.parse(String(outputs.PushModeStartBody))).toEqual(
        pushModeStartBody({
          pushEndpointUrl: String(properties.PushEndpointUrl),
          accessToken: '<PUSH_TOKEN>',
          dataFormat,
        }),
      );
    },
  );

  it('gives the function the OrbiWAN account and the push token, and time to answer CloudFormation', () => {
    const properties = functionProperties(template, 'PushModeFunction');
    expect(properties.Environment).toMatchObject({
      Variables: {
        ORBIWAN_BASE_URL: { Ref: 'OrbiwanBaseUrl' },
        ORBIWAN_AUTH_MODE: { Ref: 'OrbiwanAuthMode' },
        ORBIWAN_CREDENTIALS_SECRET_ARN: { Ref: 'OrbiwanCredentialsSecretArn' },
        PUSH_TOKEN_SECRET_ARN: { Ref: 'PushTokenSecret' },
      },
    });
    // Two secret reads (7 s each at most) and four OrbiWAN requests (a login and the PUT, again on
    // a 401), then the answer to CloudFormation.
    const worstCaseMs = 2 * 7_000 + 4 * ORBIWAN_TIMEOUT_MS + RESPONSE_RESERVE_MS;
    expect(Number(properties.Timeout) * 1000).toBeGreaterThanOrEqual(worstCaseMs);
  });

  it('waits for the function no longer than Lambda retries a failed answer', () => {
    // CloudFormation's default wait is an hour; Lambda retries an asynchronous invocation twice,
    // about a minute and two minutes later.
    const timeout = Number(functionProperties(template, 'PushModeFunction').Timeout);
    const serviceTimeout = Number(
      template.Resources.PushModeCustomResource?.Properties?.ServiceTimeout,
    );
    expect(serviceTimeout).toBeGreaterThanOrEqual(3 * timeout + 180);
    expect(serviceTimeout).toBeLessThanOrEqual(600);
  });
});
