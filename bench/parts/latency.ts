import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import mqtt, { type MqttClient } from 'mqtt';
import type { ConnectorProcess } from '../connector-process.js';
import type { BenchOrbiwan } from '../bench-orbiwan.js';
import { ratio, round, summarize, type Summary } from '../stats.js';

// Parts 4 to 6, through the running local stack, each with its baseline measured in the same run,
// sample by sample in turn so that the machine's slow moments hit both alike.

export const RX1_BUDGET_MS = 100;

export interface Comparison {
  connector: Summary;
  baseline: Summary;
  /** Connector median over baseline median. */
  p50Ratio: number;
}

export interface LatencyResult {
  inbound: { uplink_early: Comparison; uplink: Comparison };
  outbound: Comparison;
  earlyReplyLoop: Summary & { p99ShareOfBudget: number };
}

export interface LatencyOptions {
  samples: number;
  token: string;
}

interface Arrival {
  at: number;
  payload: Buffer;
}

/** An MQTT client that resolves a waiter per key as soon as the matching message arrives. */
class Listener {
  private readonly waiting = new Map<string, (arrival: Arrival) => void>();
  private readonly arrived = new Map<string, Arrival>();

  constructor(
    readonly client: MqttClient,
    keyOf: (topic: string, payload: Buffer) => string | undefined,
  ) {
    client.on('message', (topic, payload) => {
      const arrival = { at: performance.now(), payload };
      const key = keyOf(topic, payload);
      if (key === undefined) return;
      const waiter = this.waiting.get(key);
      if (waiter === undefined) this.arrived.set(key, arrival);
      else {
        this.waiting.delete(key);
        waiter(arrival);
      }
    });
  }

  next(key: string): Promise<Arrival> {
    const arrival = this.arrived.get(key);
    if (arrival !== undefined) {
      this.arrived.delete(key);
      return Promise.resolve(arrival);
    }
    return new Promise((resolve) => this.waiting.set(key, resolve));
  }
}

const fcntOf = (payload: Buffer) =>
  String((JSON.parse(payload.toString()) as { fcnt?: number }).fcnt);
/** Downlink statuses are keyed by state and requestId (the benchmarks use the payload as that). */
const statusKeyOf = (payload: Buffer) => {
  const { state, requestId } = JSON.parse(payload.toString()) as {
    state?: string;
    requestId?: string;
  };
  return `status:${state ?? ''}:${requestId ?? ''}`;
};
const hex = (value: number) => value.toString(16).padStart(8, '0');

export async function measureLatency(
  connector: ConnectorProcess,
  orbiwan: BenchOrbiwan,
  { samples, token }: LatencyOptions,
): Promise<LatencyResult> {
  const { topicPrefix } = connector;
  const iot = new IoTDataPlaneClient({
    endpoint: connector.aws,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const relay = await startBareRelay(iot, topicPrefix);
  const subscriber = await connectMqtt(connector.mqtt);
  const listener = new Listener(subscriber, (topic, payload) =>
    topic.endsWith('/downlink/status')
      ? statusKeyOf(payload)
      : `${topic.split('/').at(-1) ?? ''}:${fcntOf(payload)}`,
  );
  await subscriber.subscribeAsync(
    [
      `${topicPrefix}/+/uplink`,
      `${topicPrefix}/+/uplink_early`,
      `${topicPrefix}/+/downlink/status`,
    ],
    { qos: 0 },
  );

  // Baseline of the outbound path: an application's own subscriber that POSTs each downlink.
  const forwarder = await connectMqtt(connector.mqtt);
  await forwarder.subscribeAsync('bench/+/downlink', { qos: 0 });
  forwarder.on('message', (topic, payload) => {
    const { data, port } = JSON.parse(payload.toString()) as { data: string; port: number };
    void fetch(
      `${orbiwan.url}/rest/nodes/${topic.split('/')[1] ?? ''}/payloads/dl?port=${String(port)}&confirmed=false&data_format=hex`,
      {
        method: 'POST',
        headers: { 'content-type': 'text/plain', authorization: 'Basic YmVuY2g6YmVuY2g=' },
        body: data,
      },
    );
  });

  // The early-reply loop's application: answers every early uplink with a downlink at once.
  const app = await connectMqtt(connector.mqtt);
  await app.subscribeAsync(`${topicPrefix}/+/uplink_early`, { qos: 0 });
  app.on('message', (topic, payload) => {
    const fcnt = Number(fcntOf(payload));
    if (fcnt < LOOP_BASE) return;
    void app.publishAsync(
      topic.replace(/uplink_early$/, 'downlink'),
      JSON.stringify({ data: hex(fcnt), port: 1, confirmed: false, requestId: hex(fcnt) }),
      { qos: 0 },
    );
  });

  let fcnt = 1;
  const push = async (url: string, path: string, body: object | string, method = 'POST') => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${path} answered ${String(response.status)}`);
  };
  const notification = (devEui: string, type: 'uplink' | 'uplink_early') => ({
    DevEUI: devEui,
    early: type === 'uplink_early',
    dataFrame: 'AQIDBA==',
    port: 10,
    fcnt: fcnt++,
    id: 1,
  });

  const inboundSample = async (type: 'uplink' | 'uplink_early', url: string, devEui: string) => {
    const body = notification(devEui, type);
    const started = performance.now();
    const arrived = listener.next(`${type}:${String(body.fcnt)}`);
    await push(
      url,
      type === 'uplink' ? '/rest/callback/payloads/ul' : '/rest/callback/payloads/ul_early',
      body,
    );
    return (await arrived).at - started;
  };

  // A device's next uplink comes seconds after its last downlink, whose lifecycle has ended by
  // then: so does each sample's here, with OrbiWAN's `sent` push, before the next one starts. (On
  // AWS each invocation has a sandbox of its own; here one process would otherwise be measuring a
  // sample while still finishing the last.)
  const finishLifecycle = async (devEui: string, requestId: string) => {
    const accepted = (await listener.next(`status:accepted:${requestId}`)).payload.toString();
    const id = /"id":(\d+)/.exec(accepted)?.[1] ?? '';
    const sent = listener.next(`status:sent:${requestId}`);
    await push(
      connector.http,
      '/rest/callback/payloads/dl',
      `{"DevEUI":"${devEui}","id":${id},"fcnt":1,"port":1,"transmissionStatus":1}`,
      'PUT',
    );
    await sent;
  };

  const warmup = Math.max(5, Math.round(samples / 10));
  const inbound = {
    uplink_early: { connector: [] as number[], baseline: [] as number[] },
    uplink: { connector: [] as number[], baseline: [] as number[] },
  };
  for (const type of ['uplink_early', 'uplink'] as const) {
    for (let index = 0; index < warmup + samples; index++) {
      const connectorMs = await inboundSample(type, connector.http, '0000000000000001');
      const baselineMs = await inboundSample(type, relay.url, '0000000000000002');
      if (index < warmup) continue;
      inbound[type].connector.push(connectorMs);
      inbound[type].baseline.push(baselineMs);
    }
  }

  let downlinks = 0;
  const outboundSample = async (topic: string) => {
    const data = hex(++downlinks);
    const started = performance.now();
    const arrived = orbiwan.arrival(data);
    await subscriber.publishAsync(
      topic,
      JSON.stringify({ data, port: 1, confirmed: false, requestId: data }),
      { qos: 0 },
    );
    return { ms: (await arrived) - started, requestId: data };
  };
  const outbound = { connector: [] as number[], baseline: [] as number[] };
  for (let index = 0; index < warmup + samples; index++) {
    const { ms: connectorMs, requestId } = await outboundSample(
      `${topicPrefix}/0000000000000003/downlink`,
    );
    await finishLifecycle('0000000000000003', requestId);
    const { ms: baselineMs } = await outboundSample('bench/0000000000000004/downlink');
    if (index < warmup) continue;
    outbound.connector.push(connectorMs);
    outbound.baseline.push(baselineMs);
  }

  fcnt = LOOP_BASE;
  const loop: number[] = [];
  for (let index = 0; index < warmup + samples; index++) {
    const body = notification('0000000000000005', 'uplink_early');
    const started = performance.now();
    const posted = orbiwan.arrival(hex(body.fcnt));
    await push(connector.http, '/rest/callback/payloads/ul_early', body);
    const elapsed = (await posted) - started;
    await finishLifecycle('0000000000000005', hex(body.fcnt));
    if (index >= warmup) loop.push(elapsed);
  }

  await Promise.all([subscriber.endAsync(), forwarder.endAsync(), app.endAsync(), relay.close()]);
  const compare = ({
    connector: measured,
    baseline,
  }: {
    connector: number[];
    baseline: number[];
  }): Comparison => {
    const connectorSummary = summarize(measured);
    const baselineSummary = summarize(baseline);
    return {
      connector: connectorSummary,
      baseline: baselineSummary,
      p50Ratio: round(ratio(connectorSummary.median, baselineSummary.median), 2),
    };
  };
  const loopSummary = summarize(loop);
  return {
    inbound: { uplink_early: compare(inbound.uplink_early), uplink: compare(inbound.uplink) },
    outbound: compare(outbound),
    earlyReplyLoop: { ...loopSummary, p99ShareOfBudget: round(loopSummary.p99 / RX1_BUDGET_MS, 3) },
  };
}

/** An MQTT client that sends each packet at once, as an application that cares about latency would. */
async function connectMqtt(url: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  (client.stream as Partial<Socket>).setNoDelay?.(true);
  return client;
}

// Early-uplink frame counters of the loop start here, apart from the inbound samples'.
const LOOP_BASE = 10_000_000;

/** The baseline of the inbound path: publish the raw body with the same SDK client, nothing else. */
async function startBareRelay(
  iot: IoTDataPlaneClient,
  topicPrefix: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const payload = Buffer.concat(chunks);
      const { DevEUI } = JSON.parse(payload.toString()) as { DevEUI: string };
      const type = request.url?.endsWith('ul_early') ? 'uplink_early' : 'uplink';
      void iot
        .send(
          new PublishCommand({
            topic: `${topicPrefix}/${DevEUI.toLowerCase()}/${type}`,
            payload,
            qos: type === 'uplink' ? 1 : 0,
          }),
        )
        .then(() => response.writeHead(200).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
