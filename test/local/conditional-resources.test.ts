import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLocalFunctions } from '../../local/lambda/local-functions.js';
import { startLocalCloud, type LocalCloud } from '../../local/local-cloud.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import { deployedTemplate } from '../../local/template/stack.js';
import { sampleStack } from '../helpers/sample-stack.js';

// The local stack runs what CloudFormation would create: the optional push mode setup
// (ConfigureOrbiwanPushMode, off by default) only when it is switched on, and the rest as the
// template defines it.

const template = loadTemplate();
let cloud: LocalCloud;

beforeAll(async () => {
  const stack = sampleStack();
  cloud = await startLocalCloud({
    template,
    stack,
    secrets: {},
    onPublish: () => undefined,
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

  it('loads the push mode function, with its template environment, when it is true', () => {
    const stack = sampleStack({ ConfigureOrbiwanPushMode: 'true' });

    const functions = loadLocalFunctions(deployedTemplate(template, stack), stack);

    expect(functions.find((fn) => fn.id === 'PushModeFunction')?.environment).toMatchObject({
      ORBIWAN_BASE_URL: stack.parameters.OrbiwanBaseUrl,
      ORBIWAN_AUTH_MODE: 'basic',
      PUSH_TOKEN_SECRET_ARN: stack.refs.PushTokenSecret,
    });
  });
});

describe('Local stack: resources without a Condition', () => {
  it('loads the downlink functions with their template environment, the requestId window included', () => {
    const stack = sampleStack();
    const send = cloud.functions.find((fn) => fn.id === 'SendDownlinkFunction');

    expect(send?.environment).toMatchObject({
      DOWNLINKS_TABLE_NAME: stack.refs.DownlinksTable,
      DOWNLINK_TIMEOUT_SECONDS: stack.parameters.DownlinkTimeoutSeconds,
      REQUEST_ID_WINDOW_SECONDS: stack.parameters.RequestIdWindowSeconds,
    });
  });

  it('creates the downlinks table keyed as the template keys it', async () => {
    const client = new DynamoDBClient({
      endpoint: cloud.endpoint.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });

    const { Table } = await client.send(
      new DescribeTableCommand({ TableName: sampleStack().refs.DownlinksTable }),
    );

    expect(Table?.KeySchema).toEqual(template.Resources.DownlinksTable?.Properties?.KeySchema);
    client.destroy();
  });
});
