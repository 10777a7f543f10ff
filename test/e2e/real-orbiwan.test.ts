import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ORBIWAN_OPERATOR,
  startConnectorWithFakeOrbiwan,
  type ConnectorWithFakeOrbiwan,
} from '../helpers/connector-with-fake-orbiwan.js';
import { E2E_TOKEN } from '../helpers/local-connector.js';

// With ORBIWAN_URL the local stack simulates nothing and talks to that OrbiWAN: here a test's own.

const DEVICE = '0011223344556677';
let local: ConnectorWithFakeOrbiwan;

beforeAll(async () => {
  local = await startConnectorWithFakeOrbiwan(`orbiwan/lorawan/${DEVICE}/downlink/status`);
});

afterAll(async () => {
  await local.close();
});

describe('Local stack with ORBIWAN_URL', () => {
  it('runs no simulator', () => {
    const { orbiwan, connector } = local;
    expect(connector.simulator).toBeUndefined();
    expect(connector.endpoints.orbiwan).toBe(orbiwan.url);
  });

  it("POSTs a downlink to that OrbiWAN with its credentials and follows OrbiWAN's status pushes to the end", async () => {
    const { orbiwan, connector, subscriber } = local;
    await subscriber.client.publishAsync(
      `orbiwan/lorawan/${DEVICE}/downlink`,
      '{"data":"aabbcc","port":20,"confirmed":false,"requestId":"real-1"}',
      { qos: 1 },
    );
    const id = await local.acceptedId('real-1');

    const [post] = orbiwan.requests;
    expect(post).toMatchObject({
      method: 'POST',
      path: `/rest/nodes/${DEVICE}/payloads/dl`,
      body: 'aabbcc',
    });
    expect(post?.headers.authorization).toBe(
      `Basic ${Buffer.from(`${ORBIWAN_OPERATOR.username}:${ORBIWAN_OPERATOR.password}`).toString('base64')}`,
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
    expect(
      (await connector.cloud.stepFunctions.whenDone(local.executionOf('real-1').executionArn))
        .status,
    ).toBe('SUCCEEDED');
  });
});
