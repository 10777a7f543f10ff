import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalConnector } from '../../local/connector.js';
import {
  E2E_TOKEN,
  startTestConnector,
  subscribe,
  type Subscriber,
} from '../helpers/local-connector.js';

// OrbiWAN may push an uplink again (its first push timed out before our 200 reached it, or
// `live: false`, re-sent from storage). The connector delivers at least once: every push it
// answers 200 is published, byte for byte; applications drop repeats by (DevEUI, fcnt, id).

const DEVICE = '0011223344bb0001';
let connector: LocalConnector;
let app: Subscriber;

beforeAll(async () => {
  connector = await startTestConnector();
  app = await subscribe(connector.endpoints.mqtt, `orbiwan/lorawan/${DEVICE}/#`);
});

afterAll(async () => {
  await app.close();
  await connector.close();
});

const push = (path: string, body: string) =>
  fetch(`${connector.endpoints.http}/rest/callback/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${E2E_TOKEN}`, 'content-type': 'application/json' },
    body,
  });

describe('Duplicate uplinks', () => {
  it('publishes an uplink pushed twice twice, identical, each after its 200', async () => {
    const body = `{"DevEUI":"${DEVICE}","fcnt":77,"port":3,"dataFrame":"AQID","id":9007199254740993,"live":true}`;
    const again = body.replace('"live":true', '"live":false');

    const replies = await Promise.all([push('payloads/ul', body), push('payloads/ul', again)]);
    expect(replies.map((reply) => reply.status)).toEqual([200, 200]);
    const sentinel = await push(
      'payloads/ul',
      `{"DevEUI":"${DEVICE}","fcnt":78,"port":3,"dataFrame":"AQID","id":1}`,
    );
    expect(sentinel.status).toBe(200);
    await app.next((message) => message.payload.includes('"fcnt":78'));

    const uplinks = app.received
      .filter((message) => message.topic === `orbiwan/lorawan/${DEVICE}/uplink`)
      .map((message) => message.payload.toString());
    expect(uplinks.filter((payload) => payload.includes('"fcnt":77')).sort()).toEqual(
      [body, again].sort(),
    );
  });
});
