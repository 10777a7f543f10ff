import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import type { ConnectorProcess } from '../connector-process.js';
import { round } from '../stats.js';

// Part 7: sustained notifications per second through the local stack, with a load generator in a
// process of its own, and every 200 reply matched with exactly one MQTT message.

const run = promisify(execFile);
const GENERATOR = fileURLToPath(new URL('../load-generator.mjs', import.meta.url));

export interface ThroughputResult {
  sent: number;
  concurrency: number;
  accepted: number;
  refused: Record<string, number>;
  received: number;
  lost: number;
  duplicated: number;
  notificationsPerSecond: number;
  /** CPU of the connector process over the run, in % of one core. */
  connectorCpuPercent: number;
  connectorPeakRssMiB: number;
}

export async function measureThroughput(
  connector: ConnectorProcess,
  { count, concurrency, token }: { count: number; concurrency: number; token: string },
): Promise<ThroughputResult> {
  const { topicPrefix } = connector;
  const subscriber = await mqtt.connectAsync(connector.mqtt, { reconnectPeriod: 0 });
  await subscriber.subscribeAsync(`${topicPrefix}/+/uplink`, { qos: 1 });
  const received = new Map<number, number>();
  let settle: (() => void) | undefined;
  let expected = Number.POSITIVE_INFINITY;
  subscriber.on('message', (_, payload) => {
    const { fcnt } = JSON.parse(payload.toString()) as { fcnt: number };
    received.set(fcnt, (received.get(fcnt) ?? 0) + 1);
    if (received.size >= expected) settle?.();
  });

  const cpuBefore = connector.cpuMs();
  const { stdout } = await run(
    process.execPath,
    [GENERATOR, connector.http, token, String(count), String(concurrency)],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const load = JSON.parse(stdout) as {
    ok: number[];
    failures: Record<string, number>;
    elapsedMs: number;
  };
  const cpuMs = connector.cpuMs() - cpuBefore;

  // Every accepted notification must arrive; wait for the last ones, but not forever.
  expected = load.ok.length;
  if (received.size < expected) {
    await Promise.race([
      new Promise<void>((resolve) => (settle = resolve)),
      new Promise<void>((resolve) => setTimeout(resolve, 15_000)),
    ]);
  }
  await subscriber.endAsync();
  const lost = load.ok.filter((fcnt) => !received.has(fcnt)).length;
  const duplicated = [...received.values()].filter((times) => times > 1).length;
  return {
    sent: count,
    concurrency,
    accepted: load.ok.length,
    refused: load.failures,
    received: received.size,
    lost,
    duplicated,
    notificationsPerSecond: round(load.ok.length / (load.elapsedMs / 1000), 0),
    connectorCpuPercent: round((cpuMs / load.elapsedMs) * 100, 0),
    connectorPeakRssMiB: round(connector.peakRssBytes() / 1024 / 1024, 0),
  };
}
