import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBenchOrbiwan, type BenchOrbiwan } from '../../bench/bench-orbiwan.js';
import { startConnectorProcess, type ConnectorProcess } from '../../bench/connector-process.js';
import { measureThroughput } from '../../bench/parts/throughput.js';
import type { LocalConnector } from '../../local/connector.js';
import { startFakeHttpServer } from '../helpers/fake-http-server.js';
import {
  E2E_TOKEN,
  startTestConnector,
  subscribe,
  type Subscriber,
} from '../helpers/local-connector.js';

// Load through the local stack, bounded in count: nothing lost, nothing doubled, never two POSTs
// for one device at once, and each downlink's statuses in lifecycle order. Sizes: LOAD_NOTIFICATIONS (10,000), LOAD_DOWNLINKS (1,000) over
// LOAD_DEVICES (100).

const size = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const NOTIFICATIONS = size('LOAD_NOTIFICATIONS', 10_000);
const DOWNLINKS = size('LOAD_DOWNLINKS', 1_000);
const DEVICES = size('LOAD_DEVICES', 100);

describe('Load: notifications', () => {
  let orbiwan: BenchOrbiwan;
  let connector: ConnectorProcess;

  beforeAll(async () => {
    orbiwan = await startBenchOrbiwan();
    connector = await startConnectorProcess({
      PUSH_TOKEN: E2E_TOKEN,
      ORBIWAN_URL: orbiwan.url,
      ORBIWAN_USERNAME: 'load',
      ORBIWAN_PASSWORD: 'load',
      LOG_LEVEL: 'WARN',
    });
  });

  afterAll(async () => {
    await connector.stop();
    await orbiwan.close();
  });

  it(`matches each of ${String(NOTIFICATIONS)} notifications' 200 with exactly one MQTT message`, async () => {
    const result = await measureThroughput(connector, {
      count: NOTIFICATIONS,
      concurrency: 64,
      token: E2E_TOKEN,
    });
    console.info(
      `load: ${String(result.accepted)} of ${String(result.sent)} notifications answered 200, ${String(result.received)} received, ${String(result.lost)} lost, ${String(result.duplicated)} duplicated`,
    );

    expect(result).toMatchObject({
      sent: NOTIFICATIONS,
      accepted: NOTIFICATIONS,
      refused: {},
      received: NOTIFICATIONS,
      lost: 0,
      duplicated: 0,
    });
  }, 120_000);
});

/**
 * OrbiWAN for the downlinks: takes each POST after a moment (so parallel POSTs for one device
 * would overlap), notes how many are in flight per device, then pushes `sent` as OrbiWAN would.
 */
async function startBusyOrbiwan(pushTo: () => string) {
  const inFlight = new Map<string, number>();
  const posted = new Map<string, number>();
  let mostInFlight = 0;
  let nextId = 18_014_398_509_481_985n;
  const server = await startFakeHttpServer(async ({ path, body: data }) => {
    const device = /\/rest\/nodes\/([0-9a-f]{16})\/payloads\/dl/.exec(path)?.[1] ?? '';
    inFlight.set(device, (inFlight.get(device) ?? 0) + 1);
    mostInFlight = Math.max(mostInFlight, inFlight.get(device) ?? 0);
    posted.set(data, (posted.get(data) ?? 0) + 1);
    const id = (nextId++).toString();
    await new Promise((resolve) => setTimeout(resolve, 2));
    // No longer in flight: the answer goes out now, before the connector can POST again.
    inFlight.set(device, (inFlight.get(device) ?? 1) - 1);
    // The device's receive window comes; OrbiWAN pushes the status.
    setTimeout(() => {
      void fetch(`${pushTo()}/rest/callback/payloads/dl`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${E2E_TOKEN}`, 'content-type': 'application/json' },
        body: `{"DevEUI":"${device}","id":${id},"fcnt":1,"port":1,"transmissionStatus":1}`,
      }).then((reply) => reply.arrayBuffer());
    }, 5);
    return { status: 200, body: `{"id":${id},"fcnt":1,"port":1,"transmissionStatus":0}` };
  });
  return {
    url: server.url,
    posted,
    mostInFlight: () => mostInFlight,
    close: server.close,
  };
}

describe('Load: downlinks', () => {
  let orbiwan: Awaited<ReturnType<typeof startBusyOrbiwan>>;
  let connector: LocalConnector;
  let app: Subscriber;

  beforeAll(async () => {
    orbiwan = await startBusyOrbiwan(() => connector.endpoints.http);
    connector = await startTestConnector({
      ORBIWAN_URL: orbiwan.url,
      ORBIWAN_USERNAME: 'load',
      ORBIWAN_PASSWORD: 'load',
    });
    app = await subscribe(connector.endpoints.mqtt, 'orbiwan/lorawan/+/downlink/status');
  });

  afterAll(async () => {
    await app.close();
    await connector.close();
    await orbiwan.close();
  });

  it(`takes ${String(DOWNLINKS)} downlinks over ${String(DEVICES)} devices each to a final state, each POSTed once, one at a time per device, its statuses in order`, async () => {
    const requests = Array.from({ length: DOWNLINKS }, (_, index) => ({
      device: `70b3d57e${index % DEVICES}`.padEnd(16, '0').slice(0, 16),
      data: (0x10000000 + index).toString(16),
      requestId: `load-${String(index)}`,
    }));
    const sent = new Set<string>();
    /** Every status each downlink's application received, in the order received. */
    const statesOf = new Map<string, string[]>();
    const allSent = new Promise<void>((resolve) => {
      app.client.on('message', (_, payload) => {
        const status = JSON.parse(payload.toString()) as { state?: string; requestId?: string };
        const requestId = status.requestId ?? '(none)';
        statesOf.set(requestId, [...(statesOf.get(requestId) ?? []), status.state ?? '(none)']);
        if (status.state === 'sent' && status.requestId !== undefined) sent.add(status.requestId);
        if (sent.size === DOWNLINKS) resolve();
      });
    });

    await Promise.all(
      requests.map(({ device, data, requestId }) =>
        app.client.publishAsync(
          `orbiwan/lorawan/${device}/downlink`,
          JSON.stringify({ data, port: 1, confirmed: false, requestId }),
          { qos: 1 },
        ),
      ),
    );
    await allSent;
    const executions = connector.cloud.stepFunctions.listExecutions(
      connector.cloud.stateMachines.DownlinkStateMachine ?? '',
    );
    const outcomes = await Promise.all(
      executions.map((execution) => connector.cloud.stepFunctions.whenDone(execution.executionArn)),
    );
    const succeeded = outcomes.filter((outcome) => outcome.status === 'SUCCEEDED');
    console.info(
      `load: ${String(DOWNLINKS)} downlinks over ${String(DEVICES)} devices: ${String(succeeded.length)} delivered, ${String(orbiwan.posted.size)} posted, at most ${String(orbiwan.mostInFlight())} POST in flight per device`,
    );

    expect(executions).toHaveLength(DOWNLINKS);
    expect(succeeded).toHaveLength(DOWNLINKS);
    expect(orbiwan.posted.size).toBe(DOWNLINKS);
    expect([...orbiwan.posted.values()].every((count) => count === 1)).toBe(true);
    expect(orbiwan.mostInFlight()).toBe(1);
    expect(sent.size).toBe(DOWNLINKS);
    // Unconfirmed: `sent` is the end. Each once, after `accepted`; none without its requestId.
    const notInOrder = [...statesOf].filter(([, states]) => states.join() !== 'accepted,sent');
    expect(notInOrder).toEqual([]);
    expect(statesOf.size).toBe(DOWNLINKS);
  }, 120_000);
});
