import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLocalFunctions } from '../../local/lambda/local-functions.js';
import { startLocalCloud, type LocalCloud } from '../../local/local-cloud.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import { deployedTemplate } from '../../local/template/stack.js';
import { sampleStack } from '../helpers/sample-stack.js';

// The local stack runs what CloudFormation would create: the optional push mode setup
// (ConfigureOrbiwanPushMode, off by default) only when it is switched on.

const template = loadTemplate();
let cloud: LocalCloud;

beforeAll(async () => {
  const stack = sampleStack();
  cloud = await startLocalCloud({
    template,
    stack,
    secrets: {},
    onPublish: () => undefined,
    readDefinition: () => '{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}',
  });
});

afterAll(async () => {
  await cloud.close();
});

describe('Local stack: resources with a Condition', () => {
  it('loads every function but the push mode function when ConfigureOrbiwanPushMode is false', () => {
    const loaded = cloud.functions.map((fn) => fn.id);

    expect(loaded).not.toContain('PushModeFunction');
    expect(loaded).toEqual(
      Object.keys(deployedTemplate(template, sampleStack()).Resources).filter(
        (id) => template.Resources[id]?.Type === 'AWS::Serverless::Function',
      ),
    );
    expect(loaded).toContain('UplinkFunction');
  });

  it('loads the push mode function, with its template environment, when it is true', async () => {
    const stack = sampleStack({ ConfigureOrbiwanPushMode: 'true' });

    const functions = await loadLocalFunctions(deployedTemplate(template, stack), stack);

    expect(functions.find((fn) => fn.id === 'PushModeFunction')?.environment).toMatchObject({
      ORBIWAN_BASE_URL: stack.parameters.OrbiwanBaseUrl,
      ORBIWAN_AUTH_MODE: 'basic',
      PUSH_TOKEN_SECRET_ARN: stack.refs.PushTokenSecret,
    });
  });
});
