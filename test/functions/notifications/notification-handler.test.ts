import { PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { notificationHandlerFromEnv } from '../../../functions/notifications/notification-handler.js';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
  type NotificationType,
} from '../../../functions/notifications/notification-types.js';
import { IOT_MAX_PAYLOAD_BYTES } from '../../../functions/shared/publish.js';
import { SAMPLE_PUSH_TOKEN, bodyBytes, pushEvent, sampleEvent } from '../../helpers/api-events.js';
import {
  PUSH_TOKEN_SECRET_ARN,
  mockAws,
  publishedMessages,
  resetAws,
} from '../../helpers/aws-mocks.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs, type CapturedLogs } from '../../helpers/logs.js';

const aws = mockAws();

const PREFIX = 'orbiwan/lorawan';
const DEV_EUI = '70b3d57ed0001a2b';

// One valid sample event per notification type (events/{type}/...).
const VALID_SAMPLE: Record<NotificationType, [dir: string, name: string, topic: string]> = {
  uplink_early: ['uplink-early', 'base64-payload', `${PREFIX}/${DEV_EUI}/uplink_early`],
  uplink: ['uplink', 'gateways-base64-payload', `${PREFIX}/${DEV_EUI}/uplink`],
  downlink_status: ['downlink-status', 'acknowledged', `${PREFIX}/${DEV_EUI}/downlink/status`],
  joininfo: ['joininfo', 'join-accepted', `${PREFIX}/${DEV_EUI}/joininfo`],
  nodeinfo: ['nodeinfo', 'class-a-device', `${PREFIX}/${DEV_EUI}/nodeinfo`],
  location: ['location', 'lora-location', `${PREFIX}/${DEV_EUI}/location`],
  status: ['status', 'battery-and-margin', `${PREFIX}/${DEV_EUI}/status`],
  alarm: ['alarm', 'device-alarm', `${PREFIX}/${DEV_EUI}/alarm`],
  appchange: ['appchange', 'application-updated', `${PREFIX}/appchange`],
};

const UPLINK_PATH = NOTIFICATION_DEFINITIONS.uplink.callbackPath;

function handlerFor(type: NotificationType, env: NodeJS.ProcessEnv = {}) {
  return notificationHandlerFromEnv({
    NOTIFICATION_TYPE: type,
    TOPIC_PREFIX: PREFIX,
    PUSH_TOKEN_SECRET_ARN,
    MESSAGE_EXPIRY_SECONDS: '5',
    ...env,
  });
}

async function invoke(
  type: NotificationType,
  event: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  return handlerFor(type)(event, lambdaContext);
}

function uplinkBody(fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    DevEUI: '70B3D57ED0001A2B',
    dataFrame: 'AQIDBA==',
    port: 10,
    fcnt: 42,
    ...fields,
  });
}

const publishes = () => publishedMessages(aws.iot);

function errorOf(response: APIGatewayProxyStructuredResultV2) {
  return (JSON.parse(response.body ?? '{}') as { error: { code: string; message: string } }).error;
}

let logs: CapturedLogs;

beforeEach(() => {
  resetAws(aws, { pushToken: SAMPLE_PUSH_TOKEN });
  logs = captureLogs();
});

describe('Handler: notifications', () => {
  describe.each(NOTIFICATION_TYPES)('%s', (type) => {
    const [dir, name, topic] = VALID_SAMPLE[type];
    const definition = NOTIFICATION_DEFINITIONS[type];

    it(`publishes the body byte for byte to ${topic} and replies 200`, async () => {
      // Prepare
      const event = sampleEvent(dir, name);

      // Act
      const response = await invoke(type, event);

      // Assess
      expect(response.statusCode).toBe(200);
      expect(JSON.parse(response.body ?? '')).toEqual({ published: topic });
      const [published] = publishes();
      expect(publishes()).toHaveLength(1);
      expect(published?.topic).toBe(topic);
      expect(published?.qos).toBe(definition.qos);
      expect(publishes()[0]?.payload.equals(bodyBytes(event))).toBe(true);
    });

    it('accepts the same notification as PUT and as POST', async () => {
      const body = sampleEvent(dir, name).body ?? '';
      const put = await invoke(
        type,
        pushEvent({ path: definition.callbackPath, body, method: 'PUT' }),
      );
      const post = await invoke(
        type,
        pushEvent({ path: definition.callbackPath, body, method: 'POST' }),
      );
      expect([put.statusCode, post.statusCode]).toEqual([200, 200]);
      expect(publishes().map((input) => input.topic)).toEqual([topic, topic]);
    });

    it('replies 401 and publishes nothing when the token is wrong', async () => {
      const body = sampleEvent(dir, name).body ?? '';
      const response = await invoke(
        type,
        pushEvent({ path: definition.callbackPath, body, authorization: 'Bearer forged-token' }),
      );
      expect(response.statusCode).toBe(401);
      expect(errorOf(response).code).toBe('UNAUTHORIZED');
      expect(publishes()).toHaveLength(0);
    });

    it('replies 400 naming the problem and publishes nothing when the body is not JSON', async () => {
      const response = await invoke(
        type,
        pushEvent({ path: definition.callbackPath, body: '{"DevEUI":' }),
      );
      expect(response.statusCode).toBe(400);
      expect(errorOf(response)).toMatchObject({
        code: 'NOT_JSON',
        message: expect.stringContaining('not valid JSON'),
      });
      expect(publishes()).toHaveLength(0);
    });
  });

  describe('uplink_early', () => {
    it('publishes at QoS 0 with the configured message expiry', async () => {
      const handler = handlerFor('uplink_early', { MESSAGE_EXPIRY_SECONDS: '3' });
      await handler(sampleEvent('uplink-early', 'base64-payload'), lambdaContext);
      expect(publishes()[0]).toMatchObject({ qos: 0, messageExpiry: 3 });
    });

    it('publishes other types without an expiry', async () => {
      await invoke('uplink', sampleEvent('uplink', 'gateways-base64-payload'));
      expect(publishes()[0]).toMatchObject({ qos: 1 });
      expect(publishes()[0]?.messageExpiry).toBeUndefined();
    });
  });

  describe('DevEUI', () => {
    it.each([
      ['DevEUI', '70B3D57ED0001A2B'],
      ['DevEUI', '0x70B3D57ED0001A2B'],
      ['deveui', '70b3d57ed0001a2b'],
      ['deveui', '0X70b3d57eD0001A2b'],
      ['DevEUI', '70-B3-D5-7E-D0-00-1A-2B'],
      ['deveui', '70-b3-d5-7e-d0-00-1a-2b'],
    ])('normalises %s "%s" to 16 lowercase hex digits in the topic', async (key, value) => {
      const body = JSON.stringify({ [key]: value, dataFrame: 'AQIDBA==', port: 10, fcnt: 1 });
      const response = await invoke('uplink', pushEvent({ path: UPLINK_PATH, body }));
      expect(response.statusCode).toBe(200);
      expect(publishes()[0]?.topic).toBe(`${PREFIX}/${DEV_EUI}/uplink`);
    });

    it.each([
      ['a topic separator', '70B3D57ED0001A2B/x'],
      ['an MQTT wildcard', '70B3D57ED0001A+#'],
      ['a NUL character', '70B3D57ED0001A2\u0000'],
      ['too few digits', '70B3D57ED0001A2'],
      ['too many digits', '70B3D57ED0001A2B0'],
      ['non-hex digits', '70B3D57ED0001A2G'],
      ['misplaced dashes', '70B3-D57E-D000-1A2B'],
      ['an empty string', ''],
    ])('replies 400 and publishes nothing for a DevEUI with %s', async (_, devEui) => {
      const response = await invoke(
        'uplink',
        pushEvent({ path: UPLINK_PATH, body: uplinkBody({ DevEUI: devEui }) }),
      );
      expect(response.statusCode).toBe(400);
      expect(errorOf(response)).toMatchObject({
        code: 'INVALID_NOTIFICATION',
        message: expect.stringContaining('DevEUI: '),
      });
      expect(publishes()).toHaveLength(0);
    });

    it('replies 400 when the DevEUI is not a string', async () => {
      const response = await invoke(
        'uplink',
        pushEvent({ path: UPLINK_PATH, body: uplinkBody({ DevEUI: 8_123_456 }) }),
      );
      expect(response.statusCode).toBe(400);
      expect(errorOf(response).message).toContain(
        'DevEUI: Invalid input: expected string, received number',
      );
    });

    it('replies 400 when the notification names no device', async () => {
      const body = JSON.stringify({ dataFrame: 'AQIDBA==', port: 10, fcnt: 1 });
      const response = await invoke('uplink', pushEvent({ path: UPLINK_PATH, body }));
      expect(response.statusCode).toBe(400);
      expect(errorOf(response).message).toContain('DevEUI: missing: expected DevEUI or deveui');
    });

    it('replies 400 when DevEUI and deveui name different devices', async () => {
      const body = uplinkBody({ deveui: '70b3d57ed0001a2c' });
      const response = await invoke('uplink', pushEvent({ path: UPLINK_PATH, body }));
      expect(response.statusCode).toBe(400);
      expect(errorOf(response).message).toContain('DevEUI and deveui name different devices');
      expect(publishes()).toHaveLength(0);
    });

    it('publishes an alarm that names no device to {prefix}/alarm', async () => {
      const response = await invoke('alarm', sampleEvent('alarm', 'gateway-alarm-without-device'));
      expect(response.statusCode).toBe(200);
      expect(publishes()[0]?.topic).toBe(`${PREFIX}/alarm`);
    });
  });

  describe('validation', () => {
    it.each([
      ['an empty body', '', 'NOT_JSON', 'the body is empty'],
      ['a JSON array', '[1,2]', 'INVALID_NOTIFICATION', 'expected object, received array'],
      ['a JSON string', '"uplink"', 'INVALID_NOTIFICATION', 'expected object, received string'],
      [
        'a port given as a string',
        uplinkBody({ port: '10' }),
        'INVALID_NOTIFICATION',
        'port: Invalid input: expected number',
      ],
      ['a port above 255', uplinkBody({ port: 256 }), 'INVALID_NOTIFICATION', 'port: '],
      ['a negative frame counter', uplinkBody({ fcnt: -1 }), 'INVALID_NOTIFICATION', 'fcnt: '],
      [
        'a payload that is neither hex nor Base64',
        uplinkBody({ dataFrame: 'zz!' }),
        'INVALID_NOTIFICATION',
        'dataFrame: expected a Base64 or hex payload',
      ],
      [
        'a gateway list that is not a list',
        uplinkBody({ gtw_info: 'gw1' }),
        'INVALID_NOTIFICATION',
        'gtw_info: ',
      ],
      [
        'a gateway with a string RSSI',
        uplinkBody({ gtw_info: [{ rssi: '-80' }] }),
        'INVALID_NOTIFICATION',
        'gtw_info.0.rssi: ',
      ],
    ])('replies 400 for %s', async (_, body, code, message) => {
      const response = await invoke('uplink', pushEvent({ path: UPLINK_PATH, body }));
      expect(response.statusCode).toBe(400);
      expect(response.headers?.['content-type']).toBe('application/json');
      expect(errorOf(response)).toMatchObject({ code, message: expect.stringContaining(message) });
      expect(publishes()).toHaveLength(0);
    });

    it('lists every problem as an issue with its path', async () => {
      const response = await invoke(
        'uplink',
        pushEvent({ path: UPLINK_PATH, body: uplinkBody({ port: 'x', fcnt: 'y' }) }),
      );
      const body = JSON.parse(response.body ?? '') as { error: { issues: { path: string }[] } };
      expect(body.error.issues.map((issue) => issue.path).sort()).toEqual(['fcnt', 'port']);
    });

    it('replies 400 for a downlink status without a transmission status', async () => {
      const body = JSON.stringify({ DevEUI: DEV_EUI, id: 7 });
      const response = await invoke(
        'downlink_status',
        pushEvent({ path: '/rest/callback/payloads/dl', body }),
      );
      expect(response.statusCode).toBe(400);
      expect(errorOf(response).message).toContain('transmissionStatus: ');
    });

    it('keeps fields it does not know, and 64-bit ids exactly, in the published body', async () => {
      const body =
        '{"DevEUI":"70B3D57ED0001A2B","dataFrame":"AQ==","port":1,"fcnt":1,"id":18014398509481985,"vendor_extension":{"x":[1,2]}}';
      await invoke('uplink', pushEvent({ path: UPLINK_PATH, body }));
      expect(publishes()[0]?.text).toBe(body);
    });

    it('publishes a hand-formatted body with whitespace and non-ASCII text unchanged', async () => {
      const event = sampleEvent('uplink', 'legacy-deveui-dashed-hex-payload-no-gateways');
      const response = await invoke('uplink', event);
      expect(response.statusCode).toBe(200);
      expect(publishes()[0]?.payload.equals(bodyBytes(event))).toBe(true);
      expect(event.body).toContain('\n  "deveui": "70-b3-d5-7e-d0-00-1a-2c"');
    });

    it('publishes a base64-encoded request body decoded, byte for byte', async () => {
      const event = sampleEvent('uplink', 'base64-encoded-request-body');
      await invoke('uplink', event);
      expect(event.isBase64Encoded).toBe(true);
      expect(publishes()[0]?.payload.equals(bodyBytes(event))).toBe(true);
    });

    it('replies 400 for a body that is not UTF-8', async () => {
      const body = Buffer.concat([
        Buffer.from('{"DevEUI":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}'),
      ]);
      const response = await invoke('uplink', pushEvent({ path: UPLINK_PATH, body }));
      expect(response.statusCode).toBe(400);
      expect(errorOf(response)).toMatchObject({
        code: 'NOT_JSON',
        message: expect.stringContaining('UTF-8'),
      });
    });
  });

  describe('size limit', () => {
    const bodyOfSize = (bytes: number) => {
      const base = uplinkBody({ padding: '' });
      return base.replace('"padding":""', `"padding":"${'x'.repeat(bytes - base.length)}"`);
    };

    it('publishes a body of exactly the IoT Core limit', async () => {
      const body = bodyOfSize(IOT_MAX_PAYLOAD_BYTES);
      const response = await invoke('uplink', pushEvent({ path: UPLINK_PATH, body }));
      expect(response.statusCode).toBe(200);
      expect(publishes()[0]?.payload.byteLength).toBe(IOT_MAX_PAYLOAD_BYTES);
    });

    it('replies 413 and publishes nothing when the body is one byte over the limit', async () => {
      const body = bodyOfSize(IOT_MAX_PAYLOAD_BYTES + 1);
      const response = await invoke('uplink', pushEvent({ path: UPLINK_PATH, body }));
      expect(response.statusCode).toBe(413);
      expect(errorOf(response).code).toBe('PAYLOAD_TOO_LARGE');
      expect(publishes()).toHaveLength(0);
    });
  });

  describe('authentication', () => {
    const valid = uplinkBody();

    it.each([
      ['missing', null],
      ['empty', ''],
      [
        'of the Basic scheme',
        `Basic ${Buffer.from(`orbiwan:${SAMPLE_PUSH_TOKEN}`).toString('base64')}`,
      ],
      ['a bare token without scheme', SAMPLE_PUSH_TOKEN],
      ['a scheme without token', 'Bearer'],
      ['a token with a suffix', `Bearer ${SAMPLE_PUSH_TOKEN}x`],
      ['a prefix of the token', `Bearer ${SAMPLE_PUSH_TOKEN.slice(0, -1)}`],
      ['two tokens', `Bearer ${SAMPLE_PUSH_TOKEN}, Bearer ${SAMPLE_PUSH_TOKEN}`],
    ])(
      'replies 401 and publishes nothing when the Authorization header is %s',
      async (_, authorization) => {
        const response = await invoke(
          'uplink',
          pushEvent({ path: UPLINK_PATH, body: valid, authorization }),
        );
        expect(response.statusCode).toBe(401);
        expect(response.headers?.['www-authenticate']).toBe('Bearer');
        expect(errorOf(response).code).toBe('UNAUTHORIZED');
        expect(publishes()).toHaveLength(0);
      },
    );

    it('accepts the scheme in any case', async () => {
      const response = await invoke(
        'uplink',
        pushEvent({ path: UPLINK_PATH, body: valid, authorization: `bearer ${SAMPLE_PUSH_TOKEN}` }),
      );
      expect(response.statusCode).toBe(200);
    });

    it('checks the token before the body, so strangers learn nothing about the contract', async () => {
      const response = await invoke(
        'uplink',
        pushEvent({ path: UPLINK_PATH, body: 'not json', authorization: 'Bearer wrong' }),
      );
      expect(response.statusCode).toBe(401);
    });

    it('reads the push token once per container', async () => {
      const handler = handlerFor('uplink');
      await handler(pushEvent({ path: UPLINK_PATH, body: valid }), lambdaContext);
      await handler(pushEvent({ path: UPLINK_PATH, body: valid }), lambdaContext);
      expect(aws.secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
      expect(publishes()).toHaveLength(2);
    });

    it('replies 502 and publishes nothing when the token cannot be read, then recovers', async () => {
      const handler = handlerFor('uplink');
      aws.secrets
        .on(GetSecretValueCommand)
        .rejectsOnce(new Error('AccessDeniedException'))
        .resolves({ SecretString: SAMPLE_PUSH_TOKEN });

      const failed = await handler(pushEvent({ path: UPLINK_PATH, body: valid }), lambdaContext);
      const retried = await handler(pushEvent({ path: UPLINK_PATH, body: valid }), lambdaContext);

      expect(failed.statusCode).toBe(502);
      expect(errorOf(failed).code).toBe('AUTH_UNAVAILABLE');
      expect(retried.statusCode).toBe(200);
      expect(publishes()).toHaveLength(1);
    });

    it('never writes the push token or the presented token to a log or a reply', async () => {
      const forged = 'Bearer forged-secret-value-123';
      const replies = [
        await invoke('uplink', pushEvent({ path: UPLINK_PATH, body: valid })),
        await invoke(
          'uplink',
          pushEvent({ path: UPLINK_PATH, body: valid, authorization: forged }),
        ),
        await invoke(
          'uplink',
          pushEvent({ path: UPLINK_PATH, body: '{', authorization: `Bearer ${SAMPLE_PUSH_TOKEN}` }),
        ),
      ];
      const written = logs.text() + replies.map((reply) => reply.body).join('');
      expect(logs.entries().length).toBeGreaterThanOrEqual(3);
      expect(written).not.toContain(SAMPLE_PUSH_TOKEN);
      expect(written).not.toContain('forged-secret-value-123');
    });
  });

  describe('publishing', () => {
    it('replies 503 so OrbiWAN keeps its copy when IoT Core throttles', async () => {
      aws.iot
        .on(PublishCommand)
        .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
      const response = await invoke('uplink', pushEvent({ path: UPLINK_PATH, body: uplinkBody() }));
      expect(response.statusCode).toBe(503);
      expect(errorOf(response)).toEqual({
        code: 'PUBLISH_THROTTLED',
        message: 'AWS IoT Core throttled the publish',
      });
    });

    it('replies 502 without internals when IoT Core refuses the publish', async () => {
      aws.iot.on(PublishCommand).rejects(
        Object.assign(new Error('secret internal detail at Object.<anonymous>'), {
          name: 'InternalFailureException',
        }),
      );
      const response = await invoke('uplink', pushEvent({ path: UPLINK_PATH, body: uplinkBody() }));
      expect(response.statusCode).toBe(502);
      expect(errorOf(response)).toEqual({
        code: 'PUBLISH_FAILED',
        message: 'AWS IoT Core did not accept the publish',
      });
      expect(response.body).not.toContain('internal detail');
    });

    it('replies 500 without a stack trace when something unforeseen fails', async () => {
      const handler = notificationHandlerFromEnv({
        NOTIFICATION_TYPE: 'uplink',
        TOPIC_PREFIX: PREFIX,
        PUSH_TOKEN_SECRET_ARN,
      });
      aws.secrets.on(GetSecretValueCommand).resolves({ SecretString: SAMPLE_PUSH_TOKEN });
      aws.iot.on(PublishCommand).callsFake(() => {
        throw new TypeError('cannot read properties of undefined');
      });
      const response = await handler(
        pushEvent({ path: UPLINK_PATH, body: uplinkBody() }),
        lambdaContext,
      );
      expect(response.statusCode).toBeGreaterThanOrEqual(500);
      expect(response.body).not.toMatch(/at .*\.(ts|js|mjs):\d+/);
      expect(response.body).not.toContain('cannot read properties');
    });

    it('logs the notification type and the DevEUI with every publish', async () => {
      await invoke('uplink', pushEvent({ path: UPLINK_PATH, body: uplinkBody() }));
      const published = logs
        .entries()
        .find((entry) => entry.message === 'notification republished');
      expect(published).toMatchObject({
        notificationType: 'uplink',
        devEui: DEV_EUI,
        topic: `${PREFIX}/${DEV_EUI}/uplink`,
        level: 'INFO',
      });
    });

    it('logs a publish failure with the DevEUI', async () => {
      aws.iot.on(PublishCommand).rejects(new Error('boom'));
      await invoke('uplink', pushEvent({ path: UPLINK_PATH, body: uplinkBody() }));
      const failure = logs.entries().find((entry) => entry.level === 'ERROR');
      expect(failure).toMatchObject({
        notificationType: 'uplink',
        devEui: DEV_EUI,
        code: 'PUBLISH_FAILED',
      });
    });
  });

  describe('configuration', () => {
    const base = {
      TOPIC_PREFIX: PREFIX,
      PUSH_TOKEN_SECRET_ARN,
      NOTIFICATION_TYPE: 'uplink',
    };

    it.each([
      [{ NOTIFICATION_TYPE: undefined }, 'environment variable NOTIFICATION_TYPE is not set'],
      [
        { NOTIFICATION_TYPE: 'downlink' },
        'NOTIFICATION_TYPE must be one of uplink_early, uplink, downlink_status, joininfo, nodeinfo, location, status, alarm, appchange, got "downlink"',
      ],
      [{ TOPIC_PREFIX: 'orbiwan/#' }, 'TOPIC_PREFIX "orbiwan/#" is not a valid topic prefix'],
      [{ PUSH_TOKEN_SECRET_ARN: '' }, 'environment variable PUSH_TOKEN_SECRET_ARN is not set'],
      [
        { NOTIFICATION_TYPE: 'uplink_early' },
        'environment variable MESSAGE_EXPIRY_SECONDS is not set',
      ],
      [
        { NOTIFICATION_TYPE: 'uplink_early', MESSAGE_EXPIRY_SECONDS: '0.5' },
        'MESSAGE_EXPIRY_SECONDS must be an integer from 1 to 3600, got "0.5"',
      ],
    ])('refuses to start with %o', (override, message) => {
      expect(() => notificationHandlerFromEnv({ ...base, ...override })).toThrow(message);
    });
  });
});
