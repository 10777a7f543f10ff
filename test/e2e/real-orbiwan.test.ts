import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalConnector } from '../../local/connector.js';
import { acceptDownlinks } from '../helpers/downlink-harness.js';
import { startFakeHttpServer, type FakeHttpServer } from '../helpers/fake-http-server.js';
import {
  E2E_TOKEN,
  startTestConnector,
  subscribe,
  type Subscriber,
} from '../helpers/local-connector.js';

// With ORBIWAN_URL the local stack simulates nothing and talks to that OrbiWAN: here a test's own.

const DEVICE = '0011223344556677';
let orbiwan: FakeHttpServer;
let connector: LocalConnector;
let subscriber: Subscriber;

beforeAll(async () => {
  orbiwan = await startFakeHttpServer(acceptDownlinks());
  connector = await startTestConnector({
    ORBIWAN_URL: orbiwan.url,
    ORBIWAN_USERNAME: 'operator',
    ORBIWAN_PASSWORD: 'operator-password',
  });
  subscriber = await subscribe(
    connector.endpoints.mqtt,
    `orbiwan/lorawan/${DEVICE}/downlink/status`,
  );
});

afterAll(async () => {
  await subscriber.close();
  await connector.close();
  await orbiwan.close();
});

describe('Local stack with ORBIWAN_URL', () => {
  it('runs no simulator', () => {
    expect(connector.simulator).toBeUndefined();
    expect(connector.endpoints.orbiwan).toBe(orbiwan.url);
  });

  it("POSTs a downlink to that OrbiWAN with its credentials and follows OrbiWAN's status pushes to the end", async () => {
    await subscriber.client.publishAsync(
      `orbiwan/lorawan/${DEVICE}/downlink`,
      '{"data":"aabbcc","port":20,"confirmed":false,"requestId":"real-1"}',
      { qos: 1 },
    );
    const accepted = await subscriber.next((message) =>
      message.payload.includes('"state":"accepted"'),
    );
    const id = /"id":(\d+)/.exec(accepted.payload.toString())?.[1] ?? '';

    const [post] = orbiwan.requests;
    expect(post).toMatchObject({
      method: 'POST',
      path: `/rest/nodes/${DEVICE}/payloads/dl`,
      body: 'aabbcc',
    });
    expect(post?.headers.authorization).toBe(
      `Basic ${Buffer.from('operator:operator-password').toString('base64')}`,
    );

    // OrbiWAN reports the downlink sent, as its push mode would.
    const reply = await fetch(`${connector.endpoints.http}/rest/callback/payloads/dl`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${E2E_TOKEN}`, 'content-type': 'application/json' },
      body: `{"DevEUI":"${DEVICE.toUpperCase()}","id":${id},"fcnt":42,"port":20,"transmissionStatus":1}`,
    });
    const sent = await subscriber.next((message) => message.payload.includes('"state":"sent"'));

    expect(reply.status).toBe(200);
    expect(JSON.parse(sent.payload.toString())).toMatchObject({
      requestId: 'real-1',
      transmissionStatus: 1,
    });
    const [execution] = connector.cloud.stepFunctions.listExecutions(
      connector.cloud.stateMachines.DownlinkStateMachine ?? '',
    );
    expect(
      (await connector.cloud.stepFunctions.whenDone(execution?.executionArn ?? '')).status,
    ).toBe('SUCCEEDED');
  });
});
