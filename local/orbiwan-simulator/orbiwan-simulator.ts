import { randomInt } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenStore } from './authentication.js';
import { normaliseDevEui as parseDevEui } from '../../functions/shared/dev-eui.js';
import type { DownlinkCounters } from './downlink-endpoints.js';
import { createPushClient } from './push-client.js';
import { destinationFromTarget } from './push-destination.js';
import { createRandom, deviceSeed } from './random.js';
import { createRestApi } from './rest-api.js';
import { createScheduler } from './scheduler.js';
import { SimulatedDevice } from './simulated-device.js';

// A stand-in for the OrbiWAN network server in the local stack: its REST API for the connector's
// downlinks, and pushes to the connector from simulated devices, with OrbiWAN's documented wire
// formats and the downlink lifecycles a real network produces.

export interface SimulatedDeviceConfig {
  /** 16 lowercase hex digits. */
  devEui: string;
  deviceClass: 'A' | 'C';
}

export interface SimulatorOptions {
  /** 0 = any free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** What Basic auth and the OAuth2 password grant accept. */
  credentials: { username: string; password: string };
  devices: SimulatedDeviceConfig[];
  /** Class A and C devices uplink this often (early uplink, then uplink); 0 = only when uplink() is called. */
  uplinkIntervalMs: number;
  /** A class C device transmits a queued downlink this long after it was queued. */
  classCDelayMs: number;
  /** Chances (0..1) that a transmitted downlink ends not acknowledged (confirmed only), in error, or cancelled. */
  outcomes: { nackRate: number; errorRate: number; cancelRate: number };
  /** Seeds every random choice, so a run can be replayed. */
  seed?: number;
  /** Push mode as if PUT /rest/pushmode/start had been sent at startup; also settable later through the REST API. */
  push?: PushTarget;
}

export interface PushTarget {
  /** With scheme, e.g. http://127.0.0.1. */
  host: string;
  port: number;
  pathPrefix: string;
  /** Sent as 'Authorization: Bearer <token>'. */
  accessToken: string;
  dataFormat: 'base64' | 'hex';
  /** Push topics, e.g. payloads_ul, payloads_ul_early, payloads_dl, joininfo, status. */
  subscriptions: string[];
}

export interface SimulatedDownlink {
  devEui: string;
  /** The 64-bit id, as digits. */
  id: string;
  fcnt: number;
  port: number;
  /** Hex. */
  data: string;
  confirmed: boolean;
  /** Current, 0..5. */
  transmissionStatus: number;
  history: { transmissionStatus: number; at: Date }[];
}

export interface SimulatorStats {
  /** Pushes answered 2xx. */
  pushes: number;
  /** Pushes answered otherwise or not at all (never retried, as OrbiWAN). */
  failedPushes: number;
  /** Authenticated POSTs to .../payloads/dl, accepted or not. */
  downlinkPosts: number;
  /** POSTs for a device that arrived while another POST for it was in flight. */
  parallelPostViolations: number;
}

export interface OrbiwanSimulator {
  /** Base URL, e.g. http://127.0.0.1:8090; the REST API is under /rest. */
  url: string;
  downlinks: () => SimulatedDownlink[];
  stats: () => SimulatorStats;
  /** Makes the device uplink now: early uplink push, uplink push, and what an uplink does to its queued downlinks. Resolves when its pushes are answered. */
  uplink: (devEui: string) => Promise<void>;
  /** Resolves when every push started so far has been answered. */
  idle: () => Promise<void>;
  close: () => Promise<void>;
}

// Above 2^53, so a client that reads ids as doubles loses digits and gets caught.
const FIRST_ID = 2n ** 54n + 1n;

export async function startOrbiwanSimulator(options: SimulatorOptions): Promise<OrbiwanSimulator> {
  const host = options.host ?? '127.0.0.1';
  const seed = options.seed ?? randomInt(2 ** 32);
  const scheduler = createScheduler();
  const push = createPushClient(
    options.push === undefined ? undefined : destinationFromTarget(options.push),
  );
  let lastId = FIRST_ID - 1n;
  const nextId = (): bigint => (lastId += 1n);

  const devices = new Map<string, SimulatedDevice>();
  for (const config of options.devices) {
    const devEui = parseDevEui(config.devEui);
    if (devEui === undefined) throw new Error(`malformed DevEUI ${config.devEui}`);
    const device = new SimulatedDevice(devEui, config.deviceClass, {
      random: createRandom(deviceSeed(seed, devEui)),
      nextId,
      push: push.push,
      schedule: scheduler.after,
      outcomes: options.outcomes,
      classCDelayMs: options.classCDelayMs,
    });
    devices.set(devEui, device);
  }

  const counters: DownlinkCounters = { downlinkPosts: 0, parallelPostViolations: 0 };
  const server = createServer(
    createRestApi({
      credentials: options.credentials,
      tokens: createTokenStore(),
      devices,
      push,
      counters,
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  for (const device of devices.values()) {
    void device.join();
    if (options.uplinkIntervalMs > 0)
      scheduler.every(options.uplinkIntervalMs, () => void device.uplink());
  }

  let closing: Promise<void> | undefined;
  const shutDown = async (): Promise<void> => {
    scheduler.clear();
    push.close();
    // Abandoned pushes settle as failed at once; stats() read after close() counts them.
    await push.idle();
    await new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((error) => {
        if (error) reject(error);
        else resolve();
      });
    });
  };

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    downlinks: () =>
      [...devices.values()]
        .flatMap((device) =>
          device.downlinks.map((record) => ({
            devEui: device.devEui,
            id: record.id.toString(),
            fcnt: record.fcnt,
            port: record.port,
            data: record.payload.toString('hex'),
            confirmed: record.confirmed,
            transmissionStatus: record.status,
            history: record.history.map((entry) => ({ ...entry })),
          })),
        )
        .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)),
    stats: () => ({ ...push.counts(), ...counters }),
    uplink: (devEui) => {
      const device = devices.get(parseDevEui(devEui) ?? '');
      return device === undefined
        ? Promise.reject(new Error(`unknown device ${devEui}`))
        : device.uplink();
    },
    idle: push.idle,
    close: () => (closing ??= shutDown()),
  };
}
