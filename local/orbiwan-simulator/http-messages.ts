import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { text } from 'node:stream/consumers';

// OrbiWAN answers errors with a status code and a text/plain message, or with RFC 7807 JSON to a
// client whose Accept asks for it: the connector has to cope with both.

export class RestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RestError';
  }
}

export function sendJson(response: ServerResponse, jsonText: string): void {
  response.writeHead(200, { 'content-type': 'application/json' }).end(jsonText);
}

export function sendError(
  request: IncomingMessage,
  response: ServerResponse,
  error: RestError,
): void {
  // An error can be answered before the body is read; drain it so the connection stays usable.
  request.resume();
  if (response.headersSent) return;
  const challenge: Record<string, string> =
    error.status === 401 ? { 'www-authenticate': 'Basic realm="OrbiWAN", Bearer' } : {};
  if ((request.headers.accept ?? '').includes('application/problem+json')) {
    const problem = {
      title: STATUS_CODES[error.status] ?? 'Error',
      detail: error.message,
      status: error.status,
    };
    response
      .writeHead(error.status, { 'content-type': 'application/problem+json', ...challenge })
      .end(JSON.stringify(problem));
    return;
  }
  response
    .writeHead(error.status, { 'content-type': 'text/plain; charset=utf-8', ...challenge })
    .end(error.message);
}

export function readBody(request: IncomingMessage): Promise<string> {
  return text(request);
}

export function requireMethod(request: IncomingMessage, ...allowed: string[]): void {
  if (!allowed.includes(request.method ?? ''))
    throw new RestError(
      405,
      `${request.method ?? ''} is not allowed here; use ${allowed.join(' or ')}`,
    );
}
