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
export class Listener {
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

  /** The message with this key: at once if it came already; refused after `timeoutMs`, if given. */
  next(key: string, timeoutMs?: number): Promise<Arrival> {
    const arrival = this.arrived.get(key);
    if (arrival !== undefined) {
      this.arrived.delete(key);
      return Promise.resolve(arrival);
    }
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.waiting.delete(key);
              reject(new Error(`no ${key} message within ${String(timeoutMs)} ms`));
            }, timeoutMs);
      this.waiting.set(key, (arrived) => {
        clearTimeout(timer);
        resolve(arrived);
      });
    });
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
/** A shadow's update/documents message, by the frame counter of the uplink it now holds. */
const documentsKeyOf = (payload: Buffer) => {
  const { current } = JSON.parse(payload.toString()) as {
    current?: { state?: { reported?: { uplink?: { fcnt?: number } } } };
  };
  const fcnt = current?.state?.reported?.uplink?.fcnt;
  return fcnt === undefined ? undefined : `documents:${String(fcnt)}`;
};
/**
 * What the benchmarks wait for, by key: `uplink:<fcnt>`, `uplink_early:<fcnt>`, `decoded:<fcnt>`
 * (the decoded uplink), `documents:<fcnt>` (the shadow written with it), `status:<state>:<id>`.
 */
const messageKeyOf = (topic: string, payload: Buffer) => {
  if (topic.endsWith('/downlink/status')) return statusKeyOf(payload);
  if (topic.endsWith('/update/documents')) return documentsKeyOf(payload);
  return `${topic.split('/').at(-1) ?? ''}:${fcntOf(payload)}`;
};
const hex = (value: number) => value.toString(16).padStart(8, '0');

/** A frame the sample sensor's codec decodes (FPort 1): 21.50 °C, 45 %, 3.6 V. */
const SENSOR_FRAME = {
  dataFrame: Buffer.from([0x01, 0x08, 0x66, 0x2d, 0x0e, 0x10]).toString('base64'),
  port: 1,
};

type UplinkType = 'uplink' | 'uplink_early';

/**
 * What inbound samples go through: the connector process, a bare relay that publishes with the
 * same SDK client on its IoT endpoint, and a subscriber on its broker whose messages a Listener
 * hands out by key.
 */
export interface InboundRig {
  connector: ConnectorProcess;
  relay: { url: string; close: () => Promise<void> };
  subscriber: MqttClient;
  listener: Listener;
  /** Sends a push with the bench's token; throws unless it was answered 2xx. */
  push: (url: string, path: string, body: object | string, method?: string) => Promise<void>;
  close: () => Promise<void>;
}

export async function startInboundRig(
  connector: ConnectorProcess,
  token: string,
  /** Topics to listen on besides `{prefix}/+/uplink` and `{prefix}/+/uplink_early`. */
  topics: string[] = [],
): Promise<InboundRig> {
  const { topicPrefix } = connector;
  const iot = new IoTDataPlaneClient({
    endpoint: connector.aws,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const relay = await startBareRelay(iot, topicPrefix);
  const subscriber = await connectMqtt(connector.mqtt);
  const listener = new Listener(subscriber, messageKeyOf);
  await subscriber.subscribeAsync(
    [`${topicPrefix}/+/uplink`, `${topicPrefix}/+/uplink_early`, ...topics],
    { qos: 0 },
  );
  const push = async (url: string, path: string, body: object | string, method = 'POST') => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${path} answered ${String(response.status)}`);
  };
  return {
    connector,
    relay,
    subscriber,
    listener,
    push,
    close: async () => {
      await Promise.all([subscriber.endAsync(), relay.close()]);
      iot.destroy();
    },
  };
}

/** OrbiWAN's uplink push, as the benchmarks send it: the sample sensor's frame. */
const notification = (devEui: string, type: UplinkType, fcnt: number) => ({
  DevEUI: devEui,
  early: type === 'uplink_early',
  ...SENSOR_FRAME,
  fcnt,
  id: 1,
});

/** Samples not counted before the counted ones: the processes' code paths warm first. */
const warmupOf = (samples: number) => Math.max(5, Math.round(samples / 10));

export interface InboundSampleOptions {
  samples: number;
  /** The device the connector's pushes are from, and the relay's. */
  devices: { connector: string; baseline: string };
  /** The next push's frame counter (unique per rig: it keys the arrivals). */
  nextFcnt: () => number;
  /**
   * Runs after each push's raw message arrived, before the next push (what it waits for is not
   * part of the sample): what the message caused besides.
   */
  afterEach?: (sample: {
    side: 'connector' | 'baseline';
    fcnt: number;
    started: number;
    counted: boolean;
  }) => Promise<void>;
}

/**
 * Push → raw MQTT arrival through the connector and through the bare relay, in turn, sample by
 * sample, after the warm-up: the inbound comparison of parts 4 and 4b.
 */
export async function sampleInbound(
  rig: InboundRig,
  type: UplinkType,
  { samples, devices, nextFcnt, afterEach }: InboundSampleOptions,
): Promise<Comparison> {
  const path =
    type === 'uplink' ? '/rest/callback/payloads/ul' : '/rest/callback/payloads/ul_early';
  const measured = { connector: [] as number[], baseline: [] as number[] };
  const one = async (side: 'connector' | 'baseline', counted: boolean) => {
    const fcnt = nextFcnt();
    const started = performance.now();
    const arrived = rig.listener.next(`${type}:${String(fcnt)}`);
    await rig.push(
      side === 'connector' ? rig.connector.http : rig.relay.url,
      path,
      notification(devices[side], type, fcnt),
    );
    const ms = (await arrived).at - started;
    if (counted) measured[side].push(ms);
    await afterEach?.({ side, fcnt, started, counted });
  };
  const warmup = warmupOf(samples);
  for (let index = 0; index < warmup + samples; index++) {
    await one('connector', index >= warmup);
    await one('baseline', index >= warmup);
  }
  return compare(measured);
}

/** Connector against baseline: their summaries and the ratio of their medians. */
function compare({ connector, baseline }: { connector: number[]; baseline: number[] }): Comparison {
  const connectorSummary = summarize(connector);
  const baselineSummary = summarize(baseline);
  return {
    connector: connectorSummary,
    baseline: baselineSummary,
    p50Ratio: round(ratio(connectorSummary.median, baselineSummary.median), 2),
  };
}

export async function measureLatency(
  connector: ConnectorProcess,
  orbiwan: BenchOrbiwan,
  { samples, token }: LatencyOptions,
): Promise<LatencyResult> {
  const { topicPrefix } = connector;
  const rig = await startInboundRig(connector, token, [`${topicPrefix}/+/downlink/status`]);
  const { listener, subscriber, push } = rig;

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

  const warmup = warmupOf(samples);
  let fcnt = 0;
  const inboundOptions: InboundSampleOptions = {
    samples,
    devices: { connector: '0000000000000001', baseline: '0000000000000002' },
    nextFcnt: () => ++fcnt,
  };
  const inbound = {
    uplink_early: await sampleInbound(rig, 'uplink_early', inboundOptions),
    uplink: await sampleInbound(rig, 'uplink', inboundOptions),
  };

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

  const loop: number[] = [];
  for (let index = 0; index < warmup + samples; index++) {
    const body = notification('0000000000000005', 'uplink_early', LOOP_BASE + index);
    const started = performance.now();
    const posted = orbiwan.arrival(hex(body.fcnt));
    await push(connector.http, '/rest/callback/payloads/ul_early', body);
    const elapsed = (await posted) - started;
    await finishLifecycle('0000000000000005', hex(body.fcnt));
    if (index >= warmup) loop.push(elapsed);
  }

  await Promise.all([forwarder.endAsync(), app.endAsync(), rig.close()]);
  const loopSummary = summarize(loop);
  return {
    inbound,
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
