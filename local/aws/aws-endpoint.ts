import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { AwsServiceError } from './aws-errors.js';

// One HTTP endpoint for every AWS service stand-in, like LocalStack's: the SDK clients reach it
// through AWS_ENDPOINT_URL_<SERVICE>, and each request goes to the service that names an operation
// for it (by path for IoT Data Plane, by x-amz-target for the JSON protocols).

/** How a service frames its answers: AWS JSON 1.0/1.1 (x-amz-target) or REST-JSON (IoT Data Plane). */
export type AwsProtocol = 'json-1.0' | 'json-1.1' | 'rest-json';

export interface AwsService {
  name: string;
  protocol: AwsProtocol;
  /**
   * The one place a request's operation is named (PutItem, Publish, ...): undefined when the
   * request is not for this service. The endpoint routes by it, the meter counts and the fault
   * injector matches by it.
   */
  operationOf: (request: IncomingMessage) => string | undefined;
  handle: (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;
}

export interface AwsEndpoint {
  url: string;
  close: () => Promise<void>;
}

export async function startAwsEndpoint(services: AwsService[], port = 0): Promise<AwsEndpoint> {
  const server = createServer((request, response) => {
    const service = services.find((candidate) => candidate.operationOf(request) !== undefined);
    if (service === undefined) {
      request.resume();
      const target =
        request.headers['x-amz-target'] ?? `${request.method ?? ''} ${request.url ?? ''}`;
      sendAwsError(
        response,
        new AwsServiceError(
          'UnknownOperationException',
          400,
          `no local stand-in for ${String(target)}`,
        ),
        'json-1.1',
      );
      return;
    }
    Promise.resolve(service.handle(request, response)).catch((error: unknown) => {
      sendAwsError(
        response,
        new AwsServiceError('InternalFailure', 500, `${service.name}: ${String(error)}`),
        service.protocol,
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
  const protocol = version === '1.0' ? 'json-1.0' : 'json-1.1';
  const operationOf = (request: IncomingMessage) => targetOperation(request, targetPrefix);
  return {
    name,
    protocol,
    operationOf,
    handle: async (request, response) => {
      const operation = operationOf(request) ?? '';
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
        sendAwsError(
          response,
          error instanceof AwsServiceError
            ? error
            : new AwsServiceError('InternalFailure', 500, String(error)),
          protocol,
        );
      }
    },
  };
}

/** An AWS error as the protocol frames it: the SDK reads its name from x-amzn-errortype. */
export function sendAwsError(
  response: ServerResponse,
  error: AwsServiceError,
  protocol: AwsProtocol,
): void {
  if (response.headersSent) return;
  const json = protocol !== 'rest-json';
  response
    .writeHead(error.statusCode, {
      'content-type': json ? `application/x-amz-${protocol}` : 'application/json',
      'x-amzn-errortype': error.name,
    })
    .end(
      JSON.stringify(
        json ? { __type: error.name, message: error.message } : { message: error.message },
      ),
    );
}

export function readBody(request: IncomingMessage): Promise<Buffer> {
  return buffer(request);
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
