// Every AWS SDK client of the connector uses these timeouts, so that a hanging call ends well
// inside the function's own timeout with a clear error instead of a Lambda timeout.
export const requestHandler = { connectionTimeout: 2_000, requestTimeout: 5_000 };
