// Errors the connector raises on purpose. Each carries a stable code that callers can act on;
// the HTTP layer maps them to status codes in one place (http/json-error-responses.ts).

export interface InputIssue {
  /** Where in the input, e.g. "gtw_info.0.rssi"; empty for the input as a whole. */
  path: string;
  message: string;
}

/** The input is not what the contract says: the caller must fix it, retrying will not help. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(
    readonly code: string,
    message: string,
    readonly issues: InputIssue[] = [],
  ) {
    super(message);
  }
}

/** The input is larger than what can be passed on. */
export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError';
  readonly code = 'PAYLOAD_TOO_LARGE';
}

/** The caller did not prove who it is. The message never contains the credential. */
export class UnauthorizedError extends Error {
  override name = 'UnauthorizedError';
  readonly code = 'UNAUTHORIZED';
}

/** A dependency the connector needs (IoT Core, Secrets Manager, ...) did not do its part. */
export class DependencyError extends Error {
  override name = 'DependencyError';
  constructor(
    readonly code: string,
    message: string,
    readonly throttled: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
