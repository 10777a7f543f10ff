import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { readBody } from '../aws/aws-endpoint.js';
import type { HttpApiRoute } from '../template/sam-template.js';

// An API Gateway HTTP API, locally: the template's routes, each request turned into the payload
// 2.0 event API Gateway would send its function, and the function's result into the response.

export interface ApiGatewayOptions {
  routes: HttpApiRoute[];
  invoke: (functionId: string, event: APIGatewayProxyEventV2) => Promise<unknown>;
  accountId: string;
  apiId: string;
}

/** HTTP APIs refuse larger requests before any function runs. */
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

/** Serves a request if a route matches it; false when none does. */
export type RouteRequest = (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;

export function apiGateway({ routes, invoke, accountId, apiId }: ApiGatewayOptions): RouteRequest {
  return async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const route = routes.find(
      (candidate) => candidate.method === method && candidate.path === url.pathname,
    );
    if (route === undefined) return false;

    const body = await readBody(request);
    if (body.length > MAX_REQUEST_BYTES) {
      sendJson(response, 413, { message: 'Request Entity Too Large' });
      return true;
    }
    const event = proxyEvent(request, url, body, {
      accountId,
      apiId,
      routeKey: `${method} ${route.path}`,
    });
    let result: unknown;
    try {
      result = await invoke(route.functionId, event);
    } catch {
      // What API Gateway answers when the integration fails; the function logged the error.
      sendJson(response, 500, { message: 'Internal Server Error' });
      return true;
    }
    sendResult(response, result);
    return true;
  };
}

function proxyEvent(
  request: IncomingMessage,
  url: URL,
  body: Buffer,
  { accountId, apiId, routeKey }: { accountId: string; apiId: string; routeKey: string },
): APIGatewayProxyEventV2 {
  // As API Gateway does (payload 2.0): a repeated header's values joined with commas. Node keeps
  // only the first of some (Authorization among them) in request.headers.
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(request.headersDistinct)) {
    if (values === undefined || name === 'cookie') continue;
    headers[name] = values.join(',');
  }
  const cookies = request.headers.cookie?.split(/;\s*/);
  const query = Object.fromEntries(url.searchParams);
  const now = new Date();
  const host = headers.host ?? 'localhost';
  const text = asText(body, headers['content-type']);
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies === undefined ? {} : { cookies }),
    headers,
    ...(Object.keys(query).length === 0 ? {} : { queryStringParameters: query }),
    requestContext: {
      accountId,
      apiId,
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length === 0 ? {} : { body: text ?? body.toString('base64') }),
    isBase64Encoded: body.length > 0 && text === undefined,
  };
}

// API Gateway passes text bodies as they are and Base64-encodes the rest.
function asText(body: Buffer, contentType: string | undefined): string | undefined {
  if (
    !/^(text\/|application\/(json|.*\+json|xml|x-www-form-urlencoded))/i.test(
      contentType ?? 'application/json',
    )
  )
    return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
}

function sendResult(response: ServerResponse, result: unknown): void {
  if (typeof result !== 'object' || result === null || !('statusCode' in result)) {
    // Payload 2.0 without a statusCode: API Gateway answers 200 with the value as JSON.
    sendJson(response, 200, result ?? null);
    return;
  }
  const {
    statusCode = 200,
    headers = {},
    body = '',
    isBase64Encoded = false,
    cookies = [],
  } = result as APIGatewayProxyStructuredResultV2;
  response.writeHead(statusCode, {
    ...headers,
    ...(cookies.length === 0 ? {} : { 'set-cookie': cookies }),
  });
  response.end(isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}
