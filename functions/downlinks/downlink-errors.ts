import type { InputIssue } from '../shared/errors.js';

// Errors of the downlink tasks. Their names are what the state machine matches in Retry and
// Catch, and what a failed execution shows in the Step Functions console.

/** The downlink request breaks the contract (docs/downlinks.md: Request). */
export class InvalidDownlinkError extends Error {
  override name = 'InvalidDownlinkError';
  constructor(
    message: string,
    readonly issues: InputIssue[] = [],
  ) {
    super(message);
  }
}

/**
 * The request carries `object`, but no payload codec is attached to the device for its port (or
 * the stack has no codecs at all): there is nothing to encode it with.
 */
export class NoCodecError extends Error {
  override name = 'NoCodecError';
}

/** The device's codec could not encode the request's `object`, or encoded it into no valid downlink. */
export class DownlinkEncodingError extends Error {
  override name = 'DownlinkEncodingError';
}

/** Why a request's `object` has nothing to encode it with, in a stack without payload codecs. */
export const NO_PAYLOAD_CODECS =
  'this connector runs no payload codecs (its stack parameter PayloadCodecs is Disabled): send data in hex';

/**
 * The request carries `object`: the state machine's EncodeObject state encodes it with the
 * device's codec, then runs the send task again with `data`. Not a failure: nothing was done yet.
 */
export class ObjectToEncodeError extends Error {
  override name = 'ObjectToEncode';
}

/** Another downlink for the same device was being posted to OrbiWAN for too long. */
export class DeviceLockedError extends Error {
  override name = 'DeviceLockedError';
}

/**
 * The request repeats one with the same requestId for the same device within the window: it is
 * that downlink, already under way or done. Its execution ends quietly (state Duplicate).
 */
export class DuplicateRequestError extends Error {
  override name = 'DuplicateRequest';
}

/**
 * OrbiWAN queued the downlink, but the connector could not record it (DynamoDB failed past every
 * retry, or the send task ran out of time): it cannot follow it. Reported as INTERNAL_ERROR with
 * OrbiWAN's id, never as something to send again. The id travels in the message, which is all of
 * an error that reaches the next state (queuedIdOf reads it back).
 */
export class DownlinkNotRecordedError extends Error {
  override name = 'DownlinkNotRecordedError';
  constructor(readonly downlinkId: string) {
    super(
      `OrbiWAN queued the downlink (id ${downlinkId}), but the connector could not record it to follow it; do not send it again`,
    );
  }
}

/** The OrbiWAN id a DownlinkNotRecordedError's message carries. */
export function queuedIdOf(message: string): string | undefined {
  return /^OrbiWAN queued the downlink \(id (\d{1,20})\)/.exec(message)?.[1];
}

/** The stable error codes apps see in `error.code` of a connector-made status. */
export type DownlinkErrorCode =
  | 'INVALID_DOWNLINK'
  | 'NO_CODEC'
  | 'ENCODING_FAILED'
  | 'UNKNOWN_DEVICE'
  | 'DEVICE_BUSY'
  | 'ORBIWAN_REJECTED'
  | 'ORBIWAN_UNAVAILABLE'
  | 'TIMED_OUT'
  | 'INTERNAL_ERROR';

const CODES: Record<string, DownlinkErrorCode> = {
  InvalidDownlinkError: 'INVALID_DOWNLINK',
  NoCodecError: 'NO_CODEC',
  DownlinkEncodingError: 'ENCODING_FAILED',
  UnknownDeviceError: 'UNKNOWN_DEVICE',
  DeviceBusyError: 'DEVICE_BUSY',
  DeviceLockedError: 'DEVICE_BUSY',
  OrbiwanRejectedError: 'ORBIWAN_REJECTED',
  OrbiwanUnavailableError: 'ORBIWAN_UNAVAILABLE',
  OrbiwanNotReachedError: 'ORBIWAN_UNAVAILABLE',
  'States.Timeout': 'TIMED_OUT',
};

/** The codes of a request that could not be sent as it was: the application must fix it. */
export const INVALID_REQUEST_CODES: readonly DownlinkErrorCode[] = [
  'INVALID_DOWNLINK',
  'NO_CODEC',
  'ENCODING_FAILED',
];

/** The code for an error name as Step Functions reports it (the task's error type). */
export function errorCodeFor(errorName: string): DownlinkErrorCode {
  return CODES[errorName] ?? 'INTERNAL_ERROR';
}
