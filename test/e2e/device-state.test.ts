import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalConnector } from '../../local/connector.js';
import { main as orbiwanCodec } from '../../tools/codec-cli.js';
import {
  E2E_TOKEN,
  startTestConnector,
  subscribe,
  type ReceivedMessage,
  type Subscriber,
} from '../helpers/local-connector.js';

// Payload codecs and device shadows on the running local stack, as a user meets them: codecs
// added and attached with the orbiwan-codec command, uplinks from the simulator's sample sensors,
// decoded messages on MQTT, the shadow read with the AWS CLI, downlinks sent as objects, and the
// lifecycle page in a browser.

const run = promisify(execFile);
const PREFIX = 'orbiwan/lorawan';
const CLASS_C = '70b3d57ed0000001';
const BY_PROFILE = '70b3d57ed0000002';
const HOSTILE = '70b3d57ed0000003';
const SAMPLE_CODEC = fileURLToPath(
  new URL('../../codecs/orbiwan-sample-sensor.js', import.meta.url),
);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const AWS_ENV = {
  ...process.env,
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_DEFAULT_REGION: 'eu-west-1',
};

let connector: LocalConnector;
let subscriber: Subscriber;
let table: string;

async function codecCommand(...args: string[]): Promise<string> {
  let out = '';
  const io = {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (out += text) },
  };
  const status = await orbiwanCodec(
    [...args, '--table', table, '--endpoint-url', connector.endpoints.aws, '--region', 'eu-west-1'],
    io,
  );
  expect(status, out).toBe(0);
  return out;
}

async function shadowOf(devEui: string): Promise<{
  version: number;
  state: { reported: Record<string, Record<string, unknown>> };
}> {
  const file = join(mkdtempSync(join(tmpdir(), 'shadow-')), 'shadow.json');
  await run(
    'aws',
    [
      'iot-data',
      'get-thing-shadow',
      '--endpoint-url',
      connector.endpoints.aws,
      '--thing-name',
      devEui,
      '--shadow-name',
      'orbiwan',
      file,
    ],
    { env: AWS_ENV },
  );
  return JSON.parse(readFileSync(file, 'utf8')) as Awaited<ReturnType<typeof shadowOf>>;
}

const on = (devEui: string, suffix: string) => (message: ReceivedMessage) =>
  message.topic === `${PREFIX}/${devEui}/${suffix}`;

/** The device uplinks; resolves once the rules' device-state invocations it caused are over. */
async function uplink(devEui: string): Promise<void> {
  await connector.simulator?.uplink(devEui);
  await connector.cloud.rulesSettled();
}

function push(path: string, body: object): Promise<Response> {
  return fetch(`${connector.endpoints.http}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${E2E_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  connector = await startTestConnector({ PAYLOAD_CODECS: 'Enabled', DEVICE_SHADOWS: 'Enabled' });
  table = connector.stack.refs.DeviceCodecsTable ?? '';
  subscriber = await subscribe(connector.endpoints.mqtt, `${PREFIX}/#`);
  const hostile = join(mkdtempSync(join(tmpdir(), 'codec-')), 'hostile.js');
  writeFileSync(hostile, 'function decodeUplink() { for (;;) {} }');
  // Attached before any uplink: a function reads the attachments at most once a minute.
  await codecCommand('add', '--name', 'sample-sensor', '--file', SAMPLE_CODEC);
  await codecCommand('add', '--name', 'looping', '--file', hostile);
  await codecCommand('attach', '--codec', 'sample-sensor', '--selector', `deveui:${CLASS_C}`);
  await codecCommand(
    'attach',
    '--codec',
    'sample-sensor',
    '--selector',
    'profile:OrbiWAN sample sensor',
    '--fports',
    '1',
  );
  await codecCommand('attach', '--codec', 'looping', '--selector', `deveui:${HOSTILE}`);
});

afterAll(async () => {
  await subscriber.close();
  await connector.close();
});

describe('Local stack: payload codecs', () => {
  it('publishes a decoded uplink beside the unchanged one, by DevEUI attachment', async () => {
    await uplink(CLASS_C);
    const raw = await subscriber.next(on(CLASS_C, 'uplink'));
    const decoded = await subscriber.next(on(CLASS_C, 'uplink/decoded'));

    const uplinkBody = JSON.parse(raw.payload.toString()) as { fcnt: number; dataFrame: string };
    const message = JSON.parse(decoded.payload.toString()) as Record<string, unknown>;
    expect(Buffer.from(uplinkBody.dataFrame, 'base64')).toHaveLength(6);
    expect(message).toMatchObject({
      DevEUI: CLASS_C,
      fcnt: uplinkBody.fcnt,
      port: 1,
      codec: 'sample-sensor',
      errors: [],
    });
    expect(message.data).toEqual({
      temperature: expect.any(Number),
      humidity: expect.any(Number),
      battery: expect.any(Number),
    });
  });

  it("finds a device's codec by its OrbiWAN device profile", async () => {
    await uplink(BY_PROFILE);
    const decoded = await subscriber.next(on(BY_PROFILE, 'uplink/decoded'));
    expect(JSON.parse(decoded.payload.toString())).toMatchObject({
      codec: 'sample-sensor',
      data: { humidity: expect.any(Number) },
    });
  });

  it('publishes a codec that loops as errors, and the raw uplink all the same', async () => {
    await uplink(HOSTILE);
    expect(subscriber.received.some(on(HOSTILE, 'uplink'))).toBe(true);
    const decoded = await subscriber.next(on(HOSTILE, 'uplink/decoded'));
    expect(JSON.parse(decoded.payload.toString())).toMatchObject({
      codec: 'looping',
      errors: [expect.stringMatching(/ran longer than \d+ ms/)],
    });
    expect(JSON.parse(decoded.payload.toString())).not.toHaveProperty('data');
  });

  it('sends a downlink given as object, encoded by the codec on its port', async () => {
    await subscriber.client.publishAsync(
      `${PREFIX}/${CLASS_C}/downlink`,
      JSON.stringify({ object: { interval: 300 }, requestId: 'object-1' }),
      { qos: 1 },
    );
    await subscriber.next(
      (message) =>
        on(CLASS_C, 'downlink/status')(message) &&
        message.payload.includes('"requestId":"object-1"') &&
        message.payload.includes('"state":"acknowledged"'),
    );
    const sent = connector.simulator?.downlinks().find((downlink) => downlink.devEui === CLASS_C);
    expect(sent).toMatchObject({ data: '01012c', port: 10 });
  });

  it('refuses an object for a port no codec is attached to: NO_CODEC, nothing sent', async () => {
    const posts = connector.simulator?.stats().downlinkPosts;
    await subscriber.client.publishAsync(
      `${PREFIX}/${BY_PROFILE}/downlink`,
      JSON.stringify({ object: { led: true }, port: 10, requestId: 'object-2' }),
      { qos: 1 },
    );
    const status = await subscriber.next(
      (message) =>
        on(BY_PROFILE, 'downlink/status')(message) &&
        message.payload.includes('"requestId":"object-2"'),
    );
    expect(JSON.parse(status.payload.toString())).toMatchObject({
      state: 'error',
      error: { code: 'NO_CODEC', message: expect.stringContaining(BY_PROFILE) },
    });
    expect(connector.simulator?.stats().downlinkPosts).toBe(posts);
  });

  it('refuses an object the codec cannot encode: ENCODING_FAILED with its reason', async () => {
    await subscriber.client.publishAsync(
      `${PREFIX}/${CLASS_C}/downlink`,
      JSON.stringify({ object: { interval: 5 }, requestId: 'object-3' }),
      { qos: 1 },
    );
    const status = await subscriber.next(
      (message) =>
        on(CLASS_C, 'downlink/status')(message) &&
        message.payload.includes('"requestId":"object-3"'),
    );
    expect(JSON.parse(status.payload.toString())).toMatchObject({
      state: 'error',
      error: { code: 'ENCODING_FAILED', message: expect.stringContaining('10 to 65535') },
    });
  });
});

describe('Local stack: device shadows', () => {
  it("keeps the device's last uplink, decoded, in its shadow, read with the AWS CLI", async () => {
    await uplink(CLASS_C);
    const decoded = subscriber.received.filter(on(CLASS_C, 'uplink/decoded')).at(-1);
    const last = JSON.parse(decoded?.payload.toString() ?? '{}') as { fcnt: number; data: unknown };

    const shadow = await shadowOf(CLASS_C);
    expect(shadow.state.reported.uplink).toMatchObject({
      fcnt: last.fcnt,
      port: 1,
      data: last.data,
    });
    expect(shadow.state.reported.connector).toBe('orbiwan-iot-connector');
  });

  it('never moves a section backwards when notifications arrive out of order', async () => {
    const location = (latitude: number, time: string) =>
      push('/rest/callback/location', {
        DevEUI: CLASS_C,
        latitude,
        longitude: 6.14,
        loraloc_time: time,
      });
    expect((await location(46.2, '2026-12-05T10:00:00Z')).status).toBe(200);
    expect((await location(46.1, '2026-12-05T09:00:00Z')).status).toBe(200);
    await connector.cloud.rulesSettled();

    const { reported } = (await shadowOf(CLASS_C)).state;
    expect(reported.location).toMatchObject({ latitude: 46.2, time: '2026-12-05T10:00:00.000Z' });
  });

  it("records the last downlink's final state", async () => {
    await connector.cloud.rulesSettled();
    const { reported } = (await shadowOf(CLASS_C)).state;
    expect(reported.downlink).toMatchObject({ state: expect.any(String) });
    expect(typeof reported.downlink?.requestId).toBe('string');
  });
});

describe('Local stack: lifecycle page with decoded uplinks', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser.close();
  });

  it("shows each device's latest decoded values, and its codec's errors", async () => {
    const page = await browser.newPage();
    await page.goto(`${connector.endpoints.http}/`);
    await page.locator('#connection', { hasText: 'live' }).waitFor();

    const row = page.locator(`#decoded tr[data-device="${CLASS_C}"]`);
    await row.waitFor();
    expect(await row.locator('.decoded-values').textContent()).toMatch(
      /^temperature -?\d+(\.\d+)? · humidity \d+ · battery \d\.\d+$/,
    );
    const hostile = page.locator(`#decoded tr[data-device="${HOSTILE}"] .badge.final-failed`);
    expect(await hostile.textContent()).toMatch(/ran longer than/);
    await page.close();
  });
});
