import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalConnector } from '../../local/connector.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import { E2E_TOKEN, startTestConnector, subscribe } from '../helpers/local-connector.js';

// template.yaml is the only place the wiring is defined: change it, and the local stack follows.

let connector: LocalConnector;

beforeAll(async () => {
  const template = loadTemplate();
  const uplink = template.Resources.UplinkFunction?.Properties as {
    Events: Record<string, { Properties: { Path: string } }>;
  };
  for (const event of Object.values(uplink.Events))
    event.Properties.Path = '/rest/callback/moved/ul';
  connector = await startTestConnector(
    { TOPIC_PREFIX: 'acme/lora', DOWNLINK_TIMEOUT_SECONDS: '120' },
    template,
  );
});

afterAll(async () => {
  await connector.close();
});

describe('Local stack wiring', () => {
  it('serves a route where the template puts it, and publishes under the TOPIC_PREFIX parameter', async () => {
    const subscriber = await subscribe(connector.endpoints.mqtt, 'acme/lora/#');
    const push = (path: string) =>
      fetch(`${connector.endpoints.http}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${E2E_TOKEN}` },
        body: '{"DevEUI":"0011223344556677","dataFrame":"AQ==","port":1,"fcnt":1}',
      });

    const moved = await push('/rest/callback/moved/ul');
    const old = await push('/rest/callback/payloads/ul');
    const message = await subscriber.next(
      (candidate) => candidate.topic === 'acme/lora/0011223344556677/uplink',
    );

    expect([moved.status, old.status]).toEqual([200, 404]);
    expect(message.payload.toString()).toContain('"fcnt":1');
    await subscriber.close();
  });

  it('starts a downlink from a request under the TOPIC_PREFIX parameter, waiting as long as DownlinkTimeoutSeconds says', async () => {
    const subscriber = await subscribe(connector.endpoints.mqtt, 'acme/lora/#');
    const topic = 'acme/lora/0011223344556677/downlink';

    await subscriber.client.publishAsync(topic, '{"data":"aa","port":1,"requestId":"wiring-1"}', {
      qos: 1,
    });
    const status = await subscriber.next(
      (candidate) =>
        candidate.topic === `${topic}/status` && candidate.payload.includes('wiring-1'),
    );

    const machine = connector.cloud.stateMachines.DownlinkStateMachine ?? '';
    const inputs = connector.cloud.stepFunctions
      .listExecutions(machine)
      .map((execution) => JSON.parse(execution.input) as Record<string, unknown>);
    expect(inputs).toContainEqual(expect.objectContaining({ topic, timeoutSeconds: 120 }));
    expect(JSON.parse(status.payload.toString())).toMatchObject({ requestId: 'wiring-1' });
    await subscriber.close();
  });
});
