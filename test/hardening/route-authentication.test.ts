import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
  type NotificationDefinition,
  type NotificationType,
} from '../../functions/notifications/notification-types.js';
import { IOT_MAX_PAYLOAD_BYTES } from '../../functions/shared/publish.js';
import type { LocalConnector } from '../../local/connector.js';
import { httpApiRoutes, loadTemplate } from '../../local/template/sam-template.js';
import {
  E2E_TOKEN,
  startTestConnector,
  subscribe,
  type ReceivedMessage,
  type Subscriber,
} from '../helpers/local-connector.js';

// Every route of the template, through the running local stack: real HTTP to its push API and a
// real MQTT subscriber on everything the broker carries. A refused request must be answered 401
// with a JSON body and publish nothing. "Nothing" is proven without sleeping: after the refused
// request, a correctly authenticated sentinel goes through the same route, and MQTT delivers in
// order, so anything the refused request had published would arrive before the sentinel.

const PREFIX = 'orbiwan/lorawan';
const ROUTES = httpApiRoutes(loadTemplate());
// What an HTTP API accepts at most; the connector's own limit (IoT Core's) is far below.
const API_GATEWAY_MAX_BYTES = 10 * 1024 * 1024;

let connector: LocalConnector;
let subscriber: Subscriber;

beforeAll(async () => {
  connector = await startTestConnector();
  // '#' matches every topic (but $SYS), so a publish anywhere, under the prefix or not, is seen.
  subscriber = await subscribe(connector.endpoints.mqtt, '#');
});

afterAll(async () => {
  await subscriber.close();
  await connector.close();
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A request with exactly these headers: node:http sends an array value as one header line per
 * element, which fetch cannot (it joins them), and adds no Authorization of its own.
 */
function send(
  method: string,
  path: string,
  headers: Record<string, string | string[]>,
  body: string | Buffer,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      `${connector.endpoints.http}${path}`,
      {
        method,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function definitionOf(functionId: string): NotificationDefinition {
  const type = NOTIFICATION_TYPES.find(
    (each) => NOTIFICATION_DEFINITIONS[each].functionId === functionId,
  );
  if (type === undefined)
    throw new Error(
      `route to ${functionId}: not a notification function, this test knows no body for it`,
    );
  return NOTIFICATION_DEFINITIONS[type];
}

// Each test's own device and marker, so its messages cannot be confused with another test's.
let nextDevice = 0x70b3d57e_e0000000n;
function uniqueDevice(): string {
  nextDevice += 1n;
  return nextDevice.toString(16).padStart(16, '0');
}

/** A valid notification of the type, marked with `probe` (unknown fields are kept). */
function validBody(type: NotificationType, devEui: string, probe: string): string {
  const DevEUI = devEui.toUpperCase();
  switch (type) {
    case 'uplink_early':
    case 'uplink':
      return JSON.stringify({ DevEUI, dataFrame: 'AQIDBA==', port: 10, fcnt: 42, probe });
    case 'downlink_status':
      return JSON.stringify({ DevEUI, id: 7, transmissionStatus: 1, probe });
    case 'joininfo':
      return JSON.stringify({ DevEUI, join_status: 'accepted', probe });
    case 'nodeinfo':
      return JSON.stringify({ DevEUI, device_class: 'A', probe });
    case 'location':
      return JSON.stringify({ DevEUI, latitude: 46.5, longitude: 6.6, probe });
    case 'status':
      return JSON.stringify({ DevEUI, battery_status: 200, probe });
    case 'alarm':
      return JSON.stringify({ DevEUI, alarm_text: 'tamper', probe });
    case 'appchange':
      return JSON.stringify({ app_uuid: 'b4a0c1de-0000-4000-8000-000000000001', probe });
  }
}

/** A valid body of exactly `bytes` bytes: the probe field padded with spaces inside its string. */
function bodyOfSize(type: NotificationType, devEui: string, probe: string, bytes: number): string {
  const base = validBody(type, devEui, probe);
  const padding = bytes - Buffer.byteLength(base);
  if (padding < 0) throw new Error(`a ${type} body cannot be as small as ${bytes} bytes`);
  return base.replace(`"probe":"${probe}"`, `"probe":"${probe}${' '.repeat(padding)}"`);
}

function topicOf(type: NotificationType, devEui: string): string {
  const { topicSuffix } = NOTIFICATION_DEFINITIONS[type];
  return type === 'appchange' ? `${PREFIX}/${topicSuffix}` : `${PREFIX}/${devEui}/${topicSuffix}`;
}

const carries = (probe: string) => (message: ReceivedMessage) =>
  message.payload.includes(`"probe":"${probe}`);

/** Pushes with the right token and resolves with the message that push published. */
async function publishedBy(
  method: string,
  path: string,
  body: string,
  probe: string,
): Promise<ReceivedMessage> {
  const reply = await send(method, path, { authorization: `Bearer ${E2E_TOKEN}` }, body);
  expect(reply.status, `a correctly authenticated push was refused: ${reply.body}`).toBe(200);
  return subscriber.next(carries(probe));
}

/**
 * Pushes a sentinel notification (a new device, right token) and resolves with every message
 * received since `since`, up to and including the sentinel.
 */
async function receivedUpToSentinel(
  method: string,
  path: string,
  type: NotificationType,
  since: number,
): Promise<{ messages: string[]; sentinel: string }> {
  const device = uniqueDevice();
  const sentinel = `sentinel-${device}`;
  const arrived = await publishedBy(method, path, validBody(type, device, sentinel), sentinel);
  return { messages: payloadsBetween(since, arrived), sentinel };
}

/** The payloads received since `since`, up to and including `last`. */
function payloadsBetween(since: number, last: ReceivedMessage): string[] {
  return subscriber.received
    .slice(since, subscriber.received.indexOf(last) + 1)
    .map((message) => message.payload.toString('utf8'));
}

function tenKilobytes(): string {
  return 'k'.repeat(10 * 1024);
}

// The right token, and everything near it that must not pass.
const REFUSED: [name: string, authorization: string | string[] | undefined][] = [
  ['no Authorization header', undefined],
  ['an empty Authorization header', ''],
  ['"Bearer" without a token', 'Bearer'],
  ['"Bearer" followed by spaces only', 'Bearer    '],
  ['the Basic scheme with the right token', `Basic ${E2E_TOKEN}`],
  [
    'the Basic scheme with the right token as password',
    `Basic ${Buffer.from(`orbiwan:${E2E_TOKEN}`).toString('base64')}`,
  ],
  ['the Token scheme with the right token', `Token ${E2E_TOKEN}`],
  ['the right token without a scheme', E2E_TOKEN],
  ['the right token in another case', `Bearer ${E2E_TOKEN.toUpperCase()}`],
  [
    'the right token with one character changed',
    `Bearer ${E2E_TOKEN.slice(0, 3)}${E2E_TOKEN[3] === 'x' ? 'y' : 'x'}${E2E_TOKEN.slice(4)}`,
  ],
  ['a prefix of the right token', `Bearer ${E2E_TOKEN.slice(0, -1)}`],
  ['the right token with a suffix', `Bearer ${E2E_TOKEN}0`],
  ['the right token twice in one header', `Bearer ${E2E_TOKEN}, Bearer ${E2E_TOKEN}`],
  ['two Authorization headers, the right token first', [`Bearer ${E2E_TOKEN}`, 'Bearer forged']],
  ['two Authorization headers, the right token second', ['Bearer forged', `Bearer ${E2E_TOKEN}`]],
  ['a token of 10 KB', `Bearer ${tenKilobytes()}`],
  ['the right token followed by 10 KB', `Bearer ${E2E_TOKEN}${tenKilobytes()}`],
];

describe('Hardening: route authentication through the local stack', () => {
  it('covers every route of the template, POST and PUT for each notification type', () => {
    const expected = NOTIFICATION_TYPES.flatMap((type) =>
      ['POST', 'PUT'].map((method) => `${method} ${NOTIFICATION_DEFINITIONS[type].callbackPath}`),
    );
    expect(ROUTES.map((route) => `${route.method} ${route.path}`).sort()).toEqual(expected.sort());
  });

  describe.each(ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s',
    (_, route) => {
      const { type } = definitionOf(route.functionId);

      it('replies 200 to the right token and publishes the body, so the subscriber sees publishes', async () => {
        // Prepare
        const devEui = uniqueDevice();
        const probe = `valid-${devEui}`;
        const body = validBody(type, devEui, probe);

        // Act
        const reply = await send(
          route.method,
          route.path,
          { authorization: `Bearer ${E2E_TOKEN}` },
          body,
        );
        const message = await subscriber.next(carries(probe));

        // Assess
        expect(reply.status, reply.body).toBe(200);
        expect(JSON.parse(reply.body)).toEqual({ published: topicOf(type, devEui) });
        expect(message.topic).toBe(topicOf(type, devEui));
        if (type === 'downlink_status')
          expect(JSON.parse(message.payload.toString('utf8'))).toMatchObject(
            JSON.parse(body) as object,
          );
        else expect(message.payload.toString('utf8')).toBe(body);
      });

      it.each(REFUSED)(
        'replies 401 with a JSON body and publishes nothing for %s',
        async (_, authorization) => {
          // Prepare
          const since = subscriber.received.length;
          const devEui = uniqueDevice();
          const probe = `refused-${devEui}`;
          const body = validBody(type, devEui, probe);

          // Act
          const reply = await send(
            route.method,
            route.path,
            authorization === undefined ? {} : { authorization },
            body,
          );
          // Anything the refused request published would arrive before this sentinel...
          const { sentinel } = await receivedUpToSentinel(route.method, route.path, type, since);
          // ...and the very same body does arrive once it carries the right token.
          const accepted = await publishedBy(route.method, route.path, body, probe);

          // Assess
          expect(reply.status, reply.body).toBe(401);
          expect(reply.headers['content-type']).toBe('application/json');
          expect(reply.headers['www-authenticate']).toBe('Bearer');
          expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
          expect(payloadsBetween(since, accepted)).toEqual([
            expect.stringContaining(`"probe":"${sentinel}"`),
            expect.stringContaining(`"probe":"${probe}"`),
          ]);
        },
      );
    },
  );
});

describe('Hardening: request size limits through the local stack', () => {
  // The downlink status function publishes the body with requestId and state added, not as is.
  const REPUBLISHED_AS_IS = NOTIFICATION_TYPES.filter((type) => type !== 'downlink_status');

  it.each(REPUBLISHED_AS_IS)(
    `accepts a %s body of exactly ${IOT_MAX_PAYLOAD_BYTES} bytes and publishes it byte for byte`,
    async (type) => {
      // Prepare
      const devEui = uniqueDevice();
      const probe = `largest-${devEui}`;
      const body = bodyOfSize(type, devEui, probe, IOT_MAX_PAYLOAD_BYTES);

      // Act
      const reply = await send(
        'POST',
        NOTIFICATION_DEFINITIONS[type].callbackPath,
        { authorization: `Bearer ${E2E_TOKEN}` },
        body,
      );
      // Only a published body ever arrives: wait for it only when the reply says so.
      const message = reply.status === 200 ? await subscriber.next(carries(probe)) : undefined;

      // Assess
      expect(Buffer.byteLength(body)).toBe(IOT_MAX_PAYLOAD_BYTES);
      expect(reply.status, reply.body).toBe(200);
      expect(message?.topic).toBe(topicOf(type, devEui));
      expect(message?.payload.toString('utf8')).toBe(body);
    },
  );

  it(`answers a downlink status of exactly ${IOT_MAX_PAYLOAD_BYTES} bytes with 200 and a publish, or 413 and none, never 5xx`, async () => {
    // Prepare
    const since = subscriber.received.length;
    const path = NOTIFICATION_DEFINITIONS.downlink_status.callbackPath;
    const devEui = uniqueDevice();
    const probe = `largest-${devEui}`;
    const body = bodyOfSize('downlink_status', devEui, probe, IOT_MAX_PAYLOAD_BYTES);

    // Act
    const reply = await send('POST', path, { authorization: `Bearer ${E2E_TOKEN}` }, body);
    const { messages, sentinel } = await receivedUpToSentinel(
      'POST',
      path,
      'downlink_status',
      since,
    );

    // Assess
    // The status grows by the fields the connector adds, beyond what IoT Core takes in one
    // message; the connector knows that before it publishes, so it is the request that is too
    // large (413), not IoT Core that failed (502, which says "try again").
    if (reply.status === 200) {
      expect(messages).toEqual([
        expect.stringContaining(`"probe":"${probe}`),
        expect.stringContaining(`"probe":"${sentinel}"`),
      ]);
    } else {
      expect({ status: reply.status, body: JSON.parse(reply.body) as unknown }).toMatchObject({
        status: 413,
        body: { error: { code: 'PAYLOAD_TOO_LARGE' } },
      });
      expect(messages).toEqual([expect.stringContaining(`"probe":"${sentinel}"`)]);
    }
  });

  describe.each(NOTIFICATION_TYPES)('%s', (type) => {
    const { callbackPath } = NOTIFICATION_DEFINITIONS[type];

    it('replies 413 and publishes nothing for a body one byte larger', async () => {
      // Prepare
      const since = subscriber.received.length;
      const devEui = uniqueDevice();
      const body = bodyOfSize(type, devEui, `too-large-${devEui}`, IOT_MAX_PAYLOAD_BYTES + 1);

      // Act
      const reply = await send(
        'POST',
        callbackPath,
        { authorization: `Bearer ${E2E_TOKEN}` },
        body,
      );
      const { messages, sentinel } = await receivedUpToSentinel('POST', callbackPath, type, since);

      // Assess
      expect(reply.status, reply.body).toBe(413);
      expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
      expect(messages).toEqual([expect.stringContaining(`"probe":"${sentinel}"`)]);
    });
  });

  it('replies 413 from the API layer, before any function runs, to a body over 10 MiB', async () => {
    // Prepare
    const since = subscriber.received.length;
    const invocations = { ...connector.cloud.usage.counts.invocations };
    const devEui = uniqueDevice();
    const body = bodyOfSize('uplink', devEui, `huge-${devEui}`, API_GATEWAY_MAX_BYTES + 1);
    const path = NOTIFICATION_DEFINITIONS.uplink.callbackPath;

    // Act
    const reply = await send('POST', path, { authorization: `Bearer ${E2E_TOKEN}` }, body);
    const invoked = { ...connector.cloud.usage.counts.invocations };
    const { messages, sentinel } = await receivedUpToSentinel('POST', path, 'uplink', since);

    // Assess
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toEqual({ message: 'Request Entity Too Large' });
    expect(invoked).toEqual(invocations);
    expect(messages).toEqual([expect.stringContaining(`"probe":"${sentinel}"`)]);
  });
});
