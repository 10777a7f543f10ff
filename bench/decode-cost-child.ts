// Part 3b, in a process of its own: what decoding an uplink costs, with DeviceCodecs over a codec
// store in memory (no DynamoDB, no network), the codec run in its QuickJS/WebAssembly sandbox.
//   first <codec>: in a fresh process, as a new Lambda container meets its first uplink: the
//     first decode (the sandbox's WebAssembly compiled, the codec loaded, one call), then the
//     first decode of another DeviceCodecs (the compiled module reused: a codec replaced).
//   warm <results.json> <calls>: each codec's decodes one by one once loaded; then the whole
//     device-state function, warm (publish answered at once, shadows in memory), and its log bytes.
// Usage: node --import tsx decode-cost-child.ts first <codec> | warm <results.json> <calls>
import { readFileSync, writeFileSync } from 'node:fs';
import type { CodecStore } from '../functions/codecs/codec-store.js';

let logBytes = 0;
const write = process.stdout.write.bind(process.stdout);
// What the functions log is counted, not printed (CloudWatch Logs bills it); the results go out
// with `write`.
process.stdout.write = (chunk: string | Uint8Array) => {
  logBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
  return true;
};

const { DeviceCodecs } = await import('../functions/codecs/device-codecs.js');
const { parseSelector } = await import('../functions/codecs/codec-attachments.js');
// Loaded here, not timed: a function's bundle holds it, so Lambda's init loads it, not the decode.
await import('../functions/codecs/codec-sandbox.js');

const DEV_EUI = '70b3d57ed0001a2b';
const TOPIC_PREFIX = 'orbiwan/lorawan';

/** The codecs measured, each with an uplink it decodes as its maker's examples say. */
const CODECS = {
  'orbiwan-sample-sensor': {
    file: '../codecs/orbiwan-sample-sensor.js',
    bytes: [0x01, 0x08, 0x66, 0x2d, 0x0e, 0x10],
    fPort: 1,
  },
  'laird-rs1xx-temp-rh-sensor': {
    file: '../test/fixtures/codecs/laird-rs1xx-temp-rh-sensor/codec.js',
    // examples.json: "Send Temp RH Data Notification", the sensor's periodic reading.
    bytes: [1, 0, 33, 52, 67, 98, 5, 1, 0, 0, 1],
    fPort: 1,
  },
} as const;
type CodecName = keyof typeof CODECS;

function memoryStore(name: CodecName): CodecStore {
  const source = readFileSync(new URL(CODECS[name].file, import.meta.url), 'utf8');
  return {
    attachments: () =>
      Promise.resolve([{ selector: parseSelector(`deveui:${DEV_EUI}`), codec: name }]),
    codec: (wanted) =>
      Promise.resolve(wanted === name ? { name, source, sha256: name } : undefined),
  };
}

const codecsOf = (name: CodecName) =>
  new DeviceCodecs({ store: memoryStore(name), profileOf: () => Promise.resolve(undefined) });

async function decodeOnce(codecs: InstanceType<typeof DeviceCodecs>, name: CodecName) {
  const { bytes, fPort } = CODECS[name];
  const coded = await codecs.decodeUplink(DEV_EUI, {
    bytes: [...bytes],
    fPort,
    recvTime: '2026-12-05T10:00:00.000Z',
  });
  if (coded?.result.data === undefined)
    throw new Error(`${name} did not decode: ${JSON.stringify(coded?.result.errors)}`);
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

const [mode = '', ...rest] = process.argv.slice(2);
if (mode === 'first') {
  const name = rest[0] as CodecName;
  const firstMs = await timed(() => decodeOnce(codecsOf(name), name));
  const reloadMs = await timed(() => decodeOnce(codecsOf(name), name));
  write(`${JSON.stringify({ firstMs, reloadMs })}\n`);
} else if (mode === 'warm') {
  const [resultsFile = '', callsArgument = '2000'] = rest;
  const calls = Number(callsArgument);
  const decodes: Record<string, number[]> = {};
  for (const name of Object.keys(CODECS) as CodecName[]) {
    const codecs = codecsOf(name);
    for (let index = 0; index < Math.max(10, calls / 10); index++) await decodeOnce(codecs, name);
    const times: number[] = [];
    for (let index = 0; index < calls; index++)
      times.push((await timed(() => decodeOnce(codecs, name))) * 1000);
    decodes[name] = times;
  }
  writeFileSync(resultsFile, JSON.stringify({ decodes, deviceState: await deviceState(calls) }));
} else {
  throw new Error(`unknown mode ${mode}: expected first or warm`);
}

/** The device-state function invoked warm, one uplink after another of one device. */
async function deviceState(invocations: number) {
  const { createDeviceStateHandler } =
    await import('../functions/device-state/device-state-function.js');
  const { lambdaContext } = await import('../test/helpers/lambda-context.js');
  let shadow: { version: number; reported: Record<string, unknown> } | undefined;
  const handler = createDeviceStateHandler({
    topicPrefix: TOPIC_PREFIX,
    dataFormat: 'base64',
    publish: () => Promise.resolve(),
    codecs: codecsOf('orbiwan-sample-sensor'),
    // The shadow service's merge (nested objects key by key, null removes), in memory.
    shadows: {
      read: () => Promise.resolve(shadow),
      update: (_, reported, version) => {
        if (version !== undefined && version !== shadow?.version) return Promise.resolve(false);
        shadow = {
          version: (shadow?.version ?? 0) + 1,
          reported: merged(shadow?.reported, reported),
        };
        return Promise.resolve(true);
      },
    },
  });
  const { bytes, fPort } = CODECS['orbiwan-sample-sensor'];
  let fcnt = 0;
  const invoke = () => {
    fcnt += 1;
    const uplink = {
      DevEUI: DEV_EUI.toUpperCase(),
      id: 1795694400000000 + fcnt,
      fcnt,
      port: fPort,
      dataFrame: Buffer.from(bytes).toString('base64'),
      rssi: -87,
      snr: 7.5,
    };
    return handler(
      {
        payload: Buffer.from(JSON.stringify(uplink)).toString('base64'),
        topic: `${TOPIC_PREFIX}/${DEV_EUI}/uplink`,
        receivedAt: 1795694400000 + fcnt,
      },
      lambdaContext,
    );
  };
  for (let index = 0; index < Math.max(10, invocations / 10); index++) await invoke();
  const bytesBefore = logBytes;
  const times: number[] = [];
  for (let index = 0; index < invocations; index++) times.push((await timed(invoke)) * 1000);
  return {
    microsecondsPerInvocation: times,
    logBytesPerInvocation: (logBytes - bytesBefore) / invocations,
  };
}

function merged(current: unknown, patch: unknown): Record<string, unknown> {
  const base =
    typeof current === 'object' && current !== null ? (current as Record<string, unknown>) : {};
  const changes = Object.entries(patch as Record<string, unknown>);
  return Object.fromEntries([
    ...Object.entries(base).filter(([key]) => !changes.some(([changed]) => changed === key)),
    ...changes
      .filter(([, value]) => value !== null)
      .map(([key, value]): [string, unknown] => [
        key,
        typeof value === 'object' && !Array.isArray(value) ? merged(base[key], value) : value,
      ]),
  ]);
}
