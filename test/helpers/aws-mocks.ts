import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { SAMPLE_PARAMETERS } from './sample-stack.js';

// The AWS clients the functions use, mocked, and what the function tests read back from them.

/** The OrbiWAN credentials secret, as the sample stack is deployed with it. */
export const ORBIWAN_CREDENTIALS_SECRET_ARN = SAMPLE_PARAMETERS.OrbiwanCredentialsSecretArn;

/** The push token secret: the ARN the local stack (local/template/stack.ts) gives PushTokenSecret. */
export const PUSH_TOKEN_SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:PushTokenSecret-AbCdEf';

export interface AwsMocks {
  dynamo: AwsClientStub<DynamoDBClient>;
  iot: AwsClientStub<IoTDataPlaneClient>;
  secrets: AwsClientStub<SecretsManagerClient>;
  sfn: AwsClientStub<SFNClient>;
}

/**
 * Mocks every client of the functions. mockClient replaces a client class's `send` for the whole
 * file, so call this once, at module level.
 */
export function mockAws(): AwsMocks {
  return {
    dynamo: mockClient(DynamoDBClient),
    iot: mockClient(IoTDataPlaneClient),
    secrets: mockClient(SecretsManagerClient),
    sfn: mockClient(SFNClient),
  };
}

export interface AwsSecrets {
  /** The push token, stored under PUSH_TOKEN_SECRET_ARN. */
  pushToken?: string;
  /** OrbiWAN's basic-auth user, stored as JSON under ORBIWAN_CREDENTIALS_SECRET_ARN. */
  orbiwanCredentials?: { username: string; password: string };
}

/**
 * Forgets every mock's behaviour and calls, then lets IoT Core take every publish and Secrets
 * Manager hold the secrets given (and no other).
 */
export function resetAws(mocks: AwsMocks, { pushToken, orbiwanCredentials }: AwsSecrets = {}) {
  for (const mock of Object.values(mocks) as AwsMocks[keyof AwsMocks][]) mock.reset();
  mocks.iot.on(PublishCommand).resolves({});
  if (pushToken !== undefined) {
    mocks.secrets
      .on(GetSecretValueCommand, { SecretId: PUSH_TOKEN_SECRET_ARN })
      .resolves({ SecretString: pushToken });
  }
  if (orbiwanCredentials !== undefined) {
    mocks.secrets
      .on(GetSecretValueCommand, { SecretId: ORBIWAN_CREDENTIALS_SECRET_ARN })
      .resolves({ SecretString: JSON.stringify(orbiwanCredentials) });
  }
}

export interface PublishedMessage {
  topic: string | undefined;
  qos: number | undefined;
  /** Present only when the publish set one. */
  messageExpiry?: number;
  payload: Buffer;
  /** The payload as UTF-8. */
  text: string;
}

/** What was published to IoT Core, in order. Throws for a publish that carried no bytes. */
export function publishedMessages(iot: AwsClientStub<IoTDataPlaneClient>): PublishedMessage[] {
  return iot.commandCalls(PublishCommand).map((call, index) => {
    const { topic, qos, messageExpiry, payload } = call.args[0].input;
    // The functions always publish bytes, never a string.
    if (!(payload instanceof Uint8Array))
      throw new Error(`publish ${String(index)} carried no bytes`);
    const bytes = Buffer.from(payload);
    return {
      topic,
      qos,
      ...(messageExpiry === undefined ? {} : { messageExpiry }),
      payload: bytes,
      text: bytes.toString('utf8'),
    };
  });
}

/**
 * The environment of a function that calls OrbiWAN with basic auth and records downlinks
 * (SendToOrbiwan, CheckStatusAtOrbiwan).
 */
export function orbiwanFunctionEnv(
  orbiwanUrl: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    ORBIWAN_BASE_URL: orbiwanUrl,
    ORBIWAN_AUTH_MODE: 'basic',
    ORBIWAN_CREDENTIALS_SECRET_ARN,
    DOWNLINKS_TABLE_NAME: 'downlinks',
    DOWNLINK_TIMEOUT_SECONDS: '3600',
    ...overrides,
  };
}
