import { attachSampleCodec } from '../bench-environment.js';
import type { ConnectorProcess } from '../connector-process.js';
import { summarize, type Summary } from '../stats.js';
import { sampleInbound, startInboundRig, type Comparison } from './latency.js';

// Part 4b: the raw uplink through a connector process with PayloadCodecs and DeviceShadows on,
// against the bare relay on that same process, sampled as part 4 samples it (one function for
// both); and the decoded path behind it, asynchronous: the IoT rule on {prefix}/+/uplink invokes
// the device-state function, which decodes the uplink with the device's codec, publishes it on
// .../uplink/decoded and writes it into the device's shadow.

export interface DecodedPathResult {
  /** Push → raw uplink on MQTT, codecs and shadows on, against the bare relay (same process). */
  rawUplink: Comparison;
  /** Push → decoded uplink on MQTT: rule → Lambda (asynchronous) → decode → publish. */
  decoded: Summary;
  /** Push → the shadow's update/documents message: the decoded uplink written into the shadow. */
  shadowUpdated: Summary;
}

const DEVICES = { connector: '0000000000000011', baseline: '0000000000000012' };
// A decoded message that has not come by then is not coming (the function's retries included).
const DECODED_TIMEOUT_MS = 10_000;

export async function measureDecodedPath(
  connector: ConnectorProcess,
  { samples, token }: { samples: number; token: string },
): Promise<DecodedPathResult> {
  const { topicPrefix, codecsTable } = connector;
  if (codecsTable === undefined)
    throw new Error('the connector has no codecs table: start it with PAYLOAD_CODECS=Enabled');
  // Both devices, before their first uplink (a function reads the attachments once a minute): the
  // relay's uplinks go through the same rule, so each sample, the connector's or the relay's,
  // leaves the same work behind it.
  await attachSampleCodec(connector.aws, codecsTable, Object.values(DEVICES));
  const rig = await startInboundRig(connector, token, [
    `${topicPrefix}/+/uplink/decoded`,
    '$aws/things/+/shadow/name/+/update/documents',
  ]);
  const decoded: number[] = [];
  const shadowUpdated: number[] = [];
  let fcnt = 0;
  try {
    const rawUplink = await sampleInbound(rig, 'uplink', {
      samples,
      devices: DEVICES,
      nextFcnt: () => ++fcnt,
      // The sample's decoded message and shadow update are awaited before the next push: on AWS
      // the function runs in a sandbox of its own, here it would share the process with the
      // next sample's raw path (as part 4 waits for each downlink's lifecycle to end).
      afterEach: async ({ side, fcnt: sent, started, counted }) => {
        const [message, shadow] = await Promise.all([
          rig.listener.next(`decoded:${String(sent)}`, DECODED_TIMEOUT_MS),
          rig.listener.next(`documents:${String(sent)}`, DECODED_TIMEOUT_MS),
        ]);
        if (side !== 'connector' || !counted) return;
        const data = (JSON.parse(message.payload.toString()) as { data?: unknown }).data;
        if (data === undefined) throw new Error(`the codec did not decode uplink ${String(sent)}`);
        decoded.push(message.at - started);
        shadowUpdated.push(shadow.at - started);
      },
    });
    return {
      rawUplink,
      decoded: summarize(decoded),
      shadowUpdated: summarize(shadowUpdated),
    };
  } finally {
    await rig.close();
  }
}
