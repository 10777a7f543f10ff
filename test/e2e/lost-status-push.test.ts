import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalConnector } from '../../local/connector.js';
import { acceptDownlinks } from '../helpers/downlink-harness.js';
import { startFakeHttpServer, type FakeHttpServer } from '../helpers/fake-http-server.js';
import { startTestConnector, subscribe, type Subscriber } from '../helpers/local-connector.js';

// OrbiWAN does not retry a status push that failed. Here its pushes never come at all: the local
// stack, waiting 1 s, asks OrbiWAN where the downlink stands and reports that to the application.

const DEVICE = '0011223344556688';
const statusAtOrbiwan = new Map<string, number>();
let orbiwan: FakeHttpServer;
let connector: LocalConnector;
let subscriber: Subscriber;

beforeAll(async () => {
  orbiwan = await startFakeHttpServer(acceptDownlinks(statusAtOrbiwan));
  connector = await startTestConnector({
    ORBIWAN_URL: orbiwan.url,
    ORBIWAN_USERNAME: 'operator',
    ORBIWAN_PASSWORD: 'operator-password',
    DOWNLINK_TIMEOUT_SECONDS: '1',
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

describe('Local stack: status pushes that never arrive', () => {
  it("delivers OrbiWAN's final status to the application all the same", async () => {
    await subscriber.client.publishAsync(
      `orbiwan/lorawan/${DEVICE}/downlink`,
      '{"data":"0a0b","port":9,"confirmed":true,"requestId":"lost-pushes"}',
      { qos: 1 },
    );
    const accepted = await subscriber.next((message) =>
      message.payload.includes('"state":"accepted"'),
    );
    const id = /"id":(\d+)/.exec(accepted.payload.toString())?.[1] ?? '';
    // The device acknowledged it; OrbiWAN's push of that was lost.
    statusAtOrbiwan.set(id, 2);

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
    const [execution] = connector.cloud.stepFunctions.listExecutions(
      connector.cloud.stateMachines.DownlinkStateMachine ?? '',
    );
    expect(
      await connector.cloud.stepFunctions.whenDone(execution?.executionArn ?? ''),
    ).toMatchObject({ status: 'SUCCEEDED' });
  });
});
