import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendAwsError, type AwsService } from './aws-endpoint.js';
import { AwsServiceError, asAwsError } from './aws-errors.js';
import { DeviceShadows, shadowOperationOf } from './iot-shadows.js';

// The IoT Data Plane Publish API (POST /topics/{topic}?qos=..) as the SDK's PublishCommand sends
// it: the topic percent-encoded as one path segment, the raw payload as the body, MQTT 5 options
// as query parameters and x-amz-mqtt5-* headers. The same service answers the Device Shadow REST
// API (iot-shadows.ts), as AWS's data endpoint does.

export interface PublishedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  messageExpirySeconds: number | undefined;
  contentType: string | undefined;
}

export type OnPublish = (message: PublishedMessage) => void | Promise<void>;

const IOT_MAX_PAYLOAD_BYTES = 128 * 1024;

/**
 * The IoT Data Plane stand-in; every accepted message goes to onPublish (the broker, a test), the
 * shadow requests to `shadows`.
 */
export function iotDataPlaneService(
  onPublish: OnPublish,
  shadows = new DeviceShadows(),
): AwsService {
  return {
    name: 'iot-data-plane',
    protocol: 'rest-json',
    operationOf: (request) => (isPublishRequest(request) ? 'Publish' : shadowOperationOf(request)),
    handle: (request, response) =>
      isPublishRequest(request)
        ? servePublish(request, response, onPublish)
        : shadows.serve(request, response),
  };
}

export function isPublishRequest(request: IncomingMessage): boolean {
  return request.method === 'POST' && (request.url ?? '').startsWith('/topics/');
}

/** Answers POST /topics/{topic} as IoT Core does, SigV4 (AWS endpoint) or TLS client certificate (8443). */
export async function servePublish(
  request: IncomingMessage,
  response: ServerResponse,
  onPublish: OnPublish,
): Promise<void> {
  const body = await readBody(request);
  try {
    const message = parsePublish(request, body);
    await onPublish(message);
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  } catch (error) {
    sendAwsError(response, asAwsError(error, 'the local broker failed'), 'rest-json');
  }
}

function parsePublish(request: IncomingMessage, body: Buffer): PublishedMessage {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const topic = decodeURIComponent(url.pathname.slice('/topics/'.length));
  if (topic === '' || /[#+]/.test(topic) || topic.startsWith('$')) {
    throw new AwsServiceError('InvalidRequestException', 400, `cannot publish to topic "${topic}"`);
  }
  if (body.length > IOT_MAX_PAYLOAD_BYTES) {
    throw new AwsServiceError('RequestEntityTooLargeException', 413, 'payload exceeds 128 KB');
  }
  const qos = url.searchParams.get('qos') ?? '0';
  if (qos !== '0' && qos !== '1') {
    throw new AwsServiceError('InvalidRequestException', 400, `qos must be 0 or 1, got ${qos}`);
  }
  const expiry = url.searchParams.get('messageExpiry');
  return {
    topic,
    payload: body,
    qos: qos === '1' ? 1 : 0,
    retain: url.searchParams.get('retain') === 'true',
    messageExpirySeconds: expiry === null ? undefined : Number(expiry),
    contentType: url.searchParams.get('contentType') ?? undefined,
  };
}
