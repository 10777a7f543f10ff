import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { traced } from '../tracer.js';
import { requestHandler } from './request-handler.js';

// One client per container, reused by every invocation. Each client has a module of its own so a
// function's bundle holds only the clients it uses. Endpoints: SDK defaults or AWS_ENDPOINT_URL_*.
export const iotDataClient = traced(new IoTDataPlaneClient({ requestHandler: requestHandler() }));
