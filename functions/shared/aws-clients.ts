import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

// Created once per container and reused by every invocation. Timeouts keep a hanging call well
// inside the function's own timeout, so the caller gets a clear 5xx instead of a Lambda timeout.
// Endpoints come from the SDK defaults or the standard AWS_ENDPOINT_URL_* variables.
const requestHandler = { connectionTimeout: 2_000, requestTimeout: 5_000 };

export const iotDataClient = new IoTDataPlaneClient({ requestHandler });
export const secretsManagerClient = new SecretsManagerClient({ requestHandler });
