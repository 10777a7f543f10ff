import { withMembers } from '../shared/raw-json.js';
import type { DownlinkErrorCode } from './downlink-errors.js';

// The status messages on {prefix}/{deveui}/downlink/status: OrbiWAN's own, with fields added
// (never renamed, so apps written for OrbiWise's connector keep working), and the connector's own
// for what OrbiWAN does not report (accepted, rejected, timed out).

/** OrbiWAN's transmissionStatus in words, by value. */
const TRANSMISSION_STATES = [
  'pending',
  'sent',
  'acknowledged',
  'not_acknowledged',
  'error',
  'cancelled',
] as const;

export type TransmissionState = (typeof TRANSMISSION_STATES)[number];

export function transmissionState(transmissionStatus: number): TransmissionState {
  const state = TRANSMISSION_STATES[transmissionStatus];
  if (state === undefined)
    throw new RangeError(`transmissionStatus ${transmissionStatus} is not 0..5`);
  return state;
}

/**
 * How far along the lifecycle a status is: pending (0) < sent (1) < any final one (2..5).
 * A status never moves a downlink to a lower rank, and the first final status is the last word.
 */
export function lifecycleRank(transmissionStatus: number): 0 | 1 | 2 {
  if (transmissionStatus <= 0) return 0;
  return transmissionStatus === 1 ? 1 : 2;
}

/** How a downlink ended: by OrbiWAN's final status, or by the connector's failure report. */
export type FinalState =
  | 'delivered'
  | 'acknowledged'
  | 'not_acknowledged'
  | 'transmission_error'
  | 'cancelled'
  | 'invalid'
  | 'rejected'
  | 'failed'
  | 'timed_out';

const FINAL_STATE_BY_STATUS: Partial<Record<number, FinalState>> = {
  2: 'acknowledged',
  3: 'not_acknowledged',
  4: 'transmission_error',
  5: 'cancelled',
};

/**
 * The final state a status ends a downlink in, if it does: 2..5 always, 1 (sent) an unconfirmed
 * one. Whether the downlink was sent confirmed may not be known yet (a status that beat the POST's
 * record): then only 2..5 do. The state machine's EndAfterCheck says the same (a test holds them
 * together).
 */
export function finalStateOf(
  transmissionStatus: number,
  confirmed: boolean | undefined,
): FinalState | undefined {
  if (transmissionStatus === 1 && confirmed === false) return 'delivered';
  return lifecycleRank(transmissionStatus) === 2
    ? FINAL_STATE_BY_STATUS[transmissionStatus]
    : undefined;
}

/**
 * What republishedStatus adds at most, in bytes: a requestId of 128 characters (4 bytes each in
 * UTF-8 at worst), the longest state word, the stale flag and a correlation id (an execution name,
 * at most 80 characters), with their JSON punctuation.
 */
export const REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES = 1024;

/**
 * The downlink's correlation id in its statuses: its execution's name (the Step Functions console
 * shows it; the logs call it correlation_id), when the connector knows the downlink.
 */
type CorrelationId = string | undefined;

/**
 * OrbiWAN's status body as received, plus requestId, state, stale when it adds nothing new, and
 * the downlink's correlationId.
 */
export function republishedStatus(
  body: Uint8Array,
  {
    transmissionStatus,
    requestId,
    stale,
    correlationId,
  }: {
    transmissionStatus: number;
    requestId: string | undefined;
    stale: boolean;
    correlationId: CorrelationId;
  },
): Buffer {
  return withMembers(body, {
    requestId,
    state: transmissionState(transmissionStatus),
    ...(stale ? { stale: true } : {}),
    correlationId,
  });
}

/** `accepted`: OrbiWAN's reply to the POST (id, fcnt, port, transmissionStatus, ...) plus who and why. */
export function acceptedStatus(
  reply: Uint8Array,
  {
    devEui,
    requestId,
    correlationId,
  }: { devEui: string; requestId: string | undefined; correlationId: CorrelationId },
): Buffer {
  return withMembers(reply, { DevEUI: devEui, requestId, state: 'accepted', correlationId });
}

export interface ConnectorFailure {
  devEui: string;
  /** OrbiWAN's id as digits, once OrbiWAN has one. */
  id: string | undefined;
  requestId: string | undefined;
  transmissionStatus: number | undefined;
  state: 'error' | 'timed_out';
  error: { code: DownlinkErrorCode; message: string };
  correlationId: CorrelationId;
}

/** A connector-made failure status, the same shape as OrbiWAN's (id as a JSON number). */
export function failureStatus({
  devEui,
  id,
  requestId,
  transmissionStatus,
  state,
  error,
  correlationId,
}: ConnectorFailure): Buffer {
  const rawId: Record<string, string> = id !== undefined && /^\d+$/.test(id) ? { id } : {};
  return withMembers(
    '{}',
    { DevEUI: devEui, requestId, transmissionStatus, state, error, correlationId },
    rawId,
  );
}
