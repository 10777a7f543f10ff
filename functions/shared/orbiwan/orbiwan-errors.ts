// What can go wrong when the connector asks OrbiWAN for something. The names are what the state
// machine's Retry and Catch match, so they are spelled out rather than taken from class names
// (which minification renames).

/** The request certainly did not reach OrbiWAN (or was refused unprocessed): safe to retry. */
export class OrbiwanNotReachedError extends Error {
  override name = 'OrbiwanNotReachedError';
}

/** OrbiWAN may or may not have processed the request: never retried blindly. */
export class OrbiwanUnavailableError extends Error {
  override name = 'OrbiwanUnavailableError';
}

/** 404: OrbiWAN does not know the device. */
export class UnknownDeviceError extends Error {
  override name = 'UnknownDeviceError';
}

/** 409: the device's downlink queue is busy or full, per the requested mode. */
export class DeviceBusyError extends Error {
  override name = 'DeviceBusyError';
}

/** OrbiWAN refused the request itself: bad credentials, not allowed, malformed. */
export class OrbiwanRejectedError extends Error {
  override name = 'OrbiwanRejectedError';
}
