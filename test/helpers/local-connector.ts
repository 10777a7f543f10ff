import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startLocalConnector, type LocalConnector } from '../../local/connector.js';
import { localSettingsFromEnv } from '../../local/settings.js';
import { loadTemplate, type CfnTemplate } from '../../local/template/sam-template.js';

// The local stack for end-to-end tests: every port chosen by the system, certificates in a
// temporary folder, the simulator's devices uplinking only when a test says so, and no random
// failures unless a test asks for them.

export const E2E_TOKEN = 'e2e-push-token';

export async function startTestConnector(
  env: Record<string, string> = {},
  template: CfnTemplate = loadTemplate(),
): Promise<LocalConnector> {
  const settings = localSettingsFromEnv(
    {
      PORT: '0',
      MQTT_PORT: '0',
      AWS_PORT: '0',
      IOT_HTTPS_PORT: '0',
      ORBIWAN_SIMULATOR_PORT: '0',
      PUSH_TOKEN: E2E_TOKEN,
      CERTS_DIR: mkdtempSync(join(tmpdir(), 'connector-certs-')),
      SIMULATOR_UPLINK_INTERVAL_SECONDS: '0',
      SIMULATOR_CLASS_C_DELAY_MS: '20',
      SIMULATOR_NACK_RATE: '0',
      SIMULATOR_ERROR_RATE: '0',
      SIMULATOR_CANCEL_RATE: '0',
      LOG_LEVEL: 'ERROR',
      ...env,
    },
    template,
  );
  // The metrics' lines would bury the test report (the handler tests check the metrics).
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  return startLocalConnector(settings, { retryDelayMs: 5, template });
}

export interface ReceivedMessage {
  topic: string;
  payload: Buffer;
}

export interface Subscriber {
  client: MqttClient;
  /** Resolves with the first message (received from now on, or already received) that matches. */
  next: (matches: (message: ReceivedMessage) => boolean) => Promise<ReceivedMessage>;
  received: ReceivedMessage[];
  close: () => Promise<void>;
}

/** A real MQTT client subscribed to a filter, keeping everything it receives. */
export async function subscribe(url: string, filter: string): Promise<Subscriber> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  await client.subscribeAsync(filter, { qos: 1 });
  const received: ReceivedMessage[] = [];
  const waiting: {
    matches: (message: ReceivedMessage) => boolean;
    resolve: (message: ReceivedMessage) => void;
  }[] = [];
  client.on('message', (topic, payload) => {
    const message = { topic, payload: Buffer.from(payload) };
    received.push(message);
    for (const waiter of [...waiting]) {
      if (!waiter.matches(message)) continue;
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve(message);
    }
  });
  return {
    client,
    received,
    next: (matches) => {
      const already = received.find(matches);
      if (already !== undefined) return Promise.resolve(already);
      return new Promise((resolve) => waiting.push({ matches, resolve }));
    },
    close: () => client.endAsync(),
  };
}
