import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsServiceError } from './aws-errors.js';

// One HTTP endpoint for every AWS service stand-in, like LocalStack's: the SDK clients reach it
// through AWS_ENDPOINT_URL_<SERVICE>, and each request goes to the service that accepts it (by
// path for IoT Data Plane, by x-amz-target for the JSON protocols).

export interface AwsService {
  name: string;
  accepts: (request: IncomingMessage) => boolean;
  handle: (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;
}

export interface AwsEndpoint {
  url: string;
  close: () => Promise<void>;
}

export async function startAwsEndpoint(services: AwsService[], port = 0): Promise<AwsEndpoint> {
  const server = createServer((request, response) => {
    const service = services.find((candidate) => candidate.accepts(request));
    if (service === undefined) {
      request.resume();
      const target =
        request.headers['x-amz-target'] ?? `${request.method ?? ''} ${request.url ?? ''}`;
      sendJsonError(
        response,
        new AwsServiceError(
          'UnknownOperationException',
          400,
          `no local stand-in for ${String(target)}`,
        ),
        '1.1',
      );
      return;
    }
    Promise.resolve(service.handle(request, response)).catch((error: unknown) => {
      sendJsonError(
        response,
        new AwsServiceError('InternalFailure', 500, `${service.name}: ${String(error)}`),
        '1.1',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: actualPort } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${actualPort}`, close: () => closeServer(server) };
}

/** The x-amz-target operation of a JSON-protocol request for this target prefix, if it is one. */
export function targetOperation(request: IncomingMessage, prefix: string): string | undefined {
  const target = request.headers['x-amz-target'];
  return typeof target === 'string' && target.startsWith(`${prefix}.`)
    ? target.slice(prefix.length + 1)
    : undefined;
}

export type JsonOperations = Record<string, (input: Record<string, unknown>) => unknown>;

/** A service speaking AWS JSON 1.0/1.1: POST / with x-amz-target "{prefix}.{Operation}". */
export function jsonProtocolService(
  name: string,
  targetPrefix: string,
  version: '1.0' | '1.1',
  operations: JsonOperations,
): AwsService {
  return {
    name,
    accepts: (request) => targetOperation(request, targetPrefix) !== undefined,
    handle: async (request, response) => {
      const operation = targetOperation(request, targetPrefix) ?? '';
      const body = await readBody(request);
      try {
        const handler = operations[operation];
        if (handler === undefined)
          throw new AwsServiceError(
            'UnknownOperationException',
            400,
            `${name}: ${operation} is not supported locally`,
          );
        const output = await handler(
          JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>,
        );
        response
          .writeHead(200, { 'content-type': `application/x-amz-json-${version}` })
          .end(JSON.stringify(output ?? {}));
      } catch (error) {
        sendJsonError(
          response,
          error instanceof AwsServiceError
            ? error
            : new AwsServiceError('InternalFailure', 500, String(error)),
          version,
        );
      }
    },
  };
}

export function sendJsonError(
  response: ServerResponse,
  error: AwsServiceError,
  version: '1.0' | '1.1',
): void {
  if (response.headersSent) return;
  response
    .writeHead(error.statusCode, {
      'content-type': `application/x-amz-json-${version}`,
      'x-amzn-errortype': error.name,
    })
    .end(JSON.stringify({ __type: error.name, message: error.message }));
}

export function readBody(request: IncomingMessage): Promise<Buffer> {
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
