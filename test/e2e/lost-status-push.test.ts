import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startConnectorWithFakeOrbiwan,
  type ConnectorWithFakeOrbiwan,
} from '../helpers/connector-with-fake-orbiwan.js';

// OrbiWAN does not retry a status push that failed. Here its pushes never come at all: once the
// downlink's wait times out (the test ends it as DownlinkTimeoutSeconds would), the local stack
// asks OrbiWAN where the downlink stands and reports that to the application.

const DEVICE = '0011223344556688';
let local: ConnectorWithFakeOrbiwan;

beforeAll(async () => {
  local = await startConnectorWithFakeOrbiwan(`orbiwan/lorawan/${DEVICE}/downlink/status`);
});

afterAll(async () => {
  await local.close();
});

describe('Local stack: status pushes that never arrive', () => {
  it("delivers OrbiWAN's final status to the application all the same", async () => {
    const { orbiwan, connector, subscriber, statusAtOrbiwan } = local;
    await subscriber.client.publishAsync(
      `orbiwan/lorawan/${DEVICE}/downlink`,
      '{"data":"0a0b","port":9,"confirmed":true,"requestId":"lost-pushes"}',
      { qos: 1 },
    );
    const id = await local.acceptedId('lost-pushes');
    // The device acknowledged it; OrbiWAN's push of that was lost.
    statusAtOrbiwan.set(id, 2);
    const { executionArn } = local.executionOf('lost-pushes');
    expect(await connector.cloud.stepFunctions.timeOutTask(executionArn)).toBe(true);

    const acknowledged = await subscriber.next((message) =>
      message.payload.includes('"state":"acknowledged"'),
    );

    expect(JSON.parse(acknowledged.payload.toString())).toMatchObject({
      DevEUI: DEVICE,
      requestId: 'lost-pushes',
      transmissionStatus: 2,
    });
    expect(orbiwan.requests.map(({ method, path }) => `${method} ${path}`)).toEqual([
      `POST /rest/nodes/${DEVICE}/payloads/dl`,
      `GET /rest/nodes/${DEVICE}/payloads/dl/${id}`,
    ]);
    expect(await connector.cloud.stepFunctions.whenDone(executionArn)).toMatchObject({
      status: 'SUCCEEDED',
    });
  });
});
