import type { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { Report } from '../../../functions/downlinks/downlink-record.js';
import type { DownlinkDefaults, RuleInput } from '../../../functions/downlinks/downlink-request.js';
import { lifecycleRank } from '../../../functions/downlinks/downlink-status.js';
import { METRIC } from '../../../functions/shared/metrics.js';
import { publishedMessages } from '../../helpers/aws-mocks.js';
import type { CapturedLogs } from '../../helpers/logs.js';

// What the downlink tests share: one device, one OrbiWAN downlink, and how OrbiWAN words them.

export const PREFIX = 'orbiwan/lorawan';
export const DEV_EUI = '70b3d57ed0001a2b';
export const DOWNLINK_TOPIC = `${PREFIX}/${DEV_EUI}/downlink`;
export const STATUS_TOPIC = `${PREFIX}/${DEV_EUI}/downlink/status`;
export const DEFAULTS: DownlinkDefaults = {
  topicPrefix: PREFIX,
  confirmed: true,
  mode: 'enqueue_on_busy',
};
/** OrbiWAN's ids are 64-bit: beyond 2^53 only their digits are exact, never a JS number. */
export const DOWNLINK_ID = '18014398509481985';
/** The execution following the downlink ($$.Execution.Name), its correlation id. */
export const EXECUTION = 'downlink_6f0c2a8e-1b7d-4a57-9c3e-2d5f8e9a0b1c';
export const TASK_TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAaUOgV1tNaxq9dQXmEHH8dXC1tZQUx1vlTF9qrPRAd8T4Sa';
export const RETENTION_SECONDS = 2 * 3600 + 86_400;

/** What the IoT rule hands the state machine for a request published on `topic`. */
export function ruleInput(payload: string | object, topic = DOWNLINK_TOPIC): RuleInput {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return { payload: Buffer.from(text).toString('base64'), topic, receivedAt: 1795694400123 };
}

/** A downlink as OrbiWAN answers a POST or a GET of it. */
export function orbiwanDownlink(id: string, transmissionStatus: number): string {
  return `{"id":${id},"fcnt":57,"port":20,"transmissionStatus":${String(transmissionStatus)},"session_id":"3f1c9a52-7c1e-4a8e-9d7f-2b6f0e4d8c11"}`;
}

/** A downlink status as OrbiWAN pushes it (DevEUI in capitals, as OrbiWAN writes it). */
export function pushedStatus(id: string, transmissionStatus: number, devEui = DEV_EUI): string {
  return `{"DevEUI":"${devEui.toUpperCase()}","id":${id},"fcnt":57,"port":20,"transmissionStatus":${String(transmissionStatus)}}`;
}

/** A pushed status as the status function records it with its downlink. */
export function reportOf(id: string, transmissionStatus: number, devEui = DEV_EUI): Report {
  return {
    rank: lifecycleRank(transmissionStatus),
    transmissionStatus,
    body: pushedStatus(id, transmissionStatus, devEui),
  };
}

/** Every status published to IoT Core, parsed (ids lose digits: compare them as text). */
export function statusesPublished(
  iot: AwsClientStub<IoTDataPlaneClient>,
): Record<string, unknown>[] {
  return publishedMessages(iot).map(({ text }) => JSON.parse(text) as Record<string, unknown>);
}

/** The state of every status published, in order. */
export function statesPublished(iot: AwsClientStub<IoTDataPlaneClient>): unknown[] {
  return statusesPublished(iot).map(
    (status) => `${String(status.state)}${status.stale === true ? ' (stale)' : ''}`,
  );
}

/** The finalState of every DownlinksEnded metric printed (embedded metric format), in order. */
export function downlinksEnded(logs: CapturedLogs): unknown[] {
  return logs
    .entries()
    .filter((entry) => entry._aws !== undefined && entry[METRIC.downlinksEnded] !== undefined)
    .map((entry) => entry.finalState);
}
