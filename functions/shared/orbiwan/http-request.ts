import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';

// A small HTTP client over node:http that knows what fetch does not say: whether a failed request
// can have reached the server. A downlink POST that certainly did not (connection refused, name
// not resolved, connect timeout) may be retried; one that may have (reset or timed out after
// connecting) must not be, or OrbiWAN could queue it twice.

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  body?: string;
  /** Time allowed to open the connection (TCP and TLS). */
  connectTimeoutMs: number;
  /** Time allowed for the whole exchange, connection included. */
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export class HttpRequestError extends Error {
  override name = 'HttpRequestError';
  constructor(
    message: string,
    /** ECONNREFUSED, ENOTFOUND, CONNECT_TIMEOUT, RESPONSE_TIMEOUT, ECONNRESET, ... */
    readonly code: string,
    /** False only when the request certainly never reached the server. */
    readonly mayHaveReachedServer: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * How long an idle connection is kept for reuse. Servers close theirs after a while (5 s is a
 * common default), and a POST written into a connection the server has just closed fails after
 * it was sent: a downlink that would then end ORBIWAN_UNAVAILABLE, "may have been queued". So
 * the connector lets go of an idle connection before the server does.
 */
export const IDLE_CONNECTION_KEPT_MS = 4_000;

// Reused connections save a TCP and TLS handshake on every downlink of a warm function. The
// agents' timeout only closes idle connections: a request in flight has its own timers below.
const agents = {
  'http:': new http.Agent({ keepAlive: true, timeout: IDLE_CONNECTION_KEPT_MS }),
  'https:': new https.Agent({ keepAlive: true, timeout: IDLE_CONNECTION_KEPT_MS }),
};

export function httpRequest(request: HttpRequest): Promise<HttpResponse> {
  const { url, method, headers = {}, body, connectTimeoutMs, timeoutMs } = request;
  const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (transport === undefined) {
    return Promise.reject(
      new HttpRequestError(`unsupported protocol ${url.protocol}`, 'EPROTO', false),
    );
  }
  return new Promise((resolve, reject) => {
    let connected = false;
    const outgoing = transport.request(url, {
      method,
      agent: agents[url.protocol as 'http:' | 'https:'],
      headers:
        body === undefined
          ? headers
          : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    const fail = (error: HttpRequestError) => {
      clearTimeout(overall);
      outgoing.destroy(error);
    };
    const overall = setTimeout(() => {
      fail(
        connected
          ? new HttpRequestError(`no answer within ${timeoutMs} ms`, 'RESPONSE_TIMEOUT', true)
          : new HttpRequestError(`no connection within ${timeoutMs} ms`, 'CONNECT_TIMEOUT', false),
      );
    }, timeoutMs);

    outgoing.on('socket', (socket) => {
      if (!socket.connecting) {
        connected = true;
        return;
      }
      const connectTimer = setTimeout(() => {
        fail(
          new HttpRequestError(
            `no connection within ${connectTimeoutMs} ms`,
            'CONNECT_TIMEOUT',
            false,
          ),
        );
      }, connectTimeoutMs);
      const ready = url.protocol === 'https:' ? 'secureConnect' : 'connect';
      socket.once(ready, () => {
        connected = true;
        clearTimeout(connectTimer);
      });
      socket.once('close', () => {
        clearTimeout(connectTimer);
      });
    });

    outgoing.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        clearTimeout(overall);
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks),
        });
      });
      response.on('error', (error) => {
        clearTimeout(overall);
        reject(
          new HttpRequestError(`answer broken off: ${error.message}`, 'ECONNRESET', true, {
            cause: error,
          }),
        );
      });
    });

    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(overall);
      if (error instanceof HttpRequestError) {
        reject(error);
        return;
      }
      const code = error.code ?? 'EUNKNOWN';
      reject(
        new HttpRequestError(`${method} ${url.host} failed: ${code}`, code, connected, {
          cause: error,
        }),
      );
    });

    outgoing.end(body);
  });
}
