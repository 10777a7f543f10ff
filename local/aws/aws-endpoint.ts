import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsServiceError } from './aws-errors.js';
import { handlePublish, isPublishRequest, type OnPublish } from './iot-data-plane.js';
import type { SecretsStore } from './secrets-manager.js';

// One HTTP endpoint for every AWS service stand-in, like LocalStack's: the SDK clients reach it
// through AWS_ENDPOINT_URL_<SERVICE>, and requests are told apart by path and x-amz-target.

export interface AwsEndpointOptions {
  onPublish: OnPublish;
  secrets: SecretsStore;
  port?: number;
}

export interface AwsEndpoint {
  url: string;
  close: () => Promise<void>;
}

export async function startAwsEndpoint({
  onPublish,
  secrets,
  port = 0,
}: AwsEndpointOptions): Promise<AwsEndpoint> {
  const server = createServer((request, response) => {
    void readBody(request).then((body) => route(request, body, response, { onPublish, secrets }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: actualPort } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${actualPort}`, close: () => closeServer(server) };
}

async function route(
  request: IncomingMessage,
  body: Buffer,
  response: ServerResponse,
  { onPublish, secrets }: Omit<AwsEndpointOptions, 'port'>,
): Promise<void> {
  if (isPublishRequest(request)) {
    await handlePublish(request, body, response, onPublish);
    return;
  }
  const target = request.headers['x-amz-target'];
  const [service, operation] = typeof target === 'string' ? target.split('.') : [];
  try {
    if (service !== 'secretsmanager' || operation === undefined) {
      throw new AwsServiceError(
        'UnknownOperationException',
        400,
        `no local stand-in for ${String(target ?? request.url)}`,
      );
    }
    const output = secrets.handle(
      operation,
      JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>,
    );
    response
      .writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
      .end(JSON.stringify(output));
  } catch (error) {
    const failure =
      error instanceof AwsServiceError
        ? error
        : new AwsServiceError('InternalFailure', 500, String(error));
    response
      .writeHead(failure.statusCode, { 'content-type': 'application/x-amz-json-1.1' })
      .end(JSON.stringify({ __type: failure.name, message: failure.message }));
  }
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.closeAllConnections();
    server.close((error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}
